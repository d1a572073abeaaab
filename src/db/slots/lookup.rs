//! The master data a slot use case names by LID or internal id.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{activities, centers, resources};

/// A center's LID by its internal id.
pub fn center_lid(conn: &mut DbConnection, center_id: &str) -> QueryResult<Option<String>> {
    centers::table
        .find(center_id)
        .select(centers::lid)
        .first(conn)
        .optional()
}

/// A center's internal id by its LID.
pub fn center_id(conn: &mut DbConnection, lid: &str) -> QueryResult<Option<String>> {
    centers::table
        .filter(centers::lid.eq(lid))
        .select(centers::id)
        .first(conn)
        .optional()
}

/// A resource's internal id by its LID.
pub fn resource_id(conn: &mut DbConnection, lid: &str) -> QueryResult<Option<String>> {
    resources::table
        .filter(resources::lid.eq(lid))
        .select(resources::id)
        .first(conn)
        .optional()
}

/// An activity's internal id by its LID.
pub fn activity_id(conn: &mut DbConnection, lid: &str) -> QueryResult<Option<String>> {
    activities::table
        .filter(activities::lid.eq(lid))
        .select(activities::id)
        .first(conn)
        .optional()
}
