//! Deputy mappings: a center (or an area of it) to a Deputy operational unit, a resource to a
//! Deputy employee, by id. Rendez never creates either side: an unmapped one is a sync error.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::stamp::now;
use crate::db::DbConnection;
use crate::db::schema::{centers, deputy_employees, deputy_units, resource_centers, resources};
use crate::db::slots::{Scope, events};
use crate::db::time::{naive, utc};
use crate::db::tx::retrying;

/// A center or area mapped to a Deputy operational unit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UnitMapping {
    pub center_lid: String,
    /// `None`: the whole center.
    pub area: Option<String>,
    pub unit_id: i64,
    pub updated_at: DateTime<Utc>,
}

/// A resource mapped to a Deputy employee.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EmployeeMapping {
    pub resource_lid: String,
    pub employee_id: i64,
    pub updated_at: DateTime<Utc>,
}

/// What a mapping write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapOutcome {
    Mapped,
    /// The Deputy id is already mapped elsewhere (named); nothing changed.
    TakenBy(String),
}

fn area_key(area: Option<&str>) -> &str {
    area.unwrap_or("")
}

/// Maps a center (by id) or an area of it to a unit, replacing its earlier unit.
pub fn map_unit(
    conn: &mut DbConnection,
    center_id: &str,
    area: Option<&str>,
    unit_id: i64,
) -> QueryResult<MapOutcome> {
    retrying(conn, |conn| {
        let holder: Option<(String, String)> = deputy_units::table
            .inner_join(centers::table.on(centers::id.eq(deputy_units::center_id)))
            .filter(deputy_units::unit_id.eq(unit_id))
            .select((centers::lid, deputy_units::area))
            .first(conn)
            .optional()?;
        let same_place: bool = deputy_units::table
            .filter(deputy_units::unit_id.eq(unit_id))
            .filter(deputy_units::center_id.eq(center_id))
            .filter(deputy_units::area.eq(area_key(area)))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if let Some((lid, held_area)) = holder
            && !same_place
        {
            let place = if held_area.is_empty() {
                lid
            } else {
                format!("{lid}/{held_area}")
            };
            return Ok(MapOutcome::TakenBy(place));
        }
        diesel::delete(
            deputy_units::table
                .filter(deputy_units::center_id.eq(center_id))
                .filter(deputy_units::area.eq(area_key(area))),
        )
        .execute(conn)?;
        diesel::insert_into(deputy_units::table)
            .values((
                deputy_units::center_id.eq(center_id),
                deputy_units::area.eq(area_key(area)),
                deputy_units::unit_id.eq(unit_id),
                deputy_units::updated_at.eq(naive(now())),
            ))
            .execute(conn)?;
        Ok(MapOutcome::Mapped)
    })
}

/// Maps a resource (by id) to an employee, replacing its earlier employee. A mapped employee
/// makes the roster the resource's default availability: the master-data version moves and
/// the slot worker republishes the resource.
pub fn map_employee(
    conn: &mut DbConnection,
    resource_id: &str,
    employee_id: i64,
) -> QueryResult<MapOutcome> {
    retrying(conn, |conn| {
        let holder: Option<(String, String)> = deputy_employees::table
            .inner_join(resources::table.on(resources::id.eq(deputy_employees::resource_id)))
            .filter(deputy_employees::employee_id.eq(employee_id))
            .select((resources::id, resources::lid))
            .first(conn)
            .optional()?;
        if let Some((id, lid)) = holder
            && id != resource_id
        {
            return Ok(MapOutcome::TakenBy(lid));
        }
        diesel::delete(deputy_employees::table.find(resource_id)).execute(conn)?;
        diesel::insert_into(deputy_employees::table)
            .values((
                deputy_employees::resource_id.eq(resource_id),
                deputy_employees::employee_id.eq(employee_id),
                deputy_employees::updated_at.eq(naive(now())),
            ))
            .execute(conn)?;
        crate::db::booking::cache::bump_master(conn)?;
        events::record(
            conn,
            &[(
                Scope::Resource(resource_id.to_string()),
                "Deputy employee mapped".to_string(),
            )],
            Utc::now(),
        )?;
        Ok(MapOutcome::Mapped)
    })
}

/// Every unit mapping, by center LID and area.
pub fn units(conn: &mut DbConnection) -> QueryResult<Vec<UnitMapping>> {
    let rows: Vec<(String, String, i64, NaiveDateTime)> = deputy_units::table
        .inner_join(centers::table.on(centers::id.eq(deputy_units::center_id)))
        .select((
            centers::lid,
            deputy_units::area,
            deputy_units::unit_id,
            deputy_units::updated_at,
        ))
        .order((centers::lid.asc(), deputy_units::area.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(center_lid, area, unit_id, at)| UnitMapping {
            center_lid,
            area: (!area.is_empty()).then_some(area),
            unit_id,
            updated_at: utc(at),
        })
        .collect())
}

/// Every employee mapping, by resource LID.
pub fn employees(conn: &mut DbConnection) -> QueryResult<Vec<EmployeeMapping>> {
    let rows: Vec<(String, i64, NaiveDateTime)> = deputy_employees::table
        .inner_join(resources::table.on(resources::id.eq(deputy_employees::resource_id)))
        .select((
            resources::lid,
            deputy_employees::employee_id,
            deputy_employees::updated_at,
        ))
        .order(resources::lid.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(resource_lid, employee_id, at)| EmployeeMapping {
            resource_lid,
            employee_id,
            updated_at: utc(at),
        })
        .collect())
}

/// The center (id) and area a Deputy unit maps to.
pub fn place_of_unit(
    conn: &mut DbConnection,
    unit_id: i64,
) -> QueryResult<Option<(String, Option<String>)>> {
    Ok(deputy_units::table
        .filter(deputy_units::unit_id.eq(unit_id))
        .select((deputy_units::center_id, deputy_units::area))
        .first::<(String, String)>(conn)
        .optional()?
        .map(|(center, area)| (center, (!area.is_empty()).then_some(area))))
}

/// The unit a center's area maps to, else the center's own unit.
pub fn unit_of_place(
    conn: &mut DbConnection,
    center_id: &str,
    area: Option<&str>,
) -> QueryResult<Option<i64>> {
    if let Some(area) = area {
        let unit = deputy_units::table
            .filter(deputy_units::center_id.eq(center_id))
            .filter(deputy_units::area.eq(area))
            .select(deputy_units::unit_id)
            .first::<i64>(conn)
            .optional()?;
        if unit.is_some() {
            return Ok(unit);
        }
    }
    deputy_units::table
        .filter(deputy_units::center_id.eq(center_id))
        .filter(deputy_units::area.eq(""))
        .select(deputy_units::unit_id)
        .first::<i64>(conn)
        .optional()
}

/// The resource (id) a Deputy employee maps to.
pub fn resource_of_employee(
    conn: &mut DbConnection,
    employee_id: i64,
) -> QueryResult<Option<String>> {
    deputy_employees::table
        .filter(deputy_employees::employee_id.eq(employee_id))
        .select(deputy_employees::resource_id)
        .first(conn)
        .optional()
}

/// The Deputy employee a resource (id) maps to.
pub fn employee_of_resource(
    conn: &mut DbConnection,
    resource_id: &str,
) -> QueryResult<Option<i64>> {
    deputy_employees::table
        .find(resource_id)
        .select(deputy_employees::employee_id)
        .first(conn)
        .optional()
}

/// Ids by LID: the lookups the slot use cases use too.
pub use crate::db::slots::lookup::{center_id, resource_id};

/// The LIDs of the centers a resource (by id) works at.
pub fn centers_of_resource(conn: &mut DbConnection, resource_id: &str) -> QueryResult<Vec<String>> {
    resource_centers::table
        .inner_join(centers::table.on(centers::id.eq(resource_centers::center_id)))
        .filter(resource_centers::resource_id.eq(resource_id))
        .filter(resource_centers::active.eq(true))
        .select(centers::lid)
        .load(conn)
}

/// [`centers_of_resource`] by the resource's LID.
pub fn centers_of_resource_lid(conn: &mut DbConnection, lid: &str) -> QueryResult<Vec<String>> {
    match resource_id(conn, lid)? {
        Some(id) => centers_of_resource(conn, &id),
        None => Ok(Vec::new()),
    }
}

/// Removes the unit mapping of a center (by id) or an area of it; false when there was none.
/// Rosters of that unit become sync errors again at their next change.
pub fn unmap_unit(
    conn: &mut DbConnection,
    center_id: &str,
    area: Option<&str>,
) -> QueryResult<bool> {
    let removed = diesel::delete(
        deputy_units::table
            .filter(deputy_units::center_id.eq(center_id))
            .filter(deputy_units::area.eq(area_key(area))),
    )
    .execute(conn)?;
    Ok(removed > 0)
}

/// Removes a resource's (by id) employee mapping; false when there was none. Its default
/// availability may turn back to its rules: the master-data version moves and the slot worker
/// republishes the resource, as when it was mapped.
pub fn unmap_employee(conn: &mut DbConnection, resource_id: &str) -> QueryResult<bool> {
    retrying(conn, |conn| {
        let removed = diesel::delete(deputy_employees::table.find(resource_id)).execute(conn)?;
        if removed > 0 {
            crate::db::booking::cache::bump_master(conn)?;
            events::record(
                conn,
                &[(
                    Scope::Resource(resource_id.to_string()),
                    "Deputy employee unmapped".to_string(),
                )],
                Utc::now(),
            )?;
        }
        Ok(removed > 0)
    })
}
