//! The slot search: booked time shows at once (before any worker run), filters and paging,
//! access rules and bad queries.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use chrono_tz::Europe::Madrid;
use rendez::app::slots::{self, Regenerate, SlotQuery, TimeRange};
use rendez::domain::slot_publication::{Slot, SlotStatus};
use rendez::error::Error;

use super::{Rule, Scene, at, caller, day_ahead, local, quiet_scene};
use crate::backend_tests;
use crate::helpers::Backend;

backend_tests!(
    a_booking_turns_its_slot_busy_at_once_and_a_cancellation_frees_it,
    searches_filter_by_time_status_and_service_type_and_page_by_id,
    the_search_and_regeneration_judge_their_callers_and_refuse_bad_queries,
);

/// The slot of R1 at C1 starting at `hhmm` on the day, as searched now.
async fn slot_at(s: &Scene, role: i64, start: chrono::DateTime<Utc>) -> Slot {
    let page = s
        .search(SlotQuery {
            schedule: Some(role),
            start: TimeRange {
                ge: Some(start),
                le: Some(start),
                ..TimeRange::default()
            },
            count: 10,
            ..SlotQuery::default()
        })
        .await;
    assert_eq!(page.slots.len(), 1, "{page:#?}");
    page.slots[0].clone()
}

/// Searches until the slot has `status`; answers how long it took.
async fn until_status(
    s: &Scene,
    role: i64,
    start: chrono::DateTime<Utc>,
    status: SlotStatus,
) -> StdDuration {
    let began = Instant::now();
    loop {
        if slot_at(s, role, start).await.status == status {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < StdDuration::from_secs(3),
            "the slot did not become {status:?}"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn a_booking_turns_its_slot_busy_at_once_and_a_cancellation_frees_it(backend: Backend) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[Rule::on("AV1", day, "09:00", "11:00")]).await;
    let role = s.role("R1", "C1");
    s.publish().await;
    let nine = at(Madrid, day, "09:00");
    assert_eq!(slot_at(&s, role, nine).await.status, SlotStatus::Free);
    let runs_before = slots::completion_records(s.pool(), Some(role), 100)
        .unwrap()
        .len();

    // Booked through SOAP on the server: this core is another process to its booking cache.
    let booked = s.book(day, "09:00").await;
    let took = until_status(&s, role, nine, SlotStatus::Busy).await;
    assert!(took < StdDuration::from_millis(1500), "busy after {took:?}");
    // Only that slot: the next one is free.
    let half_past = at(Madrid, day, "09:30");
    assert_eq!(slot_at(&s, role, half_past).await.status, SlotStatus::Free);
    // No worker ran: the search laid the live busy time over the stored slot.
    assert_eq!(
        slots::completion_records(s.pool(), Some(role), 100)
            .unwrap()
            .len(),
        runs_before
    );
    let busy = s
        .search(SlotQuery {
            schedule: Some(role),
            status: vec![SlotStatus::Busy],
            count: 10,
            ..SlotQuery::default()
        })
        .await;
    assert_eq!(busy.total, 1);
    assert_eq!(busy.slots[0].start, nine);

    s.cancel(&booked).await;
    let took = until_status(&s, role, nine, SlotStatus::Free).await;
    assert!(took < StdDuration::from_millis(1500), "free after {took:?}");

    // The worker records the same: booked again, then run, the stored slot is busy and linked.
    s.book(day, "09:30").await;
    s.follow_bookings().await;
    let stored = slot_at(&s, role, half_past).await;
    assert_eq!(stored.status, SlotStatus::Busy);
    assert!(stored.appointment_id.is_some());
}

async fn searches_filter_by_time_status_and_service_type_and_page_by_id(backend: Backend) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[
        Rule::on("AV1", day, "09:00", "10:30").only(&["A1"]),
        Rule::on("AV2", day, "16:00", "17:00").only(&["A2"]),
    ])
    .await;
    let role = s.role("R1", "C1");
    let a2 = s.activity("A2");
    s.publish().await;
    let all = s.slots_of(role).await;
    assert_eq!(all.len(), 5);

    // Pages of two, by id, each with the total.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .search(SlotQuery {
                schedule: Some(role),
                count: 2,
                after_id: after,
                ..SlotQuery::default()
            })
            .await;
        assert_eq!(page.total, 5);
        seen.extend(page.slots.iter().map(|s| s.id));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, all.iter().map(|s| s.id).collect::<Vec<_>>());
    // A count of 0 answers the total alone.
    let total_only = s
        .search(SlotQuery {
            schedule: Some(role),
            ..SlotQuery::default()
        })
        .await;
    assert_eq!((total_only.total, total_only.slots.len()), (5, 0));

    let search = |start: TimeRange, end: TimeRange| {
        s.search(SlotQuery {
            schedule: Some(role),
            start,
            end,
            count: 100,
            ..SlotQuery::default()
        })
    };
    let starts = |slots: &[Slot]| {
        slots
            .iter()
            .map(|s| local(Madrid, s.start))
            .collect::<Vec<_>>()
    };
    let ten = at(Madrid, day, "10:00");
    let page = search(
        TimeRange {
            gt: Some(at(Madrid, day, "09:00")),
            lt: Some(ten),
            ..TimeRange::default()
        },
        TimeRange::default(),
    )
    .await;
    assert_eq!(starts(&page.slots), ["09:30"]);
    let page = search(
        TimeRange::default(),
        TimeRange {
            le: Some(ten),
            ..TimeRange::default()
        },
    )
    .await;
    assert_eq!(starts(&page.slots), ["09:00", "09:30"]);
    let page = search(
        TimeRange::default(),
        TimeRange {
            ge: Some(at(Madrid, day, "16:30")),
            ..TimeRange::default()
        },
    )
    .await;
    assert_eq!(starts(&page.slots), ["16:00", "16:30"]);

    let page = s
        .search(SlotQuery {
            schedule: Some(role),
            service_type: Some(a2),
            count: 100,
            ..SlotQuery::default()
        })
        .await;
    assert_eq!(starts(&page.slots), ["16:00", "16:30"]);
    let page = s
        .search(SlotQuery {
            schedule: Some(role),
            status: vec![SlotStatus::Busy, SlotStatus::BusyTentative],
            count: 100,
            ..SlotQuery::default()
        })
        .await;
    assert_eq!(page.total, 0);
    // A schedule that does not exist has no slots.
    let none = s
        .search(SlotQuery {
            schedule: Some(role + 100_000),
            count: 100,
            ..SlotQuery::default()
        })
        .await;
    assert_eq!(none.total, 0);
    // Without a schedule: every role's slots, here the same.
    let every = s
        .search(SlotQuery {
            start: TimeRange {
                ge: Some(Utc::now()),
                lt: Some(Utc::now() + Duration::days(90)),
                ..TimeRange::default()
            },
            count: 100,
            ..SlotQuery::default()
        })
        .await;
    assert_eq!(every.total, 5);
}

async fn the_search_and_regeneration_judge_their_callers_and_refuse_bad_queries(backend: Backend) {
    let s = quiet_scene(backend, "90days").await;
    s.clinic("C1", "Europe/Madrid", &["R1"]).await;
    s.clinic("C2", "Europe/Madrid", &["R2"]).await;
    let day = day_ahead(Madrid, 10);
    s.open(&[
        Rule::on("AV1", day, "09:00", "10:00"),
        Rule::on("AV2", day, "09:00", "10:00").of("R2", "C2"),
    ])
    .await;
    let (r1, r2) = (s.role("R1", "C1"), s.role("R2", "C2"));
    s.publish().await;
    let query = |schedule| SlotQuery {
        schedule,
        count: 100,
        ..SlotQuery::default()
    };

    // The booking role is needed.
    let refused = slots::search(&s.core, &caller("admin", ""), query(Some(r1))).await;
    assert!(
        matches!(refused, Err(Error::Forbidden(ref m)) if m.contains("booking")),
        "{refused:?}"
    );
    // A caller limited to C2 sees C2's slots only.
    let limited = caller("booking", "C2");
    let mine = slots::search(&s.core, &limited, query(None)).await.unwrap();
    assert_eq!(mine.total, 2);
    assert!(mine.slots.iter().all(|s| s.role == r2));
    let theirs = slots::search(&s.core, &limited, query(Some(r1)))
        .await
        .unwrap();
    assert_eq!(theirs.total, 0);

    // Bad queries name their problem.
    let too_many = SlotQuery {
        count: slots::MAX_COUNT + 1,
        ..query(None)
    };
    let refused = slots::search(&s.core, &caller("booking", ""), too_many).await;
    assert!(
        matches!(refused, Err(Error::Client(ref m)) if m.contains("count")),
        "{refused:?}"
    );
    let both = SlotQuery {
        start: TimeRange {
            ge: Some(Utc::now()),
            gt: Some(Utc::now()),
            ..TimeRange::default()
        },
        ..query(None)
    };
    let refused = slots::search(&s.core, &caller("booking", ""), both).await;
    assert!(
        matches!(refused, Err(Error::Client(ref m)) if m.contains("start")),
        "{refused:?}"
    );
    let both = SlotQuery {
        end: TimeRange {
            le: Some(Utc::now()),
            lt: Some(Utc::now()),
            ..TimeRange::default()
        },
        ..query(None)
    };
    let refused = slots::search(&s.core, &caller("booking", ""), both).await;
    assert!(
        matches!(refused, Err(Error::Client(ref m)) if m.contains("end")),
        "{refused:?}"
    );

    // Regeneration is an admin's; an admin of C2 regenerates C2's roles only.
    let refused = slots::regenerate(&s.core, &caller("booking", ""), Regenerate::All).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let c2_admin = caller("admin", "C2");
    let refused = slots::regenerate(&s.core, &c2_admin, Regenerate::All).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    let refused = slots::regenerate(&s.core, &c2_admin, Regenerate::Role(r1)).await;
    assert!(
        matches!(refused, Err(Error::Forbidden(ref m)) if m.contains("C1")),
        "{refused:?}"
    );
    let refused = slots::regenerate(
        &s.core,
        &caller("admin", ""),
        Regenerate::Role(r2 + 100_000),
    )
    .await;
    assert!(matches!(refused, Err(Error::NotFound(_))), "{refused:?}");
    let done = slots::regenerate(&s.core, &c2_admin, Regenerate::Role(r2))
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].role, done[0].created, done[0].retained),
        (r2, 0, 2)
    );
    let every = slots::regenerate(&s.core, &caller("admin", ""), Regenerate::All)
        .await
        .unwrap();
    assert_eq!(every.len(), 2);
    assert!(every.iter().all(|r| !r.changed()), "{every:#?}");
}
