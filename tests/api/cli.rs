//! The `rendez` binary as an operator runs it: help, start-up errors, configuration layers,
//! `client`, `import` and `serve --demo`, each in its own working directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rendez::auth::SecretKey;
use rendez::db::schema::{availabilities, availability_activities, centers, resources};
use rendez::db::{self, DbManager, Pool, PoolOptions};

use crate::backend_tests;
use crate::helpers::{
    Auth, Backend, TestDatabase, all_fields, envelope11, rendez_bin, spawn_app_on, test_settings,
};

backend_tests!(
    migrate_applies_every_migration_to_a_fresh_database,
    client_add_then_list_shows_the_client_and_its_password_works_over_soap,
    client_add_reads_the_password_from_standard_input,
    client_add_refuses_a_duplicate_name_a_short_password_and_an_unknown_role,
    client_disable_stops_a_client_and_an_unknown_name_is_an_error,
    client_enable_and_reset_password_work_on_a_running_server_within_a_second,
    client_rotate_prints_a_new_secret_once_and_the_old_one_works_until_the_overlap_ends,
    a_digest_client_is_marked_in_client_list_and_can_use_password_digest,
    import_keyentities_reads_semicolon_comma_and_tab_separated_files,
    import_reports_a_bad_line_by_its_number_keeps_the_good_lines_and_exits_with_1,
    an_import_file_that_cannot_be_read_exits_non_zero_and_writes_nothing,
    import_availabilities_takes_several_activities_separated_by_a_bar,
    import_with_full_sync_deactivates_what_the_file_does_not_name,
    a_config_file_sets_the_bind_address_and_an_environment_variable_wins_over_it,
    configuration_layers_file_then_environment_then_command_line,
    serve_demo_prints_credentials_that_work_for_get_centers,
    serve_stops_with_a_message_when_its_port_is_taken,
    a_fresh_serve_says_how_to_create_a_client_warns_that_messages_wait_and_answers_its_address,
    a_worker_without_a_provider_is_refused_unless_it_runs_without_messaging,
    the_sample_files_of_the_readme_import_without_a_refused_line,
    serve_demo_refuses_a_database_with_a_clinic_s_data_unless_told_and_then_prints_no_message,
    with_rendez_log_format_json_every_log_line_is_a_json_object,
);

// ---------------------------------------------------------------------------------------------
// Running the binary

/// What a finished run left behind.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    #[track_caller]
    fn assert_success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }

    #[track_caller]
    fn assert_failure(&self, stderr_contains: &str) -> &Self {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected a failure: {self:#?}"
        );
        assert!(
            self.stderr.contains(stderr_contains),
            "stderr lacks {stderr_contains:?}: {self:#?}"
        );
        self
    }
}

/// A command of the binary with a clean environment: nothing `RENDEZ_*` or `DATABASE_URL`
/// leaks in from the test runner's own environment.
fn bare_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(rendez_bin());
    for (name, _) in std::env::vars() {
        if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("RENDEZ_SECRET_KEY_FILE", dir.join("rendez.key"));
    command
}

/// Runs to the end, killing the process if it outlives `deadline`.
#[track_caller]
fn run_command(mut command: Command, stdin: Option<&str>, deadline: Duration) -> Run {
    let started = Instant::now();
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rendez binary starts");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} still ran after {deadline:?}; stderr: {}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

/// A working directory, a test database, and the binary pointed at both.
struct Operator {
    dir: tempfile::TempDir,
    db: Arc<TestDatabase>,
}

impl Operator {
    fn new(backend: Backend) -> Operator {
        Operator {
            dir: tempfile::tempdir().unwrap(),
            db: Arc::new(TestDatabase::new(backend)),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = bare_command(self.dir.path(), args);
        command.env("DATABASE_URL", &self.db.url);
        command
    }

    #[track_caller]
    fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args), None, Duration::from_secs(60))
    }

    #[track_caller]
    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run_command(self.command(args), Some(stdin), Duration::from_secs(60))
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn pool(&self) -> Pool {
        db::connect(
            &self.db.url.parse().unwrap(),
            PoolOptions {
                max_size: 2,
                connection_timeout: Duration::from_secs(5),
            },
        )
        .unwrap()
    }

    /// The row of `client list` for this name, split on white space.
    #[track_caller]
    fn listed_client(&self, name: &str) -> Option<Vec<String>> {
        let run = self.run(&["client", "list"]);
        run.assert_success();
        run.stdout
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|fields| fields.first().map(String::as_str) == Some(name))
    }
}

/// A process that is killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Waits until `GET {base}/healthz` answers 200.
async fn wait_until_healthy(base: &str, server: &mut Running, log: &Path) {
    let client = http();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{base} did not become healthy: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get_centers(base: &str, user: &str, password: &str) -> String {
    http()
        .post(format!("{base}/soap"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"urn:rendez:soap:v1#getCenters\"")
        .basic_auth(user, Some(password))
        .body(envelope11(&Auth::None, "getCenters", ""))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Help and start-up errors

#[test]
fn help_names_the_environment_variables_and_describes_every_option() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let mut args = args.to_vec();
        args.push("--help");
        let run = run_command(
            bare_command(dir.path(), &args),
            None,
            Duration::from_secs(30),
        );
        run.assert_success();
        run.stdout
    };

    let top = help(&[]);
    for name in [
        "DATABASE_URL",
        "RENDEZ_CONFIG",
        "RENDEZ_BIND",
        "RENDEZ_PUBLIC_URL",
        "RENDEZ_MAX_BODY",
        "RENDEZ_DEFAULT_TIMEZONE",
        "RENDEZ_SECRET_KEY",
        "RENDEZ_SECRET_KEY_FILE",
        "RENDEZ_DB_POOL_SIZE",
        "RENDEZ_DB_TIMEOUT",
        "serve",
        "migrate",
        "client",
        "import",
        "sqlite://",
        "mysql://",
    ] {
        assert!(top.contains(name), "`rendez --help` lacks {name}:\n{top}");
    }

    let subcommands: [(&[&str], &[&str]); 9] = [
        (&["serve"], &["--demo"]),
        (&["migrate"], &["migrations"]),
        (&["client"], &["add", "list", "disable"]),
        (
            &["client", "add"],
            &[
                "--roles",
                "--centers",
                "--password",
                "--digest",
                "standard input",
            ],
        ),
        (&["client", "list"], &[]),
        (&["client", "disable"], &["<NAME>"]),
        (
            &["import"],
            &["keyentities", "availabilities", "Exit status"],
        ),
        (&["import", "keyentities"], &["--full-sync", "<FILE>"]),
        (
            &["import", "availabilities"],
            &["--full-sync", "<FILE>", "'|'"],
        ),
    ];
    for (args, wanted) in subcommands {
        let text = help(args);
        let serving = args == ["serve"];
        let shown: &[&str] = if serving {
            &[
                "DATABASE_URL",
                "RENDEZ_CONFIG",
                "RENDEZ_BIND",
                "RENDEZ_SMTP_URL",
            ]
        } else {
            &["DATABASE_URL", "RENDEZ_CONFIG"]
        };
        for name in shown.iter().chain(wanted) {
            assert!(
                text.contains(name),
                "`rendez {} --help` lacks {name}:\n{text}",
                args.join(" ")
            );
        }
        // A subcommand's help shows only what it reads: no server or messaging settings.
        if !serving {
            for name in ["RENDEZ_BIND", "RENDEZ_SMTP_URL", "RENDEZ_RESULTS_KEY"] {
                assert!(
                    !text.contains(name),
                    "`rendez {} --help` shows {name}, which it does not read:\n{text}",
                    args.join(" ")
                );
            }
        }
        assert_every_option_is_described(&text, args);
    }
    assert_every_option_is_described(&top, &[]);
    // The settings a subcommand reads are shown; the others are still accepted there.
    assert!(help(&["client", "add"]).contains("RENDEZ_SECRET_KEY_FILE"));
    assert!(help(&["results", "purge"]).contains("RENDEZ_RESULTS_KEY"));
    assert!(help(&["export", "cancellations"]).contains("RENDEZ_EXPORT_DIR"));
    let listed = run_command(
        bare_command(
            dir.path(),
            &["client", "list", "--bind", "127.0.0.1:1", "--sms-rate", "5"],
        ),
        None,
        Duration::from_secs(30),
    );
    listed.assert_success();
}

/// Each option line of a help text carries a description, on the same line (short layout) or on
/// the next (long layout).
#[track_caller]
fn assert_every_option_is_described(help: &str, args: &[&str]) {
    let lines: Vec<&str> = help.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('-') {
            continue;
        }
        let inline = trimmed
            .split("  ")
            .filter(|part| !part.trim().is_empty())
            .count()
            > 1;
        let next = lines.get(index + 1).map(|l| l.trim()).unwrap_or("");
        let below = !next.is_empty() && !next.starts_with('-');
        assert!(
            inline || below,
            "`rendez {} --help`: option {trimmed:?} has no description",
            args.join(" ")
        );
    }
}

#[test]
fn an_unknown_database_scheme_stops_the_program_at_once_and_creates_nothing() {
    let cases = [
        ("postgres://rendez:pw@localhost/rendez", "'postgres'"),
        ("rendez.db", "'rendez.db' has no scheme"),
        ("sqlite:/rendez.db", "has no scheme"),
        ("mongodb://localhost/rendez", "'mongodb'"),
        ("", "has no scheme"),
    ];
    for (url, message) in cases {
        for args in [&["migrate"][..], &[], &["client", "list"]] {
            let dir = tempfile::tempdir().unwrap();
            let mut command = bare_command(dir.path(), args);
            command.env("DATABASE_URL", url);
            let run = run_command(command, None, Duration::from_secs(10));
            run.assert_failure(message).assert_failure("DATABASE_URL");
            assert!(
                run.elapsed < Duration::from_secs(5),
                "took {:?}",
                run.elapsed
            );
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(left.is_empty(), "{url:?} {args:?} created {left:?}");
            assert!(
                !run.stderr.contains("pw@"),
                "the password is not shown: {}",
                run.stderr
            );
        }
    }
}

#[cfg(not(feature = "mysql"))]
#[test]
fn a_mysql_url_in_a_build_without_mysql_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = bare_command(dir.path(), &["migrate"]);
    command.env("DATABASE_URL", "mysql://root@127.0.0.1:3306/rendez");
    let run = run_command(command, None, Duration::from_secs(10));
    run.assert_failure("no MySQL support")
        .assert_failure("--features mysql");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[cfg(feature = "mysql")]
#[test]
fn a_wrong_mysql_password_fails_within_seconds_with_the_servers_reason() {
    let mut url = url::Url::parse(&crate::helpers::mysql_base_url()).unwrap();
    url.set_password(Some("definitely-not-the-password"))
        .unwrap();
    url.set_path("/rendez_wrong_password");
    let dir = tempfile::tempdir().unwrap();
    let mut command = bare_command(dir.path(), &["migrate"]);
    command.env("DATABASE_URL", url.as_str());
    let run = run_command(command, None, Duration::from_secs(30));
    run.assert_failure("Access denied");
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
    assert!(
        !run.stderr.contains("definitely-not-the-password"),
        "the password is not shown: {}",
        run.stderr
    );
}

#[cfg(feature = "mysql")]
#[test]
fn an_unreachable_mysql_server_fails_within_seconds_saying_it_cannot_reach_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = bare_command(dir.path(), &["migrate"]);
    command.env("DATABASE_URL", "mysql://root@127.0.0.1:1/rendez");
    let run = run_command(command, None, Duration::from_secs(30));
    run.assert_failure("cannot reach")
        .assert_failure("127.0.0.1:1");
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

async fn migrate_applies_every_migration_to_a_fresh_database(backend: Backend) {
    let op = Operator::new(backend);
    let run = op.run(&["migrate"]);
    run.assert_success();
    assert!(run.stdout.contains("migrated"), "{run:#?}");
    let mut conn = DbManager::new(op.db.url.parse().unwrap())
        .establish()
        .unwrap();
    let pending = db::migrations::run_pending(&mut conn).unwrap();
    assert!(pending.is_empty(), "left pending: {pending:?}");
    let centers: i64 = centers::table.count().get_result(&mut conn).unwrap();
    assert_eq!(centers, 0);
    // Again: nothing to do, still a success.
    op.run(&["migrate"]).assert_success();
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn an_unknown_key_in_the_config_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("rendez.db");
    let config = dir.path().join("rendez.toml");
    std::fs::write(&config, "bind = \"127.0.0.1:0\"\ncolour = \"blue\"\n").unwrap();
    let mut command = bare_command(
        dir.path(),
        &["--config", config.to_str().unwrap(), "migrate"],
    );
    command.env("DATABASE_URL", format!("sqlite://{}", db_path.display()));
    let run = run_command(command, None, Duration::from_secs(10));
    run.assert_failure("colour").assert_failure("rendez.toml");
    assert!(!db_path.exists(), "nothing is created");

    // The same through RENDEZ_CONFIG, and a file that does not exist.
    let mut command = bare_command(dir.path(), &["migrate"]);
    command.env("RENDEZ_CONFIG", dir.path().join("missing.toml"));
    let run = run_command(command, None, Duration::from_secs(10));
    run.assert_failure("missing.toml");
    assert!(!db_path.exists());

    // A value of the wrong type is named too.
    std::fs::write(&config, "db_pool_size = \"ten\"\n").unwrap();
    let command = bare_command(
        dir.path(),
        &["--config", config.to_str().unwrap(), "migrate"],
    );
    run_command(command, None, Duration::from_secs(10)).assert_failure("db_pool_size");
}

async fn a_config_file_sets_the_bind_address_and_an_environment_variable_wins_over_it(
    backend: Backend,
) {
    let op = Operator::new(backend);
    let (file_port, env_port) = (free_port(), free_port());
    let config = op.write(
        "rendez.toml",
        format!(
            "database_url = \"{}\"\nbind = \"127.0.0.1:{file_port}\"\nhttp_workers = 1\n",
            op.db.url
        ),
    );
    let log = op.dir.path().join("serve.log");

    // The database comes from the file too: no DATABASE_URL in the environment.
    let mut command = bare_command(
        op.dir.path(),
        &["--config", config.to_str().unwrap(), "serve"],
    );
    command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = Running(command.spawn().unwrap());
    wait_until_healthy(&format!("http://127.0.0.1:{file_port}"), &mut server, &log).await;
    drop(server);

    let mut command = bare_command(op.dir.path(), &["serve"]);
    command
        .env("RENDEZ_CONFIG", &config)
        .env("RENDEZ_BIND", format!("127.0.0.1:{env_port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = Running(command.spawn().unwrap());
    wait_until_healthy(&format!("http://127.0.0.1:{env_port}"), &mut server, &log).await;
    assert!(
        http()
            .get(format!("http://127.0.0.1:{file_port}/healthz"))
            .send()
            .await
            .is_err(),
        "the file's port is not used when RENDEZ_BIND is set"
    );
    let wsdl = http()
        .get(format!("http://127.0.0.1:{env_port}/soap?wsdl"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        wsdl.contains(&format!("http://127.0.0.1:{env_port}/soap")),
        "the WSDL's address follows the bind address"
    );
}

async fn configuration_layers_file_then_environment_then_command_line(backend: Backend) {
    let op = Operator::new(backend);
    let config = op.write("rendez.toml", "default_timezone = \"Europe/Madrid\"\n");
    let config = config.to_str().unwrap();
    let center = |lid: &str| {
        op.write(
            &format!("{lid}.csv"),
            format!("LOCATION_LID;LOCATION_NAME\n{lid};Centro {lid}\n"),
        )
    };
    let (c1, c2, c3) = (center("C1"), center("C2"), center("C3"));

    op.run(&[
        "--config",
        config,
        "import",
        "keyentities",
        c1.to_str().unwrap(),
    ])
    .assert_success();
    let mut command = op.command(&[
        "--config",
        config,
        "import",
        "keyentities",
        c2.to_str().unwrap(),
    ]);
    command.env("RENDEZ_DEFAULT_TIMEZONE", "Atlantic/Canary");
    run_command(command, None, Duration::from_secs(60)).assert_success();
    let mut command = op.command(&[
        "import",
        "keyentities",
        c3.to_str().unwrap(),
        "--config",
        config,
        "--default-timezone",
        "Asia/Tokyo",
    ]);
    command.env("RENDEZ_DEFAULT_TIMEZONE", "Atlantic/Canary");
    run_command(command, None, Duration::from_secs(60)).assert_success();

    let zones: Vec<(String, String)> = centers::table
        .select((centers::lid, centers::timezone))
        .order(centers::lid.asc())
        .load(&mut op.pool().get().unwrap())
        .unwrap();
    assert_eq!(
        zones,
        vec![
            ("C1".to_string(), "Europe/Madrid".to_string()),
            ("C2".to_string(), "Atlantic/Canary".to_string()),
            ("C3".to_string(), "Asia/Tokyo".to_string()),
        ]
    );

    // Without any default, the same file is refused line by line.
    let c4 = center("C4");
    let run = op.run(&["import", "keyentities", c4.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stdout.contains("line 2: LOCATION_TIMEZONE"), "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// Clients

const PASSWORD: &str = "a-long-enough-password";

async fn client_add_then_list_shows_the_client_and_its_password_works_over_soap(backend: Backend) {
    let op = Operator::new(backend);
    let run = op.run(&[
        "client",
        "add",
        "clinic-his",
        "--roles",
        "admin,booking",
        "--centers",
        "C1,C2",
        "--password",
        PASSWORD,
    ]);
    run.assert_success();
    assert!(run.stdout.contains("clinic-his"), "{run:#?}");
    let row = op
        .listed_client("clinic-his")
        .expect("the client is listed");
    assert_eq!(row[1], "booking,admin", "roles: {row:?}");
    assert_eq!(row[2], "C1,C2", "centers: {row:?}");
    assert_eq!((row[3].as_str(), row[4].as_str()), ("no", "enabled"));

    let app = spawn_app_on(op.db.clone(), test_settings(&op.db)).await;
    let reply = app
        .soap(&Auth::basic("clinic-his", PASSWORD), "getCenters", "")
        .await;
    reply.assert_ok();
    let reply = app
        .soap(&Auth::text("clinic-his", PASSWORD), "getCenters", "")
        .await;
    reply.assert_ok();
    let reply = app
        .soap(
            &Auth::basic("clinic-his", "a-wrong-password!"),
            "getCenters",
            "",
        )
        .await;
    reply.assert_fault("Client", "authentication");
}

async fn client_add_reads_the_password_from_standard_input(backend: Backend) {
    let op = Operator::new(backend);
    let secret = "typed-on-standard-input";
    let run = op.run_with_stdin(
        &["client", "add", "portal", "--roles", "admin"],
        &format!("{secret}\n"),
    );
    run.assert_success();
    assert!(!run.stdout.contains(secret), "the password is not echoed");
    assert!(op.listed_client("portal").is_some());
    let app = spawn_app_on(op.db.clone(), test_settings(&op.db)).await;
    app.soap(&Auth::basic("portal", secret), "getCenters", "")
        .await
        .assert_ok();

    // Nothing on standard input: refused, nothing stored.
    let run = op.run_with_stdin(&["client", "add", "nobody", "--roles", "admin"], "");
    run.assert_failure("password");
    assert!(op.listed_client("nobody").is_none());
}

async fn client_add_refuses_a_duplicate_name_a_short_password_and_an_unknown_role(
    backend: Backend,
) {
    let op = Operator::new(backend);
    let add = |name: &str, roles: &str, password: &str| {
        op.run(&[
            "client",
            "add",
            name,
            "--roles",
            roles,
            "--password",
            password,
        ])
    };
    add("his", "booking", PASSWORD).assert_success();
    add("his", "admin", PASSWORD).assert_failure("'his' exists already");
    add("short", "booking", "short-pw")
        .assert_failure("--password: the password must have at least 12 characters");
    add("doctor", "booking,surgeon", PASSWORD)
        .assert_failure("unknown role 'surgeon'")
        .assert_failure("booking, messaging, results, admin");
    add("bad name!", "booking", PASSWORD).assert_failure("client name");
    add("noroles", "", PASSWORD).assert_failure("at least one role");

    let run = op.run(&["client", "list"]);
    run.assert_success();
    let names: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, vec!["his"]);
    let row = op.listed_client("his").unwrap();
    assert_eq!(row[1], "booking", "the duplicate did not change the first");
}

async fn client_disable_stops_a_client_and_an_unknown_name_is_an_error(backend: Backend) {
    let op = Operator::new(backend);
    op.run(&[
        "client",
        "add",
        "his",
        "--roles",
        "admin",
        "--password",
        PASSWORD,
    ])
    .assert_success();
    let run = op.run(&["client", "disable", "his"]);
    run.assert_success();
    assert!(run.stdout.contains("disabled"), "{run:#?}");
    assert_eq!(op.listed_client("his").unwrap()[4], "disabled");
    let app = spawn_app_on(op.db.clone(), test_settings(&op.db)).await;
    app.soap(&Auth::basic("his", PASSWORD), "getCenters", "")
        .await
        .assert_fault("Client", "authentication");

    op.run(&["client", "disable", "ghost"])
        .assert_failure("no client named 'ghost'");
}

async fn a_digest_client_is_marked_in_client_list_and_can_use_password_digest(backend: Backend) {
    let op = Operator::new(backend);
    let key = SecretKey::generate().to_base64();
    let mut command = op.command(&[
        "client",
        "add",
        "digester",
        "--roles",
        "admin",
        "--digest",
        "--password",
        PASSWORD,
    ]);
    command.env("RENDEZ_SECRET_KEY", &key);
    let run = run_command(command, None, Duration::from_secs(60));
    run.assert_success();
    assert!(run.stdout.contains("PasswordDigest"), "{run:#?}");
    op.run(&[
        "client",
        "add",
        "plain",
        "--roles",
        "admin",
        "--password",
        PASSWORD,
    ])
    .assert_success();
    assert_eq!(op.listed_client("digester").unwrap()[3], "yes");
    assert_eq!(op.listed_client("plain").unwrap()[3], "no");

    let mut settings = test_settings(&op.db);
    settings.secret_key = Some(key);
    let app = spawn_app_on(op.db.clone(), settings).await;
    app.soap(&Auth::digest("digester", PASSWORD), "getCenters", "")
        .await
        .assert_ok();
    app.soap(&Auth::digest("plain", PASSWORD), "getCenters", "")
        .await
        .assert_fault("Client", "authentication");
}

// ---------------------------------------------------------------------------------------------
// Imports

fn stored_centers(pool: &Pool) -> Vec<(String, String, bool)> {
    centers::table
        .select((centers::lid, centers::name, centers::active))
        .order(centers::lid.asc())
        .load(&mut pool.get().unwrap())
        .unwrap()
}

async fn import_keyentities_reads_semicolon_comma_and_tab_separated_files(backend: Backend) {
    let op = Operator::new(backend);
    let files = [
        (
            "semicolon.csv",
            "LOCATION_LID;LOCATION_NAME;LOCATION_TIMEZONE;RESOURCE_LID;RESOURCE_FIRST_NAME;ACTIVITY_LID;ACTIVITY_NAME;ACTIVITY_DURATION;ACTIVITY_PRICE\n\
             C1;Clínica Peña;Europe/Madrid;R1;Zoë;A1;Consulta;20;35,50\n",
        ),
        (
            "comma.csv",
            "location_lid,location_name,location_timezone,resource_lid,resource_first_name,activity_lid,activity_name,activity_duration,activity_price\r\n\
             C2,\"Centro Dos, Norte\",Europe/Warsaw,R2,Łukasz,A2,Revisión,15,\"12,00\"\r\n",
        ),
        (
            "tab.tsv",
            "\u{feff}LOCATION_LID\tLOCATION_NAME\tLOCATION_TIMEZONE\tRESOURCE_LID\tRESOURCE_FIRST_NAME\tACTIVITY_LID\tACTIVITY_NAME\tACTIVITY_DURATION\n\
             C3\t東京クリニック\tAsia/Tokyo\tR3\t健\tA3\tEcografía\t45\n",
        ),
    ];
    for (name, content) in files {
        let path = op.write(name, content);
        let run = op.run(&["import", "keyentities", path.to_str().unwrap()]);
        run.assert_success();
        assert!(run.stdout.contains("1 lines read"), "{name}: {run:#?}");
        assert!(run.stdout.contains("0 lines refused"), "{name}: {run:#?}");
    }
    let pool = op.pool();
    assert_eq!(
        stored_centers(&pool),
        vec![
            ("C1".into(), "Clínica Peña".into(), true),
            ("C2".into(), "Centro Dos, Norte".into(), true),
            ("C3".into(), "東京クリニック".into(), true),
        ]
    );
    let names: Vec<String> = resources::table
        .select(resources::first_name)
        .order(resources::lid.asc())
        .load(&mut pool.get().unwrap())
        .unwrap();
    assert_eq!(names, vec!["Zoë", "Łukasz", "健"]);
    // Importing the same file again changes nothing.
    let run = op.run(&[
        "import",
        "keyentities",
        op.dir.path().join("comma.csv").to_str().unwrap(),
    ]);
    run.assert_success();
    assert!(run.stdout.contains("created 0, updated 0"), "{run:#?}");
}

async fn import_reports_a_bad_line_by_its_number_keeps_the_good_lines_and_exits_with_1(
    backend: Backend,
) {
    let op = Operator::new(backend);
    let path = op.write(
        "centers.csv",
        "LOCATION_LID;LOCATION_NAME;LOCATION_TIMEZONE;LOCATION_DESCRIPTION;ACTIVITY_LID;ACTIVITY_NAME;ACTIVITY_DURATION;NOTES\n\
         C1;Uno;Europe/Madrid;;A1;Consulta;20;x\n\
         \n\
         C2;Dos;Europe/Madrid;\"two\n\
         lines\";;;;\n\
         C3;Tres;Europe/Madrid;;A3;Tres;abc;\n\
         C4;Cuatro;Mars/Base;;;;;\n\
         C5;Cinco;Europe/Madrid;;;;;\n\
         C6;Seis;Europe/Madrid;;;;;;too;many\n",
    );
    let run = op.run(&["import", "keyentities", path.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    for expected in [
        "line 4: LOCATION_DESCRIPTION",
        "line 6: ACTIVITY_DURATION",
        "line 7: LOCATION_TIMEZONE",
        "line 9: the line has 10 fields but the header has 8",
        "4 lines refused",
        "ignored unknown columns: NOTES",
    ] {
        assert!(run.stdout.contains(expected), "{expected:?} in {run:#?}");
    }
    assert!(!run.stdout.contains("line 8"), "{run:#?}");
    let lids: Vec<String> = stored_centers(&op.pool())
        .into_iter()
        .map(|(lid, _, _)| lid)
        .collect();
    assert_eq!(lids, vec!["C1", "C5"]);
}

async fn an_import_file_that_cannot_be_read_exits_non_zero_and_writes_nothing(backend: Backend) {
    let op = Operator::new(backend);
    let header = "LOCATION_LID;LOCATION_NAME;LOCATION_TIMEZONE\n";
    let mut latin1 = format!("{header}C1;Uno;Europe/Madrid\n").into_bytes();
    latin1.extend_from_slice(b"C2;Espa\xf1a;Europe/Madrid\n");
    let cases: Vec<(PathBuf, &str)> = vec![
        (op.dir.path().join("missing.csv"), "cannot read"),
        (op.write("latin1.csv", latin1), "line 3"),
        (
            op.write("unknown.csv", "FOO;BAR\nC1;Uno\n"),
            "none of the keyentities columns",
        ),
        (op.write("empty.csv", ""), "empty"),
    ];
    for (path, message) in &cases {
        let run = op.run(&["import", "keyentities", path.to_str().unwrap()]);
        run.assert_failure(message)
            .assert_failure(path.file_name().unwrap().to_str().unwrap());
        assert!(run.stdout.is_empty(), "{run:#?}");
    }
    op.run(&["import", "keyentities", cases[1].0.to_str().unwrap()])
        .assert_failure("UTF-8");
    if backend == Backend::Sqlite {
        let file = op.db.url.trim_start_matches("sqlite://");
        assert!(
            !Path::new(file).exists(),
            "a file that cannot be read does not even open the database"
        );
    }
    assert!(stored_centers(&op.pool()).is_empty());
}

async fn import_availabilities_takes_several_activities_separated_by_a_bar(backend: Backend) {
    let op = Operator::new(backend);
    let entities = op.write(
        "entities.csv",
        "LOCATION_LID;LOCATION_NAME;LOCATION_TIMEZONE;RESOURCE_LID;RESOURCE_FIRST_NAME;ACTIVITY_LID;ACTIVITY_NAME;ACTIVITY_DURATION\n\
         C1;Uno;Europe/Madrid;R1;Ana;A1;Consulta;20\n\
         C1;Uno;Europe/Madrid;R1;Ana;A2;Revisión;10\n",
    );
    op.run(&["import", "keyentities", entities.to_str().unwrap()])
        .assert_success();
    let rules = op.write(
        "availabilities.csv",
        "AVAILABILITY_LID,RESOURCE_LID,LOCATION_LID,R_WORKING_DAY,R_START_TIME,R_END_TIME,R_START_DAY,R_END_DAY,ACTIVITY_LID\n\
         AV1,R1,C1,1,09:00,14:00,01/01/2026,31/12/2026,A1|A2\n\
         AV2,R1,C1,3,16:00,20:00,,,A2\n\
         AV3,R1,C1,5,10:00,12:00,,,\n\
         AV4,R1,C1,2,10:00,12:00,,,A1|NOPE\n",
    );
    let run = op.run(&["import", "availabilities", rules.to_str().unwrap()]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stdout.contains("line 5: ACTIVITY_LID"), "{run:#?}");
    assert!(run.stdout.contains("NOPE"), "{run:#?}");

    let mut conn = op.pool().get().unwrap();
    let mut links: Vec<(String, String)> = availability_activities::table
        .inner_join(
            availabilities::table
                .on(availabilities::id.eq(availability_activities::availability_id)),
        )
        .inner_join(
            rendez::db::schema::activities::table
                .on(rendez::db::schema::activities::id.eq(availability_activities::activity_id)),
        )
        .select((availabilities::lid, rendez::db::schema::activities::lid))
        .load(&mut conn)
        .unwrap();
    links.sort();
    assert_eq!(
        links,
        vec![
            ("AV1".to_string(), "A1".to_string()),
            ("AV1".to_string(), "A2".to_string()),
            ("AV2".to_string(), "A2".to_string()),
        ]
    );
    let lids: Vec<String> = availabilities::table
        .select(availabilities::lid)
        .order(availabilities::lid.asc())
        .load(&mut conn)
        .unwrap();
    assert_eq!(lids, vec!["AV1", "AV2", "AV3"]);
}

async fn import_with_full_sync_deactivates_what_the_file_does_not_name(backend: Backend) {
    let op = Operator::new(backend);
    let header = "LOCATION_LID;LOCATION_NAME;LOCATION_TIMEZONE;RESOURCE_LID;RESOURCE_FIRST_NAME\n";
    let both = op.write(
        "both.csv",
        format!("{header}C1;Uno;Europe/Madrid;R1;Ana\nC2;Dos;Europe/Madrid;R2;Bea\n"),
    );
    let one = op.write("one.csv", format!("{header}C1;Uno;Europe/Madrid;R1;Ana\n"));
    op.run(&["import", "keyentities", both.to_str().unwrap()])
        .assert_success();

    let rules_header =
        "AVAILABILITY_LID;RESOURCE_LID;LOCATION_LID;R_WORKING_DAY;R_START_TIME;R_END_TIME\n";
    let all_rules = op.write(
        "all.csv",
        format!("{rules_header}AV1;R1;C1;1;09:00;14:00\nAV2;R1;C1;2;09:00;14:00\n"),
    );
    let first_rule = op.write(
        "first.csv",
        format!("{rules_header}AV1;R1;C1;1;09:00;14:00\n"),
    );
    op.run(&["import", "availabilities", all_rules.to_str().unwrap()])
        .assert_success();
    let run = op.run(&[
        "import",
        "availabilities",
        first_rule.to_str().unwrap(),
        "--full-sync",
    ]);
    run.assert_success();
    assert!(run.stdout.contains("deactivated 1"), "{run:#?}");
    let pool = op.pool();
    let rules: Vec<(String, bool)> = availabilities::table
        .select((availabilities::lid, availabilities::active))
        .order(availabilities::lid.asc())
        .load(&mut pool.get().unwrap())
        .unwrap();
    assert_eq!(rules, vec![("AV1".into(), true), ("AV2".into(), false)]);

    // Without --full-sync, a smaller file deactivates nothing.
    let run = op.run(&["import", "keyentities", one.to_str().unwrap()]);
    run.assert_success();
    assert!(run.stdout.contains("deactivated 0"), "{run:#?}");
    // With it: C2, R2 and their link.
    let run = op.run(&[
        "import",
        "keyentities",
        one.to_str().unwrap(),
        "--full-sync",
    ]);
    run.assert_success();
    assert!(run.stdout.contains("deactivated 3"), "{run:#?}");
    assert_eq!(
        stored_centers(&pool),
        vec![
            ("C1".into(), "Uno".into(), true),
            ("C2".into(), "Dos".into(), false)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// serve --demo

/// A `serve --demo` process and what it printed: (process, base URL, user, password).
fn start_demo(op: &Operator) -> (Running, String, String, String) {
    let (server, base, user, password, _) = start_demo_with(op, op.command(&["serve", "--demo"]));
    (server, base, user, password)
}

/// Starts `command` (a `serve --demo`) and reads its banner up to the WSDL line; also returns
/// the banner and the receiver of the lines printed after it.
fn start_demo_with(
    op: &Operator,
    mut command: Command,
) -> (
    Running,
    String,
    String,
    String,
    (String, mpsc::Receiver<String>),
) {
    let log = op.dir.path().join("serve.log");
    command
        .env("RENDEZ_BIND", "127.0.0.1:0")
        .env("RENDEZ_HTTP_WORKERS", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = Running(command.spawn().unwrap());
    let stdout = server.0.stdout.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if sender.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let (mut user, mut password, mut wsdl) = (None, None, None);
    let mut banner = String::new();
    let started = Instant::now();
    // The banner ends with a first call to try; the ids are listed before it.
    let mut tried = false;
    while user.is_none() || password.is_none() || wsdl.is_none() || !tried {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "serve --demo printed no credentials in {:?}: {}",
                    started.elapsed(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        banner.push_str(&line);
        banner.push('\n');
        let line = line.trim();
        if let Some(value) = line.strip_prefix("client:") {
            user = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("password:") {
            password = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("WSDL:") {
            wsdl = Some(value.trim().to_string());
        } else if line == "Try:" {
            tried = true;
        }
    }
    let wsdl = wsdl.unwrap();
    let base = wsdl
        .strip_suffix("/soap?wsdl")
        .unwrap_or_else(|| panic!("a WSDL address: {wsdl}"))
        .to_string();
    assert!(
        !base.ends_with(":0"),
        "the printed address names the real port: {base}"
    );
    (
        server,
        base,
        user.unwrap(),
        password.unwrap(),
        (banner, lines),
    )
}

fn demo_counts(pool: &Pool) -> (i64, i64) {
    let mut conn = pool.get().unwrap();
    let doctors = resources::table
        .filter(resources::active.eq(true))
        .count()
        .get_result(&mut conn)
        .unwrap();
    let rules = availabilities::table
        .filter(availabilities::active.eq(true))
        .count()
        .get_result(&mut conn)
        .unwrap();
    (doctors, rules)
}

async fn serve_demo_prints_credentials_that_work_for_get_centers(backend: Backend) {
    let op = Operator::new(backend);
    let log = op.dir.path().join("serve.log");
    let (mut server, base, user, password) = start_demo(&op);
    wait_until_healthy(&base, &mut server, &log).await;
    assert!(password.len() >= 12, "a strong password: {password:?}");
    let body = get_centers(&base, &user, &password).await;
    assert_eq!(
        all_fields(&body, "CENTER_LID"),
        vec!["MAD", "SYD"],
        "{body}"
    );
    assert_eq!(
        all_fields(&body, "TIMEZONE"),
        vec!["Europe/Madrid", "Australia/Sydney"]
    );
    let refused = get_centers(&base, &user, "not-the-demo-password").await;
    assert!(refused.contains("Fault"), "{refused}");
    drop(server);

    let pool = op.pool();
    let (doctors, rules) = demo_counts(&pool);
    assert!(doctors >= 3, "several doctors: {doctors}");
    assert!(rules >= 10, "a week-plan of availabilities: {rules}");

    // A second start loads the same clinic again (nothing doubled) with the same password.
    let (mut server, base, user, new_password) = start_demo(&op);
    wait_until_healthy(&base, &mut server, &log).await;
    assert_eq!(new_password, password, "the demo keeps its password");
    assert_eq!(demo_counts(&pool), (doctors, rules));
    let body = get_centers(&base, &user, &new_password).await;
    assert_eq!(
        all_fields(&body, "CENTER_LID"),
        vec!["MAD", "SYD"],
        "{body}"
    );
    drop(server);

    // Another secret key (another installation) gives another password.
    std::fs::remove_file(op.dir.path().join("rendez.key")).unwrap();
    let (mut server, base, user, other_password) = start_demo(&op);
    wait_until_healthy(&base, &mut server, &log).await;
    assert_ne!(other_password, password);
    let old = get_centers(&base, &user, &password).await;
    assert!(
        old.contains("Fault"),
        "the old key's demo password stops working: {old}"
    );
}

async fn serve_demo_refuses_a_database_with_a_clinic_s_data_unless_told_and_then_prints_no_message(
    backend: Backend,
) {
    let op = Operator::new(backend);
    op.run_with_stdin(
        &["client", "add", "his", "--roles", "admin"],
        "his-password-123\n",
    )
    .assert_success();
    let mut command = op.command(&["serve", "--demo"]);
    command.env("RENDEZ_BIND", "127.0.0.1:0");
    run_command(command, None, Duration::from_secs(60))
        .assert_failure("the client 'his'")
        .assert_failure("--demo-allow-other-data");
    assert_eq!(
        demo_counts(&op.pool()),
        (0, 0),
        "nothing of the demo was loaded"
    );

    let log = op.dir.path().join("serve.log");
    let command = op.command(&["serve", "--demo", "--demo-allow-other-data"]);
    let (mut server, base, user, password, _) = start_demo_with(&op, command);
    wait_until_healthy(&base, &mut server, &log).await;
    let body = get_centers(&base, &user, &password).await;
    assert_eq!(
        all_fields(&body, "CENTER_LID"),
        vec!["MAD", "SYD"],
        "{body}"
    );
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("never printed or marked sent"), "{log}");
    assert!(
        !log.contains("provider is 'log'"),
        "no log provider on a clinic's database: {log}"
    );
}

async fn serve_stops_with_a_message_when_its_port_is_taken(backend: Backend) {
    let op = Operator::new(backend);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let mut command = op.command(&["serve"]);
    command.env("RENDEZ_BIND", &address);
    let run = run_command(command, None, Duration::from_secs(30));
    run.assert_failure("cannot listen on")
        .assert_failure(&address);
}

/// `rendez serve` on a free port with `RUST_LOG=info` and `env`, its log in a file; once healthy:
/// the process, its address and the log's path.
async fn serve_logging(op: &Operator, env: &[(&str, &str)]) -> (Running, String, PathBuf) {
    let log = op.dir.path().join("serve.log");
    let port = free_port();
    let mut command = op.command(&["serve"]);
    command
        .env("RENDEZ_BIND", format!("127.0.0.1:{port}"))
        .env("RENDEZ_HTTP_WORKERS", "1")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = Running(command.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    wait_until_healthy(&base, &mut server, &log).await;
    (server, base, log)
}

async fn with_rendez_log_format_json_every_log_line_is_a_json_object(backend: Backend) {
    let op = Operator::new(backend);
    let (server, base, log) = serve_logging(&op, &[("RENDEZ_LOG_FORMAT", "json")]).await;
    let refused = get_centers(&base, "nobody", "wrong-password-123").await;
    assert!(refused.contains("Fault"), "{refused}");
    drop(server);

    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    assert!(records.len() >= 2, "{text}");
    for record in &records {
        for field in ["ts", "level", "target", "message"] {
            assert!(record[field].is_string(), "{field} in {record}");
        }
    }
    assert!(
        records
            .iter()
            .any(|r| r["message"].as_str().unwrap().contains("getCenters")),
        "the refused call is logged: {text}"
    );

    // An unknown format stops the program at once and names the variable.
    let mut command = op.command(&["client", "list"]);
    command.env("RENDEZ_LOG_FORMAT", "xml");
    run_command(command, None, Duration::from_secs(30)).assert_failure("RENDEZ_LOG_FORMAT");
}

#[actix_web::test]
async fn serve_demo_without_a_database_url_uses_its_own_file_and_lists_the_demo_ids() {
    let op = Operator::new(Backend::Sqlite);
    let mut command = bare_command(op.dir.path(), &["serve", "--demo"]);
    command.env("RENDEZ_BIND", "127.0.0.1:0");
    let log = op.dir.path().join("serve.log");
    let (mut server, base, user, password, (banner, _)) = start_demo_with(&op, command);
    wait_until_healthy(&base, &mut server, &log).await;
    let body = get_centers(&base, &user, &password).await;
    assert_eq!(
        all_fields(&body, "CENTER_LID"),
        vec!["MAD", "SYD"],
        "{body}"
    );
    drop(server);
    assert!(op.dir.path().join("rendez-demo.db").exists());
    assert!(
        !op.dir.path().join("rendez.db").exists(),
        "the clinic's default database is never touched by the demo"
    );
    for id in ["MAD", "SYD", "CONS", "DERM1", "DR-PENA", "DR-SMITH"] {
        assert!(banner.contains(id), "{id} in the banner: {banner}");
    }
}

async fn the_sample_files_of_the_readme_import_without_a_refused_line(backend: Backend) {
    let op = Operator::new(backend);
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let sample = |name: &str| samples.join(name).to_str().unwrap().to_string();
    let run = op.run(&["import", "keyentities", &sample("keyentities.csv")]);
    run.assert_success();
    assert!(run.stdout.contains("0 lines refused"), "{run:#?}");
    assert!(!run.stdout.contains("ignored"), "{run:#?}");
    let run = op.run(&["import", "availabilities", &sample("availabilities.csv")]);
    run.assert_success();
    assert!(run.stdout.contains("5 lines read; created 5"), "{run:#?}");
    assert!(run.stdout.contains("0 lines refused"), "{run:#?}");
    let run = op.run(&["import", "appointments", &sample("appointments.csv")]);
    run.assert_success();
    assert!(
        run.stdout.contains("3 lines imported; created 3"),
        "{run:#?}"
    );

    let pool = op.pool();
    let lids: Vec<String> = stored_centers(&pool)
        .into_iter()
        .map(|(lid, _, _)| lid)
        .collect();
    assert_eq!(lids, vec!["C-CENTRO", "C-NORTE"]);
    let (doctors, rules) = demo_counts(&pool);
    assert_eq!((doctors, rules), (2, 5));

    // What can be booked, as a newcomer lists it.
    let run = op.run(&["catalog"]);
    run.assert_success();
    for expected in [
        "C-CENTRO",
        "DR-LOPEZ",
        "Ana López",
        "CONS",
        "ECO",
        "insurance SEG-1",
    ] {
        assert!(run.stdout.contains(expected), "{expected} in {run:#?}");
    }
    let norte = op.run(&["catalog", "--center", "C-NORTE"]);
    norte.assert_success();
    assert!(!norte.stdout.contains("DR-RUIZ"), "{norte:#?}");
    assert!(norte.stdout.contains("DR-LOPEZ"), "{norte:#?}");
}

async fn a_fresh_serve_says_how_to_create_a_client_warns_that_messages_wait_and_answers_its_address(
    backend: Backend,
) {
    let op = Operator::new(backend);
    let (server, base, log) = serve_logging(&op, &[]).await;
    let response = http().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let about: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(about["name"], "Rendez");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(about["links"]["wsdl"], "/soap?wsdl");
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("rendez client add NAME --roles"), "{text}");
    assert!(
        text.contains("no SMS or email provider is configured"),
        "{text}"
    );

    // With a client and a provider, neither warning.
    op.run_with_stdin(
        &["client", "add", "his", "--roles", "admin"],
        "his-password-123\n",
    )
    .assert_success();
    let (server, _, log) = serve_logging(&op, &[("RENDEZ_EMAIL_PROVIDER", "log")]).await;
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("rendez client add NAME"), "{text}");
    assert!(!text.contains("no SMS or email provider"), "{text}");
}

async fn a_worker_without_a_provider_is_refused_unless_it_runs_without_messaging(backend: Backend) {
    let op = Operator::new(backend);
    op.run(&["worker"])
        .assert_failure("no messaging provider is configured")
        .assert_failure("--no-messaging");

    let mut command = op.command(&["worker", "--no-messaging"]);
    command
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut worker = command.spawn().unwrap();
    let stderr = worker.stderr.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let _ = sender.send(line.unwrap_or_default());
        }
    });
    let said = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("the worker logs as it starts");
    let mut seen = said.clone();
    while !seen.contains("sends no messages") {
        seen = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no word of --no-messaging after {said}"));
    }
    // The stop signal is awaited once the worker's tasks are started, just after that line.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(worker.try_wait().unwrap().is_none(), "the worker runs");
    unsafe { libc::kill(worker.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "SIGTERM stops the worker"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

async fn client_enable_and_reset_password_work_on_a_running_server_within_a_second(
    backend: Backend,
) {
    let op = Operator::new(backend);
    let run = op.run(&[
        "client",
        "add",
        "his",
        "--roles",
        "admin",
        "--centers",
        "MAD,NOWHERE",
        "--password",
        PASSWORD,
    ]);
    run.assert_success();
    assert!(
        run.stderr.contains("'MAD'"),
        "unknown centers are named: {run:#?}"
    );
    assert!(run.stderr.contains("'NOWHERE'"), "{run:#?}");
    op.run(&[
        "client",
        "add",
        "bad",
        "--roles",
        "admin,root",
        "--password",
        PASSWORD,
    ])
    .assert_failure("--roles");
    let app = spawn_app_on(op.db.clone(), test_settings(&op.db)).await;
    let old = Auth::basic("his", PASSWORD);
    app.soap(&old, "getCenters", "").await.assert_ok();

    op.run(&["client", "disable", "his"]).assert_success();
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    app.soap(&old, "getCenters", "")
        .await
        .assert_fault("Client", "authentication");
    let run = op.run(&["client", "enable", "his"]);
    run.assert_success();
    assert!(run.stdout.contains("enabled"), "{run:#?}");
    assert_eq!(op.listed_client("his").unwrap()[4], "enabled");
    app.soap(&old, "getCenters", "").await.assert_ok();
    // The console's use case: audited as the system's CLI; a second enable is refused.
    let audited = rendez::db::console::audit_of(&mut app.pool.get().unwrap(), "system cli", 100)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "client.enable" && r.subject == "his")
        .count();
    assert_eq!(audited, 1);
    op.run(&["client", "enable", "his"])
        .assert_failure("enabled already");

    let new_password = "a-new-password-456";
    let run = op.run_with_stdin(
        &["client", "reset-password", "his"],
        &format!("{new_password}\n"),
    );
    run.assert_success();
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    app.soap(&old, "getCenters", "")
        .await
        .assert_fault("Client", "authentication");
    app.soap(&Auth::basic("his", new_password), "getCenters", "")
        .await
        .assert_ok();

    op.run(&["client", "enable", "ghost"])
        .assert_failure("no client named 'ghost'");
    op.run_with_stdin(
        &["client", "reset-password", "ghost"],
        "whatever-password-1\n",
    )
    .assert_failure("no client named 'ghost'");
    op.run_with_stdin(&["client", "reset-password", "his"], "short\n")
        .assert_failure("12");
}

/// The README's first journey (the `sh` block after its `<!-- journey` marker), run as written
/// against `serve --demo`: the password, the address and the values a reader copies from one
/// answer into the next are the only things filled in.
#[actix_web::test]
async fn the_readme_journey_lists_searches_books_shows_the_confirmation_and_cancels() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("<!-- journey")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README's journey block");
    let (definitions, steps) = block.split_once("\n# 1.").expect("numbered steps");
    let commands: Vec<&str> = steps
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("soap "))
        .collect();
    assert_eq!(commands.len(), 4, "{block}");

    let op = Operator::new(Backend::Sqlite);
    let mut command = bare_command(op.dir.path(), &["serve", "--demo"]);
    command
        .env("RENDEZ_BIND", "127.0.0.1:0")
        .env("RENDEZ_SCHEDULER_INTERVAL", "1s");
    let log = op.dir.path().join("serve.log");
    let (mut server, base, _, password, (_, printed)) = start_demo_with(&op, command);
    wait_until_healthy(&base, &mut server, &log).await;
    let definitions = definitions
        .replace("the password serve --demo printed", &password)
        .replace("http://127.0.0.1:8080", &base);
    let run = |command: String| {
        let script = format!("{definitions}\n{command}\n");
        let output = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("bash runs");
        assert!(output.status.success(), "{script}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let field = |xml: &str, name: &str| -> String {
        xml.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("</{name}>")).next())
            .unwrap_or_else(|| panic!("no {name} in {xml}"))
            .to_string()
    };

    let listed = run(commands[0].to_string());
    assert!(
        listed.contains("<RESOURCE_LID>DR-PENA</RESOURCE_LID>"),
        "{listed}"
    );
    let found = run(commands[1].to_string());
    let (date, time) = (field(&found, "AVA_DATE"), field(&found, "AVA_START_TIME"));
    let booked = run(commands[2]
        .replace(">DATE<", &format!(">{date}<"))
        .replace(">TIME<", &format!(">{time}<")));
    assert_eq!(field(&booked, "ADD_RESULT"), "OK", "{booked}");
    let app_lid = field(&booked, "APP_LID");

    // The confirmation the demo printed instead of sending it, with the patient's link.
    let started = Instant::now();
    let mut seen = String::new();
    while !(seen.contains("--- demo SMS to +34600000001") && seen.contains("/a/")) {
        let line = printed
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!(
                    "no confirmation printed after {:?}: {seen}",
                    started.elapsed()
                )
            });
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(
        seen.contains(&time),
        "the confirmation names the time: {seen}"
    );

    let cancelled = run(commands[3].replace(">APP_LID<", &format!(">{app_lid}<")));
    assert_eq!(field(&cancelled, "DELETE_RESULT"), "OK", "{cancelled}");
    drop(server);
}

async fn client_rotate_prints_a_new_secret_once_and_the_old_one_works_until_the_overlap_ends(
    backend: Backend,
) {
    let op = Operator::new(backend);
    op.run(&[
        "client",
        "add",
        "his",
        "--roles",
        "admin",
        "--password",
        PASSWORD,
    ])
    .assert_success();
    let app = spawn_app_on(op.db.clone(), test_settings(&op.db)).await;
    let run = op.run(&["client", "rotate", "his", "--overlap", "4s"]);
    run.assert_success();
    let secret = run
        .stdout
        .lines()
        .find_map(|l| l.split("(shown once): ").nth(1))
        .unwrap_or_else(|| panic!("{run:#?}"))
        .trim()
        .to_string();
    assert!(secret.len() >= 32, "{secret}");
    assert!(
        run.stdout.contains("the old secret works until"),
        "{run:#?}"
    );
    let (old, new) = (Auth::basic("his", PASSWORD), Auth::basic("his", &secret));
    app.soap(&new, "getCenters", "").await.assert_ok();
    app.soap(&old, "getCenters", "").await.assert_ok();
    actix_web::rt::time::sleep(Duration::from_millis(5200)).await;
    app.soap(&old, "getCenters", "")
        .await
        .assert_fault("Client", "authentication");
    app.soap(&new, "getCenters", "").await.assert_ok();
    // A reset ends any overlap at once.
    op.run(&["client", "rotate", "his", "--overlap", "1h"])
        .assert_success();
    op.run_with_stdin(
        &["client", "reset-password", "his"],
        "after-reset-password-1\n",
    )
    .assert_success();
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    app.soap(&new, "getCenters", "")
        .await
        .assert_fault("Client", "authentication");
    op.run(&["client", "rotate", "ghost"])
        .assert_failure("no client named 'ghost'");
    op.run(&["client", "rotate", "his", "--overlap", "soon"])
        .assert_failure("--overlap");
}
