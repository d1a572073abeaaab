//! A real headless Chromium, driven by small Node scripts in `tests/browser` (playwright-core,
//! installed by `.ci/run` with `npm ci`). `run_script` runs one by name with its arguments; where
//! the package is missing the caller is told to skip, unless RENDEZ_REQUIRE_BROWSER=1 (CI)
//! demands it.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct ScriptRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Runs `tests/browser/<script>` with `args`, or returns `None` (after saying so) when
/// playwright-core is not installed and the browser is not required.
pub async fn run_script(script: &str, args: &[&str]) -> Option<ScriptRun> {
    let dir = browser_dir();
    let installed = dir.join("node_modules/playwright-core").is_dir();
    let required = std::env::var("RENDEZ_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    if !installed {
        assert!(
            !required,
            "RENDEZ_REQUIRE_BROWSER=1 but tests/browser/node_modules is missing: run npm ci there"
        );
        eprintln!("SKIPPED: playwright-core is not installed (cd tests/browser && npm ci)");
        return None;
    }
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser script finishes within two minutes")
    .expect("node runs");
    Some(ScriptRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
