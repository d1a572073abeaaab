//! `/metrics` in the Prometheus text format: SOAP requests and latencies per operation, faults
//! by code, and the state of the database pool.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app;
use crate::app::ops::PoolGauges;
use crate::error::FaultCode;
use crate::state::AppState;

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
        for collector in [
            Box::new(soap_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(soap_seconds.clone()),
            Box::new(soap_faults.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(password_verifications.clone()),
            Box::new(outbox_messages.clone()),
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

    fn encode(&self, pool: PoolGauges, outbox: &[(String, String, i64)]) -> String {
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

pub async fn render(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(expected) = &state.config.metrics_token
        && !bearer_matches(&req, expected)
    {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("a bearer token is required\n");
    }
    // The outbox's depth is read at each scrape; without the database the other figures still
    // go out.
    let outbox = app::ops::outbox_depth(&state).await.unwrap_or_else(|e| {
        log::warn!("metrics: cannot read the outbox depth: {}", e.log_detail());
        Vec::new()
    });
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode(app::ops::pool_gauges(&state), &outbox))
}

/// True when the request carries `Authorization: Bearer <expected>`. The two tokens' SHA-256
/// digests are compared in constant time, so neither the content nor the length of the
/// expected token shows in the time taken.
fn bearer_matches(req: &HttpRequest, expected: &str) -> bool {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(given) = given else {
        return false;
    };
    let (given, expected) = (Sha256::digest(given), Sha256::digest(expected));
    given.as_slice().ct_eq(expected.as_slice()).into()
}
