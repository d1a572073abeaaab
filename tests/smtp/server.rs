//! A real SMTP server for Rendez's tests and benches, on `mailin-embedded` (the SMTP state
//! machine, STARTTLS with rustls); included by `tests/api` and `examples/smtp_server.rs`, so
//! the tests need nothing installed besides Rust.
//!
//! Every accepted message is written to a mail directory as one JSON file (envelope and raw
//! data), or dropped when there is none (a sink for benchmarks). Recipients choose their fate by
//! their local part: `perm*` is refused with 550, `temp*` deferred with 451, `flaky<N>*`
//! deferred N times then accepted. With a certificate and key, STARTTLS is offered and required.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mailin_embedded::response::{INTERNAL_ERROR, OK};
use mailin_embedded::{Handler, Response, Server, SslConfig};

/// Sessions run one per thread; the mailer's pool keeps several connections open at once.
const SESSION_THREADS: u32 = 64;

/// Starts a server on `listener` in a background thread that lives as long as the process.
pub fn serve(
    listener: TcpListener,
    maildir: Option<PathBuf>,
    tls: Option<(&Path, &Path)>,
) -> io::Result<()> {
    let handler = Session {
        maildir: maildir.map(Arc::new),
        tls_required: tls.is_some(),
        deferred: Arc::default(),
        hellos: 0,
        message: None,
    };
    let mut server = Server::new(handler);
    server
        .with_name("smtp.test")
        .with_num_threads(SESSION_THREADS)
        .with_tcp_listener(listener);
    if let Some((cert, key)) = tls {
        server
            .with_ssl(SslConfig::SelfSigned {
                cert_path: cert.display().to_string(),
                key_path: key.display().to_string(),
            })
            .map_err(|error| io::Error::other(error.to_string()))?;
    }
    std::thread::spawn(move || {
        if let Err(error) = server.serve() {
            eprintln!("SMTP server stopped: {error}");
        }
    });
    Ok(())
}

/// One connection's state; the server clones the handler for each connection.
#[derive(Clone)]
struct Session {
    maildir: Option<Arc<PathBuf>>,
    tls_required: bool,
    /// How often each `flaky` recipient was deferred, over all connections.
    deferred: Arc<Mutex<HashMap<String, u32>>>,
    /// A client greets again after STARTTLS (RFC 3207), so a second greeting means TLS is on.
    hellos: u32,
    message: Option<Message>,
}

#[derive(Clone)]
struct Message {
    mail_from: String,
    rcpt_tos: Vec<String>,
    data: Vec<u8>,
}

impl Session {
    fn over_tls(&self) -> bool {
        self.tls_required && self.hellos >= 2
    }
}

impl Handler for Session {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        self.hellos += 1;
        OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        if self.tls_required && !self.over_tls() {
            return Response::custom(530, "5.7.0 Must issue a STARTTLS command first".into());
        }
        OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let local = to.split('@').next().unwrap_or_default().to_lowercase();
        if local.starts_with("perm") {
            return Response::custom(550, format!("5.1.1 <{to}>: mailbox unavailable"));
        }
        if local.starts_with("temp") {
            return Response::custom(451, format!("4.3.0 <{to}>: try again later"));
        }
        if let Some(rest) = local.strip_prefix("flaky") {
            let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
            let times = digits.parse().unwrap_or(1);
            let mut deferred = self.deferred.lock().unwrap();
            let count = deferred.entry(to.to_string()).or_insert(0);
            if *count < times {
                *count += 1;
                return Response::custom(451, format!("4.3.0 <{to}>: greylisted, try again"));
            }
        }
        OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.message = Some(Message {
            mail_from: from.to_string(),
            rcpt_tos: to.to_vec(),
            data: Vec::new(),
        });
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(message) = &mut self.message {
            message.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let Some(message) = self.message.take() else {
            return INTERNAL_ERROR;
        };
        let name = uuid::Uuid::new_v4().simple().to_string();
        if let Some(maildir) = &self.maildir {
            let record = serde_json::json!({
                "mail_from": message.mail_from,
                "rcpt_tos": message.rcpt_tos,
                "data": String::from_utf8_lossy(&message.data),
                "tls": self.over_tls(),
            });
            // Written under another name first, so a reader never sees half a message.
            let partial = maildir.join(format!("{name}.tmp"));
            let written = std::fs::write(&partial, record.to_string())
                .and_then(|()| std::fs::rename(&partial, maildir.join(format!("{name}.json"))));
            if written.is_err() {
                return INTERNAL_ERROR;
            }
        }
        Response::custom(250, format!("2.0.0 Ok: queued as {name}"))
    }
}
