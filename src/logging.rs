//! The process's log: env_logger's filter (`RUST_LOG`, default `info`), written as text or, with
//! `RENDEZ_LOG_FORMAT=json`, as one JSON object per line for log collectors.

use std::io::Write;

/// How log records are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// From `RENDEZ_LOG_FORMAT`'s value; unset is text.
    pub fn parse(value: Option<&str>) -> Result<LogFormat, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(other) => Err(format!("RENDEZ_LOG_FORMAT is '{other}'; use text or json")),
        }
    }
}

/// Starts the logger; an unknown `RENDEZ_LOG_FORMAT` is an error for the caller to print.
pub fn init() -> Result<(), String> {
    let format = LogFormat::parse(std::env::var("RENDEZ_LOG_FORMAT").ok().as_deref())?;
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if format == LogFormat::Json {
        builder.format(|buf, record| {
            let line = serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": record.level().as_str(),
                "target": record.target(),
                "message": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        });
    }
    builder.init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_text_json_or_an_error_naming_the_variable() {
        assert_eq!(LogFormat::parse(None), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(Some("JSON")), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(Some("text")), Ok(LogFormat::Text));
        let refused = LogFormat::parse(Some("xml")).unwrap_err();
        assert!(refused.contains("RENDEZ_LOG_FORMAT"), "{refused}");
    }
}
