//! Appointment communications: confirmations, reminders and cancellation notices planned from the
//! appointment change log and handed to the messaging outbox, and what patients answer (their
//! appointment page, SMS replies). The rules live in [`crate::domain::memo`], the SQL in
//! the database layer, the use cases in [`crate::app::reminders`]; this module holds their
//! configuration and the scheduler's loop.

pub mod scheduler;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::memo::keywords::KeywordLists;
use crate::domain::memo::templates::normalize_language;
use crate::domain::memo::{
    CenterPolicy, Deliverable, MemoPolicy, QuietHours, ReminderPlan, ReplyKeywords, TemplateSet,
};

/// One center's settings in the TOML file (`[centers.LID]`); what is left out is the default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CenterSettings {
    pub reminders: Option<String>,
    pub quiet_hours: Option<String>,
    pub language: Option<String>,
}

/// The memo settings as given, before they are checked.
pub struct MemoSettings<'a> {
    pub reminders: Option<&'a str>,
    pub quiet_hours: Option<&'a str>,
    pub scheduler_interval: Duration,
    pub templates_dir: Option<&'a Path>,
    pub fallback_language: Option<&'a str>,
    pub clinic_cancel_url: Option<&'a str>,
    pub jasmin_mo_secret: Option<&'a str>,
    pub centers: Option<&'a BTreeMap<String, CenterSettings>>,
    pub reply_keywords: Option<&'a BTreeMap<String, KeywordLists>>,
    /// The channels the messaging settings have a provider for.
    pub deliverable: Deliverable,
    /// Rendez's own SMS are written in GSM-7 (`RENDEZ_SMS_GSM7`).
    pub sms_gsm7: bool,
}

/// Moved to the domain (`db` uses it); its settings are resolved here.
pub use crate::domain::memo::config::MemoConfig;

pub const DEFAULT_REMINDERS: &str = "72h,24h";
pub const DEFAULT_QUIET_HOURS: &str = "21:00-08:00";

impl MemoConfig {
    pub fn resolve(given: MemoSettings<'_>) -> Result<MemoConfig, String> {
        let reminders = |raw: &str, name: &str| {
            ReminderPlan::parse(raw).map_err(|e| format!("{name} '{raw}': {e}"))
        };
        let quiet =
            |raw: &str, name: &str| QuietHours::parse(raw).map_err(|e| format!("{name}: {e}"));
        let language = |raw: &str, name: &str| {
            normalize_language(raw)
                .ok_or_else(|| format!("{name} '{raw}' is not a language code such as es or en"))
        };
        let default = CenterPolicy {
            reminders: reminders(
                given.reminders.unwrap_or(DEFAULT_REMINDERS),
                "RENDEZ_REMINDERS",
            )?,
            quiet_hours: quiet(
                given.quiet_hours.unwrap_or(DEFAULT_QUIET_HOURS),
                "RENDEZ_QUIET_HOURS",
            )?,
            language: None,
        };
        let mut centers = BTreeMap::new();
        for (lid, settings) in given.centers.into_iter().flatten() {
            let name = |key: &str| format!("centers.{lid}.{key}");
            let policy = CenterPolicy {
                reminders: match &settings.reminders {
                    Some(raw) => reminders(raw, &name("reminders"))?,
                    None => default.reminders.clone(),
                },
                quiet_hours: match &settings.quiet_hours {
                    Some(raw) => quiet(raw, &name("quiet_hours"))?,
                    None => default.quiet_hours,
                },
                language: settings
                    .language
                    .as_deref()
                    .map(|raw| language(raw, &name("language")))
                    .transpose()?,
            };
            centers.insert(lid.clone(), policy);
        }
        let templates = TemplateSet::load(given.templates_dir)?;
        let fallback_language = language(
            given.fallback_language.unwrap_or("en"),
            "RENDEZ_FALLBACK_LANGUAGE",
        )?;
        if !templates.is_complete(&fallback_language) {
            return Err(format!(
                "RENDEZ_FALLBACK_LANGUAGE '{fallback_language}' lacks templates: every kind ({}) needs a {fallback_language} template",
                crate::domain::memo::TemplateKind::ALL
                    .map(|k| k.name())
                    .join(", ")
            ));
        }
        let keywords = match given.reply_keywords {
            Some(overrides) => ReplyKeywords::configured(overrides)?,
            None => ReplyKeywords::default(),
        };
        let clinic_cancel_url = given
            .clinic_cancel_url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| match url::Url::parse(u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(u.to_string()),
                _ => Err(format!(
                    "RENDEZ_CLINIC_CANCEL_URL '{u}' is not an http(s) URL"
                )),
            })
            .transpose()?;
        let jasmin_mo_secret = given
            .jasmin_mo_secret
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.len() < 16 {
                    Err("RENDEZ_JASMIN_MO_SECRET must be at least 16 characters".to_string())
                } else {
                    Ok(s.to_string())
                }
            })
            .transpose()?;
        if given.scheduler_interval.is_zero() {
            return Err("RENDEZ_SCHEDULER_INTERVAL must be longer than 0".into());
        }
        Ok(MemoConfig {
            policy: MemoPolicy { default, centers },
            templates,
            keywords,
            fallback_language,
            scheduler_interval: given.scheduler_interval,
            clinic_cancel_url,
            jasmin_mo_secret,
            deliverable: given.deliverable,
            sms_gsm7: given.sms_gsm7,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn the_defaults_remind_72h_and_24h_before_with_quiet_nights() {
        let config = Settings::default().resolve().unwrap().memo;
        assert_eq!(config.policy.default.reminders.to_string(), "72h,24h");
        assert_eq!(
            config.policy.default.quiet_hours.unwrap().to_string(),
            "21:00-08:00"
        );
        assert_eq!(config.scheduler_interval, Duration::from_secs(15));
        assert_eq!(config.fallback_language, "en");
        assert_eq!(config.clinic_cancel_url, None);
    }

    #[test]
    fn centers_in_the_file_override_the_defaults_key_by_key() {
        let file: Settings = toml::from_str(
            "reminders = \"48h\"\n[centers.SYD]\nquiet_hours = \"\"\nlanguage = \"en\"\n\
             [centers.MAD]\nreminders = \"24h,90m\"\n\
             [reply_keywords.es]\nconfirm = [\"VALE\"]\n",
        )
        .unwrap();
        let memo = file.resolve().unwrap().memo;
        let syd = memo.policy.for_center("SYD");
        assert_eq!(syd.reminders.to_string(), "48h");
        assert_eq!(syd.quiet_hours, None);
        assert_eq!(syd.language.as_deref(), Some("en"));
        let mad = memo.policy.for_center("MAD");
        assert_eq!(mad.reminders.to_string(), "24h,1h30m");
        assert!(mad.quiet_hours.is_some());
        assert_eq!(memo.policy.for_center("OTHER").reminders.to_string(), "48h");
        assert_eq!(
            memo.keywords.interpret("vale", Some("es")),
            crate::domain::memo::ReplyIntent::Confirm
        );
    }

    #[test]
    fn bad_memo_settings_stop_the_program_naming_the_setting() {
        let cases: &[(&str, &str)] = &[
            ("reminders = \"tomorrow\"", "RENDEZ_REMINDERS 'tomorrow'"),
            ("quiet_hours = \"late\"", "RENDEZ_QUIET_HOURS"),
            ("scheduler_interval = \"0\"", "RENDEZ_SCHEDULER_INTERVAL"),
            (
                "fallback_language = \"fr\"",
                "RENDEZ_FALLBACK_LANGUAGE 'fr' lacks templates",
            ),
            (
                "clinic_cancel_url = \"ftp://x\"",
                "RENDEZ_CLINIC_CANCEL_URL",
            ),
            ("[centers.MAD]\nreminders = \"1x\"", "centers.MAD.reminders"),
            ("[centers.MAD]\nlanguage = \"?\"", "centers.MAD.language"),
            (
                "templates_dir = \"/nonexistent/templates\"",
                "RENDEZ_TEMPLATES_DIR",
            ),
        ];
        for (toml_text, says) in cases {
            let file: Settings = toml::from_str(toml_text).unwrap();
            let err = file.resolve().unwrap_err();
            assert!(err.contains(says), "{toml_text}: {err}");
        }
        assert!(toml::from_str::<Settings>("[centers.MAD]\ncolour = \"red\"").is_err());
    }
}
