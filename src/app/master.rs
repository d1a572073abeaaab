//! Master-data use cases: the clinic pushes its centers, doctors, activities, insurances and
//! availability rules (a full sync deactivates what it no longer names), and clients read what
//! they may book. Searches in every process hear of a push through the booking cache.

use super::{Caller, Core, require};
use crate::db::{DbConnection, master};
use crate::domain::access::{CenterScope, Role};
use crate::domain::master::{AvailabilityRule, KeyEntity, RowError, SyncOutcome};
use crate::error::Error;

pub use crate::db::master::CenterRow as Center;
pub use crate::db::master::bookables::{Acceptance, Offering};

/// A push of key entities: the rows that parsed, numbered as sent, and those that did not.
#[derive(Debug, Default)]
pub struct KeyEntitySync {
    pub rows: Vec<(usize, KeyEntity)>,
    pub refused: Vec<RowError>,
    pub full_sync: bool,
}

/// A push of availability rules, as [`KeyEntitySync`].
#[derive(Debug, Default)]
pub struct AvailabilitySync {
    pub rules: Vec<(usize, AvailabilityRule)>,
    pub refused: Vec<RowError>,
    pub full_sync: bool,
}

/// Stores key entities; a limited client may change only what serves its centers alone (see
/// `db::master::reach`). Searches see the new data at once.
pub async fn sync_key_entities(
    core: &Core,
    caller: &Caller,
    sync: KeyEntitySync,
) -> Result<SyncOutcome, Error> {
    require(caller, Role::Admin, "updateKeyEntities")?;
    require_full_sync_scope(caller, sync.full_sync)?;
    if sync.full_sync && sync.rows.is_empty() && sync.refused.is_empty() {
        return Err(Error::client(
            "updateKeyEntities: FULL_SYNC without any ROW would deactivate all master data; send the rows to keep",
        ));
    }
    for (number, row) in &sync.rows {
        require_item_center(caller, *number, row.center.as_ref().map(|c| c.lid.as_str()))?;
    }
    let default_timezone = core.config.default_timezone;
    let scope = caller.centers.clone();
    let KeyEntitySync {
        rows,
        refused,
        full_sync,
    } = sync;
    let outcome = core
        .with_db(move |conn| {
            master::apply_key_entities_within(
                conn,
                &rows,
                full_sync,
                default_timezone,
                &scope,
                with_errors(refused.clone()),
            )
        })
        .await?;
    // After the commit: the next search reloads master data.
    core.booking.invalidate();
    Ok(outcome)
}

/// Stores availability rules; see [`sync_key_entities`].
pub async fn sync_availabilities(
    core: &Core,
    caller: &Caller,
    sync: AvailabilitySync,
) -> Result<SyncOutcome, Error> {
    require(caller, Role::Admin, "updateAvailabilities")?;
    // A full sync deactivates a named resource's availabilities in every center.
    require_full_sync_scope(caller, sync.full_sync)?;
    for (number, rule) in &sync.rules {
        require_item_center(caller, *number, Some(rule.center.as_str()))?;
    }
    let scope = caller.centers.clone();
    let AvailabilitySync {
        rules,
        refused,
        full_sync,
    } = sync;
    let outcome = core
        .with_db(move |conn| {
            master::apply_availabilities_within(
                conn,
                &rules,
                full_sync,
                &scope,
                with_errors(refused.clone()),
            )
        })
        .await?;
    core.booking.invalidate();
    Ok(outcome)
}

/// The active centers the caller may see, by LID.
pub async fn centers(core: &Core, caller: &Caller) -> Result<Vec<Center>, Error> {
    require(caller, Role::Admin, "getCenters")?;
    let scope = caller.view.clone();
    core.with_db(move |conn| master::list_centers(conn, &scope))
        .await
}

/// What the caller may book: the offerings and the insurances accepted, in the caller's centers
/// or only at `center` (a center outside the scope, or unknown, lists nothing).
pub async fn bookables(
    core: &Core,
    caller: &Caller,
    center: Option<String>,
) -> Result<(Vec<Offering>, Vec<Acceptance>), Error> {
    require(caller, Role::Booking, "getKeyEntities")?;
    let scope = match center {
        Some(lid) if caller.view.allows(&lid) => CenterScope::Only(vec![lid].into()),
        Some(_) => CenterScope::Only(Default::default()),
        None => caller.view.clone(),
    };
    core.with_db(move |conn| {
        Ok((
            master::bookables::offerings(conn, &scope)?,
            master::bookables::acceptances(conn, &scope)?,
        ))
    })
    .await
}

/// A full sync deactivates what it does not name, everywhere: only a caller that may act on
/// every center may ask for it.
pub fn require_full_sync_scope(caller: &Caller, full_sync: bool) -> Result<(), Error> {
    if full_sync && caller.centers.is_limited() {
        return Err(Error::Forbidden(format!(
            "client '{}' is limited to some centers and cannot send FULL_SYNC",
            caller.name
        )));
    }
    Ok(())
}

/// A caller limited to some centers may only push items (numbered from 1 as sent) that name
/// one of them; which stored records those items may change is judged with the push (see
/// `db::master::reach`). An edge checks the items as sent, before parsing, so that an item it
/// cannot parse is judged too; the use cases check again what they are given.
pub fn require_item_center(
    caller: &Caller,
    item: usize,
    center_lid: Option<&str>,
) -> Result<(), Error> {
    if !caller.centers.is_limited() {
        return Ok(());
    }
    match center_lid {
        Some(lid) if caller.centers.allows(lid) => Ok(()),
        Some(lid) => Err(Error::Forbidden(format!(
            "item {item}: client '{}' may not act on center '{lid}'",
            caller.name
        ))),
        None => Err(Error::Forbidden(format!(
            "item {item}: client '{}' is limited to some centers, so every item must name its LOCATION_LID",
            caller.name
        ))),
    }
}

fn with_errors(errors: Vec<RowError>) -> SyncOutcome {
    SyncOutcome {
        errors,
        ..SyncOutcome::default()
    }
}

/// What is bookable online, for the operator at the shell (`rendez keyentities list`): in
/// every center, or only at `center`.
pub fn catalog(
    conn: &mut DbConnection,
    center: Option<String>,
) -> Result<(Vec<Offering>, Vec<Acceptance>), Error> {
    let scope = match center {
        Some(lid) => CenterScope::Only(vec![lid].into()),
        None => CenterScope::All,
    };
    Ok((
        master::bookables::offerings(conn, &scope)?,
        master::bookables::acceptances(conn, &scope)?,
    ))
}

/// The operator's import of key entities (`rendez import keyentities`, the demo clinic): every
/// center, on the command's connection. Servers running on the database see the new data at
/// their next search (the master-data version moves with the push).
pub fn import_key_entities(
    conn: &mut DbConnection,
    sync: KeyEntitySync,
    default_timezone: Option<chrono_tz::Tz>,
) -> Result<SyncOutcome, Error> {
    Ok(master::apply_key_entities(
        conn,
        &sync.rows,
        sync.full_sync,
        default_timezone,
        with_errors(sync.refused),
    )?)
}

/// The operator's import of availability rules; see [`import_key_entities`].
pub fn import_availabilities(
    conn: &mut DbConnection,
    sync: AvailabilitySync,
) -> Result<SyncOutcome, Error> {
    Ok(master::apply_availabilities(
        conn,
        &sync.rules,
        sync.full_sync,
        with_errors(sync.refused),
    )?)
}

/// Every active center, for the operator at the shell.
pub fn all_centers(conn: &mut DbConnection) -> Result<Vec<Center>, Error> {
    Ok(master::list_centers(conn, &CenterScope::All)?)
}
