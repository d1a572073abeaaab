//! updateKeyEntities, updateAvailabilities and getCenters over SOAP.

use crate::backend_tests;
use crate::helpers::{Auth, Backend, spawn_app};

backend_tests!(pushed_centers_are_listed_by_get_centers_with_their_names_intact);

async fn pushed_centers_are_listed_by_get_centers_with_their_names_intact(backend: Backend) {
    let app = spawn_app(backend).await;
    app.seed_basic_clinic().await;
    let reply = app.soap(&Auth::admin(), "getCenters", "").await;
    reply.assert_ok();
    assert_eq!(reply.fields("CENTER_LID"), vec!["C1"]);
    assert_eq!(reply.field("CENTER_NAME").as_deref(), Some("Centro Uno"));
    assert_eq!(reply.field("TIMEZONE").as_deref(), Some("Europe/Madrid"));
}
