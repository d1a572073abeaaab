//! The messaging settings, resolved: which provider sends each channel, and how workers retry,
//! lease and pace their work.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Settings, duration};
use crate::domain::messages::Channel;

pub const TWILIO_DEFAULT_BASE_URL: &str = "https://api.twilio.com";

#[derive(Clone, Debug, PartialEq)]
pub enum SmsProviderConfig {
    Twilio {
        account_sid: String,
        auth_token: String,
        from: String,
        base_url: String,
    },
    Jasmin {
        url: String,
        user: String,
        password: String,
    },
    /// Writes to the log and sends nothing (demos).
    Log(LogShows),
}

/// What a `log` provider shows of a message it does not send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogShows {
    /// Ids only: the provider a clinic may configure (patient data is never logged).
    Ids,
    /// The recipient and the text, on standard output: `serve --demo` on its own database,
    /// where no real patient can be.
    DemoMessages,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EmailProviderConfig {
    Smtp {
        url: String,
        from: String,
        ca_file: Option<PathBuf>,
    },
    /// Writes to the log and sends nothing (demos).
    Log(LogShows),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessagingConfig {
    pub sms: Option<SmsProviderConfig>,
    pub email: Option<EmailProviderConfig>,
    pub sms_rate: Option<f64>,
    pub email_rate: Option<f64>,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub lease: Duration,
    pub poll: Duration,
    pub concurrency: usize,
    /// Whether calls to the clinic system's CancelAppointment service are made
    /// (`RENDEZ_CLINIC_CANCEL_URL` is set; each queued call carries its URL).
    pub clinic_calls: bool,
}

impl MessagingConfig {
    /// Whether some provider (even `log`) takes this channel's messages.
    pub fn accepts(&self, channel: Channel) -> bool {
        match channel {
            Channel::Sms => self.sms.is_some(),
            Channel::Email => self.email.is_some(),
            Channel::ClinicCancel => self.clinic_calls,
        }
    }

    pub fn rate(&self, channel: Channel) -> Option<f64> {
        match channel {
            Channel::Sms => self.sms_rate,
            Channel::Email => self.email_rate,
            Channel::ClinicCancel => None,
        }
    }

    /// For `serve --demo` on its own database: channels without a provider get the `log` one,
    /// which prints each message it does not send.
    pub fn with_log_fallback(mut self) -> Self {
        self.sms
            .get_or_insert(SmsProviderConfig::Log(LogShows::DemoMessages));
        self.email
            .get_or_insert(EmailProviderConfig::Log(LogShows::DemoMessages));
        self
    }

    pub fn resolve(settings: &Settings) -> Result<MessagingConfig, String> {
        fn needed(value: &Option<String>, name: &str, why: &str) -> Result<String, String> {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("{name} is required {why}"))
        }
        let sms = match settings.sms_provider.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("twilio") => {
                let why = "with RENDEZ_SMS_PROVIDER=twilio";
                let base_url = settings
                    .twilio_base_url
                    .clone()
                    .unwrap_or_else(|| TWILIO_DEFAULT_BASE_URL.into());
                url::Url::parse(&base_url).map_err(|e| {
                    format!("RENDEZ_TWILIO_BASE_URL '{base_url}' is not a URL: {e}")
                })?;
                Some(SmsProviderConfig::Twilio {
                    account_sid: needed(
                        &settings.twilio_account_sid,
                        "RENDEZ_TWILIO_ACCOUNT_SID",
                        why,
                    )?,
                    auth_token: needed(
                        &settings.twilio_auth_token,
                        "RENDEZ_TWILIO_AUTH_TOKEN",
                        why,
                    )?,
                    from: needed(&settings.twilio_from, "RENDEZ_TWILIO_FROM", why)?,
                    base_url: base_url.trim_end_matches('/').to_string(),
                })
            }
            Some("jasmin") => {
                let why = "with RENDEZ_SMS_PROVIDER=jasmin";
                let url = needed(&settings.jasmin_url, "RENDEZ_JASMIN_URL", why)?;
                url::Url::parse(&url)
                    .map_err(|e| format!("RENDEZ_JASMIN_URL '{url}' is not a URL: {e}"))?;
                Some(SmsProviderConfig::Jasmin {
                    url: url.trim_end_matches('/').to_string(),
                    user: needed(&settings.jasmin_user, "RENDEZ_JASMIN_USER", why)?,
                    password: needed(&settings.jasmin_password, "RENDEZ_JASMIN_PASSWORD", why)?,
                })
            }
            Some("log") => Some(SmsProviderConfig::Log(LogShows::Ids)),
            Some(other) => {
                return Err(format!(
                    "RENDEZ_SMS_PROVIDER '{other}' is not one of twilio, jasmin, log"
                ));
            }
        };
        let smtp = || -> Result<EmailProviderConfig, String> {
            let url = needed(&settings.smtp_url, "RENDEZ_SMTP_URL", "for email over SMTP")?;
            let parsed = url::Url::parse(&url).map_err(|_| {
                "RENDEZ_SMTP_URL is not a URL such as smtp://user:pass@host:587?tls=required"
                    .to_string()
            })?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") {
                return Err(format!(
                    "RENDEZ_SMTP_URL must start with smtp:// or smtps://, not {}://",
                    parsed.scheme()
                ));
            }
            let from = needed(
                &settings.mail_from,
                "RENDEZ_MAIL_FROM",
                "with RENDEZ_SMTP_URL",
            )?;
            from.parse::<lettre::message::Mailbox>().map_err(|e| {
                format!(
                    "RENDEZ_MAIL_FROM '{from}' is not a mailbox such as \"Clinic <a@b.org>\": {e}"
                )
            })?;
            Ok(EmailProviderConfig::Smtp {
                url,
                from,
                ca_file: settings.smtp_ca_file.clone(),
            })
        };
        let email = match settings.email_provider.as_deref().map(str::trim) {
            None | Some("") if settings.smtp_url.is_none() => None,
            None | Some("") | Some("smtp") => Some(smtp()?),
            Some("log") => Some(EmailProviderConfig::Log(LogShows::Ids)),
            Some(other) => {
                return Err(format!(
                    "RENDEZ_EMAIL_PROVIDER '{other}' is not one of smtp, log"
                ));
            }
        };
        let rate = |name: &str, raw: &Option<String>| -> Result<Option<f64>, String> {
            raw.as_deref()
                .map(|r| match r.trim().parse::<f64>() {
                    Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
                    _ => Err(format!(
                        "{name} '{r}' is not a positive number of messages per second"
                    )),
                })
                .transpose()
        };
        let max_attempts = settings.max_attempts.unwrap_or(8);
        if max_attempts == 0 {
            return Err("RENDEZ_MAX_ATTEMPTS must be at least 1".into());
        }
        let lease = duration("RENDEZ_LEASE", settings.lease.as_deref(), "60s")?;
        if lease < Duration::from_millis(100) {
            return Err("RENDEZ_LEASE must be at least 100ms".into());
        }
        let poll = duration("RENDEZ_WORKER_POLL", settings.worker_poll.as_deref(), "1s")?;
        if poll < Duration::from_millis(10) {
            return Err("RENDEZ_WORKER_POLL must be at least 10ms".into());
        }
        Ok(MessagingConfig {
            sms,
            email,
            sms_rate: rate("RENDEZ_SMS_RATE", &settings.sms_rate)?,
            email_rate: rate("RENDEZ_EMAIL_RATE", &settings.email_rate)?,
            max_attempts,
            retry_base: duration("RENDEZ_RETRY_BASE", settings.retry_base.as_deref(), "30s")?,
            lease,
            poll,
            concurrency: settings.worker_concurrency.unwrap_or(64).clamp(1, 1024),
            clinic_calls: settings
                .clinic_cancel_url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_providers_no_channel_is_accepted() {
        let config = MessagingConfig::resolve(&Settings::default()).unwrap();
        assert!(!config.accepts(Channel::Sms) && !config.accepts(Channel::Email));
        assert_eq!(config.max_attempts, 8);
        assert_eq!(config.retry_base, Duration::from_secs(30));
        assert_eq!(config.lease, Duration::from_secs(60));
        let demo = config.with_log_fallback();
        assert!(demo.accepts(Channel::Sms) && demo.accepts(Channel::Email));
    }

    #[test]
    fn a_provider_without_its_settings_is_refused_by_name() {
        let twilio = Settings {
            sms_provider: Some("twilio".into()),
            twilio_account_sid: Some("AC1".into()),
            ..Settings::default()
        };
        assert!(
            MessagingConfig::resolve(&twilio)
                .unwrap_err()
                .contains("RENDEZ_TWILIO_AUTH_TOKEN")
        );
        let unknown = Settings {
            sms_provider: Some("carrier-pigeon".into()),
            ..Settings::default()
        };
        assert!(
            MessagingConfig::resolve(&unknown)
                .unwrap_err()
                .contains("RENDEZ_SMS_PROVIDER")
        );
        let smtp = Settings {
            smtp_url: Some("smtp://127.0.0.1:25".into()),
            ..Settings::default()
        };
        assert!(
            MessagingConfig::resolve(&smtp)
                .unwrap_err()
                .contains("RENDEZ_MAIL_FROM")
        );
        let rate = Settings {
            sms_rate: Some("-3".into()),
            ..Settings::default()
        };
        assert!(
            MessagingConfig::resolve(&rate)
                .unwrap_err()
                .contains("RENDEZ_SMS_RATE")
        );
    }
}
