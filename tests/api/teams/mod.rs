//! Issue 18: a location hierarchy above the centers, teams assigned at any level, and separate
//! view and edit scopes, black-box over SOAP and the OpenVPMS REST API, on SQLite and MariaDB.
//!
//! The seed's user-type table becomes three principals over one country: a district data
//! collector (edit and view its district, through a team), a provincial officer (edit and view
//! its province, by direct grants) and a national user (view the whole country, edit nothing).
//!
//! ```text
//! TH (country)
//! ├── P-NORTH (province)
//! │   ├── D-CM (district): C-CM1, C-CM2
//! │   └── D-CR (district): C-CR1
//! └── P-SOUTH (province)
//!     └── D-PK (district): C-PK1
//! ```

use diesel::prelude::*;
use rendez::app::{self, Caller};
use rendez::db::schema::{access_audit, access_version, locations, team_assignments, teams};
use rendez::domain::locations::{Location, TeamRole};

use crate::helpers::{Auth, Reply, TestApp};
use crate::openvpms::{Rule, activity, center, open, resource};

mod bad_input;
mod changes;
mod cli;
mod scopes;

/// A Monday far enough ahead that "now" never interferes (lead time is 0 on these servers).
pub const MONDAY: &str = "2027-03-01";
pub const CENTERS: [&str; 4] = ["C-CM1", "C-CM2", "C-CR1", "C-PK1"];

pub const COLLECTOR: &str = "district-collector";
pub const PROVINCIAL: &str = "provincial-officer";
pub const NATIONAL: &str = "national-user";
pub const PASSWORD: &str = "team-password-1234";

pub fn operator() -> Caller {
    Caller::system("test")
}

pub fn auth(name: &str) -> Auth {
    Auth::basic(name, PASSWORD)
}

/// The hierarchy of the module's doc, centers included.
pub fn hierarchy() -> Vec<Location> {
    let loc = |lid: &str, parent: Option<&str>, level: &str| Location {
        lid: lid.into(),
        name: format!("Name of {lid}"),
        parent: parent.map(Into::into),
        level: level.into(),
    };
    vec![
        loc("TH", None, "country"),
        loc("P-NORTH", Some("TH"), "province"),
        loc("P-SOUTH", Some("TH"), "province"),
        loc("D-CM", Some("P-NORTH"), "district"),
        loc("D-CR", Some("P-NORTH"), "district"),
        loc("D-PK", Some("P-SOUTH"), "district"),
        loc("C-CM1", Some("D-CM"), "center"),
        loc("C-CM2", Some("D-CM"), "center"),
        loc("C-CR1", Some("D-CR"), "center"),
        loc("C-PK1", Some("D-PK"), "center"),
    ]
}

/// Master data: each center with its own doctor R-<center> offering STD (15 min), 09:00-17:00
/// every day.
pub async fn clinics(app: &TestApp) {
    activity(app, "STD", "Standard Consult", 15).await;
    let mut rules = Vec::new();
    let doctors: Vec<String> = CENTERS.iter().map(|c| format!("R-{c}")).collect();
    let rule_ids: Vec<String> = CENTERS.iter().map(|c| format!("AV-{c}")).collect();
    for (i, c) in CENTERS.iter().enumerate() {
        center(app, c, &format!("Clinic {c}"), "Europe/Madrid").await;
        resource(
            app,
            &doctors[i],
            &format!("Doctor {c}"),
            &[c],
            15,
            &["STD"],
            &[],
        )
        .await;
    }
    for (i, c) in CENTERS.iter().enumerate() {
        rules.push(Rule::daily(&rule_ids[i], &doctors[i], c, "09:00", "17:00"));
    }
    open(app, &rules).await;
}

/// The seed's three principals over the hierarchy: the collector through team "CM collectors"
/// (assigned to D-CM), the provincial officer and the national user by direct grants.
pub async fn seed_table(app: &TestApp) {
    clinics(app).await;
    let mut conn = app.pool.get().unwrap();
    app::locations::import(&mut conn, &operator(), hierarchy()).unwrap();
    for name in [COLLECTOR, PROVINCIAL, NATIONAL] {
        app.add_client(name, PASSWORD, "booking,admin", "", false);
    }
    let lids = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    app::teams::grant(&mut conn, &operator(), COLLECTOR, &[], &[]).unwrap();
    app::teams::grant(
        &mut conn,
        &operator(),
        PROVINCIAL,
        &lids(&["P-NORTH"]),
        &lids(&["P-NORTH"]),
    )
    .unwrap();
    app::teams::grant(&mut conn, &operator(), NATIONAL, &lids(&["TH"]), &[]).unwrap();
    app::teams::add(&mut conn, &operator(), "CM collectors").unwrap();
    app::teams::assign(&mut conn, &operator(), assignment("CM collectors", "D-CM")).unwrap();
    app::teams::join(
        &mut conn,
        &operator(),
        "CM collectors",
        COLLECTOR,
        TeamRole::Member,
    )
    .unwrap();
}

pub fn assignment<'a>(team: &'a str, location: &'a str) -> app::teams::Assignment<'a> {
    app::teams::Assignment {
        team,
        location,
        from: None,
        to: None,
        view_only: false,
    }
}

pub fn fields_xml(params: &[(&str, &str)]) -> String {
    crate::openvpms::fields_xml(params)
}

/// searchAvailabilities on MONDAY for STD, at `center` or anywhere.
pub async fn search(app: &TestApp, who: &str, center: Option<&str>) -> Reply {
    let mut params = vec![
        ("ACTIVITY_LID", "STD"),
        ("AVA_START_DAY", MONDAY),
        ("AVA_END_DAY", MONDAY),
        ("AVA_RESULTS_NUMBER", "1000"),
    ];
    if let Some(center) = center {
        params.push(("LOCATION_LID", center));
    }
    app.soap(&auth(who), "searchAvailabilities", &fields_xml(&params))
        .await
}

/// The centers of the slots a search answered.
#[track_caller]
pub fn slot_centers(reply: &Reply) -> Vec<String> {
    reply.assert_ok();
    let mut centers = reply.fields("LOCATION_LID");
    centers.sort();
    centers.dedup();
    centers
}

/// addAppointment at `center` with its doctor at `time` on MONDAY.
pub async fn add(app: &TestApp, who: &str, center: &str, time: &str) -> Reply {
    let doctor = format!("R-{center}");
    let params = [
        ("ACTIVITY_LID", "STD"),
        ("RESOURCE_LID", doctor.as_str()),
        ("LOCATION_LID", center),
        ("APP_DATE", MONDAY),
        ("APP_START_TIME", time),
        ("USER_FIRST_NAME", "Somchai"),
        ("USER_SECOND_NAME", "Test"),
        ("USER_MOBILE_PHONE", "+34600111222"),
    ];
    app.soap(&auth(who), "addAppointment", &fields_xml(&params))
        .await
}

/// (locations, assignments, teams, audit rows, access version): what a refused change must
/// leave as it was.
pub fn state(app: &TestApp) -> (i64, i64, i64, i64, i64) {
    let mut conn = app.pool.get().unwrap();
    (
        locations::table.count().get_result(&mut conn).unwrap(),
        team_assignments::table
            .count()
            .get_result(&mut conn)
            .unwrap(),
        teams::table.count().get_result(&mut conn).unwrap(),
        access_audit::table.count().get_result(&mut conn).unwrap(),
        access_version::table
            .select(access_version::version)
            .first(&mut conn)
            .unwrap(),
    )
}
