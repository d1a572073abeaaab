//! Appointment communications ("memo"), the pure part: when reminders go out, on which channel
//! and in which language, what the message says, what a patient's reply means, and the signed
//! link to an appointment's page. No SQL, no HTTP.

pub mod config;
pub mod contact;
pub mod keywords;
pub mod link;
pub mod schedule;
pub mod templates;

use std::collections::BTreeMap;

pub use contact::{Channel, Deliverable, Reachability, Route, route};
pub use keywords::{ReplyIntent, ReplyKeywords};
pub use link::{LinkError, LinkToken};
pub use schedule::{QuietHours, ReminderOffset, ReminderPlan};
pub use templates::{Placeholder, TemplateKind, TemplateSet, TemplateValues};

/// How one center's patients are reminded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CenterPolicy {
    pub reminders: ReminderPlan,
    /// `None`: no quiet hours.
    pub quiet_hours: Option<QuietHours>,
    /// The language tried after the patient's own.
    pub language: Option<String>,
}

/// The policy of every center: a default, and the centers that differ, by LID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoPolicy {
    pub default: CenterPolicy,
    pub centers: BTreeMap<String, CenterPolicy>,
}

impl MemoPolicy {
    pub fn for_center(&self, center_lid: &str) -> &CenterPolicy {
        self.centers.get(center_lid).unwrap_or(&self.default)
    }
}
