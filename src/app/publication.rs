//! SMART Scheduling Links (the bulk publication of `Location`, `Schedule` and `Slot`): what a
//! caller's feed holds, center by center, and the pages of a center's published slots that an
//! edge streams one after the other, with the live bookings laid over (as the slot search does).
//!
//! Access: the feed is no public file here. Every use case needs the `booking` role; a center
//! outside the caller's view scope is not in its manifest and its files are not found.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::directory::{self, CenterEntry, ScheduleEntry};
use super::{Caller, Core, slots};
use crate::db::slots::search as store;
use crate::domain::slot_publication::Slot;
use crate::error::Error;

/// Slots one page of a feed reads.
pub const PAGE: i64 = 500;

/// A caller's publication: its centers, when the data last changed, and a fingerprint of all
/// of it (equal fingerprints, equal files).
#[derive(Clone, Debug)]
pub struct Publication {
    pub centers: Vec<CenterEntry>,
    pub transaction_time: DateTime<Utc>,
    pub fingerprint: String,
}

/// One center's files: its Location, its Schedules, and what its slots are rendered with.
#[derive(Clone, Debug)]
pub struct CenterFeed {
    pub center: CenterEntry,
    pub schedules: Vec<ScheduleEntry>,
    /// The activities a slot may name, by number: LID and name.
    pub activities: HashMap<i64, (String, String)>,
    /// The center's booking deep link template (see `RENDEZ_BOOKING_LINK_TEMPLATE`).
    pub link_template: Option<String>,
    roles: Vec<i64>,
}

impl CenterFeed {
    /// The booking deep link of a slot of this center, if one is configured.
    pub fn deep_link(&self, slot: &Slot) -> Option<String> {
        let template = self.link_template.as_deref()?;
        let start = slot.start.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        Some(
            template
                .replace("{center}", &encode(&self.center.lid))
                .replace("{slot}", &slot.id.to_string())
                .replace("{schedule}", &slot.role.to_string())
                .replace("{start}", &start),
        )
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The manifest's content: the centers in the caller's view scope, and the fingerprint of
/// their master data, schedules, stored slots, bookings and booking links.
pub async fn publication(core: &Core, caller: &Caller) -> Result<Publication, Error> {
    let found = directory::directory(core, caller).await?;
    let roles: Vec<i64> = found.schedules.iter().map(|s| s.id).collect();
    let (count, max_id, latest, bookings) = core
        .with_db(move |conn| store::fingerprint(conn, &roles))
        .await?;
    let links: BTreeMap<&str, Option<&str>> = found
        .centers
        .iter()
        .map(|c| (c.lid.as_str(), core.config.booking_links.template(&c.lid)))
        .collect();
    let mut hash = Sha256::new();
    hash.update(format!("{:?}", found.centers));
    hash.update(format!("{:?}", found.schedules));
    hash.update(format!("{:?}", found.activities));
    hash.update(format!(
        "{count} {max_id:?} {latest:?} {bookings} {links:?}"
    ));
    let transaction_time = found
        .centers
        .iter()
        .map(|c| c.updated_at)
        .chain(latest)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok(Publication {
        centers: found.centers,
        transaction_time,
        fingerprint: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// The files of the center with this number, when the caller may see it (else not found).
pub async fn center_feed(core: &Core, caller: &Caller, center: i64) -> Result<CenterFeed, Error> {
    let found = directory::directory(core, caller).await?;
    let Some(entry) = found.centers.into_iter().find(|c| c.id == center) else {
        return Err(Error::NotFound(format!("no center {center}")));
    };
    let schedules: Vec<ScheduleEntry> = found
        .schedules
        .into_iter()
        .filter(|s| s.center == center)
        .collect();
    let activities = slots::activity_codes(core).await?;
    Ok(CenterFeed {
        link_template: core
            .config
            .booking_links
            .template(&entry.lid)
            .map(str::to_string),
        roles: schedules.iter().map(|s| s.id).collect(),
        center: entry,
        schedules,
        activities,
    })
}

/// The next page of the center's slots after the slot `after` (0: the first), by id, with the
/// live bookings laid over; empty at the end.
pub async fn slots_after(core: &Core, feed: &CenterFeed, after: i64) -> Result<Vec<Slot>, Error> {
    let roles = feed.roles.clone();
    let rows = core
        .with_db(move |conn| store::page_of_roles(conn, &roles, after, PAGE))
        .await?;
    slots::overlaid(core, rows).await
}
