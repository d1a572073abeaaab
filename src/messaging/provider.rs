//! The providers behind one type: each channel's sender, chosen by the configuration.

use super::config::{EmailProviderConfig, SmsProviderConfig};
/// Moved to the leaf [`super::delivery`], which the providers use; kept here for callers not
/// yet moved.
pub use super::delivery::{Delivery, http_client, retry_after, transport_error};
use super::{clinic, jasmin, log, smtp, twilio};
use crate::domain::messages::Channel;
use crate::domain::outbox::Claimed;

/// The sender of one channel.
pub enum Provider {
    Twilio(twilio::Twilio),
    Jasmin(jasmin::Jasmin),
    Smtp(smtp::Smtp),
    Log(log::LogProvider),
    Clinic(clinic::ClinicService),
}

impl Provider {
    pub fn for_sms(config: &SmsProviderConfig, public_url: &str) -> Result<Provider, String> {
        Ok(match config {
            SmsProviderConfig::Twilio { .. } => {
                Provider::Twilio(twilio::Twilio::new(config, public_url)?)
            }
            SmsProviderConfig::Jasmin { .. } => {
                Provider::Jasmin(jasmin::Jasmin::new(config, public_url)?)
            }
            SmsProviderConfig::Log(shows) => {
                Provider::Log(log::LogProvider::new(Channel::Sms, *shows))
            }
        })
    }

    pub fn for_email(config: &EmailProviderConfig, pool_size: usize) -> Result<Provider, String> {
        Ok(match config {
            EmailProviderConfig::Smtp { .. } => Provider::Smtp(smtp::Smtp::new(config, pool_size)?),
            EmailProviderConfig::Log(shows) => {
                Provider::Log(log::LogProvider::new(Channel::Email, *shows))
            }
        })
    }

    /// The name stored with each attempt and matched with delivery reports.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Twilio(_) => twilio::NAME,
            Provider::Jasmin(_) => jasmin::NAME,
            Provider::Smtp(_) => smtp::NAME,
            Provider::Log(_) => log::NAME,
            Provider::Clinic(_) => clinic::NAME,
        }
    }

    pub async fn send(&self, message: &Claimed) -> Delivery {
        match self {
            Provider::Twilio(p) => p.send(message).await,
            Provider::Jasmin(p) => p.send(message).await,
            Provider::Smtp(p) => p.send(message).await,
            Provider::Log(p) => p.send(message),
            Provider::Clinic(p) => p.send(message).await,
        }
    }
}
