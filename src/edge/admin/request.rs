//! What every admin request goes through: the caller (authenticated, with the admin role),
//! its body (declared JSON, limited before it is read, parsed naming the field at fault), its
//! path parameters; and resources whose other methods answer 405.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::{AdminError, Answer, JSON};
use crate::app::Caller;
use crate::domain::access::Role;
use crate::edge::openvpms::basic_credentials;
use crate::error::Error;
use crate::http::client_address::client_address;
use crate::state::AppState;

/// The body limit a resource takes unless it needs another (an import takes more, a team less).
pub const MAX_BODY: usize = 64 * 1024;

/// A resource whose other methods are answered 405 in the API's JSON.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The caller: a bearer token of a Rendez client, else HTTP Basic credentials; it must hold the
/// `admin` role (checked here too, so that no body is read for a caller without it).
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Caller, AdminError> {
    let address = client_address(req, state.config.trust_forwarded_for);
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let bearer = authorization.and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    let who = match (authorization, bearer) {
        (None, _) => {
            return Err(Error::Unauthenticated(
                "send HTTP Basic credentials or a bearer token of a client with the admin role"
                    .into(),
            )
            .into());
        }
        (_, Some(token)) => state.auth.authenticate_bearer(token, &address).await?,
        (Some(_), None) => {
            let credentials = basic_credentials(req.headers())?;
            state.auth.authenticate(credentials, &address).await?
        }
    };
    crate::app::require(&who, Role::Admin, "the admin API")?;
    Ok(who)
}

/// A path parameter, as routed (percent-decoded).
pub fn path_param(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_string()
}

/// Reads a JSON body of at most `limit` bytes (a larger one is refused unread when announced,
/// and as soon as it passes the limit otherwise) into `T`. A body that does not fit `T` is a
/// 400 naming the field at fault (`rows[2].parent: invalid type: ...`).
pub async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<T, AdminError> {
    let declared_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|mime| {
            mime == JSON || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !declared_json {
        return Err(AdminError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be declared Content-Type: application/json",
        ));
    }
    let too_large = || {
        AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(announced.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Error::client(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    parse_json(&body).map_err(AdminError::from)
}

/// `T` from JSON text; the error names the field at fault (serde_path_to_error keeps the path
/// that serde's own errors lose).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    // serde would also take a struct as a list of its fields in order; nobody means that.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::client("the body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." | "" => Error::client(format!("the body: {}", e.inner())),
            _ => Error::client(format!("{path}: {}", e.inner())),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| Error::client(format!("the body: {e}")))?;
    Ok(value)
}

async fn method_not_allowed(req: HttpRequest) -> Answer {
    Err(AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not served on {}", req.method(), req.path()),
    ))
}
