//! updateTestResults may carry a file of RENDEZ_RESULTS_MAX_SIZE in base64; every other
//! operation keeps RENDEZ_MAX_BODY, and the pre-scan protections hold for big bodies too.

use super::{Item, decoded_content, lab, sample_content, spawn_results_app_with};
use crate::backend_tests;
use crate::helpers::{Auth, Backend, envelope11};

backend_tests!(an_update_test_results_body_may_pass_the_default_limit_up_to_the_result_size,);

async fn an_update_test_results_body_may_pass_the_default_limit_up_to_the_result_size(
    backend: Backend,
) {
    let app = spawn_results_app_with(backend, |s| {
        s.max_body = Some("64KiB".into());
        s.results_max_size = Some("2MiB".into());
    })
    .await;
    // 1.9 MiB of content: about 2.5 MiB of base64, far over the 64 KiB default.
    let content = sample_content("big", 1_900_000);
    app.push_ok(&Item::new("BIG-1", "BIGCODE7Q2XK9", "1", &content))
        .await;
    let reply = app.result_content(&lab(), "BIG-1").await;
    super::assert_same_bytes(decoded_content(&reply).as_deref(), &content);

    // Other operations keep the default limit.
    let padding = format!("<!--{}-->", "p".repeat(100 * 1024));
    let centers = app.soap(&Auth::admin(), "getCenters", &padding).await;
    assert_eq!(centers.status, 413, "{}", centers.body);
    centers.assert_fault("Client", "larger than the limit of 65536 bytes");

    // A file over the result size is refused by the body limit, naming the operation.
    let too_big = Item::new("BIG-2", "BIGCODE7Q2XK8", "1", &vec![7u8; 3 * 1024 * 1024]);
    let reply = app.push_results(&lab(), &[too_big]).await;
    assert_eq!(
        reply.status,
        413,
        "{}",
        &reply.body[..reply.body.len().min(300)]
    );
    reply.assert_fault("Client", "updateTestResults");

    // A big results body is still pre-scanned: a DOCTYPE is refused.
    let envelope = envelope11(
        &lab(),
        "updateTestResults",
        &Item::new("BIG-3", "BIGCODE7Q2XK7", "1", &content).xml(),
    );
    let with_doctype = format!("<!DOCTYPE x [<!ENTITY e \"e\">]>{envelope}");
    let reply = app
        .post_soap_raw(Some("text/xml; charset=utf-8"), None, &lab(), with_doctype)
        .await;
    reply.assert_fault("Client", "DOCTYPE");
    // And a body that names another operation first cannot borrow the larger limit.
    let smuggled = envelope.replace("updateTestResults", "getCenters");
    let reply = app
        .post_soap_raw(
            Some("text/xml; charset=utf-8"),
            None,
            &Auth::admin(),
            smuggled,
        )
        .await;
    assert_eq!(reply.status, 413);
}
