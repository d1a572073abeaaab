//! Counters of work done away from the SOAP edge (workers, the scheduler, imports, the results
//! page), kept process-wide so that the code doing the work needs no handle to the HTTP state;
//! `/metrics` adds them to its registry.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, Opts};

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

/// Send attempts by channel, provider and outcome (`SENT`, `RETRY`, `FAILED`, `EXPIRED`).
pub static MESSAGE_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "message_attempts_total",
        "Message send attempts by channel, provider and outcome",
        &["channel", "provider", "outcome"],
    )
});

/// Ticks of the reminder scheduler that completed.
pub static SCHEDULER_TICKS: LazyLock<IntCounter> = LazyLock::new(|| {
    IntCounter::new(
        "scheduler_ticks_total",
        "Completed ticks of the reminder scheduler",
    )
    .expect("valid metric")
});

/// Appointment notices the scheduler handled, by what became of them.
pub static SCHEDULER_NOTICES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "scheduler_notices_total",
        "Appointment notices handled by the scheduler, by outcome",
        &["outcome"],
    )
});

/// Files imported, by kind and outcome (`imported`, `skipped`, `refused`, `failed`).
pub static IMPORTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "imports_total",
        "Imported files by kind and outcome",
        &["kind", "outcome"],
    )
});

/// Attempts on the results page, by outcome (`granted` or the refusal's reason, `locked` and
/// `rate_limited` among them).
pub static RESULT_DOWNLOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "result_downloads_total",
        "Download attempts on the results page by outcome",
        &["outcome"],
    )
});

/// Slots written by the slot worker's runs, by what was done (`created`, `updated`, `retired`,
/// `retained`, `conflicts`: booked slots kept although availability no longer asks for them).
pub static SLOT_CHANGES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "slot_changes_total",
        "Published slots handled by the slot worker's runs, by what was done",
        &["change"],
    )
});

/// Runs of the slot worker (one role each) that completed.
pub static SLOT_RUNS: LazyLock<IntCounter> = LazyLock::new(|| {
    IntCounter::new("slot_runs_total", "Completed runs of the slot worker").expect("valid metric")
});

/// Counts a completed slot run: (created, updated, retired, retained, conflicts).
pub fn count_slot_run(counts: [usize; 5]) {
    SLOT_RUNS.inc();
    for (change, n) in ["created", "updated", "retired", "retained", "conflicts"]
        .into_iter()
        .zip(counts)
    {
        SLOT_CHANGES.with_label_values(&[change]).inc_by(n as u64);
    }
}

/// Database transactions run again after a conflict with a concurrent one, by conflict
/// (`deadlock`, which includes Galera's certification failures, `lock_wait_timeout`,
/// `record_changed`, `node_not_ready`, `unique_twin`, `rolled_back`): expected under concurrent work, so counted
/// rather than logged.
pub static DB_CONFLICTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "db_conflicts_total",
        "Database transactions run again after a conflict with a concurrent one, by conflict",
        &["conflict"],
    )
});

/// Every counter above, for a registry.
pub fn collectors() -> Vec<Box<dyn prometheus::core::Collector>> {
    vec![
        Box::new(MESSAGE_ATTEMPTS.clone()),
        Box::new(SCHEDULER_TICKS.clone()),
        Box::new(SCHEDULER_NOTICES.clone()),
        Box::new(IMPORTS.clone()),
        Box::new(RESULT_DOWNLOADS.clone()),
        Box::new(SLOT_CHANGES.clone()),
        Box::new(SLOT_RUNS.clone()),
        Box::new(DEPUTY_POLLS.clone()),
        Box::new(DEPUTY_REQUESTS.clone()),
        Box::new(DEPUTY_ROSTERS.clone()),
        Box::new(DEPUTY_PUSHES.clone()),
        Box::new(DEPUTY_WEBHOOKS.clone()),
        Box::new(DB_CONFLICTS.clone()),
    ]
}

/// Polls of Deputy, by kind (`changes`, `full`) or `failed`.
pub static DEPUTY_POLLS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "deputy_polls_total",
        "Polls of Deputy's rosters by kind (changes, full) or failed",
        &["kind"],
    )
});

/// Requests sent to Deputy, by kind (`query` pages, `save`, `delete`).
pub static DEPUTY_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "deputy_requests_total",
        "HTTP requests sent to Deputy by kind",
        &["kind"],
    )
});

/// Deputy's rosters applied (polls and webhooks), by outcome (`created`, `updated`,
/// `removed`, `unchanged`, `stale`, `ignored`, `past_day`, `error`, `conflict`).
pub static DEPUTY_ROSTERS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "deputy_rosters_total",
        "Deputy rosters received by outcome",
        &["outcome"],
    )
});

/// Pushes of Rendez's shifts to Deputy, by outcome (`saved`, `deleted`, `failed`, `past_day`).
pub static DEPUTY_PUSHES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "deputy_pushes_total",
        "Shifts pushed to Deputy by outcome",
        &["outcome"],
    )
});

/// Deputy's webhook calls, by answer (`applied`, `forbidden`, `malformed`, `failed`).
pub static DEPUTY_WEBHOOKS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "deputy_webhooks_total",
        "Deputy webhook calls by answer",
        &["answer"],
    )
});
