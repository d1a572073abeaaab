use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::centers;
use crate::domain::access::CenterScope;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = centers)]
#[cfg_attr(feature = "sqlite", diesel(check_for_backend(diesel::sqlite::Sqlite)))]
#[cfg_attr(feature = "mysql", diesel(check_for_backend(diesel::mysql::Mysql)))]
pub struct CenterRow {
    pub id: String,
    pub lid: String,
    pub name: String,
    pub description: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website_url: Option<String>,
    pub timezone: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The active centers a client may see, by LID.
pub fn list_centers(conn: &mut DbConnection, scope: &CenterScope) -> QueryResult<Vec<CenterRow>> {
    let mut query = centers::table
        .filter(centers::active.eq(true))
        .order(centers::lid.asc())
        .select(CenterRow::as_select())
        .into_boxed();
    if let CenterScope::Only(lids) = scope {
        query = query.filter(centers::lid.eq_any(lids));
    }
    query.load(conn)
}

pub(super) fn find_by_lid(conn: &mut DbConnection, lid: &str) -> QueryResult<Option<CenterRow>> {
    centers::table
        .filter(centers::lid.eq(lid))
        .select(CenterRow::as_select())
        .first(conn)
        .optional()
}
