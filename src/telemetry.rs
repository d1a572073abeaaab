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

/// Every counter above, for a registry.
pub fn collectors() -> Vec<Box<dyn prometheus::core::Collector>> {
    vec![
        Box::new(MESSAGE_ATTEMPTS.clone()),
        Box::new(SCHEDULER_TICKS.clone()),
        Box::new(SCHEDULER_NOTICES.clone()),
        Box::new(IMPORTS.clone()),
        Box::new(RESULT_DOWNLOADS.clone()),
    ]
}
