//! `rendez locations` and `rendez teams`: the location hierarchy and the teams assigned to it
//! (issue 18), through `app::locations` and `app::teams` as the server's own operator
//! (`Principal::system("cli")`, which holds the admin role).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::app::{self, Caller};
use crate::config::Config;
use crate::domain::locations::TeamRole;
use crate::domain::values::parse_date;
use crate::startup;

#[derive(Subcommand, Debug)]
pub enum LocationsCommand {
    /// Add or replace locations from a CSV file with the columns LID, NAME, PARENT_LID, LEVEL
    /// (an empty PARENT_LID: a top location; centers keep their LIDs). The whole file is
    /// refused, nothing written, on a cycle, a location under two parents or an unknown parent.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Remove a location (kept in the history); refused while teams are assigned to it or
    /// locations are below it.
    Remove {
        /// The location's LID.
        lid: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TeamsCommand {
    /// Add a team.
    Add { name: String },
    /// Assign a team to a location at any level: its members edit and view everything below.
    Assign {
        team: String,
        location_lid: String,
        /// First day (YYYY-MM-DD). [default: today]
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last day (YYYY-MM-DD). [default: no end]
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// The members only view there.
        #[arg(long)]
        view_only: bool,
    },
    /// Make an API client a member of a team.
    Join {
        team: String,
        principal: String,
        /// leader or member.
        #[arg(long, value_name = "ROLE")]
        role: String,
    },
    /// End a client's membership of a team.
    Leave { team: String, principal: String },
    /// Void a team: it grants nothing any more, and stays in the history.
    Void { name: String },
    /// Print the hierarchy with the teams assigned at each level and their members.
    Tree,
}

fn operator() -> Caller {
    Caller::system("cli")
}

fn said(e: crate::error::Error) -> String {
    match e {
        crate::error::Error::Client(message) | crate::error::Error::NotConfigured(message) => {
            message
        }
        other => other.log_detail(),
    }
}

fn date(option: &str, raw: Option<String>) -> Result<Option<chrono::NaiveDate>, String> {
    raw.map(|raw| {
        parse_date(&raw).ok_or_else(|| format!("{option}: '{raw}' is no date (YYYY-MM-DD)"))
    })
    .transpose()
}

pub fn locations(config: Config, command: LocationsCommand) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    match command {
        LocationsCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let rows = app::locations::parse_csv(&text).map_err(said)?;
            let count = app::locations::import(&mut conn, &operator(), rows).map_err(said)?;
            say!("{count} locations imported");
        }
        LocationsCommand::Remove { lid } => {
            app::locations::remove(&mut conn, &operator(), &lid).map_err(said)?;
            say!("location '{lid}' removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn teams(config: Config, command: TeamsCommand) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    let caller = operator();
    match command {
        TeamsCommand::Add { name } => {
            app::teams::add(&mut conn, &caller, &name).map_err(said)?;
            say!("team '{name}' added");
        }
        TeamsCommand::Assign {
            team,
            location_lid,
            from,
            to,
            view_only,
        } => {
            let assignment = app::teams::Assignment {
                team: &team,
                location: &location_lid,
                from: date("--from", from)?,
                to: date("--to", to)?,
                view_only,
            };
            app::teams::assign(&mut conn, &caller, assignment).map_err(said)?;
            say!("team '{team}' assigned to '{location_lid}'");
        }
        TeamsCommand::Join {
            team,
            principal,
            role,
        } => {
            let role: TeamRole = role.parse().map_err(|e| format!("--role: {e}"))?;
            app::teams::join(&mut conn, &caller, &team, &principal, role).map_err(said)?;
            say!("'{principal}' joined team '{team}' as {}", role.as_str());
        }
        TeamsCommand::Leave { team, principal } => {
            app::teams::leave(&mut conn, &caller, &team, &principal).map_err(said)?;
            say!("'{principal}' left team '{team}'");
        }
        TeamsCommand::Void { name } => {
            app::teams::void(&mut conn, &caller, &name).map_err(said)?;
            say!("team '{name}' voided");
        }
        TeamsCommand::Tree => {
            for line in app::teams::tree(&mut conn, &caller).map_err(said)? {
                say!("{line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses `--view` / `--edit` of `rendez client add`: comma-separated LIDs.
pub fn location_list(raw: &Option<String>) -> Vec<String> {
    raw.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}
