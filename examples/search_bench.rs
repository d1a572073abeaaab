//! Times `searchAvailabilities` inside one process, without HTTP: the booking cache is loaded
//! from a database seeded by `bench_seed`, then the benchmark's two searches (one resource, all
//! resources; 20 results, 7 days from tomorrow) run on one thread. Thread CPU time, not wall
//! time, so the figure holds on a machine busy with other work. `benches/booking.sh` runs it.
//!
//! Usage: cargo run --release --example search_bench -- DATABASE_URL [SEARCHES]

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use rendez::db::booking::BookingCache;
use rendez::db::{self, PoolOptions};
use rendez::domain::FieldSource;
use rendez::domain::access::CenterScope;
use rendez::domain::booking::SearchRequest;

// The server's allocator (see src/main.rs), so that the figure is the server's.
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
        .ok_or("usage: search_bench DATABASE_URL [SEARCHES]")?;
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
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let cache = BookingCache::new();
    let tomorrow = (Utc::now() + chrono::Duration::days(1))
        .format("%d/%m/%Y")
        .to_string();
    for (label, resource) in [("one resource", Some("DR07")), ("all resources", None)] {
        let mut pairs = HashMap::from([
            ("ACTIVITY_LID", "ACT2".to_string()),
            ("AVA_START_DAY", tomorrow.clone()),
            ("AVA_RESULTS_NUMBER", "20".to_string()),
        ]);
        if let Some(lid) = resource {
            pairs.insert("RESOURCE_LID", lid.to_string());
        }
        let request = SearchRequest::parse(&Fields(pairs)).map_err(|e| e.to_string())?;
        let mut spent = Duration::ZERO;
        let mut found = 0;
        for round in 0..searches {
            // The cache answers only while fresh: checked (untimed) every 100 searches.
            if round % 100 == 0 {
                cache.keep_fresh(&mut conn).map_err(|e| e.to_string())?;
            }
            let started = thread_cpu_time();
            let slots = cache
                .search_fresh(
                    &request,
                    &CenterScope::All,
                    Utc::now(),
                    chrono::Duration::zero(),
                )
                .ok_or("the cache went stale during a round")?;
            spent += thread_cpu_time() - started;
            found = slots.len();
        }
        println!(
            "search in memory, {label:<14} {:>8.1} µs CPU per search ({found} slots)",
            spent.as_secs_f64() * 1e6 / f64::from(searches)
        );
    }
    Ok(())
}
