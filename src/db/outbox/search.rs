//! `searchMessages`: one owner's messages, filtered and paged, newest first.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::messages;

#[derive(Clone, Debug, Default)]
pub struct MessageFilter {
    pub owner: String,
    pub legacy_id: Option<String>,
    pub message_id: Option<String>,
    pub to: Option<String>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// From 1.
    pub page: u32,
    pub page_size: u32,
}

#[derive(Clone, Debug, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = messages)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct MessageView {
    pub id: String,
    pub legacy_id: String,
    pub channel: String,
    pub recipient: String,
    pub status: String,
    pub segments: Option<i32>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub attempts: i32,
    pub error_message: Option<String>,
}

macro_rules! filtered {
    ($filter:expr) => {{
        let f = $filter;
        let mut query = messages::table
            .filter(messages::owner.eq(f.owner.clone()))
            .into_boxed();
        if let Some(v) = &f.legacy_id {
            query = query.filter(messages::legacy_id.eq(v.clone()));
        }
        if let Some(v) = &f.message_id {
            query = query.filter(messages::id.eq(v.clone()));
        }
        if let Some(v) = &f.to {
            query = query.filter(messages::recipient.eq(v.clone()));
        }
        if let Some(v) = &f.status {
            query = query.filter(messages::status.eq(v.clone()));
        }
        if let Some(v) = &f.channel {
            query = query.filter(messages::channel.eq(v.clone()));
        }
        if let Some(v) = f.created_from {
            query = query.filter(messages::created_at.ge(v.naive_utc()));
        }
        if let Some(v) = f.created_before {
            query = query.filter(messages::created_at.lt(v.naive_utc()));
        }
        query
    }};
}

/// One page of the owner's matching messages, and how many match over all pages.
pub fn search(
    conn: &mut DbConnection,
    filter: &MessageFilter,
) -> QueryResult<(Vec<MessageView>, i64)> {
    let total: i64 = filtered!(filter).count().get_result(conn)?;
    let offset = i64::from(filter.page.saturating_sub(1)) * i64::from(filter.page_size);
    let found = filtered!(filter)
        .order((messages::created_at.desc(), messages::id.desc()))
        .limit(i64::from(filter.page_size))
        .offset(offset)
        .select(MessageView::as_select())
        .load(conn)?;
    Ok((found, total))
}

/// A message the owner queued before under a legacy id, as its first answer showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedBefore {
    pub legacy_id: String,
    pub id: String,
    pub segments: Option<u32>,
}

/// The owner's messages under these legacy ids (`updateMessages` answers a repeat as it
/// answered the first call).
pub fn queued_before(
    conn: &mut DbConnection,
    owner: &str,
    legacy_ids: &[String],
) -> QueryResult<Vec<QueuedBefore>> {
    if legacy_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, Option<i32>)> = messages::table
        .filter(messages::owner.eq(owner))
        .filter(messages::legacy_id.eq_any(legacy_ids))
        .select((messages::legacy_id, messages::id, messages::segments))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(legacy_id, id, segments)| QueuedBefore {
            legacy_id,
            id,
            segments: segments.and_then(|s| u32::try_from(s).ok()),
        })
        .collect())
}
