//! The access log of a real `rendez serve` process: patient link tokens and the secrets in
//! provider callbacks' queries never reach it; the redaction marker stands in their place.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::rendez_bin;

/// A process that is killed when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `rendez serve --no-workers` on a fresh SQLite file in `dir`, with a clean environment plus
/// `env`, its log (stderr) written to `dir/serve.log`.
pub fn serve(dir: &Path, port: u16, env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(rendez_bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("RENDEZ_") || name == "DATABASE_URL" || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
        .args(["serve", "--no-workers"])
        .current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("rendez.db").display()),
        )
        .env("RENDEZ_BIND", format!("127.0.0.1:{port}"))
        .env("RENDEZ_SECRET_KEY_FILE", dir.join("rendez.key"))
        .env("RENDEZ_HTTP_WORKERS", "1")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap());
    Running(command.spawn().expect("the rendez binary starts"))
}

/// Waits until `GET {base}/healthz` answers.
pub async fn wait_until_up(base: &str, server: &mut Running, dir: &Path) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("the server exited ({status}): {}", log_of(dir));
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{base} did not come up: {}",
            log_of(dir)
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
}

#[actix_web::test]
async fn the_access_log_never_shows_link_tokens_or_callback_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(
        dir.path(),
        port,
        &[("RENDEZ_JASMIN_MO_SECRET", "Mo-Secret-4417-Long-Enough")],
    );
    wait_until_up(&base, &mut server, dir.path()).await;

    let http = reqwest::Client::new();
    let link = http
        .get(format!("{base}/a/PatientLinkToken.7Q2XK9"))
        .send()
        .await
        .unwrap();
    assert!(link.status().is_client_error(), "{}", link.status());
    http.post(format!(
        "{base}/hooks/jasmin/mo?secret=Mo-Secret-4417-Long-Enough&to=34600111222"
    ))
    .header("Content-Type", "application/x-www-form-urlencoded")
    .body("from=%2B34600111222&content=SI")
    .send()
    .await
    .unwrap();
    http.get(format!(
        "{base}/hooks/jasmin/dlr?token=Dlr-Token-8830&id=m1&message_status=DELIVRD"
    ))
    .send()
    .await
    .unwrap();

    // Each line is written once its answer has gone out.
    let started = Instant::now();
    let log = loop {
        let log = log_of(dir.path());
        if log.contains("/hooks/jasmin/dlr") || started.elapsed() > Duration::from_secs(10) {
            break log;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    for secret in [
        "PatientLinkToken.7Q2XK9",
        "Mo-Secret-4417-Long-Enough",
        "34600111222",
        "Dlr-Token-8830",
    ] {
        assert!(!log.contains(secret), "the log shows {secret}:\n{log}");
    }
    for marker in [
        "GET /a/[redacted] HTTP/1.1",
        "POST /hooks/jasmin/mo?secret=[redacted]&to=[redacted] HTTP/1.1",
        "GET /hooks/jasmin/dlr?token=[redacted]&id=[redacted]&message_status=[redacted] HTTP/1.1",
    ] {
        assert!(log.contains(marker), "the log lacks {marker}:\n{log}");
    }
}
