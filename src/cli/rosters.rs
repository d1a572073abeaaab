//! `rendez roster`: shifts read and changed from the command line, through `app::rosters` as
//! the server's own operator (`Principal::system("cli")`, every role, every center).

use std::process::ExitCode;

use clap::Subcommand;

use crate::app::rosters::{self, ChangeOutcome, ShiftQuery, ShiftRequest, ShiftView};
use crate::app::{Caller, Core};
use crate::config::Config;
use crate::domain::roster::{AvailabilitySource, Place, When, parse_break, parse_date};
use crate::error::Error;
use crate::startup;

#[derive(Subcommand, Debug)]
pub enum RosterCommand {
    /// Add a shift: the resource works at the center (or an area of it) from START to END, ISO
    /// local times on the center's clock (2026-06-01T09:00); its breaks are busy time.
    Add {
        /// The resource's LID.
        resource_lid: String,
        /// CENTER_LID or CENTER_LID/AREA.
        place: String,
        /// The start, e.g. 2026-06-01T09:00.
        start: String,
        /// The end, e.g. 2026-06-01T17:00.
        end: String,
        /// A break, START-END: 12:30-13:30 (on the shift's day) or full local date-times;
        /// repeat for several.
        #[arg(long = "break", value_name = "START-END")]
        breaks: Vec<String>,
    },
    /// List shifts, by start.
    List {
        /// Only this resource's.
        #[arg(long, value_name = "LID")]
        resource: Option<String>,
        /// Only at this center.
        #[arg(long, value_name = "LID")]
        center: Option<String>,
        /// Shifts starting on or after this day (YYYY-MM-DD, on the center's clock).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Shifts starting on or before this day.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Removed shifts too.
        #[arg(long)]
        removed: bool,
        /// One JSON array, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove a shift. Appointments booked in it stay, and are listed as conflicts.
    Remove {
        /// The shift's id (as `rendez roster list` prints it).
        id: String,
    },
    /// Show, or set, where a resource's availability comes from: rules, roster, both (their
    /// intersection) or default (the roster for a resource with shifts or a Deputy employee,
    /// its rules otherwise).
    Source {
        resource_lid: String,
        /// rules, roster, both or default; none: show it.
        source: Option<String>,
    },
    /// Appointments left outside a removed or shortened shift.
    Conflicts {
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Mark a conflict resolved.
    Resolve { id: String },
}

fn said(e: Error) -> String {
    match e {
        Error::Client(message) | Error::NotFound(message) | Error::Forbidden(message) => message,
        other => other.log_detail(),
    }
}

/// Runs a command's use cases on a core of its own: the command signs nothing, so its secret
/// key is a throwaway one.
pub fn with_core<T>(
    config: Config,
    work: impl AsyncFnOnce(&Core, &Caller) -> Result<T, Error>,
) -> Result<T, String> {
    let pool = startup::open_database(&config)?;
    let public_url = startup::public_url(&config, None);
    actix_web::rt::System::new().block_on(async move {
        let core = Core::new(
            std::sync::Arc::new(config),
            pool,
            std::sync::Arc::new(crate::auth::SecretKey::generate()),
            public_url,
        );
        work(&core, &Caller::system("cli")).await.map_err(said)
    })
}

fn date(option: &str, raw: Option<String>) -> Result<Option<chrono::NaiveDate>, String> {
    raw.map(|raw| parse_date(&raw, option).map_err(said))
        .transpose()
}

pub fn run(config: Config, command: RosterCommand) -> Result<ExitCode, String> {
    match command {
        RosterCommand::Add {
            resource_lid,
            place,
            start,
            end,
            breaks,
        } => {
            let place: Place = place.parse().map_err(said)?;
            let start = When::parse(&start, "shift start").map_err(said)?;
            let end = When::parse(&end, "shift end").map_err(said)?;
            let breaks = breaks
                .iter()
                .map(|b| parse_break(b, &start))
                .collect::<Result<Vec<_>, Error>>()
                .map_err(said)?;
            let request = ShiftRequest {
                resource_lid,
                place,
                start,
                end,
                breaks,
            };
            let shift = with_core(config, async |core, caller| {
                rosters::add(core, caller, request).await
            })?;
            let view = ShiftView::of(&shift);
            say!("shift {} added: {}", view.id, line(&view));
        }
        RosterCommand::List {
            resource,
            center,
            from,
            to,
            removed,
            json,
        } => {
            let query = ShiftQuery {
                resource_lid: resource,
                center_lid: center,
                from: date("--from", from)?,
                to: date("--to", to)?,
                include_removed: removed,
            };
            let shifts = with_core(config, async |core, caller| {
                rosters::list(core, caller, query).await
            })?;
            let views: Vec<ShiftView> = shifts.iter().map(ShiftView::of).collect();
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&views).map_err(|e| e.to_string())?
                );
            } else if views.is_empty() {
                say!("no shifts");
            } else {
                for view in &views {
                    say!("{}  {}", view.id, line(view));
                }
            }
        }
        RosterCommand::Remove { id } => {
            let outcome = with_core(config, async |core, caller| {
                rosters::remove(core, caller, &id, None).await
            })?;
            match outcome {
                ChangeOutcome::Done(changed) => {
                    say!("shift {id} removed");
                    if !changed.conflicts.is_empty() {
                        say!(
                            "{} appointments stay booked in it, listed as conflicts (rendez roster conflicts): {}",
                            changed.conflicts.len(),
                            changed.conflicts.join(", ")
                        );
                    }
                }
                ChangeOutcome::Stale { current } => {
                    return Err(format!(
                        "shift {id} changed meanwhile (now version {current})"
                    ));
                }
            }
        }
        RosterCommand::Source {
            resource_lid,
            source,
        } => {
            let view = match source {
                None => with_core(config, async |core, caller| {
                    rosters::source(core, caller, &resource_lid).await
                })?,
                Some(raw) => {
                    let said_source = if raw.trim().eq_ignore_ascii_case("default") {
                        None
                    } else {
                        Some(raw.parse::<AvailabilitySource>().map_err(said)?)
                    };
                    with_core(config, async |core, caller| {
                        rosters::set_source(core, caller, &resource_lid, said_source).await
                    })?
                }
            };
            say!(
                "resource '{resource_lid}': availability from {}{}",
                view.effective,
                if view.said.is_none() {
                    " (default)"
                } else {
                    ""
                }
            );
        }
        RosterCommand::Conflicts { all, json } => {
            let found = with_core(config, async |core, caller| {
                rosters::conflicts(core, caller, !all).await
            })?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&found).map_err(|e| e.to_string())?
                );
            } else if found.is_empty() {
                say!("no conflicts");
            } else {
                for c in &found {
                    say!(
                        "{}  appointment {} ({} - {}) of '{}' at '{}': shift {} {} since {}{}",
                        c.id,
                        c.appointment_id,
                        c.appointment_start.to_rfc3339(),
                        c.appointment_end.to_rfc3339(),
                        c.resource_lid,
                        c.center_lid,
                        c.shift_id,
                        c.cause.as_str(),
                        c.detected_at.to_rfc3339(),
                        match &c.resolved_at {
                            Some(at) => format!(", resolved {}", at.to_rfc3339()),
                            None => String::new(),
                        }
                    );
                }
            }
        }
        RosterCommand::Resolve { id } => {
            with_core(config, async |core, caller| {
                rosters::resolve_conflict(core, caller, &id).await
            })?;
            say!("conflict {id} resolved");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A shift on one line: who, where, when (local), its breaks, where it came from.
fn line(view: &ShiftView) -> String {
    let place = match &view.area {
        Some(area) => format!("{}/{area}", view.center),
        None => view.center.clone(),
    };
    let breaks: Vec<String> = view
        .breaks
        .iter()
        .map(|b| format!("{}-{}", time_of(&b.start), time_of(&b.end)))
        .collect();
    format!(
        "{} at {} {} - {} ({}){}{}{}{}",
        view.resource,
        place,
        view.start,
        view.end,
        view.timezone,
        if breaks.is_empty() {
            String::new()
        } else {
            format!(" breaks {}", breaks.join(", "))
        },
        match view.origin {
            crate::domain::roster::Origin::Rendez => "",
            crate::domain::roster::Origin::Deputy => " from Deputy",
        },
        match view.deputy_roster_id {
            Some(id) => format!(" (Deputy roster {id})"),
            None => String::new(),
        },
        if view.removed_at.is_some() {
            " REMOVED"
        } else {
            ""
        }
    )
}

/// The time of day of a local `YYYY-MM-DDTHH:MM`.
fn time_of(local: &str) -> &str {
    local.split_once('T').map_or(local, |(_, t)| t)
}
