//! `rendez deputy`: the Deputy mappings (a center or area to an operational unit, a resource
//! to an employee), and the sync's own commands (status, sync, webhooks: [`super::deputy_sync`]).

use std::process::ExitCode;

use clap::Subcommand;

use super::rosters::with_core;
use crate::app::rosters;
use crate::config::Config;
use crate::domain::roster::Place;

#[derive(Subcommand, Debug)]
pub enum DeputyCommand {
    /// Map a center, or an area of it, to a Deputy operational unit (by its id).
    MapArea {
        /// CENTER_LID or CENTER_LID/AREA.
        place: String,
        /// The Deputy operational unit's id.
        unit_id: String,
    },
    /// Map a resource to a Deputy employee (by its id); the roster becomes its default
    /// availability source.
    MapEmployee {
        resource_lid: String,
        /// The Deputy employee's id.
        employee_id: String,
    },
    /// Print the mappings.
    Mappings {
        #[arg(long)]
        json: bool,
    },
    /// The sync's state: the last poll and full pass, the counts, the pushes waiting, the open
    /// sync errors and conflicts.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Poll Deputy once now (changes since the last poll; with --full, the whole window,
    /// removing what Deputy no longer has), then send the pushes that are due. Exit status 1
    /// when some roster or shift could not be synchronised.
    Sync {
        #[arg(long)]
        full: bool,
    },
    /// Deputy's webhooks for rosters.
    #[command(subcommand)]
    Webhooks(super::deputy_sync::WebhooksCommand),
}

fn deputy_id(what: &str, raw: &str) -> Result<i64, String> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("'{raw}' is not a Deputy {what} id (a positive number)"))
}

pub fn run(config: Config, command: DeputyCommand) -> Result<ExitCode, String> {
    match command {
        DeputyCommand::Status { json } => return super::deputy_sync::status(config, json),
        DeputyCommand::Sync { full } => return super::deputy_sync::sync(config, full),
        DeputyCommand::Webhooks(command) => return super::deputy_sync::webhooks(config, command),
        DeputyCommand::MapArea { place, unit_id } => {
            let place: Place = place
                .parse()
                .map_err(|e: crate::error::Error| e.to_string())?;
            let unit = deputy_id("operational unit", &unit_id)?;
            let shown = place.to_string();
            with_core(config, async |core, caller| {
                rosters::map_area(core, caller, place, unit).await
            })?;
            say!("{shown} mapped to Deputy operational unit {unit}");
        }
        DeputyCommand::MapEmployee {
            resource_lid,
            employee_id,
        } => {
            let employee = deputy_id("employee", &employee_id)?;
            with_core(config, async |core, caller| {
                rosters::map_employee(core, caller, &resource_lid, employee).await
            })?;
            say!("resource '{resource_lid}' mapped to Deputy employee {employee}");
        }
        DeputyCommand::Mappings { json } => {
            let found = with_core(config, async |core, caller| {
                rosters::mappings(core, caller).await
            })?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&found).map_err(|e| e.to_string())?
                );
            } else {
                if found.units.is_empty() && found.employees.is_empty() {
                    say!("no mappings");
                }
                for u in &found.units {
                    let place = match &u.area {
                        Some(area) => format!("{}/{area}", u.center_lid),
                        None => u.center_lid.clone(),
                    };
                    say!("area {place} -> Deputy operational unit {}", u.unit_id);
                }
                for e in &found.employees {
                    say!(
                        "resource {} -> Deputy employee {}",
                        e.resource_lid,
                        e.employee_id
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
