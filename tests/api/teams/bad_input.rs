//! Bad input: each refused with an error naming the problem, nothing written (no row, no audit,
//! no version bump); and only an admin may change anything.

use chrono::NaiveDate;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::start;

backend_tests!(
    every_bad_change_names_its_problem_and_writes_nothing,
    a_caller_without_the_admin_role_changes_nothing,
);

fn loc(lid: &str, parent: Option<&str>) -> Location {
    Location {
        lid: lid.into(),
        name: lid.into(),
        parent: parent.map(Into::into),
        level: "district".into(),
    }
}

fn day(iso: &str) -> Option<NaiveDate> {
    Some(NaiveDate::parse_from_str(iso, "%Y-%m-%d").unwrap())
}

async fn every_bad_change_names_its_problem_and_writes_nothing(backend: Backend) {
    let app = start(backend).await;
    seed_table(&app).await;
    let mut conn = app.pool.get().unwrap();
    app::teams::assign(
        &mut conn,
        &operator(),
        app::teams::Assignment {
            from: day("2027-01-01"),
            to: day("2027-06-30"),
            ..assignment("CM collectors", "P-SOUTH")
        },
    )
    .unwrap();
    let before = state(&app);
    let op = operator();
    let cases: Vec<(&str, Result<(), rendez::error::Error>)> = vec![
        (
            "cycle",
            app::locations::import(&mut conn, &op, vec![loc("TH", Some("D-CM"))]).map(|_| ()),
        ),
        (
            "two parents",
            app::locations::import(
                &mut conn,
                &op,
                vec![loc("C-NEW", Some("D-CM")), loc("C-NEW", Some("D-PK"))],
            )
            .map(|_| ()),
        ),
        (
            "'NOWHERE', which is no known location",
            app::locations::import(&mut conn, &op, vec![loc("D-NEW", Some("NOWHERE"))]).map(|_| ()),
        ),
        (
            "no location 'D-UNKNOWN'",
            app::teams::assign(&mut conn, &op, assignment("CM collectors", "D-UNKNOWN")),
        ),
        (
            "ends (2027-01-01) before it starts (2027-02-01)",
            app::teams::assign(
                &mut conn,
                &op,
                app::teams::Assignment {
                    from: day("2027-02-01"),
                    to: day("2027-01-01"),
                    ..assignment("CM collectors", "D-CR")
                },
            ),
        ),
        (
            "the dates overlap",
            app::teams::assign(
                &mut conn,
                &op,
                app::teams::Assignment {
                    from: day("2027-06-01"),
                    to: None,
                    ..assignment("CM collectors", "P-SOUTH")
                },
            ),
        ),
        (
            "still has teams assigned: CM collectors",
            app::locations::remove(&mut conn, &op, "D-CM"),
        ),
        (
            "still has location 'C-PK1' below it",
            app::locations::remove(&mut conn, &op, "D-PK"),
        ),
        (
            "there is no location 'D-GONE'",
            app::locations::remove(&mut conn, &op, "D-GONE"),
        ),
        (
            "there is no team 'Ghosts'",
            app::teams::assign(&mut conn, &op, assignment("Ghosts", "D-CM")),
        ),
        (
            "there is no client 'nobody'",
            app::teams::join(&mut conn, &op, "CM collectors", "nobody", TeamRole::Member),
        ),
        (
            "already a member",
            app::teams::join(&mut conn, &op, "CM collectors", COLLECTOR, TeamRole::Leader),
        ),
        (
            "exists already",
            app::teams::add(&mut conn, &op, "CM collectors"),
        ),
        (
            "no location 'ATLANTIS'",
            app::teams::grant(&mut conn, &op, NATIONAL, &["ATLANTIS".into()], &[]),
        ),
    ];
    for (problem, outcome) in cases {
        let err = outcome.expect_err(problem);
        // What a name does not find is NotFound (the admin API's 404), the rest Client.
        assert!(
            matches!(
                err,
                rendez::error::Error::Client(_) | rendez::error::Error::NotFound(_)
            ),
            "{problem}: {err:?}"
        );
        assert!(err.to_string().contains(problem), "{problem}: {err}");
    }
    drop(conn);
    assert_eq!(state(&app), before, "a refused change writes nothing");
    assert!(
        "chief"
            .parse::<TeamRole>()
            .unwrap_err()
            .contains("leader, member")
    );
    let csv = app::locations::parse_csv("LID,NAME,PARENT_LID\nX,Y,\n").unwrap_err();
    assert!(csv.to_string().contains("LEVEL"), "{csv}");
}

async fn a_caller_without_the_admin_role_changes_nothing(backend: Backend) {
    let app = start(backend).await;
    seed_table(&app).await;
    let before = state(&app);
    let booking_only = Caller {
        id: "6f1c2d7e-0000-4000-8000-000000000001".into(),
        name: "a booking client".into(),
        roles: "booking".parse().unwrap(),
        centers: rendez::domain::access::CenterScope::All,
        view: rendez::domain::access::CenterScope::All,
    };
    let mut conn = app.pool.get().unwrap();
    let refusals = [
        app::teams::add(&mut conn, &booking_only, "Rogue").unwrap_err(),
        app::teams::assign(&mut conn, &booking_only, assignment("CM collectors", "TH"))
            .unwrap_err(),
        app::teams::join(
            &mut conn,
            &booking_only,
            "CM collectors",
            NATIONAL,
            TeamRole::Member,
        )
        .unwrap_err(),
        app::teams::void(&mut conn, &booking_only, "CM collectors").unwrap_err(),
        app::locations::import(&mut conn, &booking_only, hierarchy()).unwrap_err(),
        app::teams::tree(&mut conn, &booking_only).unwrap_err(),
    ];
    for err in refusals {
        assert!(matches!(err, rendez::error::Error::Forbidden(_)), "{err:?}");
        assert!(err.to_string().contains("admin"), "{err}");
    }
    drop(conn);
    assert_eq!(state(&app), before);
}
