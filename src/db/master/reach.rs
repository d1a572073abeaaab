//! Which stored master data a client limited to some centers may change.
//!
//! A row names a center of the client's, but the records it changes are found by their own
//! LIDs, and one record may serve several centers. A limited client may change (or link) only
//! what belongs to its centers alone:
//! - a resource: every center it is linked to or has an availability rule at, now or before;
//! - an activity: every center of the resources that offer it and of the rules limited to it;
//! - an activity group: every center of its activities;
//! - an insurance: every center of the resources that accept it; one that names no resource is
//!   accepted by every resource, so it belongs to every center;
//! - an availability rule: the center it is at now.
//!
//! Records new to the database (or created by the same push) belong to the client. A row that
//! would change a record beyond the client's centers is refused, and its message names neither
//! those centers nor anything stored there. The checks read inside the push's write
//! transaction, after the master-data version row is locked (see `apply_*`), so no concurrent
//! push can change what they read before this one commits.

use std::collections::HashSet;

use diesel::prelude::*;

use super::rows::RowFailure;
use crate::db::DbConnection;
use crate::db::schema::{
    activities, availabilities, availability_activities, centers, insurance_resources,
    resource_activities, resource_centers,
};
use crate::domain::FieldError;
use crate::domain::access::CenterScope;

/// The client's reach over one push: its centers and what the push created.
pub(super) struct Reach<'a> {
    scope: &'a CenterScope,
    created: HashSet<String>,
}

impl<'a> Reach<'a> {
    pub(super) fn new(scope: &'a CenterScope) -> Self {
        Reach {
            scope,
            created: HashSet::new(),
        }
    }

    /// Records a record (by id) this push created: it is the client's.
    pub(super) fn created(&mut self, id: &str) {
        if self.scope.is_limited() {
            self.created.insert(id.to_string());
        }
    }

    fn owns(&self, id: &str) -> bool {
        !self.scope.is_limited() || self.created.contains(id)
    }

    fn all_allowed(&self, center_lids: &[String]) -> bool {
        center_lids.iter().all(|lid| self.scope.allows(lid))
    }

    /// A center named by a row: the edge already refused the others; checked again for callers
    /// that do not go through it.
    pub(super) fn center(&self, field: &'static str, lid: &str) -> Result<(), RowFailure> {
        if self.scope.allows(lid) {
            Ok(())
        } else {
            Err(refusal(
                field,
                format!("{field} '{lid}' is not a center this client may act on"),
            ))
        }
    }

    /// May the push change resource `id` (its fields, centers, activities or insurances)?
    pub(super) fn resource(
        &self,
        conn: &mut DbConnection,
        id: &str,
        lid: &str,
    ) -> Result<(), RowFailure> {
        if self.owns(id) || self.all_allowed(&centers_of_resources(conn, &[id.to_string()])?) {
            return Ok(());
        }
        Err(refusal(
            "RESOURCE_LID",
            format!(
                "RESOURCE_LID '{lid}' also works at a center this client may not act on: only a \
                 client allowed at all its centers may change it or link it to another center"
            ),
        ))
    }

    pub(super) fn activity(
        &self,
        conn: &mut DbConnection,
        id: &str,
        lid: &str,
    ) -> Result<(), RowFailure> {
        if self.owns(id) || self.all_allowed(&centers_of_activities(conn, &[id.to_string()])?) {
            return Ok(());
        }
        Err(refusal(
            "ACTIVITY_LID",
            format!(
                "ACTIVITY_LID '{lid}' is also used at a center this client may not act on: only a \
                 client allowed at all those centers may change it"
            ),
        ))
    }

    pub(super) fn group(
        &self,
        conn: &mut DbConnection,
        id: &str,
        lid: &str,
    ) -> Result<(), RowFailure> {
        if self.owns(id) {
            return Ok(());
        }
        let members: Vec<String> = activities::table
            .filter(activities::group_id.eq(id))
            .select(activities::id)
            .load(conn)?;
        if self.all_allowed(&centers_of_activities(conn, &members)?) {
            return Ok(());
        }
        Err(refusal(
            "ACTIVITY_GROUP_LID",
            format!(
                "ACTIVITY_GROUP_LID '{lid}' holds activities used at a center this client may not \
                 act on: only a client allowed at all those centers may change it"
            ),
        ))
    }

    pub(super) fn insurance(
        &self,
        conn: &mut DbConnection,
        id: &str,
        lid: &str,
    ) -> Result<(), RowFailure> {
        if self.owns(id) {
            return Ok(());
        }
        let links: Vec<(String, bool)> = insurance_resources::table
            .filter(insurance_resources::insurance_id.eq(id))
            .select((
                insurance_resources::resource_id,
                insurance_resources::active,
            ))
            .load(conn)?;
        let centers = if links.iter().any(|(_, active)| *active) {
            let resources: Vec<String> = links.into_iter().map(|(r, _)| r).collect();
            centers_of_resources(conn, &resources)?
        } else {
            // Limited to no resource: every resource accepts it.
            centers::table.select(centers::lid).load(conn)?
        };
        if self.all_allowed(&centers) {
            return Ok(());
        }
        Err(refusal(
            "INSURANCE_LID",
            format!(
                "INSURANCE_LID '{lid}' is also accepted at a center this client may not act on: \
                 only a client allowed at all those centers may change it"
            ),
        ))
    }

    /// May the push change availability rule `id`, now at center `center_id`?
    pub(super) fn availability(
        &self,
        conn: &mut DbConnection,
        id: &str,
        center_id: &str,
        lid: &str,
    ) -> Result<(), RowFailure> {
        if self.owns(id) {
            return Ok(());
        }
        let center: Vec<String> = centers::table
            .find(center_id)
            .select(centers::lid)
            .load(conn)?;
        if self.all_allowed(&center) {
            return Ok(());
        }
        Err(refusal(
            "AVAILABILITY_LID",
            format!(
                "AVAILABILITY_LID '{lid}' is the availability of a center this client may not act \
                 on: only a client allowed there may change it"
            ),
        ))
    }
}

fn refusal(field: &'static str, message: String) -> RowFailure {
    RowFailure::Field(FieldError::new(field, message))
}

/// The LIDs of the centers the resources are linked to or have rules at, active or not.
fn centers_of_resources(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut lids: Vec<String> = resource_centers::table
        .inner_join(centers::table.on(centers::id.eq(resource_centers::center_id)))
        .filter(resource_centers::resource_id.eq_any(ids))
        .select(centers::lid)
        .distinct()
        .load(conn)?;
    lids.extend(
        availabilities::table
            .inner_join(centers::table.on(centers::id.eq(availabilities::center_id)))
            .filter(availabilities::resource_id.eq_any(ids))
            .select(centers::lid)
            .distinct()
            .load::<String>(conn)?,
    );
    Ok(lids)
}

/// The LIDs of the centers where the activities are used: those of the resources that offer
/// them (active or not) and of the rules limited to them.
fn centers_of_activities(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let resources: Vec<String> = resource_activities::table
        .filter(resource_activities::activity_id.eq_any(ids))
        .select(resource_activities::resource_id)
        .distinct()
        .load(conn)?;
    let mut lids = centers_of_resources(conn, &resources)?;
    lids.extend(
        availability_activities::table
            .inner_join(
                availabilities::table
                    .on(availabilities::id.eq(availability_activities::availability_id)),
            )
            .inner_join(centers::table.on(centers::id.eq(availabilities::center_id)))
            .filter(availability_activities::activity_id.eq_any(ids))
            .select(centers::lid)
            .distinct()
            .load::<String>(conn)?,
    );
    Ok(lids)
}
