//! A provider for demos: it writes that a message would be sent (ids only, never the recipient
//! or the text) and sends nothing.

use super::provider::Delivery;
use crate::db::outbox::Claimed;
use crate::domain::messages::Channel;

pub const NAME: &str = "log";

pub struct LogProvider {
    channel: Channel,
}

impl LogProvider {
    pub fn new(channel: Channel) -> Self {
        ::log::warn!(
            "the {channel} provider is 'log': {channel} messages are written to the log and NOT SENT to anyone"
        );
        LogProvider { channel }
    }

    pub fn send(&self, message: &Claimed) -> Delivery {
        ::log::info!(
            "log provider: {} message {} ({} segment(s)) NOT SENT",
            self.channel,
            message.id,
            message.segments.unwrap_or(1)
        );
        Delivery::Accepted {
            provider_id: Some(format!("log-{}", message.id)),
        }
    }
}
