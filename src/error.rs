//! The one error type of Rendez. Every failure that reaches a caller is one of these, and the
//! SOAP edge renders each as a Fault: `Client` for what the caller can fix, `Server` otherwise.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request cannot be accepted as sent; the text names the problem (field, operation, ...).
    #[error("{0}")]
    Client(String),
    /// Credentials are missing or wrong. The text never says which part was wrong.
    #[error("authentication failed: {0}")]
    Unauthenticated(String),
    /// Too many failed logins from the caller's address: refused without checking anything,
    /// until the given time has passed.
    #[error("authentication failed: too many failed logins from this address; retry in {} seconds", .0.as_secs().max(1))]
    TooManyFailures(std::time::Duration),
    /// What the request names does not exist, or is hidden from the caller (REST edges answer
    /// 404; SOAP never raises it).
    #[error("{0}")]
    NotFound(String),
    /// Authenticated, but the client's roles or centers do not allow this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// A dependency (the database) failed; the detail goes to the log, never to the caller.
    #[error("the service is temporarily unavailable, please retry later")]
    Unavailable(String),
    /// A bug or an impossible state; the detail goes to the log.
    #[error("internal server error")]
    Internal(String),
    /// The envelope is not in a SOAP version this server speaks, or not in the one its
    /// Content-Type announced (SOAP's `VersionMismatch`).
    #[error("{0}")]
    VersionMismatch(String),
    /// A header block marked `mustUnderstand` that Rendez does not understand (SOAP's
    /// `MustUnderstand`); its qualified name is named back to the caller.
    #[error(
        "the header block {local} of namespace '{namespace}' is marked mustUnderstand, but Rendez does not understand it"
    )]
    MustUnderstand { namespace: String, local: String },
    /// A feature this server was not set up for (e.g. results without RENDEZ_RESULTS_KEY);
    /// the text says what is missing.
    #[error("{0}")]
    NotConfigured(String),
}

/// Who is to blame, in SOAP 1.1 terms (`Sender`/`Receiver` in SOAP 1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCode {
    Client,
    Server,
    VersionMismatch,
    MustUnderstand,
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultCode::Client => "Client",
            FaultCode::Server => "Server",
            FaultCode::VersionMismatch => "VersionMismatch",
            FaultCode::MustUnderstand => "MustUnderstand",
        })
    }
}

impl Error {
    pub fn client(message: impl Into<String>) -> Self {
        Error::Client(message.into())
    }

    pub fn fault_code(&self) -> FaultCode {
        match self {
            Error::Client(_)
            | Error::NotFound(_)
            | Error::Unauthenticated(_)
            | Error::TooManyFailures(_)
            | Error::Forbidden(_) => FaultCode::Client,
            Error::VersionMismatch(_) => FaultCode::VersionMismatch,
            Error::MustUnderstand { .. } => FaultCode::MustUnderstand,
            Error::Unavailable(_) | Error::Internal(_) | Error::NotConfigured(_) => {
                FaultCode::Server
            }
        }
    }

    /// What the log gets: the caller's text plus any hidden detail.
    pub fn log_detail(&self) -> String {
        match self {
            Error::Unavailable(detail) | Error::Internal(detail) => format!("{self}: {detail}"),
            other => other.to_string(),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Self {
        // Any database failure that reaches the edge is reported as an outage: the caller can
        // only retry, and the detail (which may quote data) stays in our log.
        Error::Unavailable(format!("database: {err}"))
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        Error::Unavailable(format!("database pool: {err}"))
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Error::Internal(format!("blocking task: {err}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
