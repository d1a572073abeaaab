//! `rendez deputy status|sync|webhooks`: the sync's own commands, beside the mappings of
//! `rendez deputy` ([`super::deputy`]).

use std::process::ExitCode;

use clap::Subcommand;

use crate::app::Caller;
use crate::app::deputy;
use crate::config::Config;
use crate::integrations::deputy::{DeputyClient, DeputyConfig};
use crate::startup;

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// Register Deputy's Roster.Insert, Roster.Update and Roster.Delete webhooks to call this
    /// server's /hooks/deputy (with RENDEZ_DEPUTY_WEBHOOK_SECRET as X-Deputy-Secret when set).
    Install {
        /// The address Deputy calls. [default: RENDEZ_PUBLIC_URL + /hooks/deputy]
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

fn configured(config: &Config) -> Result<DeputyConfig, String> {
    config.deputy.clone().ok_or_else(|| {
        "Deputy is not configured: set RENDEZ_DEPUTY_URL and RENDEZ_DEPUTY_TOKEN".to_string()
    })
}

fn said(e: crate::error::Error) -> String {
    match e {
        crate::error::Error::Unavailable(detail) | crate::error::Error::Internal(detail) => detail,
        other => other.to_string(),
    }
}

/// `rendez deputy status [--json]`: the last poll, the counts, the open errors and conflicts.
pub fn status(config: Config, json: bool) -> Result<ExitCode, String> {
    let configured = config.deputy.is_some();
    let pool = startup::open_database(&config)?;
    let status = deputy::status(&pool, &Caller::system("cli"), configured).map_err(said)?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("never".to_string(), |t| t.to_rfc3339())
    };
    say!(
        "Deputy sync: {}",
        if status.configured {
            "configured"
        } else {
            "not configured (RENDEZ_DEPUTY_URL, RENDEZ_DEPUTY_TOKEN)"
        }
    );
    say!("last poll: {}", when(status.last_poll_at));
    say!("last successful poll: {}", when(status.last_poll_ok_at));
    say!("last full pass: {}", when(status.last_full_pass_at));
    say!("watermark: {}", when(status.watermark));
    if let Some(outcome) = &status.last_outcome {
        say!(
            "last outcome: {outcome} ({} requests, {} changes)",
            status.last_requests,
            status.last_changes
        );
    }
    say!("last polls: {}", status.polls.len());
    for poll in &status.polls {
        let outcome = match (&poll.ok, &poll.error) {
            (true, _) => "ok".to_string(),
            (false, reason) => format!("failed: {}", reason.as_deref().unwrap_or("?")),
        };
        say!(
            "  {} {}{} ({} s): {} requests, {} rosters read, {} shifts changed, {} errors; {}",
            poll.started_at.to_rfc3339(),
            poll.kind,
            if poll.full_pass && poll.kind != "full" {
                " (full pass)"
            } else {
                ""
            },
            (poll.finished_at - poll.started_at).num_milliseconds() as f64 / 1000.0,
            poll.requests,
            poll.rows_read,
            poll.changes,
            poll.errors,
            outcome
        );
    }
    say!("shifts linked to Deputy: {}", status.shifts_from_deputy);
    say!("pushes waiting: {}", status.pushes_pending);
    say!("open conflicts: {}", status.open_conflicts);
    say!("open sync errors: {}", status.open_errors.len());
    for error in &status.open_errors {
        say!(
            "  {} (x{}, since {}): {}",
            error.subject,
            error.occurrences,
            error.first_seen_at.to_rfc3339(),
            error.reason
        );
    }
    say!("note: {}", status.past_days_rule);
    Ok(ExitCode::SUCCESS)
}

/// `rendez deputy sync [--full]`: polls once now, then sends the pushes that are due.
pub fn sync(config: Config, full: bool) -> Result<ExitCode, String> {
    let deputy_config = configured(&config)?;
    let pool = startup::open_database(&config)?;
    let client = DeputyClient::new(&deputy_config)?;
    actix_web::rt::System::new().block_on(async move {
        let report = deputy::poll_as(
            &pool,
            &client,
            &deputy_config,
            full,
            deputy::PollTrigger::Manual,
        )
        .await
        .map_err(said)?;
        say!(
            "{}: {} rosters read in {} requests; {} created, {} updated, {} removed, {} unchanged, \
             {} stale, {} ignored, {} on past days (not synchronised), {} errors, {} conflicts",
            if report.full_pass {
                "full pass"
            } else {
                "changes"
            },
            report.read,
            report.requests,
            report.counts.created,
            report.counts.updated,
            report.counts.removed,
            report.counts.unchanged,
            report.counts.stale,
            report.counts.ignored,
            report.counts.past_days,
            report.counts.errors,
            report.counts.conflicts
        );
        let pushed = deputy::push_due(&pool, &client).await.map_err(said)?;
        say!(
            "pushed to Deputy: {} saved, {} deleted, {} failed, {} on past days (not synchronised)",
            pushed.saved,
            pushed.deleted,
            pushed.failed,
            pushed.past_days
        );
        Ok(if report.counts.errors > 0 || pushed.failed > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// `rendez deputy webhooks install [--url URL]`.
pub fn webhooks(config: Config, command: WebhooksCommand) -> Result<ExitCode, String> {
    let WebhooksCommand::Install { url } = command;
    let deputy_config = configured(&config)?;
    let address = url.unwrap_or_else(|| {
        format!(
            "{}/hooks/deputy",
            startup::public_url(&config, None).trim_end_matches('/')
        )
    });
    if deputy_config.webhook_secret.is_none() {
        eprintln!(
            "warning: RENDEZ_DEPUTY_WEBHOOK_SECRET is not set: /hooks/deputy takes calls from anyone"
        );
    }
    let client = DeputyClient::new(&deputy_config)?;
    actix_web::rt::System::new().block_on(async move {
        let installed =
            deputy::install_webhooks(&Caller::system("cli"), &client, &deputy_config, &address)
                .await
                .map_err(said)?;
        for (topic, id) in installed {
            say!("{topic} -> {address} (Deputy webhook {id})");
        }
        Ok(ExitCode::SUCCESS)
    })
}
