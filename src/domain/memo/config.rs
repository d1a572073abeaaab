//! What the memo rules run with, resolved from the settings (`memo::MemoConfig::resolve`): the
//! reminder policy, the templates, the reply keywords and the channels patients are written on.

use std::time::Duration;

use super::{Deliverable, MemoPolicy, ReplyKeywords, TemplateSet};

/// What the memo service runs with.
#[derive(Clone, Debug)]
pub struct MemoConfig {
    pub policy: MemoPolicy,
    pub templates: TemplateSet,
    pub keywords: ReplyKeywords,
    pub fallback_language: String,
    pub scheduler_interval: Duration,
    pub clinic_cancel_url: Option<String>,
    /// What Jasmin's MO requests must carry as `secret`; `None`: they are refused.
    pub jasmin_mo_secret: Option<String>,
    /// Patients are written to on these channels only.
    pub deliverable: Deliverable,
    pub sms_gsm7: bool,
}

impl MemoConfig {
    /// The text of one of Rendez's own SMS as it is queued.
    pub fn sms_text(&self, text: String) -> String {
        if self.sms_gsm7 {
            crate::domain::messages::to_gsm7(&text)
        } else {
            text
        }
    }
}
