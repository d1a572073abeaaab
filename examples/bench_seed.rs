//! Seeds the clinic of the booking benchmark (`benches/booking.sh`): 2 centers in different
//! time zones, 50 doctors, 10 activities, 90 days of availability and 20,000 booked
//! appointments. Master data goes through the same code as `updateKeyEntities`; the
//! appointments are written directly, in the mornings, so the afternoons stay free for the
//! benchmark's own bookings.
//!
//! Usage: cargo run --release --example bench_seed -- DATABASE_URL

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{Datelike, Duration as Days, NaiveDate, TimeZone, Utc};
use diesel::prelude::*;
use rendez::db::schema::{activities, appointments, centers, patients, resources};
use rendez::db::{self, PoolOptions, dialect};
use rendez::domain::FieldSource;
use rendez::domain::master::{self, AvailabilityRule, KeyEntity, SyncOutcome};

pub const DOCTORS: usize = 50;
pub const ACTIVITIES: usize = 10;
pub const DAYS: i64 = 90;
pub const APPOINTMENTS: usize = 20_000;

struct Fields(HashMap<&'static str, String>);

impl FieldSource for Fields {
    fn field(&self, name: &'static str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn fields(pairs: &[(&'static str, String)]) -> Fields {
    Fields(pairs.iter().cloned().collect())
}

fn main() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: bench_seed DATABASE_URL")?;
    let started = Instant::now();
    let pool = db::connect(
        &url.parse()?,
        PoolOptions {
            max_size: 2,
            connection_timeout: Duration::from_secs(10),
        },
    )?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;

    let centers_of = [("MAD", "Europe/Madrid"), ("SYD", "Australia/Sydney")];
    let mut rows = Vec::new();
    for doctor in 0..DOCTORS {
        let (center, zone) = centers_of[doctor % 2];
        for activity in 0..ACTIVITIES {
            rows.push(fields(&[
                ("LOCATION_LID", center.to_string()),
                ("LOCATION_NAME", format!("Bench {center}")),
                ("LOCATION_TIMEZONE", zone.to_string()),
                ("RESOURCE_LID", format!("DR{doctor:02}")),
                ("RESOURCE_FIRST_NAME", format!("Doctor {doctor}")),
                ("WEB_ENABLED", "1".into()),
                ("AVAILABILITIES_STEP", "15".into()),
                ("ACTIVITY_LID", format!("ACT{activity}")),
                ("ACTIVITY_NAME", format!("Activity {activity}")),
                ("ACTIVITY_DURATION", (15 + 5 * activity).to_string()),
                ("ACTIVITY_PRICE", format!("{}.00", 30 + activity)),
            ]));
        }
    }
    let (parsed, errors) =
        master::parse_rows(rows.iter().enumerate().map(|(i, r)| (i + 1, r)), |r| {
            KeyEntity::parse(*r)
        });
    let outcome = db::master::apply_key_entities(
        &mut conn,
        &parsed,
        false,
        None,
        SyncOutcome {
            errors,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    check(&outcome)?;

    let today = Utc::now().date_naive();
    let mut rules = Vec::new();
    for doctor in 0..DOCTORS {
        let center = centers_of[doctor % 2].0;
        for weekday in 1..=6 {
            rules.push(fields(&[
                ("AVAILABILITY_LID", format!("AV-DR{doctor:02}-{weekday}")),
                ("RESOURCE_LID", format!("DR{doctor:02}")),
                ("LOCATION_LID", center.to_string()),
                ("R_WORKING_DAY", weekday.to_string()),
                ("R_START_TIME", "08:00".into()),
                ("R_END_TIME", "20:00".into()),
                ("R_START_DAY", today.format("%Y-%m-%d").to_string()),
                (
                    "R_END_DAY",
                    (today + Days::days(DAYS)).format("%Y-%m-%d").to_string(),
                ),
            ]));
        }
    }
    let (parsed, errors) =
        master::parse_rows(rules.iter().enumerate().map(|(i, r)| (i + 1, r)), |r| {
            AvailabilityRule::parse(*r, &[])
        });
    let outcome = db::master::apply_availabilities(
        &mut conn,
        &parsed,
        false,
        SyncOutcome {
            errors,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    check(&outcome)?;

    seed_appointments(&mut conn, today).map_err(|e| e.to_string())?;
    println!(
        "seeded {DOCTORS} doctors, {ACTIVITIES} activities, {DAYS} days, {APPOINTMENTS} appointments in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn check(outcome: &SyncOutcome) -> Result<(), String> {
    match outcome.errors.first() {
        None => Ok(()),
        Some(e) => Err(format!("row {}: {}", e.row, e.message)),
    }
}

/// 30-minute appointments from 08:00 local on working days, round-robin over the doctors.
fn seed_appointments(conn: &mut db::DbConnection, today: NaiveDate) -> QueryResult<()> {
    let doctors: Vec<(String, String)> = resources::table
        .select((resources::lid, resources::id))
        .order(resources::lid.asc())
        .load(conn)?;
    let center_rows: Vec<(String, String, String)> = centers::table
        .select((centers::lid, centers::id, centers::timezone))
        .load(conn)?;
    let activity_id: String = activities::table
        .filter(activities::lid.eq("ACT3"))
        .select(activities::id)
        .first(conn)?;
    let now = Utc::now().naive_utc();
    dialect::write_transaction(conn, |conn| {
        let mut made = 0usize;
        let mut day = today + Days::days(1);
        let mut per_day_slot = 0u32;
        while made < APPOINTMENTS {
            if day.weekday().num_days_from_sunday() == 0 {
                day += Days::days(1);
                continue;
            }
            for (index, (_, resource_id)) in doctors.iter().enumerate() {
                if made == APPOINTMENTS {
                    break;
                }
                let (_, center_id, zone) = &center_rows[if index % 2 == 0 { 0 } else { 1 }];
                let tz: chrono_tz::Tz = zone.parse().expect("a zone");
                let local = day.and_hms_opt(8, 0, 0).expect("08:00")
                    + Days::minutes(30 * i64::from(per_day_slot));
                let start = tz
                    .from_local_datetime(&local)
                    .earliest()
                    .expect("no gap at 08:00")
                    .naive_utc();
                let patient_id = uuid::Uuid::now_v7().to_string();
                diesel::insert_into(patients::table)
                    .values((
                        patients::id.eq(&patient_id),
                        patients::tid.eq(uuid::Uuid::new_v4().to_string()),
                        patients::lid.eq(format!("P{made}")),
                        patients::created_at.eq(now),
                        patients::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                let id = uuid::Uuid::now_v7().to_string();
                diesel::insert_into(appointments::table)
                    .values((
                        appointments::id.eq(&id),
                        appointments::lid.eq(&id),
                        appointments::resource_id.eq(resource_id),
                        appointments::center_id.eq(center_id),
                        appointments::activity_id.eq(&activity_id),
                        appointments::patient_id.eq(&patient_id),
                        appointments::start_at.eq(start),
                        appointments::end_at.eq(start + Days::minutes(30)),
                        appointments::status.eq("PENDING"),
                        appointments::live.eq(true),
                        appointments::created_at.eq(now),
                        appointments::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                made += 1;
            }
            per_day_slot += 1;
            if per_day_slot == 8 {
                per_day_slot = 0;
                day += Days::days(1);
            }
        }
        Ok(())
    })
}
