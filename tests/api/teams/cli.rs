//! The commands: `rendez locations import`, `rendez teams add|assign|join|leave|void|tree`,
//! `rendez client add --view --edit`; then the server enforces what they set.

use std::process::Command;
use std::sync::Arc;

use super::*;
use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase, rendez_bin, spawn_app_on, test_settings};

backend_tests!(the_commands_build_the_tree_and_a_server_enforces_it,);

struct Shell {
    dir: tempfile::TempDir,
    db: Arc<TestDatabase>,
}

impl Shell {
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
            .env("DATABASE_URL", &self.db.url)
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

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

async fn the_commands_build_the_tree_and_a_server_enforces_it(backend: Backend) {
    let shell = Shell {
        dir: tempfile::tempdir().unwrap(),
        db: Arc::new(TestDatabase::new(backend)),
    };
    shell.ok(&["migrate"]);
    let csv: String = std::iter::once("LID,NAME,PARENT_LID,LEVEL".to_string())
        .chain(hierarchy().iter().map(|l| {
            format!(
                "{},{},{},{}",
                l.lid,
                l.name,
                l.parent.as_deref().unwrap_or(""),
                l.level
            )
        }))
        .collect::<Vec<_>>()
        .join("\n");
    let file = shell.write("locations.csv", &csv);
    assert!(
        shell
            .ok(&["locations", "import", &file])
            .contains("10 locations")
    );
    let cycle = shell.write(
        "cycle.csv",
        "LID,NAME,PARENT_LID,LEVEL\nTH,Thailand,C-PK1,country\n",
    );
    shell.fails(&["locations", "import", &cycle], "cycle");

    shell.ok(&["teams", "add", "CM collectors"]);
    shell.ok(&[
        "teams",
        "assign",
        "CM collectors",
        "D-CM",
        "--from",
        "2026-01-01",
    ]);
    shell.fails(
        &["teams", "assign", "CM collectors", "D-XX"],
        "no location 'D-XX'",
    );
    shell.fails(
        &[
            "teams",
            "assign",
            "CM collectors",
            "D-CR",
            "--from",
            "2027-02-01",
            "--to",
            "2027-01-01",
        ],
        "before it starts",
    );
    shell.fails(
        &["teams", "assign", "CM collectors", "D-CR", "--from", "soon"],
        "--from",
    );
    shell.ok(&["teams", "add", "South observers"]);
    shell.ok(&[
        "teams",
        "assign",
        "South observers",
        "P-SOUTH",
        "--view-only",
    ]);
    for (name, view, edit) in [(COLLECTOR, "", ""), (NATIONAL, "TH", "")] {
        shell.ok(&[
            "client",
            "add",
            name,
            "--roles",
            "booking",
            "--view",
            view,
            "--edit",
            edit,
            "--password",
            PASSWORD,
        ]);
    }
    shell.fails(
        &[
            "client",
            "add",
            "typo",
            "--roles",
            "booking",
            "--view",
            "T-H",
            "--password",
            PASSWORD,
        ],
        "no location 'T-H'",
    );
    let listed = shell.ok(&["client", "list"]);
    let national = listed.lines().find(|l| l.starts_with(NATIONAL)).unwrap();
    assert!(national.contains(" grants "), "{listed}");
    shell.ok(&[
        "teams",
        "join",
        "CM collectors",
        COLLECTOR,
        "--role",
        "leader",
    ]);
    shell.ok(&[
        "teams",
        "join",
        "South observers",
        COLLECTOR,
        "--role",
        "member",
    ]);
    shell.fails(
        &["teams", "join", "CM collectors", NATIONAL, "--role", "boss"],
        "leader, member",
    );
    shell.ok(&["teams", "add", "Spare"]);
    shell.ok(&["teams", "void", "Spare"]);
    shell.fails(&["teams", "void", "Spare"], "voided");

    let tree = shell.ok(&["teams", "tree"]);
    let line = |text: &str| {
        tree.lines()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("{text:?} not in the tree:\n{tree}"))
    };
    assert!(line("TH Name of TH (country)") < line("P-NORTH"));
    assert!(line("D-CM Name of D-CM") < line("team CM collectors"));
    assert!(line("team CM collectors") < line("C-CM1"));
    assert!(tree.contains(&format!("{COLLECTOR} (leader)")), "{tree}");
    assert!(tree.contains("view only"), "{tree}");
    assert!(
        !tree.contains("Spare"),
        "a voided team is not drawn:\n{tree}"
    );
    assert!(
        tree.lines().any(|l| l.starts_with("      C-CM1")),
        "indented by depth:\n{tree}"
    );

    // A server on that database enforces it.
    let app = spawn_app_on(shell.db.clone(), test_settings(&shell.db)).await;
    clinics(&app).await;
    assert_eq!(
        slot_centers(&search(&app, COLLECTOR, None).await),
        vec!["C-CM1", "C-CM2", "C-PK1"]
    );
    let ok = add(&app, COLLECTOR, "C-CM1", "09:00").await;
    assert_eq!(ok.field("ADD_RESULT").as_deref(), Some("OK"), "{}", ok.body);
    add(&app, COLLECTOR, "C-PK1", "09:00")
        .await
        .assert_fault("Client", "may not act on center");
    assert_eq!(
        slot_centers(&search(&app, NATIONAL, None).await),
        CENTERS.to_vec()
    );
    add(&app, NATIONAL, "C-CR1", "09:00")
        .await
        .assert_fault("Client", "may not act on center");

    shell.ok(&["teams", "leave", "CM collectors", COLLECTOR]);
    shell.fails(&["teams", "leave", "CM collectors", COLLECTOR], "no member");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        slot_centers(&search(&app, COLLECTOR, None).await),
        vec!["C-PK1"]
    );
    shell.fails(
        &["locations", "remove", "P-SOUTH"],
        "still has teams assigned: South observers",
    );
    shell.fails(&["locations", "remove", "D-PK"], "below it");
    assert!(
        shell
            .ok(&["locations", "remove", "C-CR1"])
            .contains("removed")
    );
    assert!(!shell.ok(&["teams", "tree"]).contains("C-CR1"));
}
