//! `POST /fhir/PractitionerRole/{id}/$regenerate`: the manual regeneration of issue 16 as a
//! FHIR operation on a role (what `rendez slots regenerate --role ID` does): the role's slots
//! are computed again now, in this process, taking turns with the workers' runs of the same
//! role, and the run's completion record is answered as `Parameters`. The `admin` role and the
//! role's center in the caller's edit scope are required (the use case checks both). Its
//! OperationDefinition is data in [`super::operations`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::operations::{CODE, parameters};
use super::outcome::{FHIR_JSON, Refusal, failure, outcome};
use super::practitioner_role;
use super::request::{admit, caller, served_type};
use crate::app::slots::{self, Regenerate};
use crate::error::Error;
use crate::state::AppState;

/// `POST /fhir/{type}/{id}/{operation}`: only `PractitionerRole/{id}/$regenerate` exists.
pub async fn invoke(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let answer = async {
        admit(&req).map_err(Refusal::response)?;
        let definition = served_type(&req).map_err(Refusal::response)?;
        let operation = req.match_info().get("operation").unwrap_or_default();
        if definition.name != practitioner_role::NAME || operation != format!("${CODE}") {
            return Err(outcome(
                StatusCode::NOT_FOUND,
                "not-supported",
                &format!(
                    "{} is not an operation this server supports; it supports PractitionerRole/{{id}}/${CODE} (see /fhir/metadata)",
                    req.path()
                ),
            ));
        }
        let who = caller(&req, &state).await?;
        let id = req.match_info().get("id").unwrap_or_default();
        let role = id
            .parse::<i64>()
            .ok()
            .filter(|n| n.to_string() == id && *n > 0)
            .ok_or_else(|| {
                outcome(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    &format!("PractitionerRole/{id} is not known"),
                )
            })?;
        let records = slots::regenerate(&state, &who, Regenerate::Role(role))
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => outcome(
                    StatusCode::NOT_FOUND,
                    "not-found",
                    &format!("PractitionerRole/{id} is not known"),
                ),
                other => failure(&other),
            })?;
        let record = records.first().ok_or_else(|| {
            outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("PractitionerRole/{id} is not known"),
            )
        })?;
        Ok::<_, HttpResponse>(
            HttpResponse::Ok()
                .content_type(FHIR_JSON)
                .body(parameters(record).to_string()),
        )
    };
    match answer.await {
        Ok(response) | Err(response) => response,
    }
}
