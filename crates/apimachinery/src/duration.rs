//! Go's `time.ParseDuration`, the format of every duration flag and field
//! upstream (`--sync-period=30s`, `--event-ttl=1h0m0s`,
//! `fileCheckFrequency: 20s`, `kubectl delete --timeout=1m30s`).

use std::time::Duration;

/// Why a duration string was refused, worded as Go's `time` package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a sequence of `<number><unit>`.
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (only `0` may go without).
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit Go does not know.
    #[error("time: unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

/// Parses a Go duration: `300ms`, `1.5h`, `2h45m`, `0`. Units `ns`, `us`
/// (`µs`), `ms`, `s`, `m`, `h`; no sign is accepted (no duration flag
/// here is negative).
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationError::Invalid(s.into()));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::MissingUnit(s.into()))?;
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| DurationError::Invalid(s.into()))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => {
                return Err(DurationError::UnknownUnit {
                    unit: unit.into(),
                    input: s.into(),
                })
            }
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("1h0m0s"), Duration::from_secs(3600));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("20us"), Duration::from_micros(20));
        assert_eq!(
            parse_go_duration("10"),
            Err(DurationError::MissingUnit("10".into()))
        );
        assert!(matches!(
            parse_go_duration("5x"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_go_duration(""),
            Err(DurationError::Invalid("".into()))
        );
        assert_eq!(
            parse_go_duration("5x").unwrap_err().to_string(),
            r#"time: unknown unit "x" in duration "5x""#
        );
    }
}
