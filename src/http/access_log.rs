//! The access log: one line per request, with the secrets that travel in addresses taken out.
//!
//! A patient's appointment link carries its signed token in the path (`/a/{token}`), and the
//! SMS providers' callbacks carry a shared secret or token in the query (`/hooks/jasmin/mo?
//! secret=`, `/hooks/jasmin/dlr?token=`; a delivery report sent with GET carries the message's
//! fields too). The log keeps the route and the names of the query's parameters and drops the
//! rest: `/a/[redacted]`, `?secret=[redacted]`.

use actix_web::dev::ServiceRequest;
use actix_web::middleware::Logger;

/// What stands in the log where a secret was.
pub const REDACTED: &str = "[redacted]";

/// Path prefixes whose remainder is a secret (a patient's link token).
const SECRET_PATHS: &[&str] = &["/a/"];

/// The access logger: peer address, the request line with secrets removed, status, size, time.
/// Health checks and metrics scrapes are not logged.
pub fn logger() -> Logger {
    Logger::new("%a \"%{request}xi\" %s %b %Dms")
        .custom_request_replace("request", request_line)
        .exclude("/healthz")
        .exclude("/metrics")
}

fn request_line(req: &ServiceRequest) -> String {
    format!(
        "{} {} {:?}",
        req.method(),
        redacted_target(req.path(), req.query_string()),
        req.version()
    )
}

/// The request target (path and query) as it may be logged.
pub fn redacted_target(path: &str, query: &str) -> String {
    let mut out = redacted_path(path);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&redacted_query(query));
    }
    out
}

/// The path, with the part after a secret-bearing prefix replaced. The prefix is matched on
/// the path as decoded (`/%61/...` reaches `/a/{token}` too).
pub fn redacted_path(path: &str) -> String {
    let decoded = percent_decoded(path);
    for prefix in SECRET_PATHS {
        if decoded.starts_with(prefix) && decoded.len() > prefix.len() {
            return format!("{prefix}{REDACTED}");
        }
    }
    path.to_string()
}

/// Every parameter's value replaced, its name kept (`wsdl` stays `wsdl`). Names are shown
/// only when they look like names; anything else is replaced too.
pub fn redacted_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let (name, value) = match pair.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (pair, None),
            };
            let plain_name = !name.is_empty()
                && name.len() <= 40
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
            match (plain_name, value) {
                (true, None) => name.to_string(),
                (true, Some(_)) => format!("{name}={REDACTED}"),
                (false, _) => REDACTED.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `%XX` escapes decoded (bytes that are not UTF-8 are replaced), for matching only.
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_link_token_is_replaced() {
        assert_eq!(redacted_target("/a/tok.EN-123", ""), "/a/[redacted]");
        assert_eq!(redacted_target("/%61/tok.EN-123", ""), "/a/[redacted]");
        assert_eq!(
            redacted_target("/a/tok.EN-123", "x=1"),
            "/a/[redacted]?x=[redacted]"
        );
        assert_eq!(redacted_target("/results", ""), "/results");
        assert_eq!(redacted_target("/a", ""), "/a");
    }

    #[test]
    fn query_values_are_replaced_and_names_kept() {
        assert_eq!(
            redacted_target("/hooks/jasmin/mo", "secret=s3cr3t&from=%2B3461"),
            "/hooks/jasmin/mo?secret=[redacted]&from=[redacted]"
        );
        assert_eq!(
            redacted_target("/hooks/jasmin/dlr", "token=abc&id=42"),
            "/hooks/jasmin/dlr?token=[redacted]&id=[redacted]"
        );
        assert_eq!(redacted_target("/soap", "wsdl"), "/soap?wsdl");
        assert_eq!(redacted_query("s%3Dcret=1&=x"), "[redacted]&[redacted]");
    }
}
