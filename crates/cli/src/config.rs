//! `serve` configuration: flags, then `TRACETAIL_*` environment variables, then the TOML file
//! named by `--config`, then defaults. Everything is read as text first and validated into a
//! [`ServerConfig`] in one place, so a bad value fails at start-up with the flag's name.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use tracetail_server::ServerConfig;

use crate::telemetry::{LogFormat, LogSettings};

/// Flags of `tracetail serve`. Each is also read from `TRACETAIL_<FLAG>` and from the file.
#[derive(Args, Debug, Default)]
pub(crate) struct ServeArgs {
    /// TOML file with any of the settings below (keys in snake_case, e.g. `data_dir`).
    #[arg(long, env = "TRACETAIL_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:4318].
    #[arg(long, env = "TRACETAIL_LISTEN")]
    listen: Option<String>,
    /// Directory of the embedded store [default: ./tracetail-data].
    #[arg(long, env = "TRACETAIL_DATA_DIR")]
    data_dir: Option<String>,
    /// Idle time before a stream sends a heartbeat [default: 15s].
    #[arg(long, env = "TRACETAIL_HEARTBEAT")]
    heartbeat: Option<String>,
    /// Reconnect delay announced to clients [default: 3s].
    #[arg(long, env = "TRACETAIL_RETRY")]
    retry: Option<String>,
    /// Drop records older than this [default: 7d].
    #[arg(long, env = "TRACETAIL_RETENTION_AGE")]
    retention_age: Option<String>,
    /// Keep the store under about this size [default: 1GiB].
    #[arg(long, env = "TRACETAIL_RETENTION_SIZE")]
    retention_size: Option<String>,
    /// Largest request body, after decompression [default: 8MiB].
    #[arg(long, env = "TRACETAIL_MAX_BODY")]
    max_body: Option<String>,
    /// Log lines as `text` or `json` [default: text on a terminal, json otherwise].
    #[arg(long, env = "TRACETAIL_LOG_FORMAT")]
    log_format: Option<String>,
    /// Write log lines to this file, rotated daily, instead of stderr [default: stderr].
    #[arg(long, env = "TRACETAIL_LOG_FILE")]
    log_file: Option<String>,
    /// Daily log files kept with --log-file [default: 7].
    #[arg(long, env = "TRACETAIL_LOG_MAX_FILES")]
    log_max_files: Option<String>,
    /// Also store the hub's own logs, as service `tracetail`.
    #[arg(long, env = "TRACETAIL_SELF_TELEMETRY")]
    self_telemetry: bool,
    /// Web origins whose pages may call the hub (CORS), comma-separated, or `*` for any
    /// [default: none].
    #[arg(long, env = "TRACETAIL_CORS_ORIGIN")]
    cors_origin: Option<String>,
}

/// The same settings as read from the TOML file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<String>,
    heartbeat: Option<String>,
    retry: Option<String>,
    retention_age: Option<String>,
    retention_size: Option<String>,
    max_body: Option<String>,
    log_format: Option<String>,
    log_file: Option<String>,
    log_max_files: Option<String>,
    self_telemetry: Option<bool>,
    cors_origin: Option<String>,
}

/// Everything `serve` was told, validated.
#[derive(Debug)]
pub(crate) struct ServeConfig {
    pub(crate) server: ServerConfig,
    pub(crate) logs: LogSettings,
}

impl ServeArgs {
    /// Merges flags, environment and file, and validates the result.
    pub(crate) fn resolve(self) -> anyhow::Result<ServeConfig> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let mut config = ServerConfig::with_data_dir("tracetail-data");
        if let Some(text) = self.listen.or(file.listen) {
            config.listen = parse_addr(&text)?;
        }
        if let Some(text) = self.data_dir.or(file.data_dir) {
            config.data_dir = PathBuf::from(text);
        }
        if let Some(text) = self.heartbeat.or(file.heartbeat) {
            config.heartbeat = parse_duration("heartbeat", &text, MIN_HEARTBEAT)?;
        }
        if let Some(text) = self.retry.or(file.retry) {
            config.retry = parse_duration("retry", &text, Duration::from_millis(1))?;
        }
        if let Some(text) = self.retention_age.or(file.retention_age) {
            config.retention_age = parse_duration("retention-age", &text, Duration::from_secs(1))?;
        }
        if let Some(text) = self.retention_size.or(file.retention_size) {
            config.retention_size = parse_size("retention-size", &text, RETENTION_SIZES)?;
        }
        if let Some(text) = self.max_body.or(file.max_body) {
            let max_body = parse_size("max-body", &text, MAX_BODIES)?;
            config.max_body = usize::try_from(max_body).context("--max-body is too large")?;
        }
        if let Some(text) = self.cors_origin.or(file.cors_origin) {
            config.cors_origins = parse_origins(&text)?;
        }
        let logs = LogSettings {
            format: self
                .log_format
                .or(file.log_format)
                .map(|text| parse_log_format(&text))
                .transpose()?,
            file: self.log_file.or(file.log_file).map(PathBuf::from),
            max_files: match self.log_max_files.or(file.log_max_files) {
                Some(text) => parse_max_files(&text)?,
                None => DEFAULT_LOG_FILES,
            },
            self_telemetry: self.self_telemetry || file.self_telemetry.unwrap_or(false),
        };
        Ok(ServeConfig {
            server: config,
            logs,
        })
    }
}

/// `--cors-origin`: comma-separated web origins, or `*`.
fn parse_origins(text: &str) -> anyhow::Result<Vec<String>> {
    let origins = text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty());
    origins
        .map(|origin| {
            tracetail_server::cors::normalize_origin(origin)
                .map_err(|error| anyhow::anyhow!("invalid --cors-origin: {error}"))
        })
        .collect()
}

/// Daily log files kept by default: a week.
const DEFAULT_LOG_FILES: usize = 7;

fn parse_log_format(text: &str) -> anyhow::Result<LogFormat> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => bail!("invalid --log-format {text:?}: expected text or json"),
    }
}

fn parse_max_files(text: &str) -> anyhow::Result<usize> {
    match text.parse::<usize>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => bail!("invalid --log-max-files {text:?}: expected a whole number of at least 1"),
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --config {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing --config {}", path.display()))
}

fn parse_addr(text: &str) -> anyhow::Result<SocketAddr> {
    text.parse().with_context(|| {
        format!("invalid --listen {text:?}: expected an address and port like 127.0.0.1:4318")
    })
}

/// The shortest heartbeat: shorter ones cost every idle stream a write per few milliseconds.
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);
/// Retention drops whole files (an eighth of the size at most), so it needs room for several.
const RETENTION_SIZES: std::ops::RangeInclusive<u64> = (16 << 20)..=u64::MAX;
/// A body is held in memory while it is decoded, so its limit is bounded too.
const MAX_BODIES: std::ops::RangeInclusive<u64> = 1024..=(1 << 30);

fn parse_duration(flag: &str, text: &str, minimum: Duration) -> anyhow::Result<Duration> {
    let duration = humantime::parse_duration(text).with_context(|| {
        format!("invalid --{flag} {text:?}: expected a duration like 500ms, 15s or 7d")
    })?;
    if duration < minimum {
        let minimum = humantime::format_duration(minimum);
        bail!("invalid --{flag} {text:?}: must be at least {minimum}");
    }
    Ok(duration)
}

fn parse_size(
    flag: &str,
    text: &str,
    allowed: std::ops::RangeInclusive<u64>,
) -> anyhow::Result<u64> {
    let size = text
        .parse::<bytesize::ByteSize>()
        .map_err(anyhow::Error::msg)
        .with_context(|| {
            format!("invalid --{flag} {text:?}: expected a size like 8MiB, 512MiB or 1GiB")
        })?;
    if !allowed.contains(&size.as_u64()) {
        let (low, high) = (
            bytesize::ByteSize(*allowed.start()),
            bytesize::ByteSize(*allowed.end()),
        );
        match *allowed.end() {
            u64::MAX => bail!("invalid --{flag} {text:?}: must be at least {low}"),
            _ => bail!("invalid --{flag} {text:?}: must be from {low} to {high}"),
        }
    }
    Ok(size.as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let ServeConfig {
            server: config,
            logs,
        } = ServeArgs::default().resolve().expect("defaults are valid");
        let expected_logs = LogSettings {
            format: None,
            file: None,
            max_files: 7,
            self_telemetry: false,
        };
        assert_eq!(logs, expected_logs);
        assert_eq!(config.listen.to_string(), "127.0.0.1:4318");
        assert_eq!(config.data_dir, PathBuf::from("tracetail-data"));
        assert_eq!(config.heartbeat, Duration::from_secs(15));
        assert_eq!(config.retry, Duration::from_secs(3));
        assert_eq!(config.retention_age, Duration::from_secs(7 * 86_400));
        assert_eq!(config.retention_size, 1 << 30);
        assert_eq!(config.max_body, 8 << 20);
        assert!(config.cors_origins.is_empty());
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        let args = ServeArgs {
            cors_origin: Some("http://localhost:5173, https://app.example.com".into()),
            ..Default::default()
        };
        let config = args.resolve().expect("valid").server;
        assert_eq!(
            config.cors_origins,
            ["http://localhost:5173", "https://app.example.com"]
        );
    }

    #[test]
    fn invalid_values_name_their_flag() {
        let cases = [
            (
                ServeArgs {
                    heartbeat: Some("soon".into()),
                    ..Default::default()
                },
                "--heartbeat",
            ),
            (
                ServeArgs {
                    retry: Some("0s".into()),
                    ..Default::default()
                },
                "--retry",
            ),
            (
                ServeArgs {
                    max_body: Some("lots".into()),
                    ..Default::default()
                },
                "--max-body",
            ),
            (
                ServeArgs {
                    listen: Some("4318".into()),
                    ..Default::default()
                },
                "--listen",
            ),
            (
                ServeArgs {
                    retention_size: Some("1KiB".into()),
                    ..Default::default()
                },
                "--retention-size",
            ),
            (
                ServeArgs {
                    log_format: Some("yaml".into()),
                    ..Default::default()
                },
                "--log-format",
            ),
            (
                ServeArgs {
                    log_max_files: Some("0".into()),
                    ..Default::default()
                },
                "--log-max-files",
            ),
            (
                ServeArgs {
                    cors_origin: Some("localhost:5173".into()),
                    ..Default::default()
                },
                "--cors-origin",
            ),
        ];
        for (args, flag) in cases {
            let error = format!("{:#}", args.resolve().expect_err("invalid value"));
            assert!(error.contains(flag), "{error:?} should name {flag}");
        }
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tracetail.toml");
        std::fs::write(&path, "heartbeat = \"2s\"\nmax_body = \"1MiB\"\n").expect("write");
        let args = ServeArgs {
            config: Some(path),
            heartbeat: Some("5s".into()),
            ..Default::default()
        };
        let config = args.resolve().expect("valid").server;
        assert_eq!(config.heartbeat, Duration::from_secs(5));
        assert_eq!(config.max_body, 1 << 20);
    }

    #[test]
    fn log_settings_come_from_flags_and_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tracetail.toml");
        let toml = "log_format = \"json\"\nlog_file = \"hub.log\"\nself_telemetry = true\n";
        std::fs::write(&path, toml).expect("write");
        let args = ServeArgs {
            config: Some(path),
            log_max_files: Some("3".into()),
            ..Default::default()
        };
        let logs = args.resolve().expect("valid").logs;
        let expected = LogSettings {
            format: Some(LogFormat::Json),
            file: Some(PathBuf::from("hub.log")),
            max_files: 3,
            self_telemetry: true,
        };
        assert_eq!(logs, expected);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tracetail.toml");
        std::fs::write(&path, "hearbeat = \"2s\"\n").expect("write");
        let args = ServeArgs {
            config: Some(path),
            ..Default::default()
        };
        let error = format!("{:#}", args.resolve().expect_err("typo"));
        assert!(error.contains("hearbeat"), "{error}");
    }
}
