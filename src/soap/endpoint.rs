//! `POST /soap` and `GET /soap?wsdl`: bytes in, one operation dispatched, an envelope out.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, HeaderMap, HeaderValue, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt;

use super::body_budget::Reservation;
use super::envelope::{self, PasswordType, UsernameToken};
use super::{
    Operation, SoapVersion, booking, fault, master, messaging, prescan, response_envelope, results,
};
use crate::auth::{AuthenticatedClient, Credentials};
use crate::error::{Error, FaultCode};
use crate::http::client_address::client_address;
use crate::state::AppState;

/// A slow sender must not hold a worker: the whole body must arrive within this time.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The challenge of a 401: HTTP Basic is the one HTTP scheme Rendez accepts.
const BASIC_CHALLENGE: &str = "Basic realm=\"Rendez\"";

/// An error together with the HTTP status it leaves with, when that is not the Fault default.
struct Failure {
    error: Error,
    status: Option<StatusCode>,
    /// Answer 401 with `WWW-Authenticate: Basic`: the request brought no credentials, or HTTP
    /// Basic ones that do not hold, so a client that waits to be asked (LWP, suds, `curl
    /// --anyauth`) learns that it should send them.
    challenge: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            status: None,
            challenge: false,
        }
    }
}

fn with_status(error: Error, status: StatusCode) -> Failure {
    Failure {
        error,
        status: Some(status),
        challenge: false,
    }
}

/// A refusal of missing or wrong HTTP credentials: 401 with the Basic challenge. Other errors
/// (the database is down while the client's row is read) leave as they are.
fn challenged(error: Error) -> Failure {
    let challenge = matches!(error, Error::Unauthenticated(_));
    Failure {
        status: challenge.then_some(StatusCode::UNAUTHORIZED),
        error,
        challenge,
    }
}

pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let mut label = "unknown";
    let mut version = version_hint(&req);
    let result = handle(&req, payload, &state, &mut version, &mut label).await;
    let (response, fault_code) = match result {
        Ok(body) => (
            HttpResponse::Ok()
                .content_type(version.content_type())
                .body(body),
            None,
        ),
        Err(Failure {
            error,
            status,
            challenge,
        }) => {
            let code = error.fault_code();
            match code {
                FaultCode::Client | FaultCode::VersionMismatch | FaultCode::MustUnderstand => {
                    log::info!("fault {code} in {label}: {}", error.log_detail())
                }
                FaultCode::Server => log::error!("fault Server in {label}: {}", error.log_detail()),
            }
            let retry_after = match &error {
                Error::TooManyFailures(wait) => Some(wait.as_secs().max(1)),
                _ => None,
            };
            let status = match retry_after {
                Some(_) => StatusCode::TOO_MANY_REQUESTS,
                None => status.unwrap_or_else(|| fault::status(version, code)),
            };
            let mut response = fault::response_with_status(version, &error, status);
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            if challenge {
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
            }
            (response, Some(code))
        }
    };
    state.metrics.observe(label, started.elapsed(), fault_code);
    response
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    version: &mut SoapVersion,
    label: &mut &'static str,
) -> Result<Vec<u8>, Failure> {
    let (announced, action_param) = announced_version(req)?;
    *version = announced;
    check_content_encoding(req.headers())?;
    let action = match announced {
        SoapVersion::V11 => header_text(req.headers(), "SOAPAction"),
        SoapVersion::V12 => action_param,
    };
    let address = client_address(req, state.config.trust_forwarded_for);
    // HTTP Basic is judged before a byte of the body is read: wrong credentials cost no memory.
    // Such a refusal is counted under the operation the SOAPAction announced, if any.
    let announced_label = || {
        action
            .as_deref()
            .and_then(operation_of_action)
            .map(Operation::name)
    };
    let basic_client = match basic_credentials(req.headers()) {
        BasicHeader::Absent | BasicHeader::OtherScheme => None,
        BasicHeader::Malformed(error) => {
            *label = announced_label().unwrap_or(label);
            return Err(challenged(error));
        }
        BasicHeader::Basic(credentials) => {
            match state.auth.authenticate(credentials, &address).await {
                Ok(client) => Some(client),
                Err(error) => {
                    *label = announced_label().unwrap_or(label);
                    return Err(challenged(error));
                }
            }
        }
    };
    let limits = BodyLimits {
        default: state.config.max_body_bytes,
        test_results: state.config.results.body_limit(state.config.max_body_bytes),
    };
    let body = read_body(req, payload, limits, state, basic_client.is_some()).await?;
    let early_client = body.early_client.clone();
    // The body is dropped once the envelope is parsed: a results upload is not held twice.
    let envelope = {
        let text = std::str::from_utf8(&body.bytes)
            .map_err(|_| Error::client("the request body is not UTF-8 text"))?;
        prescan::check(text).map_err(Error::Client)?;
        envelope::parse(text)?
    };
    drop(body);
    if envelope.version != announced {
        return Err(Error::VersionMismatch(format!(
            "VersionMismatch: the Envelope is {} but the Content-Type announces {}",
            version_name(envelope.version),
            version_name(announced)
        ))
        .into());
    }
    let operation = Operation::from_name(&envelope.operation).ok_or_else(|| {
        Error::client(format!(
            "unknown operation '{}' in namespace {}",
            envelope.operation,
            super::RENDEZ_NS
        ))
    })?;
    *label = operation.name();
    check_action(action.as_deref(), operation)?;
    let client = match (envelope.token, basic_client) {
        // A large body's token was checked before the rest of it was read.
        (Some(_), _) if early_client.is_some() => early_client.expect("checked just above"),
        (Some(token), basic_client) => {
            let client = state
                .auth
                .authenticate(token_credentials(token)?, &address)
                .await?;
            if let Some(basic_client) = basic_client
                && basic_client.id != client.id
            {
                return Err(Error::Unauthenticated(
                    "the UsernameToken and the HTTP Basic credentials name different clients: send one of them"
                        .into(),
                )
                .into());
            }
            client
        }
        (None, Some(basic_client)) => basic_client,
        (None, None) => {
            let error = match basic_credentials(req.headers()) {
                BasicHeader::OtherScheme => "only HTTP Basic authentication is supported",
                _ => {
                    "no credentials: send a WS-Security UsernameToken or HTTP Basic authentication"
                }
            };
            return Err(challenged(Error::Unauthenticated(error.into())));
        }
    };
    let role = operation.required_role();
    if !client.roles.contains(role) {
        return Err(Error::Forbidden(format!(
            "client '{}' lacks the role '{role}' that {operation} needs",
            client.name
        ))
        .into());
    }
    Ok(dispatch(state, &client, operation, announced, envelope.payload, req).await?)
}

async fn dispatch(
    state: &AppState,
    client: &AuthenticatedClient,
    operation: Operation,
    version: SoapVersion,
    owned_payload: String,
    req: &HttpRequest,
) -> Result<Vec<u8>, Error> {
    let payload = owned_payload.as_str();
    let children = match operation {
        Operation::UpdateKeyEntities => master::update_key_entities(state, client, payload).await,
        Operation::UpdateAvailabilities => {
            master::update_availabilities(state, client, payload).await
        }
        Operation::GetCenters => master::get_centers(state, client, payload).await,
        Operation::GetKeyEntities => master::get_key_entities(state, client, payload).await,
        Operation::SearchAvailabilities => {
            booking::search_availabilities(state, client, payload).await
        }
        Operation::AddAppointment => booking::add_appointment(state, client, payload).await,
        Operation::DeleteAppointment => booking::delete_appointment(state, client, payload).await,
        Operation::CheckAppointment => booking::check_appointment(state, client, payload).await,
        Operation::GetAppointments => booking::get_appointments(state, client, payload).await,
        Operation::UpdateTestResults => {
            results::update_test_results(state, client, owned_payload).await
        }
        Operation::GetTestResultsList => {
            results::get_test_results_list(state, client, payload).await
        }
        Operation::GetTestResultContent => {
            // Writes its whole envelope: the content's base64 goes straight into it.
            let address = client_address(req, state.config.trust_forwarded_for);
            return results::get_test_result_content(state, client, payload, address, version)
                .await;
        }
        Operation::UpdateMessages => messaging::update_messages(state, client, payload).await,
        Operation::SearchMessages => messaging::search_messages(state, client, payload).await,
        Operation::UpdateLocations => master::update_locations(state, client, payload).await,
    }?;
    Ok(response_envelope(version, operation, &children))
}

fn version_name(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => "SOAP 1.1",
        SoapVersion::V12 => "SOAP 1.2",
    }
}

/// The SOAP version the Content-Type announces (and SOAP 1.2's `action` parameter).
fn announced_version(req: &HttpRequest) -> Result<(SoapVersion, Option<String>), Failure> {
    let unsupported = |detail: String| {
        with_status(
            Error::client(format!(
                "{detail}; SOAP 1.1 requests use Content-Type text/xml, SOAP 1.2 application/soap+xml"
            )),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        )
    };
    let mime = match req.mime_type() {
        Ok(Some(mime)) => mime,
        Ok(None) => return Err(unsupported("the request has no Content-Type".into())),
        Err(_) => return Err(unsupported("the Content-Type cannot be parsed".into())),
    };
    if let Some(charset) = mime.get_param("charset")
        && !charset.as_str().eq_ignore_ascii_case("utf-8")
    {
        return Err(
            Error::client(format!("the charset {charset} is not accepted: send UTF-8")).into(),
        );
    }
    match mime.essence_str() {
        "text/xml" => Ok((SoapVersion::V11, None)),
        "application/soap+xml" => Ok((
            SoapVersion::V12,
            mime.get_param("action").map(|a| a.as_str().to_string()),
        )),
        _ => Err(unsupported(format!("the Content-Type {mime} is not SOAP"))),
    }
}

/// The body is read as sent (actix does not decompress a raw payload): a compressed body would
/// only fail later as "not UTF-8", so say what is wrong.
fn check_content_encoding(headers: &HeaderMap) -> Result<(), Failure> {
    match header_text(headers, CONTENT_ENCODING.as_str()) {
        Some(coding) if !coding.is_empty() && !coding.eq_ignore_ascii_case("identity") => {
            Err(with_status(
                Error::client(format!(
                    "the Content-Encoding '{coding}' is not accepted: send the request body uncompressed"
                )),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ))
        }
        _ => Ok(()),
    }
}

/// The version to answer in when the request cannot tell us better.
pub fn version_hint(req: &HttpRequest) -> SoapVersion {
    match req.mime_type() {
        Ok(Some(mime)) if mime.essence_str() == "application/soap+xml" => SoapVersion::V12,
        _ => SoapVersion::V11,
    }
}

/// The body limit is `RENDEZ_MAX_BODY`, except for updateTestResults, whose files may be far
/// larger: a body that passes the default limit continues only when what has arrived already
/// shows that operation as the Body's element.
#[derive(Clone, Copy)]
struct BodyLimits {
    default: usize,
    test_results: usize,
}

/// A body as read, with its share of the bodies-in-flight budget (given back when both are
/// dropped), and the client its UsernameToken proved when the body was large enough to need it.
struct ReadBody<'a> {
    bytes: Vec<u8>,
    /// Held as long as the bytes are.
    _reservation: Reservation<'a>,
    early_client: Option<AuthenticatedClient>,
}

/// Reads the body within its limits and the budget. A caller whose HTTP Basic credentials
/// were checked (`verified`) gets a buffer of the declared length at once; any other grows
/// with what arrives. A body passes `RENDEZ_MAX_BODY` only once its start names
/// updateTestResults *and* its caller is known: HTTP Basic already checked, or the
/// UsernameToken of its Header checked then, before another byte is read.
async fn read_body<'a>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limits: BodyLimits,
    state: &'a AppState,
    verified: bool,
) -> Result<ReadBody<'a>, Failure> {
    let too_large = |limit: usize, what: &str| {
        with_status(
            Error::client(format!(
                "the request body is larger than the limit of {limit} bytes{what}"
            )),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
    };
    let over_budget = || {
        with_status(
            Error::Unavailable(
                "the request bodies being received would pass RENDEZ_MAX_BODIES_IN_FLIGHT".into(),
            ),
            StatusCode::SERVICE_UNAVAILABLE,
        )
    };
    let hard_limit = limits.default.max(limits.test_results);
    let declared =
        header_text(req.headers(), CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > hard_limit) {
        return Err(if hard_limit > limits.default {
            too_large(
                hard_limit,
                " (updateTestResults; other operations: RENDEZ_MAX_BODY)",
            )
        } else {
            too_large(limits.default, "")
        });
    }
    let mut reservation = state.bodies.reservation(verified);
    let mut body = Vec::new();
    // Sized for the default limit: a declared length alone never reserves the larger one.
    let first = declared.unwrap_or(8192).min(if verified {
        limits.default
    } else {
        UNVERIFIED_FIRST_BUFFER
    });
    if !reservation.reserve_up_to(first) {
        return Err(over_budget());
    }
    body.reserve_exact(first);
    let mut limit = limits.default;
    let mut early_client = None;
    let read = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| Error::client(format!("the request body could not be read: {e}")))?;
            let needed = body.len() + chunk.len();
            if needed > hard_limit {
                return Err(too_large(limit, ""));
            }
            if needed > body.capacity() {
                // Doubling, but never past what this body may reach.
                let ceiling = declared.unwrap_or(limit).min(limit).max(needed);
                let capacity = needed.max(body.capacity() * 2).min(ceiling);
                if !reservation.reserve_up_to(capacity) {
                    return Err(over_budget());
                }
                body.reserve_exact(capacity - body.len());
            }
            body.extend_from_slice(&chunk);
            if body.len() > limit {
                // What has arrived (chunks are small) must already name updateTestResults.
                if limit < limits.test_results
                    && prescan::names_operation(&body, TEST_RESULTS).map_err(Error::Client)?
                {
                    if !verified {
                        early_client = Some(authenticate_head(req, state, &body).await?);
                        reservation.verified();
                    }
                    limit = limits.test_results;
                    if let Some(total) = declared {
                        if !reservation.reserve_up_to(total) {
                            return Err(over_budget());
                        }
                        body.reserve_exact(total.saturating_sub(body.len()));
                    }
                }
                if body.len() > limit {
                    let what = if limit > limits.default {
                        " for updateTestResults"
                    } else {
                        ""
                    };
                    return Err(too_large(limit, what));
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(with_status(
                Error::client("the request body did not arrive in time"),
                StatusCode::REQUEST_TIMEOUT,
            ));
        }
    }
    if body.is_empty() {
        return Err(Error::client("the request body is empty: send a SOAP Envelope").into());
    }
    Ok(ReadBody {
        bytes: body,
        _reservation: reservation,
        early_client,
    })
}

/// The first buffer of a caller not yet known: a stalled upload holds little.
const UNVERIFIED_FIRST_BUFFER: usize = 16 * 1024;

/// The caller of a body that is about to pass `RENDEZ_MAX_BODY`, from the UsernameToken in
/// the Header its start holds (the Header comes before the Body, which has begun).
async fn authenticate_head(
    req: &HttpRequest,
    state: &AppState,
    prefix: &[u8],
) -> Result<AuthenticatedClient, Failure> {
    let text = match std::str::from_utf8(prefix) {
        Ok(text) => text,
        // Cut inside a character: the Header is whole before it anyway.
        Err(e) => std::str::from_utf8(&prefix[..e.valid_up_to()])
            .map_err(|_| Error::client("the request body is not UTF-8 text"))?,
    };
    let head = envelope::open(text)?;
    let Some(token) = head.token else {
        return Err(challenged(Error::Unauthenticated(
            "no credentials: a body larger than RENDEZ_MAX_BODY is read only from a caller \
             that sent HTTP Basic authentication or a WS-Security UsernameToken"
                .into(),
        )));
    };
    let address = client_address(req, state.config.trust_forwarded_for);
    Ok(state
        .auth
        .authenticate(token_credentials(token)?, &address)
        .await?)
}

const TEST_RESULTS: &str = "updateTestResults";

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// An empty SOAPAction is accepted; one that names an action must name this operation's.
fn check_action(action: Option<&str>, operation: Operation) -> Result<(), Error> {
    let action = action.unwrap_or("").trim().trim_matches('"').trim();
    if action.is_empty() || action == operation.soap_action() {
        return Ok(());
    }
    Err(Error::client(format!(
        "the SOAPAction '{action}' does not match the operation {operation} in the Body (expected '{}' or empty)",
        operation.soap_action()
    )))
}

fn token_credentials(token: UsernameToken) -> Result<Credentials, Error> {
    match token.password_type.unwrap_or(PasswordType::Text) {
        PasswordType::Text => Ok(Credentials::Password {
            username: token.username,
            password: token.password,
        }),
        PasswordType::Digest => match (token.nonce, token.created) {
            (Some(nonce), Some(created)) => Ok(Credentials::Digest {
                username: token.username,
                digest: token.password,
                nonce,
                created,
            }),
            _ => Err(Error::Unauthenticated(
                "a PasswordDigest UsernameToken needs a Nonce and a Created".into(),
            )),
        },
    }
}

/// What the `Authorization` header holds.
enum BasicHeader {
    Absent,
    /// Another scheme (Bearer, Negotiate, ...): no credentials Rendez can use.
    OtherScheme,
    /// `Basic` (the scheme name in any case) whose value does not decode to `name:password`.
    Malformed(Error),
    Basic(Credentials),
}

fn basic_credentials(headers: &HeaderMap) -> BasicHeader {
    let Some(value) = header_text(headers, AUTHORIZATION.as_str()) else {
        return BasicHeader::Absent;
    };
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value.as_str(), ""));
    if !scheme.eq_ignore_ascii_case("Basic") {
        return BasicHeader::OtherScheme;
    }
    let Some(decoded) = BASE64
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return BasicHeader::Malformed(Error::Unauthenticated(
            "the HTTP Basic credentials are not valid base64 UTF-8".into(),
        ));
    };
    match decoded.split_once(':') {
        Some((username, password)) => BasicHeader::Basic(Credentials::Password {
            username: username.to_string(),
            password: password.to_string(),
        }),
        None => BasicHeader::Malformed(Error::Unauthenticated(
            "the HTTP Basic credentials have no ':'".into(),
        )),
    }
}

/// The operation a SOAPAction (or SOAP 1.2 `action`) names, if it names one of ours.
fn operation_of_action(action: &str) -> Option<Operation> {
    let action = action.trim().trim_matches('"').trim();
    Operation::ALL
        .into_iter()
        .find(|operation| operation.soap_action() == action)
}

/// `GET /soap?wsdl` serves the WSDL; any other GET is told how to use the endpoint.
pub async fn wsdl(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let wants_wsdl = req
        .query_string()
        .split('&')
        .any(|p| p.eq_ignore_ascii_case("wsdl") || p.to_ascii_lowercase().starts_with("wsdl="));
    if wants_wsdl {
        return HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .body(state.wsdl.clone());
    }
    let error = Error::client("send SOAP requests with POST; GET /soap?wsdl serves the WSDL");
    fault::response_with_status(SoapVersion::V11, &error, StatusCode::METHOD_NOT_ALLOWED)
}

pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let error = Error::client(format!(
        "the method {} is not allowed on /soap: POST a SOAP request or GET /soap?wsdl",
        req.method()
    ));
    fault::response_with_status(version_hint(&req), &error, StatusCode::METHOD_NOT_ALLOWED)
}
