//! Email over SMTP with lettre: pooled connections, STARTTLS or TLS as the URL says, UTF-8
//! subjects and bodies.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::EmailProviderConfig;
use super::delivery::Delivery;
use crate::domain::outbox::Claimed;

pub const NAME: &str = "smtp";

pub struct Smtp {
    /// Always `Some` but in [`Drop`].
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl Drop for Smtp {
    /// lettre's pool closes its connections on a task it spawns when dropped, which panics
    /// outside a Tokio runtime (a runtime torn down while unwinding from a panic); a panic in a
    /// destructor then aborts the whole process. With no runtime left to close them on, the
    /// connections are left to the operating system instead.
    fn drop(&mut self) {
        if let Some(transport) = self.transport.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            std::mem::forget(transport);
        }
    }
}

impl Smtp {
    pub fn new(config: &EmailProviderConfig, pool_size: usize) -> Result<Smtp, String> {
        let EmailProviderConfig::Smtp { url, from, ca_file } = config else {
            return Err("not an SMTP configuration".into());
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("RENDEZ_SMTP_URL cannot be used: {e}"))?;
        if let Some(path) = ca_file {
            builder = builder.tls(tls_with_extra_root(url, path)?);
        }
        let transport = builder
            .timeout(Some(Duration::from_secs(30)))
            .pool_config(PoolConfig::new().max_size(pool_size.clamp(1, 64) as u32))
            .build();
        Ok(Smtp {
            transport: Some(transport),
            from: from
                .parse()
                .map_err(|e| format!("RENDEZ_MAIL_FROM '{from}' is not a mailbox: {e}"))?,
        })
    }

    pub async fn send(&self, message: &Claimed) -> Delivery {
        let email = match self.build(message) {
            Ok(email) => email,
            Err(reason) => return Delivery::permanent(reason),
        };
        let Some(transport) = &self.transport else {
            return Delivery::temporary("the SMTP transport is shutting down");
        };
        match transport.send(email).await {
            Ok(response) => Delivery::Accepted {
                provider_id: response
                    .message()
                    .next()
                    .map(|line| line.chars().take(100).collect()),
            },
            Err(err) if err.is_permanent() => {
                Delivery::permanent(format!("the SMTP server refused the message: {err}"))
            }
            Err(err) if err.is_transient() => {
                Delivery::temporary(format!("the SMTP server deferred the message: {err}"))
            }
            Err(err) => Delivery::temporary(format!("SMTP failed: {err}")),
        }
    }

    fn build(&self, message: &Claimed) -> Result<Message, String> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| format!("invalid recipient address: {e}"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone().unwrap_or_default())
            .message_id(Some(format!("<{}@rendez.invalid>", message.id)))
            .header(ContentType::TEXT_PLAIN);
        // The partner's FROM becomes the Reply-To: the relay may only send as its own domain
        // (SPF, DMARC), but answers should reach the partner.
        if let Some(reply_to) = &message.sender {
            let reply_to: Mailbox = reply_to
                .parse()
                .map_err(|e| format!("invalid FROM address: {e}"))?;
            builder = builder.reply_to(reply_to);
        }
        builder
            .body(message.body.clone())
            .map_err(|e| format!("the email cannot be built: {e}"))
    }
}

/// The TLS settings the URL asks for, trusting the given PEM roots besides the system's.
fn tls_with_extra_root(url: &str, path: &std::path::Path) -> Result<Tls, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("RENDEZ_SMTP_URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or("RENDEZ_SMTP_URL names no host")?
        .to_string();
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read RENDEZ_SMTP_CA_FILE {}: {e}", path.display()))?;
    let certificate = Certificate::from_pem(&pem).map_err(|e| {
        format!(
            "RENDEZ_SMTP_CA_FILE {} is not a PEM certificate: {e}",
            path.display()
        )
    })?;
    let parameters = TlsParameters::builder(host)
        .add_root_certificate(certificate)
        .build_rustls()
        .map_err(|e| format!("cannot set up TLS for SMTP: {e}"))?;
    let mode = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    Ok(match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper(parameters),
        (_, Some("required")) => Tls::Required(parameters),
        (_, Some("opportunistic")) => Tls::Opportunistic(parameters),
        _ => {
            return Err(
                "RENDEZ_SMTP_CA_FILE needs TLS: use smtps:// or add ?tls=required to RENDEZ_SMTP_URL"
                    .into(),
            );
        }
    })
}
