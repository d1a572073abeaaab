//! The messaging settings, resolved: which provider sends each channel, and how workers retry,
//! lease and pace their work.

use std::path::PathBuf;
use std::time::Duration;

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn without_providers_no_channel_is_accepted() {
        let config = crate::config::resolve_messaging(&Settings::default()).unwrap();
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
            crate::config::resolve_messaging(&twilio)
                .unwrap_err()
                .contains("RENDEZ_TWILIO_AUTH_TOKEN")
        );
        let unknown = Settings {
            sms_provider: Some("carrier-pigeon".into()),
            ..Settings::default()
        };
        assert!(
            crate::config::resolve_messaging(&unknown)
                .unwrap_err()
                .contains("RENDEZ_SMS_PROVIDER")
        );
        let smtp = Settings {
            smtp_url: Some("smtp://127.0.0.1:25".into()),
            ..Settings::default()
        };
        assert!(
            crate::config::resolve_messaging(&smtp)
                .unwrap_err()
                .contains("RENDEZ_MAIL_FROM")
        );
        let rate = Settings {
            sms_rate: Some("-3".into()),
            ..Settings::default()
        };
        assert!(
            crate::config::resolve_messaging(&rate)
                .unwrap_err()
                .contains("RENDEZ_SMS_RATE")
        );
    }
}
