//! A provider for demos: it records that a message would be sent and sends nothing. As a
//! clinic may configure it, it logs ids only; on `serve --demo`'s own database (no real patient
//! there) it prints each message's recipient and text on standard output, so that a newcomer
//! sees the confirmation and its link.

use std::io::Write;

use super::config::LogShows;
use super::delivery::Delivery;
use crate::domain::messages::Channel;
use crate::domain::outbox::Claimed;

pub const NAME: &str = "log";

pub struct LogProvider {
    channel: Channel,
    shows: LogShows,
}

impl LogProvider {
    pub fn new(channel: Channel, shows: LogShows) -> Self {
        ::log::warn!(
            "the {channel} provider is 'log': {channel} messages are written to the log and NOT SENT to anyone"
        );
        LogProvider { channel, shows }
    }

    pub fn send(&self, message: &Claimed) -> Delivery {
        ::log::info!(
            "log provider: {} message {} ({} segment(s)) NOT SENT",
            self.channel,
            message.id,
            message.segments.unwrap_or(1)
        );
        if self.shows == LogShows::DemoMessages {
            let subject = message
                .subject
                .as_deref()
                .map(|s| format!("subject: {s}\n"))
                .unwrap_or_default();
            // One write, so that messages sent at once do not interleave.
            let _ = std::io::stdout().write_all(
                format!(
                    "\n--- demo {} to {} (not sent) ---\n{subject}{}\n---\n",
                    self.channel, message.recipient, message.body
                )
                .as_bytes(),
            );
        }
        Delivery::Accepted {
            provider_id: Some(format!("log-{}", message.id)),
        }
    }
}
