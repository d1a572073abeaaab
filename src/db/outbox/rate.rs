//! Per-channel token buckets in the database, shared by every worker process: the configured
//! rate holds for the installation, however many workers run.

use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::rate_buckets;
use crate::db::{DbConnection, dialect};
use crate::domain::messages::Channel;

/// A bucket of `rate` tokens per second holding at most one second's worth (so a burst never
/// exceeds the rate over any second), refilled up to `now`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub rate: f64,
    pub refilled_at: NaiveDateTime,
}

impl Bucket {
    pub fn capacity(rate: f64) -> f64 {
        rate.max(1.0)
    }

    pub fn refill(&mut self, now: NaiveDateTime) {
        let elapsed = (now - self.refilled_at)
            .num_microseconds()
            .unwrap_or(i64::MAX) as f64
            / 1e6;
        if elapsed > 0.0 {
            self.tokens = (self.tokens + elapsed * self.rate).min(Self::capacity(self.rate));
            self.refilled_at = now;
        }
    }

    pub fn whole_tokens(&self) -> usize {
        self.tokens.max(0.0).floor() as usize
    }

    pub fn take(&mut self, n: usize) {
        self.tokens -= n as f64;
    }

    /// How long until one whole token is there.
    pub fn wait_for_one(&self) -> StdDuration {
        let missing = (1.0 - self.tokens).max(0.0);
        StdDuration::from_secs_f64(missing / self.rate).max(StdDuration::from_millis(1))
    }
}

/// Reads and locks the channel's bucket until the transaction ends, creating it full.
pub fn lock(
    conn: &mut DbConnection,
    channel: Channel,
    rate: f64,
    now: DateTime<Utc>,
) -> QueryResult<Bucket> {
    let now = now.naive_utc();
    let stored = match lock_rate_bucket(conn, channel.as_str())? {
        Some(found) => Some(found),
        None => {
            match diesel::insert_into(rate_buckets::table)
                .values((
                    rate_buckets::channel.eq(channel.as_str()),
                    rate_buckets::tokens.eq(Bucket::capacity(rate)),
                    rate_buckets::refilled_at.eq(now),
                ))
                .execute(conn)
            {
                Ok(_) => None,
                Err(e) if dialect::is_unique_violation(&e) => {
                    lock_rate_bucket(conn, channel.as_str())?
                }
                Err(e) => return Err(e),
            }
        }
    };
    let mut bucket = match stored {
        Some((tokens, refilled_at)) => Bucket {
            tokens: tokens.min(Bucket::capacity(rate)),
            rate,
            refilled_at,
        },
        None => Bucket {
            tokens: Bucket::capacity(rate),
            rate,
            refilled_at: now,
        },
    };
    bucket.refill(now);
    Ok(bucket)
}

pub fn store(conn: &mut DbConnection, channel: Channel, bucket: &Bucket) -> QueryResult<()> {
    diesel::update(rate_buckets::table.find(channel.as_str()))
        .set((
            rate_buckets::tokens.eq(bucket.tokens),
            rate_buckets::refilled_at.eq(bucket.refilled_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A channel's token bucket, locked until the transaction ends (MySQL `FOR UPDATE`; SQLite's
/// transaction holds the write lock already).
pub fn lock_rate_bucket(
    conn: &mut DbConnection,
    channel: &str,
) -> diesel::QueryResult<Option<(f64, chrono::NaiveDateTime)>> {
    use crate::db::schema::rate_buckets;
    use diesel::prelude::*;
    let query = rate_buckets::table
        .find(channel)
        .select((rate_buckets::tokens, rate_buckets::refilled_at));
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => query.first(c).optional(),
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => query.for_update().first(c).optional(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_one_second_of_tokens() {
        let start = chrono::Utc::now().naive_utc();
        let mut bucket = Bucket {
            tokens: 0.0,
            rate: 10.0,
            refilled_at: start,
        };
        bucket.refill(start + chrono::Duration::milliseconds(250));
        assert_eq!(bucket.whole_tokens(), 2);
        bucket.refill(start + chrono::Duration::seconds(60));
        assert_eq!(bucket.whole_tokens(), 10);
        bucket.take(10);
        assert_eq!(bucket.wait_for_one(), StdDuration::from_millis(100));
        let slow = Bucket {
            tokens: 0.5,
            rate: 0.5,
            refilled_at: start,
        };
        assert_eq!(slow.wait_for_one(), StdDuration::from_secs(1));
    }
}
