//! Where a resource's availability comes from, as the clinic says it (the CLI, the admin API,
//! the master-data push): written with the master-data version and the slot worker's event.

use chrono::Utc;
use diesel::prelude::*;

use super::availability::said_source;
use crate::db::DbConnection;
use crate::db::schema::resource_availability_modes;
use crate::db::slots::{Scope, events};
use crate::db::time::naive;
use crate::db::tx::retrying;
use crate::domain::roster::AvailabilitySource;

/// Sets (or, with `None`, forgets) what the clinic says of a resource's source, moving the
/// master-data version and asking the slot worker to republish the resource.
pub fn set_source(
    conn: &mut DbConnection,
    resource_id: &str,
    source: Option<AvailabilitySource>,
) -> QueryResult<()> {
    retrying(conn, |conn| set_source_within(conn, resource_id, source))
}

/// [`set_source`] inside the caller's transaction (the master-data push).
pub fn set_source_within(
    conn: &mut DbConnection,
    resource_id: &str,
    source: Option<AvailabilitySource>,
) -> QueryResult<()> {
    if said_source(conn, resource_id)? == source {
        return Ok(());
    }
    diesel::delete(resource_availability_modes::table.find(resource_id)).execute(conn)?;
    if let Some(source) = source {
        diesel::insert_into(resource_availability_modes::table)
            .values((
                resource_availability_modes::resource_id.eq(resource_id),
                resource_availability_modes::mode.eq(source.as_str()),
                resource_availability_modes::updated_at.eq(naive(super::stamp::now())),
            ))
            .execute(conn)?;
    }
    crate::db::booking::cache::bump_master(conn)?;
    events::record(
        conn,
        &[(
            Scope::Resource(resource_id.to_string()),
            "availability source changed".to_string(),
        )],
        Utc::now(),
    )?;
    Ok(())
}
