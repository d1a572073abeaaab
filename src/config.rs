//! Configuration: command-line options and `RENDEZ_*` environment variables (one clap argument
//! each, so `--help` documents both), over an optional TOML file, over defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::database::{DatabaseUrl, PoolOptions, StatementDeadlines};

/// Every setting, as given; `None` means "not given here".
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Database: sqlite://PATH (needs no setup) or mysql://USER:PASSWORD@HOST[:PORT]/DB
    /// (MySQL 8 or MariaDB 10.6+, build with --features mysql). [default: sqlite://rendez.db]
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// Address and port the HTTP server listens on. [default: 127.0.0.1:8080]
    #[arg(long, env = "RENDEZ_BIND", global = true, value_name = "ADDR:PORT")]
    pub bind: Option<String>,

    /// The address callers use to reach this server; the WSDL's soap:address is this + /soap.
    /// [default: http:// + the bind address]
    #[arg(long, env = "RENDEZ_PUBLIC_URL", global = true, value_name = "URL")]
    pub public_url: Option<String>,

    /// Largest SOAP request body accepted, e.g. 1MiB or 512KiB. [default: 1MiB]
    #[arg(long, env = "RENDEZ_MAX_BODY", global = true, value_name = "SIZE")]
    pub max_body: Option<String>,

    /// Memory all SOAP request bodies being received may hold together, e.g. 256MiB; a body
    /// that would pass it is refused with a Server fault (503). Callers not yet authenticated
    /// may hold at most half of it. [default: 256MiB]
    #[arg(
        long,
        env = "RENDEZ_MAX_BODIES_IN_FLIGHT",
        global = true,
        value_name = "SIZE"
    )]
    pub max_bodies_in_flight: Option<String>,

    /// IANA time zone given to new centers pushed without LOCATION_TIMEZONE (e.g.
    /// Europe/Madrid). [default: none, LOCATION_TIMEZONE is then required]
    #[arg(
        long,
        env = "RENDEZ_DEFAULT_TIMEZONE",
        global = true,
        value_name = "ZONE"
    )]
    pub default_timezone: Option<String>,

    /// Base64 of 32 random bytes: signs patient links and encrypts digest clients' secrets.
    /// Prefer the environment variable to the command line. [default: read from, or created
    /// in, the key file]
    #[arg(
        long,
        env = "RENDEZ_SECRET_KEY",
        global = true,
        hide_env_values = true,
        value_name = "BASE64"
    )]
    pub secret_key: Option<String>,

    /// The file that holds the secret key when RENDEZ_SECRET_KEY is unset; created on first
    /// start. [default: rendez.key]
    #[arg(
        long,
        env = "RENDEZ_SECRET_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub secret_key_file: Option<PathBuf>,

    /// Most database connections this process keeps open. [default: 10]
    #[arg(long, env = "RENDEZ_DB_POOL_SIZE", global = true, value_name = "N")]
    pub db_pool_size: Option<u32>,

    /// How long a request waits for a database connection before it fails with a Server
    /// fault, e.g. 3s. [default: 3s]
    #[arg(
        long,
        env = "RENDEZ_DB_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub db_timeout: Option<String>,

    /// How long a MySQL/MariaDB statement may run before the server ends it with an error
    /// (a `Server` fault), e.g. 20s; 0 disables. [default: 20s]
    #[arg(
        long,
        env = "RENDEZ_DB_STATEMENT_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub db_statement_timeout: Option<String>,

    /// How long Rendez waits for a MySQL/MariaDB server's answer to one statement (sending it
    /// included) before it closes that connection and fails the call with a `Server` fault;
    /// longer than RENDEZ_DB_STATEMENT_TIMEOUT. 0 disables. [default: 30s]
    #[arg(
        long,
        env = "RENDEZ_DB_READ_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub db_read_timeout: Option<String>,

    /// After SIGTERM or SIGINT, how long `serve` and `worker` may finish the work in hand before
    /// the process exits anyway, whatever the database does. [default: 30s]
    #[arg(
        long,
        env = "RENDEZ_SHUTDOWN_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub shutdown_timeout: Option<String>,

    /// How long a successful password check is remembered (as a keyed hash, never the
    /// password) before Argon2id runs again, e.g. 60s; 0 disables. [default: 60s]
    #[arg(
        long,
        env = "RENDEZ_AUTH_CACHE_TTL",
        global = true,
        value_name = "DURATION"
    )]
    pub auth_cache_ttl: Option<String>,

    /// Failed logins one address may have within RENDEZ_AUTH_FAILURE_WINDOW; past them its
    /// logins are refused at once (429, Retry-After) until the oldest leaves the window, except
    /// for a client name that logged in from that address before. 0 disables. [default: 10]
    #[arg(
        long,
        env = "RENDEZ_AUTH_FAILURE_LIMIT",
        global = true,
        value_name = "N"
    )]
    pub auth_failure_limit: Option<u32>,

    /// The window of RENDEZ_AUTH_FAILURE_LIMIT, e.g. 5m. [default: 5m]
    #[arg(
        long,
        env = "RENDEZ_AUTH_FAILURE_WINDOW",
        global = true,
        value_name = "DURATION"
    )]
    pub auth_failure_window: Option<String>,

    /// How far ahead of now the first bookable slot starts, e.g. 30m, 2h; 0 allows any future
    /// slot. [default: 30m]
    #[arg(
        long,
        env = "RENDEZ_BOOKING_LEAD",
        global = true,
        value_name = "DURATION"
    )]
    pub booking_lead: Option<String>,

    /// How long a hold (FHIR `Appointment/$hold`) keeps its slot before it frees by itself,
    /// e.g. 10m; from 1 second to a day. [default: 10m]
    #[arg(long, env = "RENDEZ_HOLD_TTL", global = true, value_name = "DURATION")]
    pub hold_ttl: Option<String>,

    /// How far ahead published slots (FHIR Slot) reach, e.g. 90days; at least a day and at
    /// most two years. [default: 90days]
    #[arg(
        long,
        env = "RENDEZ_SLOT_WINDOW",
        global = true,
        value_name = "DURATION"
    )]
    pub slot_window: Option<String>,

    /// The booking deep link of a published slot in the SMART Scheduling Links feed
    /// (`GET /fhir/$bulk-publish`), with `{center}` (the center's LID), `{slot}` (the slot's
    /// id), `{schedule}` (its Schedule id) and `{start}` (its start, UTC) replaced, e.g.
    /// https://book.example.org/{center}?slot={slot}. Unset: slots carry no deep link.
    #[arg(
        long,
        env = "RENDEZ_BOOKING_LINK_TEMPLATE",
        global = true,
        value_name = "URL"
    )]
    pub booking_link_template: Option<String>,

    /// Per-center booking deep links, overriding RENDEZ_BOOKING_LINK_TEMPLATE: `LID=TEMPLATE`
    /// pairs separated by spaces (same placeholders), e.g.
    /// "MAIN=https://main.example.org/book?slot={slot} BRANCH=https://b.example.org/{slot}".
    #[arg(
        long,
        env = "RENDEZ_BOOKING_LINKS",
        global = true,
        value_name = "LID=URL ..."
    )]
    pub booking_links: Option<String>,

    /// How far a getAppointments poller's own clock may run ahead of Rendez's: a
    /// LAST_REQUEST_TIMESTAMP that Rendez did not return is read this much (and the 2 s a change
    /// takes to settle) earlier, so that such a poller misses no change. [default: 5s]
    #[arg(
        long,
        env = "RENDEZ_CHANGE_FEED_TOLERANCE",
        global = true,
        value_name = "DURATION"
    )]
    pub change_feed_tolerance: Option<String>,

    /// Country (ISO 3166 alpha-2, e.g. ES) of patients' phone numbers written without an
    /// international prefix. [default: none, numbers need +CC]
    #[arg(long, env = "RENDEZ_DEFAULT_COUNTRY", global = true, value_name = "CC")]
    pub default_country: Option<String>,

    /// HTTP worker threads. [default: the number of CPU cores]
    #[arg(long, env = "RENDEZ_HTTP_WORKERS", global = true, value_name = "N")]
    pub http_workers: Option<usize>,

    /// The key test results are sealed with, KEYID:BASE64 (32 random bytes). Without it the
    /// results operations and page answer that results are not configured. [default: none]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEYID:BASE64"
    )]
    pub results_key: Option<String>,

    /// Keys retired by a rotation, comma-separated KEYID:BASE64, so that older results stay
    /// readable. [default: none]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_OLD_KEYS",
        global = true,
        hide_env_values = true,
        value_name = "KEYS"
    )]
    pub results_old_keys: Option<String>,

    /// Largest test result file accepted, e.g. 20MiB; updateTestResults' body limit follows it.
    /// [default: 20MiB]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_MAX_SIZE",
        global = true,
        value_name = "SIZE"
    )]
    pub results_max_size: Option<String>,

    /// How long a result's content is kept after its first download by the patient.
    /// [default: 30days]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_KEEP_AFTER_DOWNLOAD",
        global = true,
        value_name = "DURATION"
    )]
    pub results_keep_after_download: Option<String>,

    /// How long a result's content is kept after it was made available. [default: 90days]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_KEEP",
        global = true,
        value_name = "DURATION"
    )]
    pub results_keep: Option<String>,

    /// Download codes with a lower entropy estimate are stored with a warning. [default: 40]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_MIN_CODE_BITS",
        global = true,
        value_name = "BITS"
    )]
    pub results_min_code_bits: Option<u32>,

    /// Failed download attempts allowed per client address in 15 minutes. [default: 10]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_ADDRESS_LIMIT",
        global = true,
        value_name = "N"
    )]
    pub results_address_limit: Option<u32>,

    /// Failed download attempts from all addresses together in 15 minutes after which each
    /// address may fail once; a right code and ID number still download. [default: 1000]
    #[arg(
        long,
        env = "RENDEZ_RESULTS_GLOBAL_LIMIT",
        global = true,
        value_name = "N"
    )]
    pub results_global_limit: Option<u32>,

    /// A separate address and port for /metrics (e.g. 127.0.0.1:9090, reachable only from the
    /// monitoring network); when set, /metrics is served there alone and not on RENDEZ_BIND.
    /// [default: none, /metrics is on RENDEZ_BIND]
    #[arg(
        long,
        env = "RENDEZ_METRICS_BIND",
        global = true,
        value_name = "ADDR:PORT"
    )]
    pub metrics_bind: Option<String>,

    /// A bearer token that /metrics requires (Authorization: Bearer TOKEN); without it, 401.
    /// Prefer the environment variable to the command line. [default: none, no token needed]
    #[arg(
        long,
        env = "RENDEZ_METRICS_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub metrics_token: Option<String>,

    /// Behind a reverse proxy: take the patient's address from the last X-Forwarded-For entry
    /// (the one the proxy added). Never set it when clients reach Rendez directly.
    /// [default: false]
    #[arg(
        long,
        env = "RENDEZ_TRUST_FORWARDED_FOR",
        global = true,
        value_name = "BOOL"
    )]
    pub trust_forwarded_for: Option<bool>,

    /// Write Rendez's own SMS (confirmations, reminders, answers, results notices) in the GSM-7
    /// alphabet: accents that GSM-7 lacks are dropped (á -> a; ñ, é, ü stay), so a message costs
    /// 160-character segments instead of 70. [default: false]
    #[arg(long, env = "RENDEZ_SMS_GSM7", global = true, value_name = "BOOL")]
    pub sms_gsm7: Option<bool>,

    /// Email: the SMTP server in lettre's URL form, e.g. smtp://user:pass@host:587?tls=required
    /// (STARTTLS), smtps://host:465 (TLS) or smtp://host:25 (plain). [default: none, email is
    /// refused]
    #[arg(
        long,
        env = "RENDEZ_SMTP_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub smtp_url: Option<String>,

    /// Email: the From of every email, e.g. "Clinica <citas@example.org>". Required with
    /// RENDEZ_SMTP_URL.
    #[arg(long, env = "RENDEZ_MAIL_FROM", global = true, value_name = "MAILBOX")]
    pub mail_from: Option<String>,

    /// Email: a PEM file of extra root certificates to trust for the SMTP server (an internal
    /// CA). [default: the system's roots]
    #[arg(long, env = "RENDEZ_SMTP_CA_FILE", global = true, value_name = "PATH")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Email: smtp, or log (writes to the log, sends nothing: for demos). [default: smtp when
    /// RENDEZ_SMTP_URL is set, else none]
    #[arg(
        long,
        env = "RENDEZ_EMAIL_PROVIDER",
        global = true,
        value_name = "smtp|log"
    )]
    pub email_provider: Option<String>,

    /// SMS: twilio, jasmin, or log (writes to the log, sends nothing: for demos). [default:
    /// none, SMS is refused]
    #[arg(
        long,
        env = "RENDEZ_SMS_PROVIDER",
        global = true,
        value_name = "twilio|jasmin|log"
    )]
    pub sms_provider: Option<String>,

    /// Twilio: the account SID.
    #[arg(
        long,
        env = "RENDEZ_TWILIO_ACCOUNT_SID",
        global = true,
        value_name = "SID"
    )]
    pub twilio_account_sid: Option<String>,

    /// Twilio: the auth token (also checks the signature of its callbacks).
    #[arg(
        long,
        env = "RENDEZ_TWILIO_AUTH_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub twilio_auth_token: Option<String>,

    /// Twilio: the sending number (E.164) or messaging service SID (MG...).
    #[arg(long, env = "RENDEZ_TWILIO_FROM", global = true, value_name = "NUMBER")]
    pub twilio_from: Option<String>,

    /// Twilio: the API's address. [default: https://api.twilio.com]
    #[arg(
        long,
        env = "RENDEZ_TWILIO_BASE_URL",
        global = true,
        value_name = "URL"
    )]
    pub twilio_base_url: Option<String>,

    /// Jasmin: the HTTP API's address, e.g. http://jasmin:1401.
    #[arg(long, env = "RENDEZ_JASMIN_URL", global = true, value_name = "URL")]
    pub jasmin_url: Option<String>,

    /// Jasmin: the HTTP API user.
    #[arg(long, env = "RENDEZ_JASMIN_USER", global = true, value_name = "USER")]
    pub jasmin_user: Option<String>,

    /// Jasmin: the HTTP API password.
    #[arg(
        long,
        env = "RENDEZ_JASMIN_PASSWORD",
        global = true,
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub jasmin_password: Option<String>,

    /// Most SMS sent per second by all workers on this database together (a token bucket).
    /// [default: no limit]
    #[arg(
        long,
        env = "RENDEZ_SMS_RATE",
        global = true,
        value_name = "PER_SECOND"
    )]
    pub sms_rate: Option<String>,

    /// Most emails sent per second by all workers on this database together. [default: no
    /// limit]
    #[arg(
        long,
        env = "RENDEZ_EMAIL_RATE",
        global = true,
        value_name = "PER_SECOND"
    )]
    pub email_rate: Option<String>,

    /// Sending attempts before a message ends FAILED. [default: 8]
    #[arg(long, env = "RENDEZ_MAX_ATTEMPTS", global = true, value_name = "N")]
    pub max_attempts: Option<u32>,

    /// Wait before the first retry, doubling with each further one (plus jitter). [default:
    /// 30s]
    #[arg(
        long,
        env = "RENDEZ_RETRY_BASE",
        global = true,
        value_name = "DURATION"
    )]
    pub retry_base: Option<String>,

    /// How long a worker holds a claimed message; a crashed worker's messages return to the
    /// queue after it. [default: 60s]
    #[arg(long, env = "RENDEZ_LEASE", global = true, value_name = "DURATION")]
    pub lease: Option<String>,

    /// How often an idle worker looks for due messages. [default: 1s]
    #[arg(
        long,
        env = "RENDEZ_WORKER_POLL",
        global = true,
        value_name = "DURATION"
    )]
    pub worker_poll: Option<String>,

    /// Sends in flight at once per channel and process. [default: 64]
    #[arg(
        long,
        env = "RENDEZ_WORKER_CONCURRENCY",
        global = true,
        value_name = "N"
    )]
    pub worker_concurrency: Option<usize>,

    /// Reminder offsets before each appointment, comma-separated, e.g. 72h,24h or 24h,90m; a
    /// whole number of days lands at the same clock time on the center's calendar. Empty: no
    /// reminders. Per center in the file: [centers.LID] reminders = "24h". [default: 72h,24h]
    #[arg(long, env = "RENDEZ_REMINDERS", global = true, value_name = "OFFSETS")]
    pub reminders: Option<String>,

    /// Daily window on each center's clock when no reminder is sent (it waits for the window's
    /// end, unless that is not before the appointment); empty disables. Per center in the
    /// file: [centers.LID] quiet_hours = "22:00-09:00". [default: 21:00-08:00]
    #[arg(
        long,
        env = "RENDEZ_QUIET_HOURS",
        global = true,
        value_name = "HH:MM-HH:MM"
    )]
    pub quiet_hours: Option<String>,

    /// How often the reminder scheduler looks for due work, e.g. 15s. [default: 15s]
    #[arg(
        long,
        env = "RENDEZ_SCHEDULER_INTERVAL",
        global = true,
        value_name = "DURATION"
    )]
    pub scheduler_interval: Option<String>,

    /// A directory of message templates (KIND.LANGUAGE.txt, e.g. reminder.es.txt) that
    /// override or add to the shipped ones. [default: the shipped templates only]
    #[arg(long, env = "RENDEZ_TEMPLATES_DIR", global = true, value_name = "DIR")]
    pub templates_dir: Option<PathBuf>,

    /// The language patients are written in when neither theirs nor their center's has
    /// templates. [default: en]
    #[arg(
        long,
        env = "RENDEZ_FALLBACK_LANGUAGE",
        global = true,
        value_name = "CODE"
    )]
    pub fallback_language: Option<String>,

    /// The clinic system's CancelAppointment web service (SOAP), called through the
    /// outbox when a patient cancels by SMS or on their appointment page. [default: none]
    #[arg(
        long,
        env = "RENDEZ_CLINIC_CANCEL_URL",
        global = true,
        value_name = "URL"
    )]
    pub clinic_cancel_url: Option<String>,

    /// A secret that Jasmin's MO requests to /hooks/jasmin/mo must carry as the `secret` query
    /// parameter (Jasmin signs nothing); without it, SMS replies through Jasmin are refused.
    /// [default: none]
    #[arg(
        long,
        env = "RENDEZ_JASMIN_MO_SECRET",
        global = true,
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub jasmin_mo_secret: Option<String>,

    /// A folder the clinic system drops its exported appointments into; serve
    /// and worker import each file once it has been untouched for 10 s, then move it to
    /// processed/ or failed/ with its report. [default: none]
    #[arg(long, env = "RENDEZ_IMPORT_DIR", global = true, value_name = "DIR")]
    pub import_dir: Option<PathBuf>,
    /// The directory the cancellations file (patients' answers and cancellations) is written to on a schedule, by the
    /// processes that run the workers. [default: none, no file is written]
    #[arg(long, env = "RENDEZ_EXPORT_DIR", global = true, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,

    /// How often a cancellations file is written when something changed, e.g. 15m (all
    /// processes on one database together). [default: 15m]
    #[arg(
        long,
        env = "RENDEZ_EXPORT_INTERVAL",
        global = true,
        value_name = "DURATION"
    )]
    pub export_interval: Option<String>,

    /// Deputy install whose rosters are synchronised both ways, e.g.
    /// https://clinic.eu.deputy.com (with RENDEZ_DEPUTY_TOKEN). [default: none, no sync]
    #[arg(long, env = "RENDEZ_DEPUTY_URL", global = true, value_name = "URL")]
    pub deputy_url: Option<String>,

    /// Deputy's permanent token (sent as `Authorization: OAuth <token>`, never logged).
    #[arg(
        long,
        env = "RENDEZ_DEPUTY_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub deputy_token: Option<String>,

    /// How often Deputy is polled for changed rosters, e.g. 5m. [default: 5m]
    #[arg(
        long,
        env = "RENDEZ_DEPUTY_POLL_INTERVAL",
        global = true,
        value_name = "DURATION"
    )]
    pub deputy_poll_interval: Option<String>,

    /// How many days ahead each poll reads. [default: 28]
    #[arg(
        long,
        env = "RENDEZ_DEPUTY_POLL_DAYS",
        global = true,
        value_name = "DAYS"
    )]
    pub deputy_poll_days: Option<u32>,

    /// Take Deputy's unpublished rosters too. [default: false, published only]
    #[arg(
        long,
        env = "RENDEZ_DEPUTY_INCLUDE_UNPUBLISHED",
        global = true,
        value_name = "BOOL"
    )]
    pub deputy_include_unpublished: Option<bool>,

    /// The secret Deputy's webhooks sign their bodies with (X-Deputy-Secret); when set, a
    /// webhook without a valid one is refused with 403. [default: none]
    #[arg(
        long,
        env = "RENDEZ_DEPUTY_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub deputy_webhook_secret: Option<String>,

    /// How often a poll reads the whole window, removing what Deputy no longer has. [default: 1h]
    #[arg(
        long,
        env = "RENDEZ_DEPUTY_FULL_SYNC_INTERVAL",
        global = true,
        value_name = "DURATION"
    )]
    pub deputy_full_sync_interval: Option<String>,

    /// How long one request to Deputy may take. [default: 30s]
    #[arg(
        long,
        env = "RENDEZ_DEPUTY_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub deputy_timeout: Option<String>,
    /// The operator console's cookie carries `Secure` (sent over HTTPS only). Set false only to
    /// try the console over plain HTTP on one's own machine. [default: true]
    #[arg(
        long,
        env = "RENDEZ_CONSOLE_SECURE_COOKIE",
        global = true,
        value_name = "BOOL"
    )]
    pub console_secure_cookie: Option<bool>,

    /// A console session ends after this long without a request, e.g. 30m. [default: 30m]
    #[arg(
        long,
        env = "RENDEZ_CONSOLE_IDLE_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub console_idle_timeout: Option<String>,

    /// A console session ends this long after sign-in, however busy, e.g. 12h. [default: 12h]
    #[arg(
        long,
        env = "RENDEZ_CONSOLE_SESSION_LIFETIME",
        global = true,
        value_name = "DURATION"
    )]
    pub console_session_lifetime: Option<String>,

    /// Failed console sign-ins of one account, or from one address, within
    /// RENDEZ_CONSOLE_LOCKOUT that lock it out for RENDEZ_CONSOLE_LOCKOUT. [default: 5]
    #[arg(
        long,
        env = "RENDEZ_CONSOLE_LOGIN_FAILURES",
        global = true,
        value_name = "N"
    )]
    pub console_login_failures: Option<u32>,

    /// How long a console lockout lasts (and the window its failures are counted in), e.g.
    /// 15m. [default: 15m]
    #[arg(
        long,
        env = "RENDEZ_CONSOLE_LOCKOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub console_lockout: Option<String>,

    /// Per-center reminders, quiet hours and language, by center LID (file only).
    #[arg(skip)]
    pub centers: Option<std::collections::BTreeMap<String, crate::memo::CenterSettings>>,

    /// Reply keywords by language, replacing the defaults' lists (file only).
    #[arg(skip)]
    pub reply_keywords:
        Option<std::collections::BTreeMap<String, crate::domain::memo::keywords::KeywordLists>>,
}

/// The settings resolved into what the program runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub bind: String,
    /// `None`: derived from the bound address once it is known.
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    /// `RENDEZ_MAX_BODIES_IN_FLIGHT`, in bytes.
    pub max_bodies_in_flight: usize,
    pub default_timezone: Option<Tz>,
    pub secret_key: Option<String>,
    pub secret_key_file: PathBuf,
    pub pool: PoolOptions,
    /// MySQL/MariaDB: how long one statement may take (`RENDEZ_DB_STATEMENT_TIMEOUT`,
    /// `RENDEZ_DB_READ_TIMEOUT`).
    pub db_deadlines: StatementDeadlines,
    /// `RENDEZ_SHUTDOWN_TIMEOUT`.
    pub shutdown_timeout: Duration,
    pub auth_cache_ttl: Duration,
    pub auth_failure_limit: crate::auth::FailureLimit,
    pub booking_lead: Duration,
    /// How long a hold keeps its slot (`RENDEZ_HOLD_TTL`).
    pub hold_ttl: Duration,
    /// How far ahead published slots reach (`RENDEZ_SLOT_WINDOW`).
    pub slot_window: chrono::Duration,
    /// Booking deep links of published slots (`RENDEZ_BOOKING_LINK_TEMPLATE`,
    /// `RENDEZ_BOOKING_LINKS`).
    pub booking_links: BookingLinks,
    pub change_feed_tolerance: Duration,
    pub default_country: Option<String>,
    pub http_workers: usize,
    /// Where /metrics is served on its own (`RENDEZ_METRICS_BIND`); `None`: on `bind`.
    pub metrics_bind: Option<String>,
    /// The bearer token /metrics requires (`RENDEZ_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    pub results: crate::results::ResultsConfig,
    pub trust_forwarded_for: bool,
    pub messaging: crate::messaging::MessagingConfig,
    pub memo: crate::memo::MemoConfig,
    /// The watched folder of exported appointments (`RENDEZ_IMPORT_DIR`).
    pub import_dir: Option<PathBuf>,
    pub exports: crate::exports::ExportConfig,
    /// The Deputy roster sync (`RENDEZ_DEPUTY_*`); `None` when no install is configured.
    pub deputy: Option<crate::integrations::deputy::config::DeputyConfig>,
    pub console: ConsoleConfig,
}

/// The operator console's sessions and sign-in throttling.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub secure_cookie: bool,
    pub idle_timeout: Duration,
    pub session_lifetime: Duration,
    /// 0: no lockout.
    pub login_failures: u32,
    pub lockout: Duration,
}

impl Settings {
    /// Reads a TOML file with the same keys as the long options (`database_url`, `bind`, ...).
    pub fn from_file(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            format!(
                "the configuration file {} is not valid: {e}",
                path.display()
            )
        })
    }

    /// Fills what this layer left open from `lower`.
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            database_url: self.database_url.or(lower.database_url),
            bind: self.bind.or(lower.bind),
            public_url: self.public_url.or(lower.public_url),
            max_body: self.max_body.or(lower.max_body),
            max_bodies_in_flight: self.max_bodies_in_flight.or(lower.max_bodies_in_flight),
            default_timezone: self.default_timezone.or(lower.default_timezone),
            secret_key: self.secret_key.or(lower.secret_key),
            secret_key_file: self.secret_key_file.or(lower.secret_key_file),
            db_pool_size: self.db_pool_size.or(lower.db_pool_size),
            db_timeout: self.db_timeout.or(lower.db_timeout),
            db_statement_timeout: self.db_statement_timeout.or(lower.db_statement_timeout),
            db_read_timeout: self.db_read_timeout.or(lower.db_read_timeout),
            shutdown_timeout: self.shutdown_timeout.or(lower.shutdown_timeout),
            auth_cache_ttl: self.auth_cache_ttl.or(lower.auth_cache_ttl),
            auth_failure_limit: self.auth_failure_limit.or(lower.auth_failure_limit),
            auth_failure_window: self.auth_failure_window.or(lower.auth_failure_window),
            booking_lead: self.booking_lead.or(lower.booking_lead),
            hold_ttl: self.hold_ttl.or(lower.hold_ttl),
            slot_window: self.slot_window.or(lower.slot_window),
            booking_link_template: self.booking_link_template.or(lower.booking_link_template),
            booking_links: self.booking_links.or(lower.booking_links),
            change_feed_tolerance: self.change_feed_tolerance.or(lower.change_feed_tolerance),
            default_country: self.default_country.or(lower.default_country),
            http_workers: self.http_workers.or(lower.http_workers),
            metrics_bind: self.metrics_bind.or(lower.metrics_bind),
            metrics_token: self.metrics_token.or(lower.metrics_token),
            results_key: self.results_key.or(lower.results_key),
            results_old_keys: self.results_old_keys.or(lower.results_old_keys),
            results_max_size: self.results_max_size.or(lower.results_max_size),
            results_keep_after_download: self
                .results_keep_after_download
                .or(lower.results_keep_after_download),
            results_keep: self.results_keep.or(lower.results_keep),
            results_min_code_bits: self.results_min_code_bits.or(lower.results_min_code_bits),
            results_address_limit: self.results_address_limit.or(lower.results_address_limit),
            results_global_limit: self.results_global_limit.or(lower.results_global_limit),
            trust_forwarded_for: self.trust_forwarded_for.or(lower.trust_forwarded_for),
            sms_gsm7: self.sms_gsm7.or(lower.sms_gsm7),
            smtp_url: self.smtp_url.or(lower.smtp_url),
            mail_from: self.mail_from.or(lower.mail_from),
            smtp_ca_file: self.smtp_ca_file.or(lower.smtp_ca_file),
            email_provider: self.email_provider.or(lower.email_provider),
            sms_provider: self.sms_provider.or(lower.sms_provider),
            twilio_account_sid: self.twilio_account_sid.or(lower.twilio_account_sid),
            twilio_auth_token: self.twilio_auth_token.or(lower.twilio_auth_token),
            twilio_from: self.twilio_from.or(lower.twilio_from),
            twilio_base_url: self.twilio_base_url.or(lower.twilio_base_url),
            jasmin_url: self.jasmin_url.or(lower.jasmin_url),
            jasmin_user: self.jasmin_user.or(lower.jasmin_user),
            jasmin_password: self.jasmin_password.or(lower.jasmin_password),
            sms_rate: self.sms_rate.or(lower.sms_rate),
            email_rate: self.email_rate.or(lower.email_rate),
            max_attempts: self.max_attempts.or(lower.max_attempts),
            retry_base: self.retry_base.or(lower.retry_base),
            lease: self.lease.or(lower.lease),
            worker_poll: self.worker_poll.or(lower.worker_poll),
            worker_concurrency: self.worker_concurrency.or(lower.worker_concurrency),
            reminders: self.reminders.or(lower.reminders),
            quiet_hours: self.quiet_hours.or(lower.quiet_hours),
            scheduler_interval: self.scheduler_interval.or(lower.scheduler_interval),
            templates_dir: self.templates_dir.or(lower.templates_dir),
            fallback_language: self.fallback_language.or(lower.fallback_language),
            clinic_cancel_url: self.clinic_cancel_url.or(lower.clinic_cancel_url),
            jasmin_mo_secret: self.jasmin_mo_secret.or(lower.jasmin_mo_secret),
            import_dir: self.import_dir.or(lower.import_dir),
            export_dir: self.export_dir.or(lower.export_dir),
            export_interval: self.export_interval.or(lower.export_interval),
            console_secure_cookie: self.console_secure_cookie.or(lower.console_secure_cookie),
            console_idle_timeout: self.console_idle_timeout.or(lower.console_idle_timeout),
            console_session_lifetime: self
                .console_session_lifetime
                .or(lower.console_session_lifetime),
            console_login_failures: self.console_login_failures.or(lower.console_login_failures),
            console_lockout: self.console_lockout.or(lower.console_lockout),
            centers: self.centers.or(lower.centers),
            reply_keywords: self.reply_keywords.or(lower.reply_keywords),
            deputy_url: self.deputy_url.or(lower.deputy_url),
            deputy_token: self.deputy_token.or(lower.deputy_token),
            deputy_poll_interval: self.deputy_poll_interval.or(lower.deputy_poll_interval),
            deputy_poll_days: self.deputy_poll_days.or(lower.deputy_poll_days),
            deputy_include_unpublished: self
                .deputy_include_unpublished
                .or(lower.deputy_include_unpublished),
            deputy_webhook_secret: self.deputy_webhook_secret.or(lower.deputy_webhook_secret),
            deputy_full_sync_interval: self
                .deputy_full_sync_interval
                .or(lower.deputy_full_sync_interval),
            deputy_timeout: self.deputy_timeout.or(lower.deputy_timeout),
        }
    }

    pub fn resolve(self) -> Result<Config, String> {
        let results = self.resolve_results()?;
        let messaging = resolve_messaging(&self)?;
        let deputy = self.resolve_deputy()?;
        let database_url = self
            .database_url
            .as_deref()
            .unwrap_or(crate::database::DEFAULT_DATABASE_URL)
            .parse()?;
        let max_body_bytes = match &self.max_body {
            None => 1024 * 1024,
            Some(raw) => raw
                .parse::<bytesize::ByteSize>()
                .map_err(|e| format!("RENDEZ_MAX_BODY '{raw}' is not a size such as 1MiB: {e}"))?
                .as_u64() as usize,
        };
        if max_body_bytes < 1024 {
            return Err("RENDEZ_MAX_BODY must be at least 1KiB".into());
        }
        let max_bodies_in_flight = match &self.max_bodies_in_flight {
            None => 256 * 1024 * 1024,
            Some(raw) => raw
                .parse::<bytesize::ByteSize>()
                .map_err(|e| {
                    format!("RENDEZ_MAX_BODIES_IN_FLIGHT '{raw}' is not a size such as 256MiB: {e}")
                })?
                .as_u64() as usize,
        };
        if max_bodies_in_flight < 2 * max_body_bytes {
            return Err(
                "RENDEZ_MAX_BODIES_IN_FLIGHT must be at least twice RENDEZ_MAX_BODY".into(),
            );
        }
        let default_timezone = self
            .default_timezone
            .as_deref()
            .map(|raw| {
                raw.parse::<Tz>().map_err(|_| {
                    format!("RENDEZ_DEFAULT_TIMEZONE '{raw}' is not an IANA time zone such as Europe/Madrid")
                })
            })
            .transpose()?;
        let public_url = self
            .public_url
            .map(|u| u.trim_end_matches('/').to_string())
            .map(|u| {
                url::Url::parse(&u)
                    .map(|_| u.clone())
                    .map_err(|e| format!("RENDEZ_PUBLIC_URL '{u}' is not a URL: {e}"))
            })
            .transpose()?;
        let pool_size = self.db_pool_size.unwrap_or(10);
        if pool_size == 0 {
            return Err("RENDEZ_DB_POOL_SIZE must be at least 1".into());
        }
        let memo = crate::memo::MemoConfig::resolve(crate::memo::MemoSettings {
            reminders: self.reminders.as_deref(),
            quiet_hours: self.quiet_hours.as_deref(),
            scheduler_interval: duration(
                "RENDEZ_SCHEDULER_INTERVAL",
                self.scheduler_interval.as_deref(),
                "15s",
            )?,
            templates_dir: self.templates_dir.as_deref(),
            fallback_language: self.fallback_language.as_deref(),
            clinic_cancel_url: self.clinic_cancel_url.as_deref(),
            jasmin_mo_secret: self.jasmin_mo_secret.as_deref(),
            centers: self.centers.as_ref(),
            reply_keywords: self.reply_keywords.as_ref(),
            sms_gsm7: self.sms_gsm7.unwrap_or(false),
            deliverable: crate::domain::memo::Deliverable::configured(
                messaging.sms.is_some(),
                messaging.email.is_some(),
            ),
        })?;
        Ok(Config {
            database_url,
            bind: self.bind.unwrap_or_else(|| "127.0.0.1:8080".into()),
            public_url,
            max_body_bytes,
            max_bodies_in_flight,
            default_timezone,
            secret_key: self.secret_key,
            secret_key_file: self
                .secret_key_file
                .unwrap_or_else(|| PathBuf::from("rendez.key")),
            pool: PoolOptions {
                max_size: pool_size,
                connection_timeout: duration(
                    "RENDEZ_DB_TIMEOUT",
                    self.db_timeout.as_deref(),
                    "3s",
                )?,
            },
            db_deadlines: deadlines(
                self.db_statement_timeout.as_deref(),
                self.db_read_timeout.as_deref(),
            )?,
            shutdown_timeout: duration(
                "RENDEZ_SHUTDOWN_TIMEOUT",
                self.shutdown_timeout.as_deref(),
                "30s",
            )?,
            auth_cache_ttl: duration(
                "RENDEZ_AUTH_CACHE_TTL",
                self.auth_cache_ttl.as_deref(),
                "60s",
            )?,
            auth_failure_limit: crate::auth::FailureLimit {
                failures: self.auth_failure_limit.unwrap_or(10),
                window: {
                    let window = duration(
                        "RENDEZ_AUTH_FAILURE_WINDOW",
                        self.auth_failure_window.as_deref(),
                        "5m",
                    )?;
                    if window.is_zero() {
                        return Err("RENDEZ_AUTH_FAILURE_WINDOW must be longer than 0".into());
                    }
                    window
                },
            },
            booking_lead: duration("RENDEZ_BOOKING_LEAD", self.booking_lead.as_deref(), "30m")?,
            hold_ttl: {
                let ttl = duration("RENDEZ_HOLD_TTL", self.hold_ttl.as_deref(), "10m")?;
                if !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&ttl) {
                    return Err("RENDEZ_HOLD_TTL must be from 1 second to a day".into());
                }
                ttl
            },
            slot_window: slot_window(self.slot_window.as_deref())?,
            booking_links: BookingLinks::parse(
                self.booking_link_template.as_deref(),
                self.booking_links.as_deref(),
            )?,
            change_feed_tolerance: duration(
                "RENDEZ_CHANGE_FEED_TOLERANCE",
                self.change_feed_tolerance.as_deref(),
                "5s",
            )?,
            default_country: self
                .default_country
                .map(|raw| {
                    let code = raw.trim().to_ascii_uppercase();
                    code.parse::<phonenumber::country::Id>().map(|_| code).map_err(|_| {
                        format!("RENDEZ_DEFAULT_COUNTRY '{raw}' is not a country code such as ES or AU")
                    })
                })
                .transpose()?,
            http_workers: self
                .http_workers
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(2)
                })
                .max(1),
            metrics_bind: self.metrics_bind.filter(|b| !b.trim().is_empty()),
            metrics_token: self
                .metrics_token
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
            results,
            trust_forwarded_for: self.trust_forwarded_for.unwrap_or(false),
            messaging,
            memo,
            import_dir: self.import_dir,
            exports: crate::exports::ExportConfig::resolve(
                self.export_dir.as_deref(),
                duration(
                    "RENDEZ_EXPORT_INTERVAL",
                    self.export_interval.as_deref(),
                    crate::exports::DEFAULT_INTERVAL,
                )?,
            )?,
            deputy,
            console: ConsoleConfig {
                secure_cookie: self.console_secure_cookie.unwrap_or(true),
                idle_timeout: positive(duration(
                    "RENDEZ_CONSOLE_IDLE_TIMEOUT",
                    self.console_idle_timeout.as_deref(),
                    "30m",
                )?)
                .ok_or("RENDEZ_CONSOLE_IDLE_TIMEOUT must be longer than 0")?,
                session_lifetime: positive(duration(
                    "RENDEZ_CONSOLE_SESSION_LIFETIME",
                    self.console_session_lifetime.as_deref(),
                    "12h",
                )?)
                .ok_or("RENDEZ_CONSOLE_SESSION_LIFETIME must be longer than 0")?,
                login_failures: self.console_login_failures.unwrap_or(5),
                lockout: positive(duration(
                    "RENDEZ_CONSOLE_LOCKOUT",
                    self.console_lockout.as_deref(),
                    "15m",
                )?)
                .ok_or("RENDEZ_CONSOLE_LOCKOUT must be longer than 0")?,
            },
        })
    }

    fn resolve_deputy(
        &self,
    ) -> Result<Option<crate::integrations::deputy::config::DeputyConfig>, String> {
        let url = self
            .deputy_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let token = self
            .deputy_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let (url, token) = match (url, token) {
            (None, None) => return Ok(None),
            (Some(url), Some(token)) => (url, token),
            (Some(_), None) => {
                return Err("RENDEZ_DEPUTY_URL is set without RENDEZ_DEPUTY_TOKEN".into());
            }
            (None, Some(_)) => {
                return Err("RENDEZ_DEPUTY_TOKEN is set without RENDEZ_DEPUTY_URL".into());
            }
        };
        let parsed = url::Url::parse(url)
            .map_err(|e| format!("RENDEZ_DEPUTY_URL '{url}' is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "RENDEZ_DEPUTY_URL '{url}' must be an http(s) address"
            ));
        }
        let mut config = crate::integrations::deputy::config::DeputyConfig::new(url, token);
        config.poll_interval = duration(
            "RENDEZ_DEPUTY_POLL_INTERVAL",
            self.deputy_poll_interval.as_deref(),
            "5m",
        )?;
        config.full_sync_interval = duration(
            "RENDEZ_DEPUTY_FULL_SYNC_INTERVAL",
            self.deputy_full_sync_interval.as_deref(),
            "1h",
        )?;
        config.timeout = duration(
            "RENDEZ_DEPUTY_TIMEOUT",
            self.deputy_timeout.as_deref(),
            "30s",
        )?;
        config.poll_days = self.deputy_poll_days.unwrap_or(28);
        if !(1..=366).contains(&config.poll_days) {
            return Err("RENDEZ_DEPUTY_POLL_DAYS must be between 1 and 366".into());
        }
        if config.poll_interval.is_zero() || config.timeout.is_zero() {
            return Err(
                "RENDEZ_DEPUTY_POLL_INTERVAL and RENDEZ_DEPUTY_TIMEOUT must be above zero".into(),
            );
        }
        config.include_unpublished = self.deputy_include_unpublished.unwrap_or(false);
        config.webhook_secret = self
            .deputy_webhook_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(crate::integrations::deputy::config::DeputyToken::new);
        Ok(Some(config))
    }

    fn resolve_results(&self) -> Result<crate::results::ResultsConfig, String> {
        use crate::domain::results::Retention;
        let keyring = self
            .results_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
            .map(|key| crate::results::Keyring::parse(key, self.results_old_keys.as_deref()))
            .transpose()?
            .map(std::sync::Arc::new);
        if keyring.is_none()
            && self
                .results_old_keys
                .as_deref()
                .is_some_and(|k| !k.trim().is_empty())
        {
            return Err(
                "RENDEZ_RESULTS_OLD_KEYS is set without RENDEZ_RESULTS_KEY: give the current key too"
                    .into(),
            );
        }
        let max_size = match &self.results_max_size {
            None => 20 * 1024 * 1024,
            Some(raw) => raw
                .parse::<bytesize::ByteSize>()
                .map_err(|e| {
                    format!("RENDEZ_RESULTS_MAX_SIZE '{raw}' is not a size such as 20MiB: {e}")
                })?
                .as_u64() as usize,
        };
        if !(1024..=1024 * 1024 * 1024).contains(&max_size) {
            return Err("RENDEZ_RESULTS_MAX_SIZE must be between 1KiB and 1GiB".into());
        }
        let days = |name: &str, raw: Option<&str>, default: &str| {
            let d = duration(name, raw, default)?;
            if d.is_zero() {
                return Err(format!("{name} must be longer than 0"));
            }
            chrono::Duration::from_std(d).map_err(|_| format!("{name} is too long"))
        };
        let limit = |name: &str, value: Option<u32>, default: u32| match value.unwrap_or(default) {
            0 => Err(format!("{name} must be at least 1")),
            n => Ok(n),
        };
        Ok(crate::results::ResultsConfig {
            keyring,
            max_size,
            retention: Retention {
                after_download: days(
                    "RENDEZ_RESULTS_KEEP_AFTER_DOWNLOAD",
                    self.results_keep_after_download.as_deref(),
                    "30days",
                )?,
                after_available: days(
                    "RENDEZ_RESULTS_KEEP",
                    self.results_keep.as_deref(),
                    "90days",
                )?,
            },
            min_code_bits: self.results_min_code_bits.unwrap_or(40),
            address_limit: limit(
                "RENDEZ_RESULTS_ADDRESS_LIMIT",
                self.results_address_limit,
                10,
            )?,
            global_limit: limit(
                "RENDEZ_RESULTS_GLOBAL_LIMIT",
                self.results_global_limit,
                1000,
            )?,
        })
    }
}

/// The booking deep links of published slots: a template for every center, and templates of
/// some centers (by LID) that take its place there. Placeholders: `{center}`, `{slot}`,
/// `{schedule}`, `{start}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookingLinks {
    pub default: Option<String>,
    pub per_center: std::collections::BTreeMap<String, String>,
}

impl BookingLinks {
    pub fn parse(default: Option<&str>, per_center: Option<&str>) -> Result<BookingLinks, String> {
        let check = |name: &str, template: &str| -> Result<String, String> {
            let template = template.trim();
            if !(template.starts_with("https://") || template.starts_with("http://"))
                || template.chars().any(char::is_whitespace)
            {
                return Err(format!(
                    "{name}: '{template}' is not an http(s) URL template such as https://book.example.org/{{center}}?slot={{slot}}"
                ));
            }
            Ok(template.to_string())
        };
        let default = default
            .filter(|t| !t.trim().is_empty())
            .map(|t| check("RENDEZ_BOOKING_LINK_TEMPLATE", t))
            .transpose()?;
        let mut map = std::collections::BTreeMap::new();
        for pair in per_center.unwrap_or_default().split_whitespace() {
            let Some((lid, template)) = pair.split_once('=') else {
                return Err(format!("RENDEZ_BOOKING_LINKS: '{pair}' is not LID=URL"));
            };
            if lid.is_empty() {
                return Err(format!(
                    "RENDEZ_BOOKING_LINKS: '{pair}' names no center LID"
                ));
            }
            map.insert(lid.to_string(), check("RENDEZ_BOOKING_LINKS", template)?);
        }
        Ok(BookingLinks {
            default,
            per_center: map,
        })
    }

    /// The template of this center (by LID), if any.
    pub fn template(&self, center_lid: &str) -> Option<&str> {
        self.per_center
            .get(center_lid)
            .or(self.default.as_ref())
            .map(String::as_str)
    }
}

/// `RENDEZ_SLOT_WINDOW`: a day to two years.
fn slot_window(raw: Option<&str>) -> Result<chrono::Duration, String> {
    let window = duration("RENDEZ_SLOT_WINDOW", raw, "90days")?;
    let day = Duration::from_secs(24 * 60 * 60);
    if window < day || window > 731 * day {
        return Err(format!(
            "RENDEZ_SLOT_WINDOW '{}' must be between 1day and 731days",
            raw.unwrap_or_default().trim()
        ));
    }
    chrono::Duration::from_std(window).map_err(|e| format!("RENDEZ_SLOT_WINDOW: {e}"))
}

pub(crate) fn duration(name: &str, raw: Option<&str>, default: &str) -> Result<Duration, String> {
    let raw = raw.unwrap_or(default).trim();
    if raw == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(raw)
        .map_err(|e| format!("{name} '{raw}' is not a duration such as 30s or 5m: {e}"))
}

/// The statement deadlines; the client's wait must outlast the server's own limit, or a slow
/// statement would cost a connection instead of answering with the server's error.
fn deadlines(statement: Option<&str>, read: Option<&str>) -> Result<StatementDeadlines, String> {
    let statement = duration("RENDEZ_DB_STATEMENT_TIMEOUT", statement, "20s")?;
    let read = duration("RENDEZ_DB_READ_TIMEOUT", read, "30s")?;
    if !read.is_zero() && !statement.is_zero() && read <= statement {
        return Err(format!(
            "RENDEZ_DB_READ_TIMEOUT ({}) must be longer than RENDEZ_DB_STATEMENT_TIMEOUT ({})",
            humantime::format_duration(read),
            humantime::format_duration(statement)
        ));
    }
    Ok(StatementDeadlines { statement, read })
}

/// The messaging settings resolved: which provider sends each channel, and how workers retry,
/// lease and pace their work. Here rather than in `messaging`, which then needs nothing of the
/// whole configuration.
pub(crate) fn resolve_messaging(
    settings: &Settings,
) -> Result<crate::messaging::MessagingConfig, String> {
    use crate::messaging::config::{
        EmailProviderConfig, LogShows, MessagingConfig, SmsProviderConfig, TWILIO_DEFAULT_BASE_URL,
    };
    fn needed(value: &Option<String>, name: &str, why: &str) -> Result<String, String> {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("{name} is required {why}"))
    }
    let sms = match settings.sms_provider.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("twilio") => {
            let why = "with RENDEZ_SMS_PROVIDER=twilio";
            let base_url = settings
                .twilio_base_url
                .clone()
                .unwrap_or_else(|| TWILIO_DEFAULT_BASE_URL.into());
            url::Url::parse(&base_url)
                .map_err(|e| format!("RENDEZ_TWILIO_BASE_URL '{base_url}' is not a URL: {e}"))?;
            Some(SmsProviderConfig::Twilio {
                account_sid: needed(
                    &settings.twilio_account_sid,
                    "RENDEZ_TWILIO_ACCOUNT_SID",
                    why,
                )?,
                auth_token: needed(&settings.twilio_auth_token, "RENDEZ_TWILIO_AUTH_TOKEN", why)?,
                from: needed(&settings.twilio_from, "RENDEZ_TWILIO_FROM", why)?,
                base_url: base_url.trim_end_matches('/').to_string(),
            })
        }
        Some("jasmin") => {
            let why = "with RENDEZ_SMS_PROVIDER=jasmin";
            let url = needed(&settings.jasmin_url, "RENDEZ_JASMIN_URL", why)?;
            url::Url::parse(&url)
                .map_err(|e| format!("RENDEZ_JASMIN_URL '{url}' is not a URL: {e}"))?;
            Some(SmsProviderConfig::Jasmin {
                url: url.trim_end_matches('/').to_string(),
                user: needed(&settings.jasmin_user, "RENDEZ_JASMIN_USER", why)?,
                password: needed(&settings.jasmin_password, "RENDEZ_JASMIN_PASSWORD", why)?,
            })
        }
        Some("log") => Some(SmsProviderConfig::Log(LogShows::Ids)),
        Some(other) => {
            return Err(format!(
                "RENDEZ_SMS_PROVIDER '{other}' is not one of twilio, jasmin, log"
            ));
        }
    };
    let smtp = || -> Result<EmailProviderConfig, String> {
        let url = needed(&settings.smtp_url, "RENDEZ_SMTP_URL", "for email over SMTP")?;
        let parsed = url::Url::parse(&url).map_err(|_| {
            "RENDEZ_SMTP_URL is not a URL such as smtp://user:pass@host:587?tls=required"
                .to_string()
        })?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(format!(
                "RENDEZ_SMTP_URL must start with smtp:// or smtps://, not {}://",
                parsed.scheme()
            ));
        }
        let from = needed(
            &settings.mail_from,
            "RENDEZ_MAIL_FROM",
            "with RENDEZ_SMTP_URL",
        )?;
        from.parse::<lettre::message::Mailbox>().map_err(|e| {
            format!("RENDEZ_MAIL_FROM '{from}' is not a mailbox such as \"Clinic <a@b.org>\": {e}")
        })?;
        Ok(EmailProviderConfig::Smtp {
            url,
            from,
            ca_file: settings.smtp_ca_file.clone(),
        })
    };
    let email = match settings.email_provider.as_deref().map(str::trim) {
        None | Some("") if settings.smtp_url.is_none() => None,
        None | Some("") | Some("smtp") => Some(smtp()?),
        Some("log") => Some(EmailProviderConfig::Log(LogShows::Ids)),
        Some(other) => {
            return Err(format!(
                "RENDEZ_EMAIL_PROVIDER '{other}' is not one of smtp, log"
            ));
        }
    };
    let rate = |name: &str, raw: &Option<String>| -> Result<Option<f64>, String> {
        raw.as_deref()
            .map(|r| match r.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
                _ => Err(format!(
                    "{name} '{r}' is not a positive number of messages per second"
                )),
            })
            .transpose()
    };
    let max_attempts = settings.max_attempts.unwrap_or(8);
    if max_attempts == 0 {
        return Err("RENDEZ_MAX_ATTEMPTS must be at least 1".into());
    }
    let lease = duration("RENDEZ_LEASE", settings.lease.as_deref(), "60s")?;
    if lease < Duration::from_millis(100) {
        return Err("RENDEZ_LEASE must be at least 100ms".into());
    }
    let poll = duration("RENDEZ_WORKER_POLL", settings.worker_poll.as_deref(), "1s")?;
    if poll < Duration::from_millis(10) {
        return Err("RENDEZ_WORKER_POLL must be at least 10ms".into());
    }
    Ok(MessagingConfig {
        sms,
        email,
        sms_rate: rate("RENDEZ_SMS_RATE", &settings.sms_rate)?,
        email_rate: rate("RENDEZ_EMAIL_RATE", &settings.email_rate)?,
        max_attempts,
        retry_base: duration("RENDEZ_RETRY_BASE", settings.retry_base.as_deref(), "30s")?,
        lease,
        poll,
        concurrency: settings.worker_concurrency.unwrap_or(64).clamp(1, 1024),
        clinic_calls: settings
            .clinic_cancel_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty()),
    })
}

/// A duration that is not zero.
fn positive(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_need_no_setup() {
        let config = Settings::default().resolve().unwrap();
        assert_eq!(config.database_url.to_string(), "sqlite://rendez.db");
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.pool.connection_timeout, Duration::from_secs(3));
    }

    #[test]
    fn a_higher_layer_wins_and_the_lower_fills_gaps() {
        let env = Settings {
            bind: Some("0.0.0.0:9000".into()),
            ..Settings::default()
        };
        let file: Settings = toml::from_str("bind = \"127.0.0.1:1\"\nmax_body = \"2MiB\"").unwrap();
        let config = env.over(file).resolve().unwrap();
        assert_eq!(config.bind, "0.0.0.0:9000");
        assert_eq!(config.max_body_bytes, 2 * 1024 * 1024);
    }

    #[test]
    fn bad_values_are_named() {
        let bad = Settings {
            default_timezone: Some("Mars/Olympus".into()),
            ..Settings::default()
        };
        assert!(
            bad.resolve()
                .unwrap_err()
                .contains("RENDEZ_DEFAULT_TIMEZONE")
        );
        let bad = Settings {
            db_timeout: Some("soon".into()),
            ..Settings::default()
        };
        assert!(bad.resolve().unwrap_err().contains("RENDEZ_DB_TIMEOUT"));
        assert!(toml::from_str::<Settings>("colour = \"blue\"").is_err());
    }

    #[test]
    fn the_slot_window_is_ninety_days_unless_set_and_a_bad_one_is_named() {
        let config = Settings::default().resolve().unwrap();
        assert_eq!(config.slot_window, chrono::Duration::days(90));
        let set = Settings {
            slot_window: Some("14days".into()),
            ..Settings::default()
        };
        assert_eq!(
            set.resolve().unwrap().slot_window,
            chrono::Duration::days(14)
        );
        for bad in ["0", "1h", "800days", "soon"] {
            let settings = Settings {
                slot_window: Some(bad.into()),
                ..Settings::default()
            };
            let err = settings.resolve().unwrap_err();
            assert!(err.contains("RENDEZ_SLOT_WINDOW"), "{bad}: {err}");
        }
    }
}
