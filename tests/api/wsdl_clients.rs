//! Independent SOAP clients, which did not come from this project, use the served WSDL.
//! The npm package `soap` is installed by `.ci/run` (`npm ci` in tests/soap-client); where it is
//! missing this test says so and passes, unless RENDEZ_REQUIRE_NODE_SOAP=1 (CI) demands it.

use std::path::Path;
use std::time::Duration;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, Backend, spawn_app};

#[actix_web::test]
async fn the_node_soap_package_calls_get_centers_and_update_key_entities_through_the_wsdl() {
    let client_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/soap-client");
    let installed = client_dir.join("node_modules/soap").is_dir();
    let required = std::env::var("RENDEZ_REQUIRE_NODE_SOAP").is_ok_and(|v| v == "1");
    if !installed {
        assert!(
            !required,
            "RENDEZ_REQUIRE_NODE_SOAP=1 but tests/soap-client/node_modules is missing: run npm ci there"
        );
        eprintln!(
            "SKIPPED: the npm package soap is not installed (cd tests/soap-client && npm ci)"
        );
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    let wsdl_url = format!("{}/soap?wsdl", app.address);
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg("check.js")
            .arg(&wsdl_url)
            .arg(ADMIN)
            .arg(ADMIN_PASSWORD)
            .current_dir(&client_dir)
            .output(),
    )
    .await
    .expect("node finishes within a minute")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node soap client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.matches("ok - ").count() >= 3, "{stdout}");
    let reply = app
        .soap(&crate::helpers::Auth::admin(), "getCenters", "")
        .await;
    assert!(
        reply.fields("CENTER_LID").contains(&"NODE-C1".to_string()),
        "{}",
        reply.body
    );
}
