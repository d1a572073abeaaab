//! `rendez roster add|list|remove|source|conflicts` and `rendez deputy map-area|map-employee|
//! mappings` against the database a server uses; bad input is refused with a message that
//! names the problem, and writes nothing.

use std::process::Command;

use serde_json::Value;

use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, rendez_bin};

backend_tests!(the_roster_commands_add_list_and_remove_shifts_and_refuse_bad_input,);

struct Shell<'a> {
    dir: tempfile::TempDir,
    scene: &'a Scene,
}

impl Shell<'_> {
    /// Runs `rendez ARGS`; (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = Command::new(rendez_bin());
        for (name, _) in std::env::vars() {
            if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
                command.env_remove(name);
            }
        }
        let out = command
            .args(args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .env("DATABASE_URL", &self.scene.app.db.url)
            .env("RENDEZ_SECRET_KEY_FILE", self.dir.path().join("rendez.key"))
            .output()
            .expect("the rendez binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "rendez {args:?} failed: {out} {err}");
        out
    }

    #[track_caller]
    fn fails(&self, args: &[&str], says: &str) {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "rendez {args:?} succeeded: {out}");
        assert!(
            err.contains(says),
            "rendez {args:?} says {err:?}, not {says:?}"
        );
    }

    fn listed(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["roster", "list", "--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str::<Value>(&out)
            .unwrap_or_else(|e| panic!("{e}: {out}"))
            .as_array()
            .unwrap()
            .clone()
    }
}

async fn the_roster_commands_add_list_and_remove_shifts_and_refuse_bad_input(backend: Backend) {
    let scene = quiet_scene(backend, "30days").await;
    clinic(&scene).await;
    let shell = Shell {
        dir: tempfile::tempdir().unwrap(),
        scene: &scene,
    };
    let day = weekday_ahead(3);
    let d = day.format("%Y-%m-%d").to_string();
    let at = |hhmm: &str| format!("{d}T{hhmm}");

    let out = shell.ok(&[
        "roster",
        "add",
        "R1",
        "C1/Surgery",
        &at("09:00"),
        &at("17:00"),
        "--break",
        "12:30-13:30",
    ]);
    assert!(out.contains("added"), "{out}");
    shell.ok(&["roster", "add", "R2", "C1", &at("08:00"), &at("10:00")]);

    let all = shell.listed(&[]);
    assert_eq!(all.len(), 2, "{all:?}");
    let r1 = shell.listed(&["--resource", "R1"]);
    assert_eq!(r1.len(), 1);
    let shift = &r1[0];
    assert_eq!(shift["resource"], "R1");
    assert_eq!(shift["center"], "C1");
    assert_eq!(shift["area"], "Surgery");
    assert_eq!(shift["start"], at("09:00"));
    assert_eq!(shift["end"], at("17:00"));
    assert_eq!(shift["timezone"], "Europe/Madrid");
    assert_eq!(shift["origin"], "rendez");
    assert_eq!(shift["breaks"][0]["start"], at("12:30"));
    assert_eq!(shift["breaks"][0]["end"], at("13:30"));
    let id = shift["id"].as_str().unwrap().to_string();
    // Dates select by the local day of the start.
    assert_eq!(shell.listed(&["--from", &d, "--to", &d]).len(), 2);
    let next = day.succ_opt().unwrap().format("%Y-%m-%d").to_string();
    assert!(shell.listed(&["--from", &next]).is_empty());
    let text = shell.ok(&["roster", "list"]);
    assert!(text.contains(&id) && text.contains("12:30-13:30"), "{text}");

    // The server's searches follow what the command wrote.
    settle().await;
    let starts = soap_times(&scene.app, "R1", day).await;
    assert!(starts.contains(&"09:00".to_string()) && !starts.contains(&"12:30".to_string()));

    // Bad input, each named; nothing written.
    for (args, says) in [
        (
            vec!["roster", "add", "NOPE", "C1", &at("09:00"), &at("10:00")],
            "unknown resource 'NOPE'",
        ),
        (
            vec!["roster", "add", "R1", "NOPE", &at("09:00"), &at("10:00")],
            "unknown center 'NOPE'",
        ),
        (
            vec!["roster", "add", "R1", "C1", &at("10:00"), &at("09:00")],
            "must come after its start",
        ),
        (
            vec!["roster", "add", "R1", "C1", "tomorrow", &at("09:00")],
            "is not an ISO local date and time",
        ),
        (
            vec![
                "roster",
                "add",
                "R1",
                "C1",
                &at("09:00"),
                &at("12:00"),
                "--break",
                "11:30-12:30",
            ],
            "not inside the shift",
        ),
        (
            vec![
                "roster",
                "add",
                "R1",
                "C1",
                &at("09:00"),
                &at("12:00"),
                "--break",
                "10:00-11:00",
                "--break",
                "10:30-11:30",
            ],
            "overlap",
        ),
        (
            vec![
                "roster",
                "add",
                "R1",
                "C1",
                &at("09:00"),
                &at("12:00"),
                "--break",
                "lunch",
            ],
            "START-END",
        ),
        (
            vec!["roster", "add", "R1", "C1/", &at("09:00"), &at("12:00")],
            "empty area",
        ),
        (
            vec![
                "roster",
                "add",
                "R1",
                "C1",
                "2027-03-28T02:30",
                "2027-03-28T05:00",
            ],
            "does not exist",
        ),
        (vec!["roster", "list", "--from", "soon"], "not an ISO date"),
        (
            vec!["roster", "remove", "nope"],
            "shift 'nope' is not known",
        ),
        (
            vec!["roster", "source", "R1", "sometimes"],
            "rules, roster, both",
        ),
        (
            vec!["deputy", "map-area", "C1", "x"],
            "not a Deputy operational unit id",
        ),
        (
            vec!["deputy", "map-employee", "R1", "0"],
            "not a Deputy employee id",
        ),
        (
            vec!["deputy", "map-employee", "NOPE", "3"],
            "unknown resource 'NOPE'",
        ),
    ] {
        shell.fails(&args, says);
    }
    assert_eq!(shell.listed(&[]).len(), 2, "nothing written by bad input");

    // Removed: gone from the list, shown with --removed.
    let out = shell.ok(&["roster", "remove", &id]);
    assert!(out.contains("removed"), "{out}");
    assert_eq!(shell.listed(&[]).len(), 1);
    let with_removed = shell.listed(&["--removed", "--resource", "R1"]);
    assert!(
        with_removed[0]["removed_at"].is_string(),
        "{with_removed:?}"
    );

    // The availability source, shown and set.
    let out = shell.ok(&["roster", "source", "R2"]);
    assert!(out.contains("roster (default)"), "{out}");
    let out = shell.ok(&["roster", "source", "R2", "both"]);
    assert!(out.contains("from both"), "{out}");

    // Deputy mappings.
    shell.ok(&["deputy", "map-area", "C1/Surgery", "11"]);
    shell.ok(&["deputy", "map-area", "C1", "10"]);
    shell.ok(&["deputy", "map-employee", "R1", "501"]);
    shell.fails(
        &["deputy", "map-area", "C1/Other", "11"],
        "already mapped to C1/Surgery",
    );
    shell.fails(
        &["deputy", "map-employee", "R2", "501"],
        "already mapped to resource 'R1'",
    );
    let out = shell.ok(&["deputy", "mappings", "--json"]);
    let mappings: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(mappings["units"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(mappings["employees"][0]["resource_lid"], "R1");
    assert_eq!(mappings["employees"][0]["employee_id"], 501);
    let text = shell.ok(&["deputy", "mappings"]);
    assert!(
        text.contains("C1/Surgery -> Deputy operational unit 11"),
        "{text}"
    );
}
