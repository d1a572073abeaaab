//! Times `searchAvailabilities` in memory without HTTP, unscoped against scoped, on the
//! national access model of `scopes_seed`: the `national` principal (views all 10,000
//! locations) searches all resources as the unscoped `bench` does, and the `collector` (a
//! team's district) searches at MAD as `bench` does there. Same answers, so the difference is
//! the scope's cost. Thread CPU time, the rounds interleaved, so the figures hold on a busy
//! machine. Also the cost of resolving a principal's scopes after a change (the hierarchy read
//! and built again) and while nothing changed. `benches/scopes.sh` runs it.
//!
//! Usage: cargo run --release --example scope_bench -- DATABASE_URL [SEARCHES]

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use rendez::app::access::{ScopeCache, find_client_scoped};
use rendez::db::booking::BookingCache;
use rendez::db::{self, PoolOptions};
use rendez::domain::FieldSource;
use rendez::domain::access::CenterScope;
use rendez::domain::booking::SearchRequest;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Fields(HashMap<&'static str, String>);

impl FieldSource for Fields {
    fn field(&self, name: &'static str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: scope_bench DATABASE_URL [SEARCHES]")?;
    let searches: u32 = args
        .next()
        .map_or(Ok(20_000), |n| n.parse())
        .map_err(|e| format!("SEARCHES: {e}"))?;
    let pool = db::connect(
        &url.parse()?,
        PoolOptions {
            max_size: 1,
            connection_timeout: Duration::from_secs(10),
        },
    )?;

    // Resolving: cold (the 10,000-location hierarchy read and built), then from memory.
    let cache = ScopeCache::default();
    let mut scopes = HashMap::new();
    for name in ["national", "collector"] {
        let cold = std::time::Instant::now();
        let (_, resolved) = find_client_scoped(&pool, name, &ScopeCache::default())
            .map_err(|e| e.to_string())?
            .ok_or(format!("no principal {name}: run scopes_seed first"))?;
        let cold = cold.elapsed();
        find_client_scoped(&pool, name, &cache).map_err(|e| e.to_string())?;
        let warm = std::time::Instant::now();
        find_client_scoped(&pool, name, &cache).map_err(|e| e.to_string())?;
        let CenterScope::Only(view) = &resolved.view else {
            return Err(format!("{name} is not scoped"));
        };
        println!(
            "scope of {name:<9}: {:>5} locations in view; resolved in {:>6.1} ms after a change, {:>5.2} ms while nothing changed",
            view.len(),
            cold.as_secs_f64() * 1e3,
            warm.elapsed().as_secs_f64() * 1e3
        );
        scopes.insert(name, resolved.view);
    }

    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let booking = BookingCache::new();
    let tomorrow = (Utc::now() + chrono::Duration::days(1))
        .format("%d/%m/%Y")
        .to_string();
    for (label, who, center) in [
        ("all resources", "national", None),
        ("at MAD", "collector", Some("MAD")),
    ] {
        let mut pairs = HashMap::from([
            ("ACTIVITY_LID", "ACT2".to_string()),
            ("AVA_START_DAY", tomorrow.clone()),
            ("AVA_RESULTS_NUMBER", "20".to_string()),
        ]);
        if let Some(lid) = center {
            pairs.insert("LOCATION_LID", lid.to_string());
        }
        let request = SearchRequest::parse(&Fields(pairs)).map_err(|e| e.to_string())?;
        let scoped = &scopes[who];
        let mut spent = [Duration::ZERO; 2];
        let mut found = [0; 2];
        for round in 0..searches * 2 {
            if round % 100 == 0 {
                booking.keep_fresh(&mut conn).map_err(|e| e.to_string())?;
            }
            let which = (round % 2) as usize;
            let scope = if which == 0 {
                &CenterScope::All
            } else {
                scoped
            };
            let started = thread_cpu_time();
            let slots = booking
                .search_fresh(&request, scope, Utc::now(), chrono::Duration::zero())
                .ok_or("the cache went stale during a round")?;
            spent[which] += thread_cpu_time() - started;
            found[which] = slots.len();
        }
        let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(searches);
        println!(
            "search {label:<14}: unscoped {:>6.2} µs, as {who:<9} {:>6.2} µs CPU per search ({:+.1} %; {} and {} slots)",
            per(spent[0]),
            per(spent[1]),
            (per(spent[1]) / per(spent[0]) - 1.0) * 100.0,
            found[0],
            found[1]
        );
    }
    Ok(())
}
