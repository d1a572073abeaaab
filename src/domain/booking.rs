//! Booking requests as parsed values, and the appointment's life cycle.

use std::fmt;

use chrono::NaiveDate;

use super::patient::{PatientFields, PatientKeys};
use super::values::{
    FieldError, FieldResult, FieldSource, Lid, date, lid, required_lid, text, time_of_day,
};

/// The contract's statuses, exactly as written on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppointmentStatus {
    Pending,
    Approved,
    CancelledByUser,
    CancelledByAdmin,
}

impl AppointmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Pending => "PENDING",
            AppointmentStatus::Approved => "APPROVED",
            AppointmentStatus::CancelledByUser => "CANCELLED by USER",
            AppointmentStatus::CancelledByAdmin => "CANCELLED by ADMIN",
        }
    }

    pub fn parse(stored: &str) -> Option<AppointmentStatus> {
        [
            AppointmentStatus::Pending,
            AppointmentStatus::Approved,
            AppointmentStatus::CancelledByUser,
            AppointmentStatus::CancelledByAdmin,
        ]
        .into_iter()
        .find(|s| s.as_str() == stored)
    }

    /// A live appointment holds its slot.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            AppointmentStatus::Pending | AppointmentStatus::Approved
        )
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most slots one search may return.
pub const MAX_RESULTS: u32 = 1000;
/// Longest date range one search may cover.
pub const MAX_SEARCH_DAYS: i64 = 366;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    pub activity: Lid,
    pub start_day: Option<NaiveDate>,
    pub end_day: Option<NaiveDate>,
    pub start_time: Option<u32>,
    pub end_time: Option<u32>,
    pub min_time: Option<u32>,
    pub max_time: Option<u32>,
    pub results: u32,
    pub resource: Option<Lid>,
    pub insurance: Option<Lid>,
    pub location: Option<Lid>,
}

impl SearchRequest {
    pub fn parse(src: &impl FieldSource) -> FieldResult<SearchRequest> {
        let results = match src.field("AVA_RESULTS_NUMBER") {
            None => return Err(FieldError::missing("AVA_RESULTS_NUMBER")),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
                _ => {
                    return Err(FieldError::new(
                        "AVA_RESULTS_NUMBER",
                        format!(
                            "AVA_RESULTS_NUMBER '{raw}' must be a whole number from 1 to {MAX_RESULTS}"
                        ),
                    ));
                }
            },
        };
        let request = SearchRequest {
            activity: required_lid(src, "ACTIVITY_LID")?,
            start_day: date(src, "AVA_START_DAY")?,
            end_day: date(src, "AVA_END_DAY")?,
            start_time: time_of_day(src, "AVA_START_TIME", false)?,
            end_time: time_of_day(src, "AVA_END_TIME", true)?,
            min_time: time_of_day(src, "AVA_MIN_TIME", false)?,
            max_time: time_of_day(src, "AVA_MAX_TIME", true)?,
            results,
            resource: lid(src, "RESOURCE_LID")?,
            insurance: lid(src, "INSURANCE_LID")?,
            location: lid(src, "LOCATION_LID")?,
        };
        if let (Some(start), Some(end)) = (request.start_day, request.end_day) {
            if end < start {
                return Err(FieldError::new(
                    "AVA_END_DAY",
                    "AVA_END_DAY is before AVA_START_DAY",
                ));
            }
            if (end - start).num_days() > MAX_SEARCH_DAYS {
                return Err(FieldError::new(
                    "AVA_END_DAY",
                    format!("a search covers at most {MAX_SEARCH_DAYS} days"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (request.min_time, request.max_time)
            && max <= min
        {
            return Err(FieldError::new(
                "AVA_MAX_TIME",
                "AVA_MAX_TIME must be after AVA_MIN_TIME",
            ));
        }
        Ok(request)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingRequest {
    pub activity: Lid,
    pub resource: Lid,
    pub date: NaiveDate,
    pub start_minute: u32,
    pub availability: Option<Lid>,
    pub insurance: Option<Lid>,
    pub location: Option<Lid>,
    pub notes: Option<String>,
    pub request_id: Option<String>,
    pub patient_keys: PatientKeys,
    pub patient: PatientFields,
}

impl BookingRequest {
    pub fn parse(
        src: &impl FieldSource,
        default_country: Option<&str>,
    ) -> FieldResult<BookingRequest> {
        let request_id = text(src, "REQUEST_ID", 100)?;
        Ok(BookingRequest {
            activity: required_lid(src, "ACTIVITY_LID")?,
            resource: required_lid(src, "RESOURCE_LID")?,
            date: date(src, "APP_DATE")?.ok_or_else(|| FieldError::missing("APP_DATE"))?,
            start_minute: time_of_day(src, "APP_START_TIME", false)?
                .ok_or_else(|| FieldError::missing("APP_START_TIME"))?,
            availability: lid(src, "AVAILABILITY_LID")?,
            insurance: lid(src, "INSURANCE_LID")?,
            location: lid(src, "LOCATION_LID")?,
            notes: text(src, "NOTES", 500)?,
            request_id,
            patient_keys: PatientKeys::parse(src)?,
            patient: PatientFields::parse(src, default_country)?,
        })
    }
}

/// Who cancels: the clinic (default) or the patient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelledBy {
    Admin,
    User,
}

impl CancelledBy {
    pub fn parse(src: &impl FieldSource) -> FieldResult<CancelledBy> {
        match src.field("CANCELLED_BY").map(|v| v.to_ascii_uppercase()) {
            None => Ok(CancelledBy::Admin),
            Some(v) if v == "ADMIN" => Ok(CancelledBy::Admin),
            Some(v) if v == "USER" => Ok(CancelledBy::User),
            Some(v) => Err(FieldError::new(
                "CANCELLED_BY",
                format!("CANCELLED_BY '{v}' must be ADMIN or USER"),
            )),
        }
    }

    pub fn status(self) -> AppointmentStatus {
        match self {
            CancelledBy::Admin => AppointmentStatus::CancelledByAdmin,
            CancelledBy::User => AppointmentStatus::CancelledByUser,
        }
    }
}
