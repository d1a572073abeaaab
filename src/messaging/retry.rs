//! What a provider's answer means for the message: sent, a retry later (exponential backoff with
//! jitter, never sooner than the provider's `Retry-After`), or a final state.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use super::delivery::Delivery;
use crate::domain::outbox::{AttemptOutcome, Claimed};

/// The longest wait between two attempts, whatever the doubling says.
const MAX_DELAY: StdDuration = StdDuration::from_secs(6 * 3600);

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub base: StdDuration,
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 = the first retry): `base`, doubling each
    /// time, plus up to a quarter more at random so that failed messages do not return in step.
    pub fn delay(&self, attempt: u32, jitter: f64) -> StdDuration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        let delay = self.base.saturating_mul(doubling).min(MAX_DELAY);
        delay.mul_f64(1.0 + 0.25 * jitter.clamp(0.0, 1.0))
    }

    pub fn decide(
        &self,
        message: &Claimed,
        delivery: Delivery,
        now: DateTime<Utc>,
    ) -> AttemptOutcome {
        self.decide_with_jitter(message, delivery, now, rand::thread_rng().r#gen::<f64>())
    }

    pub fn decide_with_jitter(
        &self,
        message: &Claimed,
        delivery: Delivery,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> AttemptOutcome {
        match delivery {
            Delivery::Accepted { provider_id } => AttemptOutcome::Sent { provider_id },
            Delivery::Permanent { error } => AttemptOutcome::Failed { error },
            Delivery::Temporary { error, retry_after } => {
                let attempt = message.attempts.max(1) as u32;
                if attempt >= self.max_attempts {
                    return AttemptOutcome::Failed {
                        error: format!("gave up after {attempt} attempts; the last: {error}"),
                    };
                }
                let wait = self
                    .delay(attempt, jitter)
                    .max(retry_after.unwrap_or_default());
                let retry_at = now + Duration::from_std(wait).unwrap_or(Duration::hours(6));
                match message.expires_at {
                    Some(expires) if retry_at.naive_utc() >= expires => AttemptOutcome::Expired {
                        error: format!(
                            "EXPIRES_AT would pass before the next attempt; the last: {error}"
                        ),
                    },
                    _ => AttemptOutcome::Retry { error, retry_at },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(attempts: i32, expires_in: Option<i64>) -> Claimed {
        let now = Utc::now();
        Claimed {
            id: "m".into(),
            owner: "o".into(),
            legacy_id: "l".into(),
            channel: "SMS".into(),
            recipient: "+34600111222".into(),
            sender: None,
            subject: None,
            body: "x".into(),
            segments: Some(1),
            expires_at: expires_in.map(|s| (now + Duration::seconds(s)).naive_utc()),
            attempts,
            claim_token: Some("t".into()),
            lease_until: now.naive_utc(),
        }
    }

    const POLICY: RetryPolicy = RetryPolicy {
        base: StdDuration::from_secs(30),
        max_attempts: 8,
    };

    #[test]
    fn the_first_retry_waits_the_base_and_each_next_doubles() {
        assert_eq!(POLICY.delay(1, 0.0), StdDuration::from_secs(30));
        assert_eq!(POLICY.delay(2, 0.0), StdDuration::from_secs(60));
        assert_eq!(POLICY.delay(4, 0.0), StdDuration::from_secs(240));
        assert_eq!(POLICY.delay(3, 1.0), StdDuration::from_secs(150));
        assert_eq!(POLICY.delay(40, 0.0), MAX_DELAY);
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let now = Utc::now();
        let temporary = Delivery::Temporary {
            error: "429".into(),
            retry_after: Some(StdDuration::from_secs(600)),
        };
        match POLICY.decide_with_jitter(&claimed(1, None), temporary, now, 0.0) {
            AttemptOutcome::Retry { retry_at, .. } => {
                assert_eq!(retry_at, now + Duration::seconds(600))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_last_attempt_and_a_permanent_error_fail_and_a_late_retry_expires() {
        let now = Utc::now();
        let temporary = || Delivery::temporary("503");
        assert!(matches!(
            POLICY.decide_with_jitter(&claimed(8, None), temporary(), now, 0.0),
            AttemptOutcome::Failed { error } if error.contains("gave up after 8 attempts")
        ));
        assert!(matches!(
            POLICY.decide_with_jitter(&claimed(1, None), Delivery::permanent("21211"), now, 0.0),
            AttemptOutcome::Failed { error } if error == "21211"
        ));
        assert!(matches!(
            POLICY.decide_with_jitter(&claimed(1, Some(10)), temporary(), now, 0.0),
            AttemptOutcome::Expired { .. }
        ));
    }
}
