//! Independent SOAP clients, which did not come from this project, use the served WSDL.
//! The npm package `soap` is installed by `.ci/run` (`npm ci` in tests/soap-client); where it is
//! missing this test says so and passes, unless RENDEZ_REQUIRE_NODE_SOAP=1 (CI) demands it.
//! Java's `wsimport` and JDK (Debian's `jaxws` and `default-jdk-headless`, installed by
//! `.ci/run`) likewise, with RENDEZ_REQUIRE_WSIMPORT=1.

use std::path::{Path, PathBuf};
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

/// `name`'s path if it is an executable file in a directory of PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Every `.java` file under `dir`.
fn java_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            java_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "java") {
            out.push(path);
        }
    }
}

/// Runs a command to its end (two minutes at most) and answers its success and its output.
async fn run(command: &mut tokio::process::Command) -> (bool, String) {
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("finishes within two minutes")
        .expect("runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Debian's JAX-WS RI and what its runtime pulls in through its manifest.
const JAXWS_CLASSPATH: &str = concat!(
    "/usr/share/java/jaxws-rt.jar:/usr/share/java/jaxws-api.jar:",
    "/usr/share/java/jaxb-api.jar:/usr/share/java/jws-api.jar"
);

/// Java's standard `wsimport` (the JAX-WS RI; Debian's package `jaxws`) imports the served WSDL
/// without `-extension`; javac compiles what it generated with a small client
/// (`tests/wsimport/Check.java`), which calls getCenters and searchMessages. Where wsimport or the
/// JDK is missing this test says so and passes, unless RENDEZ_REQUIRE_WSIMPORT=1 (CI) demands it.
#[actix_web::test]
async fn java_wsimport_imports_the_wsdl_without_extension_and_its_client_calls_rendez() {
    let required = std::env::var("RENDEZ_REQUIRE_WSIMPORT").is_ok_and(|v| v == "1");
    let Some(wsimport) = on_path("wsimport") else {
        assert!(
            !required,
            "RENDEZ_REQUIRE_WSIMPORT=1 but wsimport is not on PATH (Debian: apt-get install jaxws)"
        );
        eprintln!("SKIPPED: wsimport is not on PATH (Debian: apt-get install jaxws)");
        return;
    };
    let app = spawn_app(Backend::Sqlite).await;
    app.seed_basic_clinic().await;
    let wsdl_url = format!("{}/soap?wsdl", app.address);
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("generated");
    std::fs::create_dir(&generated).unwrap();
    let (ok, output) = run(tokio::process::Command::new(&wsimport)
        .arg("-Xnocompile")
        .arg("-d")
        .arg(&generated)
        .arg("-s")
        .arg(&generated)
        .arg(&wsdl_url))
    .await;
    assert!(ok, "wsimport failed:\n{output}");
    assert!(!output.contains("[ERROR]"), "{output}");
    // wsimport without -extension always passes over a SOAP 1.2 port ("non-standard" to JAX-WS);
    // Rendez's WSDL declares one for SOAP 1.2 toolkits. Nothing else may be warned about.
    for warning in output.lines().filter(|l| l.contains("[WARNING]")) {
        assert!(
            warning.contains("Ignoring SOAP port \"RendezSoap12Port\""),
            "wsimport warns: {warning}\n{output}"
        );
    }
    let mut sources = Vec::new();
    java_sources(&generated, &mut sources);
    assert!(
        sources
            .iter()
            .any(|p| p.ends_with("rendez/soap/v1/RendezPortType.java")),
        "{sources:?}"
    );

    let (Some(javac), Some(java)) = (on_path("javac"), on_path("java")) else {
        assert!(
            !required,
            "RENDEZ_REQUIRE_WSIMPORT=1 but javac or java is not on PATH (Debian: apt-get install default-jdk-headless)"
        );
        eprintln!("SKIPPED: the Java client (javac or java is not on PATH)");
        return;
    };
    let check = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wsimport/Check.java");
    let classes = dir.path().join("classes");
    std::fs::create_dir(&classes).unwrap();
    let (ok, output) = run(tokio::process::Command::new(&javac)
        .arg("-nowarn")
        .arg("-encoding")
        .arg("UTF-8")
        .arg("-cp")
        .arg(JAXWS_CLASSPATH)
        .arg("-d")
        .arg(&classes)
        .args(&sources)
        .arg(&check))
    .await;
    assert!(ok, "javac failed:\n{output}");
    let (ok, output) = run(tokio::process::Command::new(&java)
        .arg("-cp")
        .arg(format!("{}:{JAXWS_CLASSPATH}", classes.display()))
        .arg("Check")
        .arg(&wsdl_url)
        .arg(ADMIN)
        .arg(ADMIN_PASSWORD))
    .await;
    assert!(ok, "the Java client failed:\n{output}");
    assert_eq!(output.matches("ok - ").count(), 2, "{output}");
}
