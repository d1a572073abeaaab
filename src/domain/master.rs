//! Master data as the clinic system pushes it: key-entity rows (insurance, activity group,
//! activity, location, resource and their links) and availability rules.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::values::{
    self, FieldError, FieldResult, FieldSource, Lid, NAME_MAX_CHARS, date, flag, lid, minutes,
    price, required_lid, text, time_of_day, timezone,
};

/// `AVAILABILITY_SOURCE`: `rules`, `roster`, `both`, or `default` (what applies without a
/// word: the roster for a resource with shifts or a Deputy employee, its rules otherwise).
fn availability_source(
    src: &impl FieldSource,
) -> FieldResult<Option<Option<super::roster::AvailabilitySource>>> {
    const FIELD: &str = "AVAILABILITY_SOURCE";
    match src.field(FIELD) {
        None => Ok(None),
        Some(raw) if raw.eq_ignore_ascii_case("default") => Ok(Some(None)),
        Some(raw) => raw.parse().map(|source| Some(Some(source))).map_err(|_| {
            FieldError::new(
                FIELD,
                format!("'{raw}' is not an availability source: rules, roster, both or default"),
            )
        }),
    }
}

/// The longest activity or slot grid step we accept, in minutes: one day.
pub const MAX_MINUTES: u32 = 24 * 60;

#[derive(Clone, Debug, PartialEq)]
pub struct CenterFields {
    pub lid: Lid,
    pub name: Option<String>,
    pub timezone: Option<Tz>,
    pub description: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website_url: Option<String>,
    /// Listed by the OpenVPMS booking API (`LOCATION_ONLINE_BOOKING`); `None`: unchanged, on
    /// for a new center.
    pub online_booking: Option<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NamedFields {
    pub lid: Lid,
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActivityFields {
    pub lid: Lid,
    pub name: Option<String>,
    pub duration_minutes: Option<u32>,
    pub price_cents: Option<i64>,
    /// Listed by the OpenVPMS booking API (`ACTIVITY_ONLINE_BOOKING`); `None`: unchanged, on
    /// for a new activity.
    pub online_booking: Option<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceFields {
    pub lid: Lid,
    pub first_name: Option<String>,
    pub second_name: Option<String>,
    pub web_enabled: Option<bool>,
    pub availabilities_step: Option<u32>,
    /// Where the resource's availability comes from (`AVAILABILITY_SOURCE`: rules, roster,
    /// both, or default); `None`: unchanged.
    pub availability_source: Option<Option<super::roster::AvailabilitySource>>,
}

/// One KeyEntities row. What it means:
/// - each entity it names is created or updated (a new one needs its name, a new activity its
///   duration, a new center its time zone unless a default is configured);
/// - a resource and a location in one row: the resource works at that center;
/// - a resource and an activity: the resource offers it, with the row's duration and (without
///   insurance) its price as the resource's own (RESOURCE_ACTIVITY);
/// - an insurance and an activity: the insurance covers it, with the row's price (INSURANCE_ACTIVITY);
///   with a resource too, the resource accepts that insurance (INSURANCE_RESOURCE);
/// - an activity without a resource: the row's duration and price are the activity's own.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyEntity {
    pub insurance: Option<NamedFields>,
    pub group: Option<NamedFields>,
    pub activity: Option<ActivityFields>,
    pub center: Option<CenterFields>,
    pub resource: Option<ResourceFields>,
}

impl KeyEntity {
    pub fn parse(src: &impl FieldSource) -> FieldResult<KeyEntity> {
        let insurance = lid(src, "INSURANCE_LID")?
            .map(|lid| -> FieldResult<_> {
                Ok(NamedFields {
                    lid,
                    name: text(src, "INSURANCE_NAME", NAME_MAX_CHARS)?,
                })
            })
            .transpose()?;
        let group = lid(src, "ACTIVITY_GROUP_LID")?
            .map(|lid| -> FieldResult<_> {
                Ok(NamedFields {
                    lid,
                    name: text(src, "ACTIVITY_GROUP_NAME", NAME_MAX_CHARS)?,
                })
            })
            .transpose()?;
        let activity = lid(src, "ACTIVITY_LID")?
            .map(|lid| -> FieldResult<_> {
                Ok(ActivityFields {
                    lid,
                    name: text(src, "ACTIVITY_NAME", NAME_MAX_CHARS)?,
                    duration_minutes: minutes(src, "ACTIVITY_DURATION", MAX_MINUTES)?,
                    price_cents: price(src, "ACTIVITY_PRICE")?,
                    online_booking: flag(src, "ACTIVITY_ONLINE_BOOKING")?,
                })
            })
            .transpose()?;
        let center = lid(src, "LOCATION_LID")?
            .map(|lid| -> FieldResult<_> {
                Ok(CenterFields {
                    lid,
                    name: text(src, "LOCATION_NAME", NAME_MAX_CHARS)?,
                    timezone: timezone(src, "LOCATION_TIMEZONE")?,
                    description: text(src, "LOCATION_DESCRIPTION", 2000)?,
                    address: text(src, "LOCATION_ADDRESS", 500)?,
                    phone: text(src, "LOCATION_PHONE", 50)?,
                    website_url: text(src, "LOCATION_WEBSITE_URL", 500)?,
                    online_booking: flag(src, "LOCATION_ONLINE_BOOKING")?,
                })
            })
            .transpose()?;
        let resource = lid(src, "RESOURCE_LID")?
            .map(|lid| -> FieldResult<_> {
                Ok(ResourceFields {
                    lid,
                    first_name: text(src, "RESOURCE_FIRST_NAME", NAME_MAX_CHARS)?,
                    second_name: text(src, "RESOURCE_SECOND_NAME", NAME_MAX_CHARS)?,
                    web_enabled: flag(src, "WEB_ENABLED")?,
                    availabilities_step: minutes(src, "AVAILABILITIES_STEP", MAX_MINUTES)?,
                    availability_source: availability_source(src)?,
                })
            })
            .transpose()?;
        if group.is_some() && activity.is_none() {
            return Err(FieldError::new(
                "ACTIVITY_LID",
                "ACTIVITY_GROUP_LID needs the ACTIVITY_LID of an activity in that group",
            ));
        }
        if insurance.is_none() && activity.is_none() && center.is_none() && resource.is_none() {
            return Err(FieldError::new(
                "ACTIVITY_LID",
                "the row names nothing: give at least one of ACTIVITY_LID, LOCATION_LID, RESOURCE_LID, INSURANCE_LID",
            ));
        }
        Ok(KeyEntity {
            insurance,
            group,
            activity,
            center,
            resource,
        })
    }
}

/// One recurring opening of a resource at a center (the seed's TT_AVAILABILITIES), in the
/// center's wall-clock time.
#[derive(Clone, Debug, PartialEq)]
pub struct AvailabilityRule {
    pub lid: Lid,
    pub resource: Lid,
    pub center: Lid,
    /// 0 = Sunday .. 6 = Saturday; `None`: every day.
    pub working_day: Option<u8>,
    pub start_minute: u32,
    pub end_minute: u32,
    pub start_day: Option<NaiveDate>,
    pub end_day: Option<NaiveDate>,
    /// Empty: every activity the resource offers.
    pub activities: Vec<Lid>,
}

impl AvailabilityRule {
    /// `activity_lids` are the repeated `ACTIVITY_LID` values, which a flat field source cannot
    /// carry.
    pub fn parse(
        src: &impl FieldSource,
        activity_lids: &[String],
    ) -> FieldResult<AvailabilityRule> {
        let lid = required_lid(src, "AVAILABILITY_LID")?;
        let resource = required_lid(src, "RESOURCE_LID")?;
        let center = required_lid(src, "LOCATION_LID")?;
        let working_day = src
            .field("R_WORKING_DAY")
            .map(|raw| match raw.parse::<u8>() {
                Ok(d) if d <= 6 => Ok(d),
                _ => Err(FieldError::new(
                    "R_WORKING_DAY",
                    format!("R_WORKING_DAY '{raw}' must be a day from 0 (Sunday) to 6 (Saturday)"),
                )),
            })
            .transpose()?;
        let start_minute = time_of_day(src, "R_START_TIME", false)?
            .ok_or_else(|| FieldError::missing("R_START_TIME"))?;
        let end_minute = time_of_day(src, "R_END_TIME", true)?
            .ok_or_else(|| FieldError::missing("R_END_TIME"))?;
        if end_minute <= start_minute {
            return Err(FieldError::new(
                "R_END_TIME",
                "R_END_TIME must be after R_START_TIME",
            ));
        }
        let start_day = date(src, "R_START_DAY")?;
        let end_day = date(src, "R_END_DAY")?;
        if let (Some(s), Some(e)) = (start_day, end_day)
            && e < s
        {
            return Err(FieldError::new(
                "R_END_DAY",
                "R_END_DAY is before R_START_DAY",
            ));
        }
        let mut activities = Vec::new();
        for raw in activity_lids
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            let activity = Lid::parse(raw)
                .map_err(|e| FieldError::new("ACTIVITY_LID", format!("ACTIVITY_LID {e}")))?;
            if !activities.contains(&activity) {
                activities.push(activity);
            }
        }
        Ok(AvailabilityRule {
            lid,
            resource,
            center,
            working_day,
            start_minute,
            end_minute,
            start_day,
            end_day,
            activities,
        })
    }
}

/// A row that could not be taken, numbered from 1 in the order it was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub field: &'static str,
    pub message: String,
}

impl RowError {
    pub fn new(row: usize, err: FieldError) -> Self {
        RowError {
            row,
            field: err.field,
            message: err.message,
        }
    }
}

/// What a push did: counts of stored records (entities and links) created, changed and
/// deactivated, and the rows that were refused.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    pub created: u32,
    pub updated: u32,
    pub deactivated: u32,
    pub errors: Vec<RowError>,
}

impl SyncOutcome {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Parses every numbered row on its own: good rows come back with their number, bad ones as
/// errors. SOAP numbers items from 1; an import file numbers them by line.
pub fn parse_rows<S, T>(
    rows: impl IntoIterator<Item = (usize, S)>,
    mut parse: impl FnMut(&S) -> FieldResult<T>,
) -> (Vec<(usize, T)>, Vec<RowError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (number, row) in rows {
        match parse(&row) {
            Ok(parsed) => good.push((number, parsed)),
            Err(err) => bad.push(RowError::new(number, err)),
        }
    }
    (good, bad)
}

pub use values::format_price;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fields(HashMap<&'static str, &'static str>);
    impl FieldSource for Fields {
        fn field(&self, name: &'static str) -> Option<&str> {
            self.0
                .get(name)
                .copied()
                .map(str::trim)
                .filter(|v| !v.is_empty())
        }
    }
    fn fields(pairs: &[(&'static str, &'static str)]) -> Fields {
        Fields(pairs.iter().copied().collect())
    }

    #[test]
    fn a_full_key_entity_row_parses() {
        let row = KeyEntity::parse(&fields(&[
            ("ACTIVITY_LID", "A1"),
            ("ACTIVITY_NAME", "Consulta"),
            ("ACTIVITY_DURATION", "20"),
            ("ACTIVITY_PRICE", "35,50"),
            ("LOCATION_LID", "C1"),
            ("LOCATION_TIMEZONE", "Europe/Madrid"),
            ("RESOURCE_LID", "R1"),
            ("RESOURCE_FIRST_NAME", "Zoë"),
            ("WEB_ENABLED", "1"),
        ]))
        .unwrap();
        let activity = row.activity.unwrap();
        assert_eq!(
            (activity.duration_minutes, activity.price_cents),
            (Some(20), Some(3550))
        );
        assert_eq!(
            row.center.unwrap().timezone,
            Some(chrono_tz::Europe::Madrid)
        );
        assert_eq!(row.resource.unwrap().web_enabled, Some(true));
    }

    #[test]
    fn a_bad_field_is_named() {
        let err = KeyEntity::parse(&fields(&[
            ("ACTIVITY_LID", "A1"),
            ("ACTIVITY_DURATION", "0"),
        ]))
        .unwrap_err();
        assert_eq!(err.field, "ACTIVITY_DURATION");
        let err = KeyEntity::parse(&fields(&[
            ("LOCATION_LID", "C1"),
            ("LOCATION_TIMEZONE", "Mars/Base"),
        ]))
        .unwrap_err();
        assert_eq!(err.field, "LOCATION_TIMEZONE");
        assert!(KeyEntity::parse(&fields(&[])).is_err());
    }

    #[test]
    fn an_availability_rule_needs_an_end_after_its_start() {
        let base = [
            ("AVAILABILITY_LID", "AV1"),
            ("RESOURCE_LID", "R1"),
            ("LOCATION_LID", "C1"),
            ("R_WORKING_DAY", "1"),
            ("R_START_TIME", "09:00"),
            ("R_END_TIME", "08:00"),
        ];
        let err = AvailabilityRule::parse(&fields(&base), &[]).unwrap_err();
        assert_eq!(err.field, "R_END_TIME");
        let mut ok = base;
        ok[5] = ("R_END_TIME", "24:00");
        let rule = AvailabilityRule::parse(&fields(&ok), &["A1".into(), "A1".into()]).unwrap();
        assert_eq!(
            (rule.start_minute, rule.end_minute, rule.activities.len()),
            (540, 1440, 1)
        );
        let mut bad_day = base;
        bad_day[3] = ("R_WORKING_DAY", "7");
        assert_eq!(
            AvailabilityRule::parse(&fields(&bad_day), &[])
                .unwrap_err()
                .field,
            "R_WORKING_DAY"
        );
    }
}
