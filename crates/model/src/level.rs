//! Log levels: the six names of the wire contract and the OTLP severity numbers behind them.

use std::fmt;
use std::str::FromStr;

/// A log level. Ordered from least to most severe, so `level >= Level::Warn` reads naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// OTLP severity 1–4.
    Trace,
    /// OTLP severity 5–8.
    Debug,
    /// OTLP severity 9–12.
    Info,
    /// OTLP severity 13–16.
    Warn,
    /// OTLP severity 17–20.
    Error,
    /// OTLP severity 21–24.
    Fatal,
}

/// Every level, least severe first.
pub const ALL_LEVELS: [Level; 6] = [
    Level::Trace,
    Level::Debug,
    Level::Info,
    Level::Warn,
    Level::Error,
    Level::Fatal,
];

impl Level {
    /// The level of an OTLP severity number; `None` for 0 (unspecified) and numbers out of range.
    pub fn from_severity(number: i64) -> Option<Level> {
        let index = match number {
            1..=24 => (number - 1) / 4,
            _ => return None,
        };
        Some(ALL_LEVELS[index as usize])
    }

    /// The first OTLP severity number of this level (`INFO` is 9).
    pub fn severity(self) -> i32 {
        self as i32 * 4 + 1
    }

    /// The upper-case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }

    /// Reads a level name in any case, with the aliases logging libraries use
    /// (`warning`, `err`, `critical`, `panic`, `dpanic`, `notice`, `verbose`…).
    ///
    /// OTLP severity texts such as `INFO2` or `ERROR4` are read by their stem.
    pub fn from_name(name: &str) -> Option<Level> {
        let lower = name.trim().to_ascii_lowercase();
        let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit());
        let level = match stem {
            "trace" | "trc" | "verbose" | "finest" | "finer" => Level::Trace,
            "debug" | "dbg" | "fine" | "config" => Level::Debug,
            "info" | "inf" | "information" | "informational" | "notice" => Level::Info,
            "warn" | "wrn" | "warning" => Level::Warn,
            "error" | "err" | "eror" | "severe" => Level::Error,
            "fatal" | "ftl" | "critical" | "crit" | "panic" | "dpanic" | "alert" | "emerg"
            | "emergency" => Level::Fatal,
            _ => return None,
        };
        Some(level)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Level::from_str`]: carries the text that is not a level.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown level {0:?}; expected one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(text: &str) -> Result<Level, UnknownLevel> {
        Level::from_name(text).ok_or_else(|| UnknownLevel(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_ranges_map_to_their_levels() {
        assert_eq!(Level::from_severity(0), None);
        assert_eq!(Level::from_severity(1), Some(Level::Trace));
        assert_eq!(Level::from_severity(4), Some(Level::Trace));
        assert_eq!(Level::from_severity(5), Some(Level::Debug));
        assert_eq!(Level::from_severity(9), Some(Level::Info));
        assert_eq!(Level::from_severity(12), Some(Level::Info));
        assert_eq!(Level::from_severity(13), Some(Level::Warn));
        assert_eq!(Level::from_severity(17), Some(Level::Error));
        assert_eq!(Level::from_severity(24), Some(Level::Fatal));
        assert_eq!(Level::from_severity(25), None);
        assert_eq!(Level::from_severity(-1), None);
    }

    #[test]
    fn each_level_severity_maps_back_to_the_level() {
        for level in ALL_LEVELS {
            assert_eq!(Level::from_severity(level.severity().into()), Some(level));
        }
    }

    #[test]
    fn names_are_read_in_any_case_and_with_aliases() {
        assert_eq!("warning".parse(), Ok(Level::Warn));
        assert_eq!("ERROR4".parse(), Ok(Level::Error));
        assert_eq!("Info".parse(), Ok(Level::Info));
        assert_eq!("dpanic".parse(), Ok(Level::Fatal));
        assert!("loud".parse::<Level>().is_err());
    }
}
