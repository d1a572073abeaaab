//! The database as configured, a leaf that the configuration and `db` share: `DATABASE_URL`,
//! parsed once (the scheme picks the backend, and a scheme this build cannot serve is an error
//! at start, never a silently created empty database), and the pool's options.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How the pool is sized and how long a caller waits for a connection before the request fails
/// with a `Server` fault (instead of r2d2's default 30 s hang).
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

/// How long one statement may keep a MySQL/MariaDB connection busy (SQLite's waits are bounded
/// by its busy timeout). A server that stops answering (a Galera node that lost its cluster in
/// the middle of a locking read, a network that drops packets) would otherwise hold a thread in
/// `mysql_stmt_execute` for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementDeadlines {
    /// The server ends a statement that runs longer (MariaDB's `max_statement_time`; MySQL's
    /// `max_execution_time`, which covers `SELECT` only) with an error: `RENDEZ_DB_STATEMENT_TIMEOUT`.
    pub statement: Duration,
    /// The client closes a connection whose statement has had no complete answer this long after
    /// it was sent (sending included): `RENDEZ_DB_READ_TIMEOUT`. Longer than `statement`, so that
    /// a server that is merely slow answers with its own error first.
    pub read: Duration,
}

impl Default for StatementDeadlines {
    fn default() -> Self {
        StatementDeadlines {
            statement: Duration::from_secs(20),
            read: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    #[cfg(feature = "sqlite")]
    Sqlite { path: String },
    #[cfg(feature = "mysql")]
    Mysql {
        url: String,
        host: String,
        port: u16,
    },
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://rendez.db";

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(format!(
                "DATABASE_URL '{}' has no scheme; use sqlite://PATH or mysql://USER:PASSWORD@HOST/DB",
                redact(raw)
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => sqlite(rest),
            "mysql" | "mariadb" => mysql(raw, rest),
            other => Err(format!(
                "DATABASE_URL has the unknown scheme '{other}'; use sqlite://PATH or mysql://USER:PASSWORD@HOST/DB"
            )),
        }
    }
}

#[cfg(feature = "sqlite")]
fn sqlite(path: &str) -> Result<DatabaseUrl, String> {
    if path.is_empty() {
        return Err("DATABASE_URL sqlite:// names no file; use e.g. sqlite://rendez.db".into());
    }
    if path.contains(":memory:") {
        return Err(
            "DATABASE_URL sqlite://:memory: would give every pooled connection its own empty \
             database; name a file instead"
                .into(),
        );
    }
    Ok(DatabaseUrl::Sqlite {
        path: path.to_string(),
    })
}

#[cfg(not(feature = "sqlite"))]
fn sqlite(_: &str) -> Result<DatabaseUrl, String> {
    Err(
        "DATABASE_URL is a sqlite:// URL, but this build of rendez has no SQLite support; \
         rebuild with --features sqlite"
            .into(),
    )
}

#[cfg(feature = "mysql")]
fn mysql(raw: &str, _rest: &str) -> Result<DatabaseUrl, String> {
    let parsed = url::Url::parse(&raw.replacen("mariadb://", "mysql://", 1))
        .map_err(|e| format!("DATABASE_URL '{}' is not a valid URL: {e}", redact(raw)))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("DATABASE_URL '{}' names no host", redact(raw)))?
        .to_string();
    if parsed.path().trim_start_matches('/').is_empty() {
        return Err(format!("DATABASE_URL '{}' names no database", redact(raw)));
    }
    Ok(DatabaseUrl::Mysql {
        url: parsed.to_string(),
        host,
        port: parsed.port().unwrap_or(3306),
    })
}

#[cfg(not(feature = "mysql"))]
fn mysql(_raw: &str, _rest: &str) -> Result<DatabaseUrl, String> {
    Err(
        "DATABASE_URL is a mysql:// URL, but this build of rendez has no MySQL support; \
         rebuild with --features mysql"
            .into(),
    )
}

impl DatabaseUrl {
    /// Fails fast when the MySQL server cannot be reached at all: the client library would
    /// otherwise wait for the operating system's TCP timeout.
    #[cfg(feature = "mysql")]
    pub(crate) fn check_reachable(
        &self,
        timeout: std::time::Duration,
    ) -> Result<(), diesel::ConnectionError> {
        use std::net::{TcpStream, ToSocketAddrs};
        #[allow(irrefutable_let_patterns)]
        let DatabaseUrl::Mysql { host, port, .. } = self else {
            return Ok(());
        };
        if host == "localhost" {
            // libmysqlclient talks to "localhost" through its Unix socket, not TCP.
            return Ok(());
        }
        let addrs = (host.as_str(), *port).to_socket_addrs().map_err(|e| {
            diesel::ConnectionError::BadConnection(format!("cannot resolve {host}: {e}"))
        })?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(diesel::ConnectionError::BadConnection(format!(
            "cannot reach the MySQL server at {host}:{port}: {}",
            last.map(|e| e.to_string())
                .unwrap_or_else(|| "no address".into())
        )))
    }
}

/// The URL with any password replaced, for messages and logs.
fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => raw.to_string(),
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "sqlite")]
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{path}"),
            #[cfg(feature = "mysql")]
            DatabaseUrl::Mysql { url, .. } => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_sqlite_url_names_its_file() {
        let url: DatabaseUrl = "sqlite://data/rendez.db".parse().unwrap();
        assert_eq!(
            url,
            DatabaseUrl::Sqlite {
                path: "data/rendez.db".into()
            }
        );
        let abs: DatabaseUrl = "sqlite:///var/lib/rendez.db".parse().unwrap();
        assert_eq!(
            abs,
            DatabaseUrl::Sqlite {
                path: "/var/lib/rendez.db".into()
            }
        );
    }

    #[test]
    fn an_unknown_scheme_is_refused_with_the_scheme_named() {
        let err = "postgres://x@y/z".parse::<DatabaseUrl>().unwrap_err();
        assert!(err.contains("unknown scheme 'postgres'"), "{err}");
        let err = "rendez.db".parse::<DatabaseUrl>().unwrap_err();
        assert!(err.contains("has no scheme"), "{err}");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn an_in_memory_sqlite_database_is_refused() {
        assert!("sqlite://:memory:".parse::<DatabaseUrl>().is_err());
    }

    #[cfg(not(feature = "mysql"))]
    #[test]
    fn a_mysql_url_without_the_feature_says_so() {
        let err = "mysql://root@127.0.0.1/test"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(err.contains("no MySQL support"), "{err}");
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn a_mysql_url_hides_its_password_when_shown() {
        let url: DatabaseUrl = "mysql://app:s3cret@db.example:3307/rendez".parse().unwrap();
        let shown = url.to_string();
        assert!(
            !shown.contains("s3cret") && shown.contains("***"),
            "{shown}"
        );
        assert!(matches!(url, DatabaseUrl::Mysql { port: 3307, .. }));
    }
}
