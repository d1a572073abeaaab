//! The process's Prometheus figures: SOAP requests and latencies per operation, faults by code,
//! the state of the database pool, the outbox depth, the rosters' open conflicts and sync
//! errors, and the counters of work done away from
//! the edges ([`crate::telemetry`]). `/metrics` ([`crate::http::metrics`]) renders them.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::error::FaultCode;

pub struct Metrics {
    registry: Registry,
    soap_requests: IntCounterVec,
    soap_seconds: HistogramVec,
    soap_faults: IntCounterVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    /// Argon2id verifications, counted by the authenticator.
    pub password_verifications: IntCounter,
    outbox_messages: IntGaugeVec,
    roster_open_conflicts: IntGauge,
    deputy_open_sync_errors: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("rendez".into()), None).expect("valid prefix");
        let soap_requests = IntCounterVec::new(
            Opts::new("soap_requests_total", "SOAP requests by operation"),
            &["operation"],
        )
        .expect("valid metric");
        let soap_seconds = HistogramVec::new(
            HistogramOpts::new(
                "soap_request_duration_seconds",
                "SOAP request latency by operation",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["operation"],
        )
        .expect("valid metric");
        let soap_faults = IntCounterVec::new(
            Opts::new(
                "soap_faults_total",
                "SOAP faults by fault code and operation",
            ),
            &["code", "operation"],
        )
        .expect("valid metric");
        let pool_connections = IntGauge::new("db_pool_connections", "Open database connections")
            .expect("valid metric");
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle database connections")
            .expect("valid metric");
        let password_verifications = IntCounter::new(
            "auth_password_verifications_total",
            "Argon2id password verifications run (successful checks are cached)",
        )
        .expect("valid metric");
        let outbox_messages = IntGaugeVec::new(
            Opts::new(
                "outbox_messages",
                "Messages waiting to be sent, by channel and state (QUEUED, SENDING)",
            ),
            &["channel", "state"],
        )
        .expect("valid metric");
        let pool_max = IntGauge::new(
            "db_pool_max_connections",
            "Largest size of the database pool",
        )
        .expect("valid metric");
        let roster_open_conflicts = IntGauge::new(
            "roster_open_conflicts",
            "Appointments left outside a shift that changed or went, not yet resolved",
        )
        .expect("valid metric");
        let deputy_open_sync_errors = IntGauge::new(
            "deputy_open_sync_errors",
            "Shifts and Deputy rosters that cannot be synchronised, open",
        )
        .expect("valid metric");
        for collector in [
            Box::new(soap_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(soap_seconds.clone()),
            Box::new(soap_faults.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(password_verifications.clone()),
            Box::new(outbox_messages.clone()),
            Box::new(roster_open_conflicts.clone()),
            Box::new(deputy_open_sync_errors.clone()),
        ]
        .into_iter()
        .chain(crate::telemetry::collectors())
        {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            soap_requests,
            soap_seconds,
            soap_faults,
            pool_connections,
            pool_idle,
            pool_max,
            password_verifications,
            outbox_messages,
            roster_open_conflicts,
            deputy_open_sync_errors,
        }
    }

    /// `operation` is a contract operation name or "unknown", so labels stay few.
    pub fn observe(&self, operation: &str, elapsed: Duration, fault: Option<FaultCode>) {
        self.soap_requests.with_label_values(&[operation]).inc();
        self.soap_seconds
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
        if let Some(code) = fault {
            self.soap_faults
                .with_label_values(&[&code.to_string(), operation])
                .inc();
        }
    }

    /// The text format of every figure, with the pool's state, the outbox depth and the
    /// rosters' open conflicts and sync errors as of now (`None`: unread, the last figures
    /// stay).
    pub fn encode(
        &self,
        pool: crate::app::ops::PoolGauges,
        outbox: &[(String, String, i64)],
        rosters: Option<crate::app::ops::RosterGauges>,
    ) -> String {
        if let Some(rosters) = rosters {
            self.roster_open_conflicts.set(rosters.open_conflicts);
            self.deputy_open_sync_errors.set(rosters.open_sync_errors);
        }
        self.outbox_messages.reset();
        for (channel, state, count) in outbox {
            self.outbox_messages
                .with_label_values(&[channel, state])
                .set(*count);
        }
        self.pool_connections.set(i64::from(pool.connections));
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding metrics into memory cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
