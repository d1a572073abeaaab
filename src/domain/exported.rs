//! One line of the clinic's exported appointments (seed A.1.1), parsed: the appointment's id in
//! the clinic system, its local date and time, the patient's contact data, the resource and the
//! center. Only what the line itself says is checked here; what depends on the database (is the
//! center known, what is its clock) is checked by the importer.

use chrono::NaiveDate;

use super::patient::{normalize_email, normalize_phone};
use super::values::{
    FieldError, FieldResult, FieldSource, Lid, NAME_MAX_CHARS, date, lid, required, required_lid,
    text, time_of_day,
};

/// The columns of the seed's export, in its order, then the optional ones Rendez also reads:
/// `APP_END_TIME` (else the activity's duration, else the resource's step, else 15 minutes),
/// `ACTIVITY_LID` (a known activity) and `USER_LID` (the patient's id in the clinic system).
pub const COLUMNS: &[&str] = &[
    "APP_LID",
    "APP_DATE",
    "APP_START_TIME",
    "USER_LANDLINE_PHONE",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "RESOURCE_LID",
    "RESOURCE_NAME",
    "RESOURCE_MOBILE_PHONE",
    "RESOURCE_EMAIL",
    "LOCATION_LID",
    "LOCATION_NAME",
    "APP_END_TIME",
    "ACTIVITY_LID",
    "USER_LID",
];

/// Columns a file must have: without them no line could be stored.
pub const REQUIRED_COLUMNS: &[&str] = &["APP_LID", "APP_DATE", "APP_START_TIME", "RESOURCE_LID"];

/// Minutes an appointment lasts when neither the file nor the activity nor the resource says.
pub const FALLBACK_MINUTES: u32 = 15;

/// The patient's contact data as the export gives it (phones in E.164, email lower-cased).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Contact {
    pub mobile_phone: Option<String>,
    pub landline_phone: Option<String>,
    pub email: Option<String>,
}

/// One appointment of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedAppointment {
    /// The line of the file it came from (1-based, the header is line 1).
    pub line: usize,
    pub app_lid: Lid,
    /// The date and times on the center's clock.
    pub date: NaiveDate,
    pub start_minute: u32,
    pub end_minute: Option<u32>,
    pub contact: Contact,
    pub user_lid: Option<Lid>,
    pub resource: Lid,
    /// The name a resource unknown to Rendez is created with (`RESOURCE_NAME`, else its LID).
    pub resource_name: Option<String>,
    pub location: Option<Lid>,
    pub location_name: Option<String>,
    pub activity: Option<Lid>,
}

impl ExportedAppointment {
    /// Reads one line. Phones without an international prefix are read in `default_country`.
    pub fn parse(
        line: usize,
        src: &impl FieldSource,
        default_country: Option<&str>,
    ) -> FieldResult<ExportedAppointment> {
        let app_lid = required_lid(src, "APP_LID")?;
        let date = date(src, "APP_DATE")?.ok_or_else(|| FieldError::missing("APP_DATE"))?;
        let start_minute = time_of_day(src, "APP_START_TIME", false)?.ok_or_else(|| {
            FieldError::new(
                "APP_START_TIME",
                "APP_START_TIME is required: an appointment without a time cannot be reminded",
            )
        })?;
        let end_minute = time_of_day(src, "APP_END_TIME", true)?;
        if let Some(end) = end_minute
            && end <= start_minute
        {
            return Err(FieldError::new(
                "APP_END_TIME",
                format!(
                    "APP_END_TIME '{}' is not after APP_START_TIME '{}'",
                    required(src, "APP_END_TIME")?,
                    required(src, "APP_START_TIME")?
                ),
            ));
        }
        let phone = |field: &'static str| -> FieldResult<Option<String>> {
            src.field(field)
                .map(|raw| {
                    normalize_phone(raw, default_country)
                        .map_err(|e| FieldError::new(field, format!("{field} {e}")))
                })
                .transpose()
        };
        let contact = Contact {
            mobile_phone: phone("USER_MOBILE_PHONE")?,
            landline_phone: phone("USER_LANDLINE_PHONE")?,
            email: src
                .field("USER_EMAIL")
                .map(|raw| {
                    normalize_email(raw)
                        .map_err(|e| FieldError::new("USER_EMAIL", format!("USER_EMAIL {e}")))
                })
                .transpose()?,
        };
        Ok(ExportedAppointment {
            line,
            app_lid,
            date,
            start_minute,
            end_minute,
            contact,
            user_lid: lid(src, "USER_LID")?,
            resource: required_lid(src, "RESOURCE_LID")?,
            resource_name: text(src, "RESOURCE_NAME", NAME_MAX_CHARS)?,
            location: lid(src, "LOCATION_LID")?,
            location_name: text(src, "LOCATION_NAME", NAME_MAX_CHARS)?,
            activity: lid(src, "ACTIVITY_LID")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Fields(HashMap<&'static str, &'static str>);

    impl FieldSource for Fields {
        fn field(&self, name: &'static str) -> Option<&str> {
            self.0.get(name).copied().filter(|v| !v.is_empty())
        }
    }

    fn line(pairs: &[(&'static str, &'static str)]) -> Fields {
        let mut map: HashMap<_, _> = [
            ("APP_LID", "A-1"),
            ("APP_DATE", "03/12/2026"),
            ("APP_START_TIME", "09:30"),
            ("USER_MOBILE_PHONE", "+34 600 111 222"),
            ("USER_EMAIL", "Ana@Example.ORG"),
            ("RESOURCE_LID", "R1"),
            ("RESOURCE_NAME", "Dra. Peña"),
            ("LOCATION_LID", "C1"),
        ]
        .into_iter()
        .collect();
        map.extend(pairs.iter().copied());
        Fields(map)
    }

    #[test]
    fn a_seed_line_is_read_with_its_contact_data_normalised() {
        let a = ExportedAppointment::parse(7, &line(&[]), None).unwrap();
        assert_eq!(a.line, 7);
        assert_eq!(a.app_lid.as_str(), "A-1");
        assert_eq!(a.date, NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        assert_eq!(a.start_minute, 9 * 60 + 30);
        assert_eq!(a.end_minute, None);
        assert_eq!(a.contact.mobile_phone.as_deref(), Some("+34600111222"));
        assert_eq!(a.contact.email.as_deref(), Some("ana@example.org"));
        assert_eq!(a.resource_name.as_deref(), Some("Dra. Peña"));
        assert_eq!(a.location.as_ref().map(Lid::as_str), Some("C1"));
    }

    #[test]
    fn a_bad_field_is_named() {
        type Case = (
            &'static [(&'static str, &'static str)],
            &'static str,
            &'static str,
        );
        let cases: &[Case] = &[
            (&[("APP_DATE", "2026-13-01")], "APP_DATE", "not a date"),
            (&[("APP_START_TIME", "")], "APP_START_TIME", "required"),
            (
                &[("APP_START_TIME", "25:00")],
                "APP_START_TIME",
                "not a time",
            ),
            (&[("APP_END_TIME", "09:00")], "APP_END_TIME", "not after"),
            (
                &[("USER_MOBILE_PHONE", "600111222")],
                "USER_MOBILE_PHONE",
                "prefix",
            ),
            (&[("USER_EMAIL", "nobody")], "USER_EMAIL", "not an email"),
            (&[("RESOURCE_LID", "")], "RESOURCE_LID", "required"),
        ];
        for (pairs, field, text) in cases {
            let err = ExportedAppointment::parse(2, &line(pairs), None).unwrap_err();
            assert_eq!(err.field, *field, "{pairs:?}");
            assert!(err.message.contains(text), "{pairs:?}: {}", err.message);
        }
    }

    #[test]
    fn phones_without_prefix_are_read_in_the_default_country() {
        let a =
            ExportedAppointment::parse(2, &line(&[("USER_MOBILE_PHONE", "600111222")]), Some("ES"))
                .unwrap();
        assert_eq!(a.contact.mobile_phone.as_deref(), Some("+34600111222"));
    }
}
