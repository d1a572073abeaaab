//! `rendez slots`: the operator's commands over published slots (see [`crate::app::slots`]).

use std::io::Write as _;
use std::process::ExitCode;

use clap::Subcommand;

use crate::app::slots::{self, Regenerate};
use crate::config::Config;
use crate::startup;

#[derive(Subcommand, Debug)]
pub enum SlotsCommand {
    /// Regenerate published slots now, from the stored availability and bookings, and print each
    /// role's counts (created, updated, retired, retained, conflicts). Runs take turns with the
    /// workers' runs of the same role; booked slots are never retired nor reshaped.
    Regenerate {
        /// One role: the number of a schedule (a resource at a center), as the OpenVPMS and FHIR
        /// APIs show it.
        #[arg(
            long,
            value_name = "ID",
            conflicts_with = "all",
            required_unless_present = "all"
        )]
        role: Option<i64>,
        /// Every role.
        #[arg(long)]
        all: bool,
    },
}

pub fn run(config: Config, command: SlotsCommand) -> Result<ExitCode, String> {
    let SlotsCommand::Regenerate { role, all } = command;
    let which = match (role, all) {
        (Some(role), false) => Regenerate::Role(role),
        (None, true) => Regenerate::All,
        _ => return Err("give --role ID or --all".into()),
    };
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let records = slots::regenerate_with(&mut conn, which, config.slot_window, chrono::Utc::now())
        .map_err(|e| match e {
            crate::Error::NotFound(message) | crate::Error::Client(message) => message,
            other => format!("slot regeneration: {}", other.log_detail()),
        })?;
    let mut out = std::io::stdout().lock();
    let mut totals = [0usize; 5];
    for record in &records {
        let counts = [
            record.created,
            record.updated,
            record.retired,
            record.retained,
            record.conflicts,
        ];
        for (total, n) in totals.iter_mut().zip(counts) {
            *total += n;
        }
        let _ = writeln!(
            out,
            "role {}: created {} updated {} retired {} retained {} conflicts {}{}",
            record.role,
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4],
            if record.diagnostics.is_empty() {
                String::new()
            } else {
                format!(" ({})", record.diagnostics.join("; "))
            }
        );
    }
    let _ = writeln!(
        out,
        "{} roles: created {} updated {} retired {} retained {} conflicts {}",
        records.len(),
        totals[0],
        totals[1],
        totals[2],
        totals[3],
        totals[4]
    );
    Ok(ExitCode::SUCCESS)
}
