//! The tests' SMTP server as a program, for the messaging benchmark.
//!
//! Usage: smtp_server PORT MAILDIR|- [CERT KEY]
//!
//! With `-` it accepts and drops every message (a sink). Prints READY when it listens and stops
//! when its standard input closes.

#[path = "../tests/smtp/server.rs"]
mod smtp_server;

use std::io::Read;
use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(port), Some(maildir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: smtp_server PORT MAILDIR|- [CERT KEY]");
        std::process::exit(2);
    };
    let port: u16 = port.parse().map_err(std::io::Error::other)?;
    let maildir = (maildir != "-").then(|| PathBuf::from(maildir));
    let tls = match (args.get(2), args.get(3)) {
        (Some(cert), Some(key)) => Some((Path::new(cert), Path::new(key))),
        _ => None,
    };
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    smtp_server::serve(listener, maildir, tls)?;
    println!("READY");
    std::io::stdin().read_to_end(&mut Vec::new())?;
    Ok(())
}
