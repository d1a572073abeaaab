//! Seeds a national-size access model over the booking bench's clinic, for `benches/scopes.sh`:
//! 10,000 locations in 5 levels (a country, 9 regions, 90 provinces, 900 districts, 9,000
//! facilities; the bench's centers MAD and SYD are two of the facilities, in districts D000 and
//! D899), 1,000 teams (team T<n> assigned to district D<n mod 900>), and 10,000 principals (API
//! clients with the booking role, p<n> a member of team T<n mod 1,000>). Beside them the bench's
//! own principals, all with the given password: `national` (views the country, edits nothing),
//! `collector` (a member of T0000: edits and views MAD's district) and `bench` (every center,
//! as a client of before teams). Run `bench_seed` first.
//!
//! Usage: cargo run --release --example scopes_seed -- DATABASE_URL PASSWORD

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use rendez::db::schema::api_clients;
use rendez::db::{self, PoolOptions, clients, dialect, teams};

pub const REGIONS: usize = 9;
pub const FAN_OUT: usize = 10;
pub const TEAMS: usize = 1_000;
pub const PRINCIPALS: usize = 10_000;

fn facility_lid(index: usize) -> String {
    match index {
        0 => "MAD".into(),
        8_999 => "SYD".into(),
        _ => format!("F{index:04}"),
    }
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(password)) = (args.next(), args.next()) else {
        return Err("usage: scopes_seed DATABASE_URL PASSWORD".into());
    };
    let started = Instant::now();
    let pool = db::connect(
        &url.parse()?,
        PoolOptions {
            max_size: 1,
            connection_timeout: Duration::from_secs(10),
        },
    )?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    // One Argon2id hash for every principal: hashing 10,000 would take minutes.
    let hash = rendez::auth::hash_secret(&password);
    let now = Utc::now().naive_utc();
    let today = Utc::now().date_naive();
    let mut locations = vec![("TH".to_string(), None, "country")];
    for r in 0..REGIONS {
        locations.push((format!("R{r}"), Some("TH".to_string()), "region"));
        for p in 0..FAN_OUT {
            let province = r * FAN_OUT + p;
            locations.push((format!("P{province:02}"), Some(format!("R{r}")), "province"));
            for d in 0..FAN_OUT {
                let district = province * FAN_OUT + d;
                let parent = format!("P{province:02}");
                locations.push((format!("D{district:03}"), Some(parent), "district"));
                for f in 0..FAN_OUT {
                    let facility = district * FAN_OUT + f;
                    let parent = format!("D{district:03}");
                    locations.push((facility_lid(facility), Some(parent), "facility"));
                }
            }
        }
    }
    let counted = locations.len();
    let result: Result<(), diesel::result::Error> = dialect::write_transaction(&mut conn, |conn| {
        for (lid, parent, level) in &locations {
            teams::put_location(
                conn,
                &teams::LocationRow {
                    lid: lid.clone(),
                    name: format!("Location {lid}"),
                    parent_lid: parent.clone(),
                    level: level.to_string(),
                    voided_at: None,
                },
            )?;
        }
        let team_ids: Vec<String> = (0..TEAMS)
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        for (n, id) in team_ids.iter().enumerate() {
            teams::insert_team(
                conn,
                &teams::TeamRow {
                    id: id.clone(),
                    name: format!("T{n:04}"),
                    created_at: now,
                    voided_at: None,
                },
            )?;
            teams::insert_assignment(
                conn,
                &teams::AssignmentRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    team_id: id.clone(),
                    location_lid: format!("D{:03}", n % 900),
                    valid_from: today,
                    valid_to: None,
                    view_only: false,
                    voided_at: None,
                },
            )?;
        }
        let mut principals: Vec<(String, Option<usize>)> = (0..PRINCIPALS)
            .map(|n| (format!("p{n:05}"), Some(n % TEAMS)))
            .collect();
        principals.push(("national".into(), None));
        principals.push(("collector".into(), Some(0)));
        for (name, team) in &principals {
            let id = uuid::Uuid::now_v7().to_string();
            clients::insert(
                conn,
                &clients::NewClient {
                    id: &id,
                    name,
                    roles: "booking",
                    centers: "",
                    secret_hash: &hash,
                    digest_secret: None,
                    disabled: false,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            if let Some(team) = team {
                teams::insert_member(
                    conn,
                    &teams::MemberRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        team_id: team_ids[*team].clone(),
                        principal_id: id.clone(),
                        role: "member".into(),
                        joined_at: now,
                        left_at: None,
                    },
                )?;
            } else {
                teams::insert_grants(
                    conn,
                    &[teams::GrantRow {
                        principal_id: id.clone(),
                        location_lid: "TH".into(),
                        scope: "view".into(),
                    }],
                )?;
            }
        }
        diesel::update(api_clients::table.filter(api_clients::name.ne("bench")))
            .set(api_clients::location_scoped.eq(true))
            .execute(conn)?;
        clients::insert(
            conn,
            &clients::NewClient {
                id: &uuid::Uuid::now_v7().to_string(),
                name: "bench",
                roles: "booking,admin",
                centers: "",
                secret_hash: &hash,
                digest_secret: None,
                disabled: false,
                created_at: now,
                updated_at: now,
            },
        )?;
        teams::record_change(
            conn,
            &teams::AuditRow {
                id: uuid::Uuid::now_v7().to_string(),
                at: now,
                actor: "scopes_seed".into(),
                action: "bench.seed".into(),
                subject: "national".into(),
                before_state: None,
                after_state: None,
            },
        )
    });
    result.map_err(|e| e.to_string())?;
    println!(
        "seeded {counted} locations, {TEAMS} teams, {} principals in {:.1} s",
        PRINCIPALS + 3,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
