//! The HTTP surface: one table of routes, and the small non-SOAP endpoints.

pub mod access_log;
pub mod appointment_page;
pub mod client_address;
pub mod deputy_hook;
pub mod health;
pub mod hooks;
pub mod metrics;
pub mod results_page;
pub mod sms_replies;

use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, dev::ServiceResponse, web};

use crate::error::Error;
use crate::soap;

/// Every route; the server leaves `/metrics` out when it has a listener of its own
/// (`RENDEZ_METRICS_BIND`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    routes_but_metrics(cfg);
    metrics_routes(cfg);
}

/// `/metrics` alone.
pub fn metrics_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics::render));
}

/// Every route but `/metrics`.
pub fn routes_but_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/soap")
            .route(web::post().to(soap::endpoint::post))
            .route(web::get().to(soap::endpoint::wsdl))
            .route(web::head().to(soap::endpoint::wsdl))
            .default_service(web::to(soap::endpoint::method_not_allowed)),
    )
    .route("/", web::get().to(health::index))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .configure(results_page::routes)
    .configure(crate::edge::openvpms::routes)
    .configure(crate::edge::fhir::routes)
    .configure(crate::edge::admin::configure)
    .configure(crate::edge::console::routes)
    .service(
        web::resource("/a/{token}")
            .app_data(web::FormConfig::default().limit(1024))
            .route(web::get().to(appointment_page::show))
            .route(web::post().to(appointment_page::act)),
    )
    .service(
        // One scope for every provider webhook: a route outside it under /hooks would never be
        // reached, the scope answers 404 first.
        web::scope("/hooks")
            .app_data(web::PayloadConfig::new(hooks::HOOK_BODY_LIMIT))
            .route("/twilio/status", web::post().to(hooks::twilio_status))
            .route("/jasmin/dlr", web::post().to(hooks::jasmin_dlr))
            .route("/jasmin/dlr", web::get().to(hooks::jasmin_dlr))
            .service(
                web::resource("/jasmin/mo")
                    .app_data(web::PayloadConfig::new(sms_replies::MAX_BODY))
                    .route(web::post().to(sms_replies::jasmin_mo)),
            )
            .service(
                web::resource("/twilio/inbound")
                    .app_data(web::PayloadConfig::new(sms_replies::MAX_BODY))
                    .route(web::post().to(sms_replies::twilio_inbound)),
            )
            .service(
                web::resource("/deputy")
                    .app_data(web::PayloadConfig::new(deputy_hook::MAX_BODY))
                    .route(web::post().to(deputy_hook::receive)),
            ),
    );
}

/// actix answers some errors itself (before or around our handlers) with plain text; on the
/// SOAP path every error must leave as a Fault, in the version the caller spoke.
pub fn soap_error_handlers<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let request = res.request();
        let already_soap = res
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/xml") || ct.starts_with("application/soap+xml"));
        if !request.path().starts_with("/soap") || already_soap {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let version = soap::endpoint::version_hint(request);
        let status = res.status();
        let message = res
            .response()
            .error()
            .map(|e| e.to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        let error = if status.is_client_error() {
            Error::client(message)
        } else {
            Error::Internal(message)
        };
        let fault: HttpResponse = soap::fault::response_with_status(version, &error, status);
        let (request, _) = res.into_parts();
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(request, fault).map_into_right_body(),
        ))
    })
}
