//! The patient page in a real headless Chromium: the form filled and submitted, the file
//! downloaded and compared byte for byte, and a wrong code refused.

use super::{Item, sample_content, spawn_results_app};
use crate::browser::run_script;
use crate::helpers::Backend;

#[actix_web::test]
async fn a_patient_downloads_a_result_in_headless_chromium_and_a_wrong_code_is_refused() {
    let app = spawn_results_app(Backend::Sqlite).await;
    let content = sample_content("%PDF-1.4 browser", 200_000);
    let mut item = Item::new("WEB-1", "BR0WSER7Q2XK", "X9988776", &content);
    item.file_name = Some("Análisis de sangre.pdf".into());
    app.push_ok(&item).await;
    let out = tempfile::tempdir().unwrap();
    let Some(run) = run_script(
        "results-download.js",
        &[
            &app.address,
            "br0wser-7q2xk",
            "x9988776",
            "WRONGCODE123",
            out.path().to_str().unwrap(),
        ],
    )
    .await
    else {
        return;
    };
    assert!(
        run.success,
        "the browser script failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout
            .contains("ok - downloaded Análisis de sangre.pdf"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ok - a wrong code is refused"),
        "{}",
        run.stdout
    );
    let saved =
        std::fs::read(out.path().join("Análisis de sangre.pdf")).expect("the downloaded file");
    super::assert_same_bytes(Some(&saved), &content);
}
