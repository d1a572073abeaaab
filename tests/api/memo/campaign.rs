//! `rendez campaign send` (seed A.6): recipients reached once each through the outbox and real
//! providers, in their language, by SMS or email; STOP honoured; bad lines reported by number;
//! an interrupted or killed run resumed without queueing anyone twice; a bad template queues
//! nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration as StdDuration;

use chrono::Utc;
use diesel::prelude::*;
use rendez::app::Caller;
use rendez::campaign::{self, BATCH, OWNER};
use rendez::db::schema::messages;

use super::start;
use super::wired::{SmsVia, wired};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp, rendez_bin};

backend_tests!(
    a_campaign_reaches_each_recipient_once_in_their_language_and_skips_numbers_that_sent_stop,
    an_interrupted_or_killed_campaign_resumes_without_queueing_anyone_twice,
    a_template_with_an_unknown_placeholder_or_an_unusable_recipients_file_queues_nothing,
);

const ES: &str = "# Campaña de vacunación\n[subject]\nVacunación de otoño\n[sms]\nHola {first_name|}: la vacuna de la gripe ya está disponible.\n[email]\nHola {first_name|paciente}:\n\nLa vacuna de la gripe ya está disponible.\n";
const EN: &str = "[subject]\nAutumn vaccination\n[sms]\nHi {first_name|there}, the flu vaccine is available.\n[email]\nDear {first_name|patient},\n\nThe flu vaccine is available.\n";

/// `rendez campaign send` in `dir` on the app's database, with a clean environment.
fn campaign_command(app: &TestApp, dir: &Path, templates: &[&Path], recipients: &Path) -> Command {
    let mut command = Command::new(rendez_bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command.args(["campaign", "send"]);
    for template in templates {
        command.arg("--template").arg(template);
    }
    command
        .arg("--recipients")
        .arg(recipients)
        .current_dir(dir)
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "warn")
        .env("RENDEZ_SECRET_KEY_FILE", dir.join("rendez.key"));
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// (legacy id, channel, recipient, subject, body) of the campaign messages in the outbox.
type Queued = (String, String, String, Option<String>, String);

fn campaign_messages(app: &TestApp) -> Vec<Queued> {
    messages::table
        .filter(messages::owner.eq(OWNER))
        .order(messages::legacy_id.asc())
        .select((
            messages::legacy_id,
            messages::channel,
            messages::recipient,
            messages::subject,
            messages::body,
        ))
        .load(&mut app.pool.get().unwrap())
        .unwrap()
}

const STOPPED_WITH_EMAIL: &str = "+34600222333";
const STOPPED: &str = "+34600333444";

async fn a_campaign_reaches_each_recipient_once_in_their_language_and_skips_numbers_that_sent_stop(
    backend: Backend,
) {
    let w = wired(backend, SmsVia::Twilio, |_, _| {}).await;
    w.patient_replies("stop-1", STOPPED_WITH_EMAIL, "STOP")
        .await;
    w.patient_replies("stop-2", STOPPED, "STOP").await;
    let dir = tempfile::tempdir().unwrap();
    let es = write(dir.path(), "gripe.es.txt", ES);
    let en = write(dir.path(), "gripe.en.txt", EN);
    let recipients = write(
        dir.path(),
        "pacientes.csv",
        &format!(
            "first_name;phone;email;language;notes\n\
             Zoë;+34600111222;;es;\n\
             Ann;{STOPPED_WITH_EMAIL};Ann@Example.org;en;\n\
             Pau;{STOPPED};;es;\n\
             Eva;;eva@example.org;;\n\
             Bad;12345;;;\n\
             Zoë;+34 600 111 222;;;duplicate\n"
        ),
    );
    let run = || {
        campaign_command(&w.app, dir.path(), &[&es, &en], &recipients)
            .output()
            .unwrap()
    };
    let first = run();
    let stdout = text(&first.stdout);
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    for expected in [
        "6 lines; queued 3 (1 SMS, 2 email); skipped: 1 opted out (STOP), 0 already queued, 2 invalid lines",
        "line 6: phone: '12345' has no international prefix",
        "line 7: the same recipient as line 2",
        "ignored columns: notes",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in {stdout}");
    }
    // Not a terminal: progress as plain lines.
    assert!(
        text(&first.stderr).contains("4/4 recipients handled"),
        "{first:?}"
    );

    let sms = w.sms_to("+34600111222", 1).await;
    assert_eq!(
        sms,
        vec!["Hola Zoë: la vacuna de la gripe ya está disponible."]
    );
    let ann = w.emails_to("ann@example.org", 1).await;
    assert!(
        ann[0].contains("Autumn vaccination") && ann[0].contains("Dear Ann,"),
        "{}",
        ann[0]
    );
    // No language: the first template given.
    let eva = w.emails_to("eva@example.org", 1).await;
    assert!(eva[0].contains("Hola Eva:"), "{}", eva[0]);

    // The same command again queues nothing new.
    let again = run();
    assert!(
        text(&again.stdout)
            .contains("queued 0 (0 SMS, 0 email); skipped: 1 opted out (STOP), 3 already queued"),
        "{again:?}"
    );
    let queued = campaign_messages(&w.app);
    let recipients: Vec<(&str, &str)> = queued
        .iter()
        .map(|(_, channel, to, _, _)| (channel.as_str(), to.as_str()))
        .collect();
    assert_eq!(recipients.len(), 3, "{queued:?}");
    for expected in [
        ("SMS", "+34600111222"),
        ("EMAIL", "ann@example.org"),
        ("EMAIL", "eva@example.org"),
    ] {
        assert!(recipients.contains(&expected), "{expected:?} in {queued:?}");
    }
    actix_web::rt::time::sleep(StdDuration::from_millis(300)).await;
    assert!(w.sms.received_for(STOPPED).is_empty());
    assert!(w.sms.received_for(STOPPED_WITH_EMAIL).is_empty());
    assert_eq!(w.sms.received_for("+34600111222").len(), 1);
}

/// A recipients file of `count` distinct mobile numbers from `first`.
fn many(count: usize, first: usize) -> String {
    let mut csv = String::from("phone,first_name\n");
    for i in 0..count {
        csv.push_str(&format!("+3461{:07},P{i}\n", first + i));
    }
    csv
}

async fn an_interrupted_or_killed_campaign_resumes_without_queueing_anyone_twice(backend: Backend) {
    // No provider: what is queued stays in the outbox, where it is counted.
    let (app, _scheduler) = start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let template = write(dir.path(), "short.txt", "[sms]\nHi {first_name}\n");
    let count = 2 * BATCH + 50;
    let recipients = write(dir.path(), "first.csv", &many(count, 0));

    // Interrupted after its first batch.
    let loaded = campaign::load(std::slice::from_ref(&template), &recipients, None).unwrap();
    let pool = app.pool.clone();
    let summary = tokio::task::spawn_blocking(move || {
        rendez::app::campaign::send(&pool, &Caller::system("cli"), &loaded, Utc::now(), |done| {
            done < BATCH
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!summary.complete);
    assert_eq!(summary.queued_sms, BATCH);
    assert!(summary.to_string().contains("run the same command again"));
    assert_eq!(campaign_messages(&app).len(), BATCH);

    // Run again: the rest, and nobody twice.
    let loaded = campaign::load(std::slice::from_ref(&template), &recipients, None).unwrap();
    let pool = app.pool.clone();
    let summary = tokio::task::spawn_blocking(move || {
        rendez::app::campaign::send(&pool, &Caller::system("cli"), &loaded, Utc::now(), |_| true)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(summary.complete);
    assert_eq!(
        (summary.queued_sms, summary.already_queued),
        (count - BATCH, BATCH)
    );
    let queued = campaign_messages(&app);
    assert_eq!(queued.len(), count);
    let mut phones: Vec<&str> = queued.iter().map(|q| q.2.as_str()).collect();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(phones.len(), count);

    // A process killed mid-way (SIGKILL: no chance to tidy up), then run to the end.
    let big = 15 * BATCH;
    let killed_file = write(dir.path(), "second.csv", &many(big, 100_000));
    let mut child = campaign_command(&app, dir.path(), &[&template], &killed_file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while progress.read_line(&mut line).unwrap() > 0 && !line.contains("recipients handled") {
        line.clear();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = campaign_messages(&app).len() - count;
    assert!(before >= BATCH, "at least one batch was in: {before}");
    let finished: Output = campaign_command(&app, dir.path(), &[&template], &killed_file)
        .output()
        .unwrap();
    assert!(finished.status.success(), "{finished:?}");
    assert!(
        text(&finished.stdout).contains(&format!(
            "queued {} ({} SMS, 0 email); skipped: 0 opted out (STOP), {before} already queued",
            big - before,
            big - before
        )),
        "{finished:?}"
    );
    assert_eq!(campaign_messages(&app).len(), count + big);
}

async fn a_template_with_an_unknown_placeholder_or_an_unusable_recipients_file_queues_nothing(
    backend: Backend,
) {
    let (app, _scheduler) = start(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let recipients = write(dir.path(), "r.csv", "phone\n+34600111222\n");
    let typo = write(
        dir.path(),
        "typo.es.txt",
        "[sms]\nHola {first_name}\n[subject]\nS\n[email]\nHola {frist_name}\n",
    );
    let no_contact = write(dir.path(), "names.csv", "first_name\nAna\n");
    let good = write(dir.path(), "good.txt", "[sms]\nHola\n");
    let unnamed = write(dir.path(), "other.txt", "[sms]\nHello\n");
    let missing = dir.path().join("missing.csv");
    let cases: Vec<(Vec<&Path>, &Path, &str)> = vec![
        (
            vec![&typo],
            &recipients,
            "line 6: unknown placeholder {frist_name}",
        ),
        (
            vec![&good],
            &no_contact,
            "names neither a phone nor an email column",
        ),
        (vec![&good], &missing, "cannot read the recipients file"),
        (
            vec![&good, &unnamed],
            &recipients,
            "each needs its language in its name",
        ),
    ];
    for (templates, recipients, says) in cases {
        let out = campaign_command(&app, dir.path(), &templates, recipients)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(text(&out.stderr).contains(says), "{says:?} in {out:?}");
    }
    assert!(campaign_messages(&app).is_empty());
}
