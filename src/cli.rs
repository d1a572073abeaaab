//! The `rendez` command line: a thin shell over the library.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, clients};
use crate::config::{Config, Settings};
use crate::domain::access::{CenterScope, Roles};
use crate::error::Error;
use crate::{appointments_import, demo, import, startup};

/// Prints a line to standard output, ignoring a closed pipe: `rendez serve --demo | head`
/// or a caller that stopped reading must not bring the server down.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod deputy;
mod deputy_sync;
mod operators;
mod rosters;
mod teams;

#[derive(Parser, Debug)]
#[command(
    name = "rendez",
    version,
    about = "Rendez: a self-hosted SOAP gateway between a clinic's own software and its patients",
    long_about = "Rendez: a self-hosted SOAP gateway between a clinic's own software and its patients.\n\n\
        Every option can also be set by the environment variable shown with it, or in the TOML \
        file given with --config (keys as the long option names with '_' for '-'); the command \
        line wins over the environment, which wins over the file. With no command, `serve` runs."
)]
pub struct Cli {
    /// A TOML configuration file.
    #[arg(long, env = "RENDEZ_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(clap::Args, Debug, Default)]
pub struct WorkerArgs {
    /// Send no messages: run the reminder scheduler (it queues notices), the watched import
    /// folder, the cancellations file and the housekeeping only. Without it a worker needs an
    /// SMS or email provider.
    #[arg(long)]
    pub no_messaging: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP (SOAP, WSDL, health and metrics).
    Serve(ServeArgs),
    /// Apply pending migrations, then run only the background work (messaging, the reminder
    /// scheduler, imports, exports and housekeeping; no HTTP), for more processes on one
    /// database. Stops on SIGINT/SIGTERM after recording what it holds.
    Worker(WorkerArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// List what can be booked: per center, each doctor bookable online with each activity
    /// (duration, price) and the insurances they accept, as getKeyEntities answers it.
    Catalog {
        /// Only this center (its LID).
        #[arg(long, value_name = "LID")]
        center: Option<String>,
    },
    /// Manage the API clients that may call the SOAP operations.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Load master data from a delimited text file (header row of the column names of updateKeyEntities or updateAvailabilities;
    /// ';', ',' or tab, detected).
    #[command(
        subcommand,
        after_help = "Exit status: 0 when every line was stored, 1 when some lines were refused \
                      (each reported with its line number; the others are stored), 2 when \
                      nothing was imported (the file or the database could not be used)."
    )]
    Import(ImportCommand),
    /// Test results: the history of one result, purging now, a new key.
    #[command(subcommand)]
    Results(ResultsCommand),
    /// Files for the clinic system: the cancellations file (the patients' answers and cancellations, for the clinic system to read), which `serve` and
    /// `worker` also write every RENDEZ_EXPORT_INTERVAL into RENDEZ_EXPORT_DIR.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Bulk messages to a list of recipients, through the messaging outbox.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Published slots (FHIR Slot): regenerate them now.
    #[command(subcommand)]
    Slots(crate::slots_command::SlotsCommand),
    /// The location hierarchy above the centers.
    #[command(subcommand)]
    Locations(teams::LocationsCommand),
    /// Teams, their members and their assignments to locations.
    #[command(subcommand)]
    Teams(teams::TeamsCommand),
    /// Rosters: clinicians' shifts, an availability source beside the rules.
    #[command(subcommand)]
    Roster(rosters::RosterCommand),
    /// Deputy: the mappings of centers, areas and clinicians to Deputy's ids.
    #[command(subcommand)]
    Deputy(deputy::DeputyCommand),
    /// The operator console's operators.
    #[command(subcommand)]
    Operator(operators::OperatorCommand),
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Write now, into RENDEZ_EXPORT_DIR, the cancellations file of what changed since the last
    /// file: patients' confirmations and cancellations, and cancellations by the clinic
    /// (APP_LID;USER_LANDLINE_PHONE;USER_MOBILE_PHONE;USER_EMAIL;RESOURCE_LID;STATUS). Writes no
    /// file when nothing changed.
    Cancellations,
}

#[derive(Subcommand, Debug)]
pub enum CampaignCommand {
    /// Queue one message per recipient. Numbers that answered STOP get no SMS (an email if the
    /// line has one). Running the same command again (after an interruption) queues only what
    /// was not queued yet.
    #[command(
        after_help = "Exit status: 0 when every line was used, 1 when some lines were \
                      refused (each reported with its line number; the others are queued), 2 \
                      when nothing was queued (a template, the file or the database could not be \
                      used)."
    )]
    Send {
        /// The message: [sms], and/or [subject] and [email], with {first_name}. Repeat it once
        /// per language, named NAME.LANG.txt (spring.es.txt); a recipient gets their language's,
        /// else the first.
        #[arg(long = "template", value_name = "FILE", required = true)]
        templates: Vec<PathBuf>,
        /// Delimited text with a header row: phone and/or email, optionally first_name and
        /// language (or USER_MOBILE_PHONE, USER_EMAIL, USER_FIRST_NAME, USER_LANGUAGE).
        #[arg(long, value_name = "FILE.csv")]
        recipients: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ResultsCommand {
    /// Print a result's history: intake, replacements, cancellation, reads over SOAP, every
    /// download attempt (time, address, outcome) and the purge. Never a code or an ID number.
    Audit {
        /// The result's DOWNLOAD_LID.
        download_lid: String,
    },
    /// Purge now the content of results past their retention (serve does it every minute).
    Purge,
    /// Print a new random key in the form RENDEZ_RESULTS_KEY takes (KEYID:BASE64).
    NewKey {
        /// The key's id, e.g. the year: 2026.
        key_id: String,
    },
}

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// Load a demo clinic (two centers, doctors, activities, an insurance, a week of
    /// availability) and a demo client with every role, and print how to call it. Without
    /// DATABASE_URL the demo uses its own file, rendez-demo.db; SMS and email without a provider
    /// are printed, not sent.
    #[arg(long)]
    pub demo: bool,
    /// Let --demo load its clinic into a database that holds other data (a real clinic's).
    #[arg(long, requires = "demo")]
    pub demo_allow_other_data: bool,
    /// Serve HTTP only (with its booking cache and the housekeeping); messages, reminders,
    /// imports and exports are handled by `rendez worker` processes.
    #[arg(long)]
    pub no_workers: bool,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create a client. The password comes from --password or standard input.
    Add {
        /// The client's user name (letters, digits, '.', '_', '-', '@').
        name: String,
        /// Comma-separated roles: booking, messaging, results, admin.
        #[arg(long, value_name = "ROLES")]
        roles: String,
        /// Comma-separated center LIDs the client is limited to. [default: every center]
        #[arg(
            long,
            value_name = "LIDS",
            default_value = "",
            hide_default_value = true
        )]
        centers: String,
        /// Comma-separated locations (any level) the client may view, with everything below.
        /// Given this or an edit scope, the client's scope comes from these and its teams only.
        #[arg(long, value_name = "LIDS")]
        view: Option<String>,
        /// Comma-separated locations (any level) the client may edit (and view).
        #[arg(long, value_name = "LIDS")]
        edit: Option<String>,
        /// Also allow WS-Security PasswordDigest: the secret is then kept encrypted under
        /// RENDEZ_SECRET_KEY (besides its Argon2id hash), because the digest needs it.
        #[arg(long)]
        digest: bool,
        /// The password (at least 12 characters). Prefer standard input: command lines are
        /// visible to other users of the machine.
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
    },
    /// List the clients with their roles, centers and state.
    List,
    /// Disable a client: its credentials stop working at once (after at most the auth cache
    /// time in running servers).
    Disable {
        /// The client's user name.
        name: String,
    },
    /// Enable a disabled client again, with the secret it had.
    Enable {
        /// The client's user name.
        name: String,
    },
    /// Give a client a new password; the old one stops working at once (within a second in
    /// running servers). The password comes from --password or standard input.
    ResetPassword {
        /// The client's user name.
        name: String,
        /// The new password (at least 12 characters). Prefer standard input.
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
    },
    /// Issue a bearer token for a client (the FHIR API's `Authorization: Bearer`), printed once;
    /// with --revoke, revoke every token of the client instead.
    Token {
        /// The client's user name.
        name: String,
        /// Revoke the client's tokens (they stop working at once).
        #[arg(long)]
        revoke: bool,
    },
    /// Give a client a new random secret, printed once; the old one keeps working (HTTP Basic
    /// and PasswordText) for the overlap, so the client's systems can be changed without a gap.
    Rotate {
        /// The client's user name.
        name: String,
        /// How long the old secret keeps working, e.g. 24h, 7days.
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        overlap: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Key entities: INSURANCE_LID, ACTIVITY_LID, ACTIVITY_NAME, ACTIVITY_DURATION, LOCATION_LID,
    /// RESOURCE_LID, ... as in updateKeyEntities.
    Keyentities(ImportArgs),
    /// Availabilities: AVAILABILITY_LID, RESOURCE_LID, LOCATION_LID, R_WORKING_DAY,
    /// R_START_TIME, R_END_TIME, R_START_DAY, R_END_DAY, ACTIVITY_LID (several separated by '|').
    Availabilities(ImportArgs),
    /// The clinic's exported appointments (a file the clinic system writes every few hours): APP_LID, APP_DATE (dd/mm/yyyy),
    /// APP_START_TIME (hh:mm), USER_LANDLINE_PHONE, USER_MOBILE_PHONE, USER_EMAIL,
    /// RESOURCE_LID, RESOURCE_NAME, RESOURCE_MOBILE_PHONE, RESOURCE_EMAIL, LOCATION_LID,
    /// LOCATION_NAME; optionally APP_END_TIME, ACTIVITY_LID, USER_LID.
    #[command(
        long_about = "The clinic's exported appointments (a file the clinic system writes every few hours): APP_LID, APP_DATE \
            (dd/mm/yyyy), APP_START_TIME (hh:mm), USER_LANDLINE_PHONE, USER_MOBILE_PHONE, \
            USER_EMAIL, RESOURCE_LID, RESOURCE_NAME, RESOURCE_MOBILE_PHONE, RESOURCE_EMAIL, \
            LOCATION_LID, LOCATION_NAME; optionally APP_END_TIME, ACTIVITY_LID, USER_LID.\n\n\
            Appointments are created or updated by APP_LID and get their reminders (no \
            confirmation: the clinic booked them). Per center, the file's window is its first to \
            its last APP_DATE: an appointment imported earlier inside that window that the file \
            no longer lists is cancelled (CANCELLED by ADMIN). The file is stored in one \
            transaction, or not at all when a line is wrong; a file whose content was imported \
            before is skipped.",
        after_help = "Exit status: 0 when the file was imported or skipped as a repeat, 1 when \
                      it was refused (each wrong line reported with its number; nothing is \
                      written), 2 when it could not be imported (the file or the database \
                      could not be used)."
    )]
    Appointments(AppointmentImportArgs),
}

#[derive(clap::Args, Debug)]
pub struct AppointmentImportArgs {
    /// The file to read.
    pub file: PathBuf,
    /// Print what would be created, moved and cancelled (by APP_LID), and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The file's character encoding.
    #[arg(long, value_enum, default_value_t)]
    pub encoding: import::TextEncoding,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The file to read.
    pub file: PathBuf,
    /// The file's character encoding.
    #[arg(long, value_enum, default_value_t)]
    pub encoding: import::TextEncoding,
    /// Deactivate what the file does not name (key entities: everything; availabilities: per
    /// resource named in the file).
    #[arg(long)]
    pub full_sync: bool,
}

/// The settings every command that opens the database reads (and `--config`, always shown).
const DATABASE_SETTINGS: &[&str] = &[
    "database_url",
    "db_pool_size",
    "db_timeout",
    "db_statement_timeout",
    "db_read_timeout",
];

/// The settings a command reads besides the database's; `None` for `serve` and `worker`, which
/// read them all. Every setting is accepted everywhere (they are global, and the environment
/// and `--config` hold them all); a subcommand's help shows only these.
fn settings_used_by(path: &[&str]) -> Option<&'static [&'static str]> {
    Some(match path {
        ["serve"] | ["worker"] => return None,
        ["client", "add" | "reset-password" | "rotate"] => &["secret_key", "secret_key_file"],
        ["import", "keyentities" | "availabilities"] => &["default_timezone"],
        ["import", "appointments"] => &[
            "default_timezone",
            "default_country",
            "reminders",
            "quiet_hours",
        ],
        ["results", ..] => &[
            "results_key",
            "results_old_keys",
            "results_keep",
            "results_keep_after_download",
        ],
        ["export", ..] => &["export_dir", "export_interval"],
        ["campaign", ..] => &["default_country"],
        ["slots", ..] => &["slot_window"],
        _ => &[],
    })
}

/// Gives each subcommand its own copy of every global setting, hidden where the subcommand does
/// not read it. Clap propagates a global argument only to subcommands that lack one of that id,
/// so the copies take its place; they are still global, and parse as before.
fn hide_unused_settings(mut command: clap::Command, path: &mut Vec<String>) -> clap::Command {
    let settings: Vec<clap::Arg> =
        <Settings as clap::Args>::augment_args(clap::Command::new("settings"))
            .get_arguments()
            .cloned()
            .collect();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        path.push(name.clone());
        command = command.mut_subcommand(&name, |mut sub| {
            let words: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(used) = settings_used_by(&words) {
                for arg in &settings {
                    let id = arg.get_id().as_str();
                    let shown = used.contains(&id) || DATABASE_SETTINGS.contains(&id);
                    sub = sub.arg(arg.clone().hide(!shown));
                }
            }
            hide_unused_settings(sub, path)
        });
        path.pop();
    }
    command
}

/// The command line's grammar: the derived one, with each subcommand's help trimmed to what it
/// reads.
pub fn command() -> clap::Command {
    hide_unused_settings(<Cli as clap::CommandFactory>::command(), &mut Vec::new())
}

pub fn main() -> ExitCode {
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Err(message) = crate::logging::init() {
        eprintln!("rendez: error: {message}");
        return ExitCode::from(2);
    }
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("rendez: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let file = match &cli.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    let mut settings = cli.settings.over(file);
    if let Some(Command::Serve(ServeArgs { demo: true, .. })) = &cli.command {
        settings
            .database_url
            .get_or_insert_with(|| demo::DEMO_DATABASE_URL.into());
    }
    let config = settings.resolve()?;
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(config, args),
        Command::Worker(args) => worker(config, args),
        Command::Catalog { center } => catalog(config, center),
        Command::Migrate => {
            startup::open_database(&config)?;
            say!("the database {} is migrated", config.database_url);
            Ok(ExitCode::SUCCESS)
        }
        Command::Client(command) => client(config, command),
        Command::Slots(command) => crate::slots_command::run(config, command),
        Command::Locations(command) => teams::locations(config, command),
        Command::Teams(command) => teams::teams(config, command),
        Command::Roster(command) => rosters::run(config, command),
        Command::Deputy(command) => deputy::run(config, command),
        Command::Operator(command) => operators::operator(config, command, given_password),
        Command::Results(command) => results(config, command),
        Command::Import(ImportCommand::Appointments(args)) => import_appointments(config, args),
        Command::Export(ExportCommand::Cancellations) => {
            let dir = config.exports.dir.clone().ok_or(
                "RENDEZ_EXPORT_DIR (or --export-dir) names no directory to write the file to",
            )?;
            let pool = startup::open_database(&config)?;
            let report = app::exports::export_cancellations(
                &pool,
                &dir,
                config.exports.interval,
                chrono::Utc::now(),
                true,
            )?;
            if report.files.is_empty() {
                say!("nothing to export: no confirmation or cancellation since the last file");
            }
            for (path, lines) in report.files {
                say!("wrote {} ({lines} appointments)", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Campaign(CampaignCommand::Send {
            templates,
            recipients,
        }) => {
            // Templates and recipients first: a campaign that cannot be read touches no database.
            let campaign =
                crate::campaign::load(&templates, &recipients, config.default_country.as_deref())?;
            if !campaign.ignored_columns.is_empty() {
                say!("ignored columns: {}", campaign.ignored_columns.join(", "));
            }
            let pool = startup::open_database(&config)?;
            let progress = crate::campaign::show_progress(&campaign);
            let summary = app::campaign::send(
                &pool,
                &app::Caller::system("cli"),
                &campaign,
                chrono::Utc::now(),
                progress,
            )?;
            say!("{summary}");
            Ok(if summary.invalid.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Import(command) => {
            let (kind, args) = match command {
                ImportCommand::Keyentities(args) => (import::Kind::KeyEntities, args),
                ImportCommand::Availabilities(args) => (import::Kind::Availabilities, args),
                ImportCommand::Appointments(_) => unreachable!("handled above"),
            };
            // The file first: one that cannot be read at all touches no database.
            let file = import::read_file(kind, &args.file, args.encoding)?;
            let pool = startup::open_database(&config)?;
            let report = import::import_file(&pool, file, args.full_sync, config.default_timezone)?;
            say!("{report}");
            Ok(if report.outcome.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn import_appointments(config: Config, args: AppointmentImportArgs) -> Result<ExitCode, String> {
    let settings = appointments_import::ImportSettings {
        encoding: args.encoding,
        ..appointments_import::settings_of(&config)
    };
    // The file first: one that cannot be read at all touches no database.
    let file = appointments_import::read_file(&args.file, settings.default_country, args.encoding)
        .map_err(|e| e.to_string())?;
    let pool = startup::open_database(&config)?;
    // indicatif draws only when standard error is a terminal: piped, the import stays quiet.
    let progress = indicatif::ProgressBar::new_spinner().with_message(format!(
        "{} {} lines in one transaction",
        if args.dry_run { "checking" } else { "storing" },
        file.lines
    ));
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let report =
        app::imports::import_read(&pool, file, &settings, chrono::Utc::now(), args.dry_run);
    progress.finish_and_clear();
    let report = report.map_err(|e| e.to_string())?;
    say!("{report}");
    Ok(match report.outcome {
        app::imports::ImportOutcome::Refused(_) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

fn catalog(config: Config, center: Option<String>) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    let (offerings, acceptances) =
        app::master::catalog(&mut conn, center).map_err(said("cannot read the catalog"))?;
    say!(
        "{:<10} {:<12} {:<24} {:<10} {:>8} {:>9}",
        "CENTER",
        "RESOURCE",
        "NAME",
        "ACTIVITY",
        "MINUTES",
        "PRICE"
    );
    for o in &offerings {
        let name = format!(
            "{} {}",
            o.resource_first_name,
            o.resource_second_name.as_deref().unwrap_or("")
        );
        say!(
            "{:<10} {:<12} {:<24} {:<10} {:>8} {:>9}",
            o.center_lid,
            o.resource_lid,
            name.trim(),
            o.activity_lid,
            o.duration_minutes,
            o.price_cents
                .map(crate::domain::values::format_price)
                .unwrap_or_else(|| "-".into())
        );
    }
    if offerings.is_empty() {
        say!("nothing is bookable online yet: push key entities and availabilities first");
    }
    for a in &acceptances {
        let at = match &a.resource {
            Some((resource, center)) => format!("{resource} at {center}"),
            None => "every doctor".into(),
        };
        say!("insurance {} ({}): {at}", a.insurance_lid, a.insurance_name);
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(mut config: Config, args: ServeArgs) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    let secret_key = startup::load_secret_key(&config)?;
    let demo_client = if args.demo {
        let demo = demo::load(&pool, &secret_key, args.demo_allow_other_data)
            .map_err(|e| format!("cannot load the demo: {e}"))?;
        if demo.own_database {
            config.messaging = config.messaging.with_log_fallback();
        } else {
            log::warn!(
                "the demo runs on a database with other data: its messages wait for real \
                 providers and are never printed or marked sent by the demo"
            );
        }
        Some(demo.credentials)
    } else {
        None
    };
    log::info!("database: {}", config.database_url);
    startup::report_results_setup(&config, &pool);
    startup::report_patient_links(&config);
    if !args.no_workers {
        startup::report_messaging(&config);
    }
    startup::report_clients(&pool);
    actix_web::rt::System::new().block_on(async move {
        let mut app = startup::Application::build(config.clone(), pool, secret_key)
            .map_err(|e| e.to_string())?;
        if args.no_workers {
            app = app.without_workers();
        }
        let public = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", host_port(&config.bind, app.port())));
        let bound = match config.bind.rsplit_once(':') {
            Some((host, _)) => format!("{host}:{}", app.port()),
            None => config.bind.clone(),
        };
        log::info!("serving on {bound} (WSDL at {public}/soap?wsdl)");
        if let Some(credentials) = demo_client {
            say!("{}", demo::instructions(&public, &credentials));
        }
        let server = app.handle();
        let limit = config.shutdown_timeout;
        actix_web::rt::spawn(async move {
            crate::shutdown::stop_signal().await;
            log::info!("stopping: finishing the requests in hand");
            crate::shutdown::exit_after(limit);
            server.stop(true).await;
        });
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn worker(config: Config, args: WorkerArgs) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    startup::report_patient_links(&config);
    let secret_key = startup::load_secret_key(&config)?;
    log::info!("database: {}", config.database_url);
    let config_shutdown = config.shutdown_timeout;
    actix_web::rt::System::new().block_on(async move {
        let public_url = startup::public_url(&config, None);
        let parts = crate::workers::Parts {
            config: std::sync::Arc::new(config),
            pool,
            secret_key,
            public_url,
            serving: None,
        };
        let which = crate::workers::Which::Worker {
            messaging: !args.no_messaging,
        };
        let background = crate::workers::Workers::spawn(parts, which)?;
        if args.no_messaging {
            log::info!("--no-messaging: this worker sends no messages");
        }
        crate::shutdown::stop_signal().await;
        crate::shutdown::exit_after(config_shutdown);
        log::info!("stopping: finishing the messages in hand");
        background.stop().await;
        Ok::<_, String>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn host_port(bind: &str, port: u16) -> String {
    let host = bind.rsplit_once(':').map(|(h, _)| h).unwrap_or(bind);
    let host = if host == "0.0.0.0" || host.is_empty() {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
}

fn client(config: Config, command: ClientCommand) -> Result<ExitCode, String> {
    let pool = startup::open_database(&config)?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("cannot reach the database: {e}"))?;
    let key = || startup::load_secret_key(&config).map_err(Error::NotConfigured);
    match command {
        ClientCommand::Add {
            name,
            roles,
            centers,
            view,
            edit,
            digest,
            password,
        } => {
            clients::check_name(&name).map_err(said("cannot add the client"))?;
            let scoped = view.is_some() || edit.is_some();
            let (view, edit) = (teams::location_list(&view), teams::location_list(&edit));
            app::teams::check_grants(&mut conn, &view, &edit)
                .map_err(said("cannot add the client"))?;
            let roles: Roles = roles.parse().map_err(|e| format!("--roles: {e}"))?;
            let centers: CenterScope = centers.parse().map_err(|e| format!("--centers: {e}"))?;
            warn_of_unknown_centers(clients::unknown_centers(&mut conn, &centers));
            let password = given_password(password)?;
            let (roles_text, centers_text) = (roles.to_string(), centers.to_string());
            let new = clients::NewClient {
                name: &name,
                roles,
                centers,
                password: &password,
                digest,
            };
            match scoped {
                true => clients::add_with_grants(&mut conn, new, &key, &view, &edit),
                false => clients::add(&mut conn, new, &key),
            }
            .map_err(said("cannot store the client"))?;
            if scoped {
                say!("view {}; edit {}", view.join(","), edit.join(","));
            }
            let limited = if scoped {
                "the locations of its grants and teams".to_string()
            } else if centers_text.is_empty() {
                "every center".to_string()
            } else {
                format!("centers {centers_text}")
            };
            say!(
                "client '{name}' added: roles {roles_text}, {limited}, {}",
                if digest {
                    "PasswordText, PasswordDigest and HTTP Basic"
                } else {
                    "PasswordText and HTTP Basic"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::List => {
            let clients = clients::list(&mut conn).map_err(said("cannot list clients"))?;
            say!(
                "{:<24} {:<34} {:<20} {:<8} {:<9} CREATED",
                "NAME",
                "ROLES",
                "CENTERS",
                "DIGEST",
                "STATE"
            );
            for c in clients {
                say!(
                    "{:<24} {:<34} {:<20} {:<8} {:<9} {}",
                    c.name,
                    c.roles,
                    if c.location_scoped && c.centers.is_empty() {
                        "grants"
                    } else if c.centers.is_empty() {
                        "all"
                    } else {
                        &c.centers
                    },
                    if c.digest_secret.is_some() {
                        "yes"
                    } else {
                        "no"
                    },
                    if c.disabled { "disabled" } else { "enabled" },
                    c.created_at.format("%Y-%m-%d %H:%M")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Enable { name } => {
            // The console's use case, as the system's principal: the same checks and audit row.
            clients::enable_for(&mut conn, &app::Caller::system("cli"), &name)
                .map_err(said("cannot enable the client"))?;
            say!("client '{name}' enabled");
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::ResetPassword { name, password } => {
            // Said before the password is asked for.
            clients::find(&mut conn, &name).map_err(said("cannot read the client"))?;
            let password = given_password(password)?;
            clients::reset_password(&mut conn, &name, &password, &key)
                .map_err(said("cannot store the password"))?;
            say!("client '{name}' has a new password; the old one no longer works");
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Rotate { name, overlap } => {
            let overlap = humantime::parse_duration(&overlap)
                .map_err(|e| format!("--overlap '{overlap}': {e}"))?;
            let rotated = clients::rotate(&mut conn, &name, overlap, &key)
                .map_err(said("cannot store the secret"))?;
            say!("new secret for '{name}' (shown once): {}", rotated.secret);
            say!(
                "the old secret works until {} (HTTP Basic and PasswordText; PasswordDigest takes \
                 the new one at once)",
                rotated.old_works_until.format("%Y-%m-%d %H:%M:%S UTC")
            );
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Token {
            name,
            revoke: false,
        } => {
            let token =
                clients::issue_token(&mut conn, &name).map_err(said("cannot store the token"))?;
            say!("bearer token for '{name}' (shown once): {token}");
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Token { name, revoke: true } => {
            let revoked = clients::revoke_tokens(&mut conn, &name)
                .map_err(said("cannot revoke the tokens"))?;
            say!("{revoked} token(s) of client '{name}' revoked");
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Disable { name } => {
            clients::disable(&mut conn, &name).map_err(said("cannot disable the client"))?;
            say!("client '{name}' disabled");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An operator use case's error as the command says it: what the operator can fix in its own
/// words, anything else after what could not be done.
fn said(what: &'static str) -> impl Fn(Error) -> String {
    move |e| match e {
        Error::Client(message) | Error::NotConfigured(message) => message,
        other => format!("{what}: {}", other.log_detail()),
    }
}

fn results(config: Config, command: ResultsCommand) -> Result<ExitCode, String> {
    if let ResultsCommand::NewKey { key_id } = &command {
        let text = crate::crypto::keyring::generate_key_text(key_id);
        crate::results::Keyring::parse(&text, None)?;
        say!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let pool = startup::open_database(&config)?;
    match command {
        ResultsCommand::Audit { download_lid } => {
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot reach the database: {e}"))?;
            let Some((row, events)) = app::results::audit(&mut conn, download_lid.trim())
                .map_err(said("cannot read the result"))?
            else {
                return Err(format!(
                    "there is no test result with DOWNLOAD_LID '{download_lid}'"
                ));
            };
            let time = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
            let or_dash = |t: Option<chrono::NaiveDateTime>| t.map(time).unwrap_or("-".into());
            say!("test result {}", row.lid);
            say!(
                "  status            {}",
                if row.is_available() {
                    "Valid"
                } else {
                    "Cancelled"
                }
            );
            say!("  type              {}", row.file_type);
            say!(
                "  center            {}",
                row.center_lid.as_deref().unwrap_or("-")
            );
            say!(
                "  user lid          {}",
                row.user_lid.as_deref().unwrap_or("-")
            );
            say!("  sealed with key   {}", row.key_id);
            say!("  available since   {}", time(row.available_at));
            say!("  first downloaded  {}", or_dash(row.first_downloaded_at));
            say!("  cancelled         {}", or_dash(row.cancelled_at));
            say!("  purged            {}", or_dash(row.purged_at));
            say!(
                "  wrong ID numbers  {} in total, {} in the current window",
                row.failures_total,
                row.window_failures
            );
            say!("");
            say!(
                "{:<24} {:<10} {:<16} {:<40} BY",
                "TIME",
                "EVENT",
                "OUTCOME",
                "ADDRESS"
            );
            for e in events {
                say!(
                    "{:<24} {:<10} {:<16} {:<40} {}",
                    time(e.at),
                    e.event,
                    e.outcome,
                    e.address.as_deref().unwrap_or("-"),
                    e.actor.as_deref().unwrap_or("-")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ResultsCommand::Purge => {
            let purged = app::results::retention::purge_expired_results(&pool, &config.results)?;
            say!("purged the content of {purged} test results");
            Ok(ExitCode::SUCCESS)
        }
        ResultsCommand::NewKey { .. } => unreachable!("handled above"),
    }
}

/// A center named in `--centers` that master data does not have yet is kept (it may come with
/// the next push) but said, as it is most often a typo.
fn warn_of_unknown_centers(unknown: Result<Vec<String>, Error>) {
    let unknown = match unknown {
        Ok(unknown) => unknown,
        Err(e) => {
            log::warn!("cannot check the centers of --centers: {}", e.log_detail());
            return;
        }
    };
    for lid in unknown {
        eprintln!(
            "rendez: warning: --centers names '{lid}', which is not a known center (yet): \
             the client can act there only once master data has it"
        );
    }
}

/// The password of `--password`, else read from standard input, checked with an error that
/// names where it came from.
fn given_password(option: Option<String>) -> Result<String, String> {
    let (password, from) = match option {
        Some(p) => (p, "--password"),
        None => (read_password()?, "the password read from standard input"),
    };
    crate::auth::check_new_secret(&password).map_err(|e| format!("{from}: {e}"))?;
    Ok(password)
}

/// From a terminal: asked twice without echo. Otherwise: the first line of standard input.
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("password again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err("no password: give --password or write it on standard input".into());
    }
    Ok(password)
}
