//! `rendez operator`: the console's operators (issue 20), added at the server's shell.

use std::process::ExitCode;

use clap::Subcommand;

use crate::app;
use crate::config::Config;
use crate::domain::access::Roles;
use crate::error::Error;
use crate::startup;

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Add a console operator. The password comes from --password or standard input.
    Add {
        /// The operator's user name (letters, digits, '.', '_', '-', '@').
        name: String,
        /// Comma-separated roles (the console pages they open): booking (appointments),
        /// messaging (messages), results, admin (teams, imports, rosters and Deputy, API
        /// clients).
        #[arg(long, value_name = "ROLES")]
        roles: String,
        /// Comma-separated locations (any level) the operator may view, with everything below.
        #[arg(long, value_name = "LIDS")]
        view: Option<String>,
        /// Comma-separated locations (any level) the operator may change (and view).
        #[arg(long, value_name = "LIDS")]
        edit: Option<String>,
        /// The password (at least 12 characters). Prefer standard input: command lines are
        /// visible to other users of the machine.
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
    },
    /// List the console's operators: name, roles, state, when added.
    List,
    /// Disable an operator: its sessions end at once and it cannot sign in again.
    Disable {
        /// The operator's user name.
        name: String,
    },
}

/// Runs the command; `read_password` is the CLI's reader of `--password` or standard input (passed
/// in, so that this file does not depend back on `cli.rs`).
pub fn operator(
    config: Config,
    command: OperatorCommand,
    read_password: fn(Option<String>) -> Result<String, String>,
) -> Result<ExitCode, String> {
    let (name, roles, view, edit, password) = match command {
        OperatorCommand::Add {
            name,
            roles,
            view,
            edit,
            password,
        } => (name, roles, view, edit, password),
        OperatorCommand::List => return list(config),
        OperatorCommand::Disable { name } => return disable(config, &name),
    };
    let roles: Roles = roles.parse().map_err(|e| format!("--roles: {e}"))?;
    let (view, edit) = (
        super::teams::location_list(&view),
        super::teams::location_list(&edit),
    );
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    app::clients::check_name(&name).map_err(said("cannot add the operator"))?;
    let password = read_password(password)?;
    let roles_text = roles.to_string();
    app::operators::add(
        &mut conn,
        app::operators::NewOperator {
            name: &name,
            roles,
            password: &password,
            view: &view,
            edit: &edit,
        },
    )
    .map_err(said("cannot store the operator"))?;
    say!(
        "operator '{name}' added: roles {roles_text}; view {}; edit {}",
        if view.is_empty() && edit.is_empty() {
            "nothing yet (teams may add)".to_string()
        } else {
            view.iter()
                .chain(&edit)
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        },
        if edit.is_empty() {
            "nothing".to_string()
        } else {
            edit.join(",")
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `rendez operator list`.
fn list(config: Config) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    let operators = app::operators::list(&mut conn).map_err(said("cannot read the operators"))?;
    if operators.is_empty() {
        say!("no operators");
    }
    for o in operators {
        say!(
            "{}\troles {}\t{}\tadded {}",
            o.name,
            o.roles,
            if o.disabled { "disabled" } else { "active" },
            o.created_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `rendez operator disable NAME`.
fn disable(config: Config, name: &str) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    app::operators::disable(&mut conn, name).map_err(said("cannot disable the operator"))?;
    say!("operator '{name}' disabled; its sessions are ended");
    Ok(ExitCode::SUCCESS)
}

/// A use case's error as the command says it (as `cli.rs` says a client's).
fn said(what: &'static str) -> impl Fn(Error) -> String {
    move |e| match e {
        Error::Client(message) | Error::NotConfigured(message) => message,
        other => format!("{what}: {}", other.log_detail()),
    }
}
