//! Container logs in the CRI log format, as containerd writes them:
//! `<RFC3339Nano> stdout|stderr F|P <text>` per line, where `P` marks a
//! fragment of a longer line that continues in the next `P`/`F` record of
//! the same stream.
//!
//! [`LogOptions`] are upstream's `PodLogOptions` as the kubelet reads them
//! from the query; [`read_logs`] writes what they select, and keeps
//! following the file when asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

/// How often a followed log file is polled for appended data.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
/// How often a follower asks whether the container still runs.
const RUNNING_CHECK: Duration = Duration::from_secs(1);

/// What went wrong reading a log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A query parameter has a bad value.
    #[error("{0}")]
    Invalid(String),
    /// The log file could not be opened or read.
    #[error("reading log file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Upstream's `PodLogOptions`, the subset the kubelet acts on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    /// Keep streaming what the container writes.
    pub follow: bool,
    /// Only the last this many lines.
    pub tail_lines: Option<u64>,
    /// Only lines written at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Prefix each line with its RFC3339 timestamp.
    pub timestamps: bool,
    /// The previous instance of the container.
    pub previous: bool,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<u64>,
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "TRUE")
}

impl LogOptions {
    /// Reads the query parameters (`follow`, `tailLines`, `sinceSeconds`,
    /// `sinceTime`, `timestamps`, `previous`, `limitBytes`) as upstream's
    /// validation does: negative tails, non-positive limits and
    /// `sinceSeconds` with `sinceTime` are refused.
    pub fn from_query(q: &HashMap<String, String>, now: DateTime<Utc>) -> Result<Self, LogError> {
        let int = |k: &str| -> Result<Option<i64>, LogError> {
            q.get(k)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| LogError::Invalid(format!("{k}: invalid value {v:?}")))
                })
                .transpose()
        };
        let tail = int("tailLines")?;
        if tail.is_some_and(|t| t < 0) {
            return Err(LogError::Invalid(
                "tailLines: must be greater than or equal to 0".into(),
            ));
        }
        let limit = int("limitBytes")?;
        if limit.is_some_and(|l| l < 1) {
            return Err(LogError::Invalid(
                "limitBytes: must be greater than 0".into(),
            ));
        }
        let since_seconds = int("sinceSeconds")?;
        if since_seconds.is_some_and(|s| s < 1) {
            return Err(LogError::Invalid(
                "sinceSeconds: must be greater than 0".into(),
            ));
        }
        let since_time = match q.get("sinceTime").filter(|v| !v.is_empty()) {
            Some(v) => Some(
                DateTime::parse_from_rfc3339(v)
                    .map_err(|_| LogError::Invalid(format!("sinceTime: invalid value {v:?}")))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        if since_seconds.is_some() && since_time.is_some() {
            return Err(LogError::Invalid(
                "at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
            ));
        }
        let since =
            since_time.or_else(|| since_seconds.map(|s| now - chrono::Duration::seconds(s)));
        let flag = |k: &str| q.get(k).is_some_and(|v| truthy(v));
        Ok(LogOptions {
            follow: flag("follow"),
            tail_lines: tail.map(|t| t as u64),
            since,
            timestamps: flag("timestamps"),
            previous: flag("previous"),
            limit_bytes: limit.map(|l| l as u64),
        })
    }
}

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The container's stdout.
    Stdout,
    /// The container's stderr.
    Stderr,
}

/// One record of a CRI log file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When the runtime received it.
    pub time: DateTime<FixedOffset>,
    /// Its stream.
    pub stream: Stream,
    /// `false` for a `P` (partial) record.
    pub full: bool,
    /// The text, without the line end.
    pub text: Vec<u8>,
}

/// Parses one line of a CRI log file (without its `\n`).
pub fn parse_record(line: &[u8]) -> Option<Record> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?;
    let time = DateTime::parse_from_rfc3339(time).ok()?;
    let stream = match fields.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    // The tag is `F` or `P`, possibly followed by `:`-separated extras.
    let tag = fields.next()?;
    let full = tag.split(|b| *b == b':').next() != Some(b"P");
    let text = fields.next().unwrap_or_default().to_vec();
    Some(Record {
        time,
        stream,
        full,
        text,
    })
}

/// A whole log line: partial records joined, stamped with the time of its
/// first fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// When its first fragment was written.
    pub time: DateTime<FixedOffset>,
    /// The text without the line end.
    pub text: Vec<u8>,
    /// `false` when the line is still open (a trailing partial).
    pub complete: bool,
}

/// Joins partial records per stream into [`Line`]s.
#[derive(Debug, Default)]
pub struct Joiner {
    open: HashMap<Stream, Line>,
}

impl Joiner {
    /// Feeds one record; returns the line it completes, if any.
    pub fn push(&mut self, r: Record) -> Option<Line> {
        let line = match self.open.remove(&r.stream) {
            Some(mut open) => {
                open.text.extend_from_slice(&r.text);
                open
            }
            None => Line {
                time: r.time,
                text: r.text,
                complete: false,
            },
        };
        if r.full {
            Some(Line {
                complete: true,
                ..line
            })
        } else {
            self.open.insert(r.stream, line);
            None
        }
    }

    /// The lines still open (at the end of a file that is not followed).
    pub fn drain(&mut self) -> Vec<Line> {
        let mut lines: Vec<Line> = self.open.drain().map(|(_, l)| l).collect();
        lines.sort_by_key(|l| l.time);
        lines
    }
}

/// Splits a buffer of complete `\n`-terminated file lines into lines.
pub fn parse_lines(data: &[u8], joiner: &mut Joiner) -> Vec<Line> {
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(parse_record)
        .filter_map(|r| joiner.push(r))
        .collect()
}

/// Turns selected lines into output bytes: timestamps and `limitBytes`.
#[derive(Debug)]
pub struct Formatter {
    timestamps: bool,
    since: Option<DateTime<Utc>>,
    remaining: Option<u64>,
}

impl Formatter {
    /// A formatter for `opts`.
    pub fn new(opts: &LogOptions) -> Self {
        Formatter {
            timestamps: opts.timestamps,
            since: opts.since,
            remaining: opts.limit_bytes,
        }
    }

    /// Whether `limitBytes` is used up.
    pub fn done(&self) -> bool {
        self.remaining == Some(0)
    }

    /// The bytes to write for `line` (empty when filtered out).
    pub fn format(&mut self, line: &Line) -> Vec<u8> {
        if self
            .since
            .is_some_and(|s| line.time.with_timezone(&Utc) < s)
        {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(line.text.len() + 40);
        if self.timestamps {
            out.extend_from_slice(format_time(&line.time).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&line.text);
        if line.complete {
            out.push(b'\n');
        }
        if let Some(rem) = self.remaining.as_mut() {
            let keep = (*rem).min(out.len() as u64);
            out.truncate(keep as usize);
            *rem -= keep;
        }
        out
    }
}

/// The timestamp as upstream prints it: RFC3339 with nine fraction digits.
pub fn format_time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The last `n` lines of `lines` (all when `n` is `None`).
pub fn tail(mut lines: Vec<Line>, n: Option<u64>) -> Vec<Line> {
    if let Some(n) = n {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if lines.len() > n {
            lines.drain(..lines.len() - n);
        }
    }
    lines
}

/// Selects and formats the whole content of a (non-followed) log.
pub fn render(data: &[u8], opts: &LogOptions) -> Vec<u8> {
    let mut joiner = Joiner::default();
    let mut lines = parse_lines(data, &mut joiner);
    lines.extend(joiner.drain());
    let mut f = Formatter::new(opts);
    let mut out = Vec::new();
    for line in tail(lines, opts.tail_lines) {
        out.extend(f.format(&line));
        if f.done() {
            break;
        }
    }
    out
}

/// Where a follower learns that the container is gone.
#[async_trait::async_trait]
pub trait Liveness: Send + Sync {
    /// Whether the container still runs (and may write more).
    async fn running(&self) -> bool;
}

/// Writes the log at `path` selected by `opts` into `out`; with `follow`,
/// keeps sending what is appended until the container stops (then drains
/// the file) or the receiver is dropped (the client left).
pub async fn read_logs(
    path: &Path,
    opts: &LogOptions,
    live: &dyn Liveness,
    out: mpsc::Sender<Bytes>,
) -> Result<(), LogError> {
    let io_err = |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(io_err)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).await.map_err(io_err)?;
    // Only whole file lines are parsed; a trailing unterminated one waits.
    let cut = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut pending = data.split_off(cut);
    let mut offset = (cut + pending.len()) as u64;
    let mut joiner = Joiner::default();
    let mut f = Formatter::new(opts);
    let lines = parse_lines(&data, &mut joiner);
    let mut first = Vec::new();
    let selected = if opts.follow {
        lines
    } else {
        let mut all = lines;
        all.extend(joiner.drain());
        all
    };
    for line in tail(selected, opts.tail_lines) {
        first.extend(f.format(&line));
        if f.done() {
            break;
        }
    }
    if !first.is_empty() && out.send(Bytes::from(first)).await.is_err() {
        return Ok(());
    }
    if !opts.follow || f.done() {
        return Ok(());
    }
    let mut last_check = tokio::time::Instant::now();
    let mut stopping = false;
    loop {
        let mut chunk = Vec::new();
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(io_err)?;
        file.read_to_end(&mut chunk).await.map_err(io_err)?;
        if !chunk.is_empty() {
            offset += chunk.len() as u64;
            pending.extend_from_slice(&chunk);
            let cut = pending
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let rest = pending.split_off(cut);
            let mut bytes = Vec::new();
            for line in parse_lines(&pending, &mut joiner) {
                bytes.extend(f.format(&line));
                if f.done() {
                    break;
                }
            }
            pending = rest;
            if !bytes.is_empty() && out.send(Bytes::from(bytes)).await.is_err() {
                return Ok(());
            }
            if f.done() {
                return Ok(());
            }
            continue;
        }
        if stopping {
            return Ok(());
        }
        if last_check.elapsed() >= RUNNING_CHECK {
            last_check = tokio::time::Instant::now();
            if !live.running().await {
                // One more read picks up what was written before it stopped.
                stopping = true;
                continue;
            }
        }
        tokio::select! {
            _ = out.closed() => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2024-01-02T03:04:05.100000000Z stdout F one
2024-01-02T03:04:06.2Z stderr F two
2024-01-02T03:04:07.000000003Z stdout P thr
2024-01-02T03:04:07.5Z stderr F err-between
2024-01-02T03:04:08Z stdout P e
2024-01-02T03:04:09Z stdout F e!
2024-01-02T03:04:10Z stdout F 
2024-01-02T03:04:11Z stdout F last
";

    fn opts() -> LogOptions {
        LogOptions::default()
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn parses_records() {
        let r = parse_record(b"2024-01-02T03:04:05.1Z stderr P a b  c").unwrap();
        assert_eq!(r.stream, Stream::Stderr);
        assert!(!r.full);
        assert_eq!(r.text, b"a b  c");
        let r = parse_record(b"2024-01-02T03:04:05+02:00 stdout F").unwrap();
        assert!(r.full && r.text.is_empty());
        assert!(parse_record(b"garbage").is_none());
        assert!(parse_record(b"2024-01-02T03:04:05Z stdin F x").is_none());
    }

    #[test]
    fn joins_partials_per_stream() {
        let out = text(render(LOG.as_bytes(), &opts()));
        assert_eq!(out, "one\ntwo\nerr-between\nthree!\n\nlast\n");
    }

    #[test]
    fn trailing_partial_is_written_without_newline() {
        let log = "2024-01-02T03:04:05Z stdout F a\n2024-01-02T03:04:06Z stdout P b\n";
        assert_eq!(text(render(log.as_bytes(), &opts())), "a\nb");
    }

    #[test]
    fn tail_counts_joined_lines() {
        let o = LogOptions {
            tail_lines: Some(3),
            ..opts()
        };
        assert_eq!(text(render(LOG.as_bytes(), &o)), "three!\n\nlast\n");
        let o = LogOptions {
            tail_lines: Some(0),
            ..opts()
        };
        assert_eq!(text(render(LOG.as_bytes(), &o)), "");
        let o = LogOptions {
            tail_lines: Some(100),
            ..opts()
        };
        assert_eq!(text(render(LOG.as_bytes(), &o)).lines().count(), 6);
    }

    #[test]
    fn since_uses_the_first_fragment_time() {
        let since = DateTime::parse_from_rfc3339("2024-01-02T03:04:07Z")
            .unwrap()
            .with_timezone(&Utc);
        let o = LogOptions {
            since: Some(since),
            ..opts()
        };
        assert_eq!(
            text(render(LOG.as_bytes(), &o)),
            "err-between\nthree!\n\nlast\n"
        );
    }

    #[test]
    fn timestamps_have_nine_digits() {
        let o = LogOptions {
            timestamps: true,
            tail_lines: Some(1),
            ..opts()
        };
        assert_eq!(
            text(render(LOG.as_bytes(), &o)),
            "2024-01-02T03:04:11.000000000Z last\n"
        );
        let o = LogOptions {
            timestamps: true,
            ..opts()
        };
        let out = text(render(LOG.as_bytes(), &o));
        assert!(
            out.starts_with("2024-01-02T03:04:05.100000000Z one\n"),
            "{out}"
        );
        assert!(
            out.contains("2024-01-02T03:04:07.000000003Z three!\n"),
            "{out}"
        );
    }

    #[test]
    fn limit_bytes_truncates() {
        let o = LogOptions {
            limit_bytes: Some(6),
            ..opts()
        };
        assert_eq!(text(render(LOG.as_bytes(), &o)), "one\ntw");
    }

    #[test]
    fn query_options() {
        let now = Utc::now();
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let o = LogOptions::from_query(
            &q(&[
                ("follow", "true"),
                ("tailLines", "5"),
                ("timestamps", "1"),
                ("sinceSeconds", "10"),
            ]),
            now,
        )
        .unwrap();
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!(o.tail_lines, Some(5));
        assert_eq!(o.since, Some(now - chrono::Duration::seconds(10)));
        for bad in [
            vec![("tailLines", "-1")],
            vec![("limitBytes", "0")],
            vec![("sinceSeconds", "0")],
            vec![("sinceSeconds", "5"), ("sinceTime", "2024-01-02T03:04:05Z")],
            vec![("sinceTime", "yesterday")],
        ] {
            assert!(LogOptions::from_query(&q(&bad), now).is_err(), "{bad:?}");
        }
    }

    struct Until(std::sync::atomic::AtomicBool);

    #[async_trait::async_trait]
    impl Liveness for Until {
        async fn running(&self) -> bool {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn follow_sees_appended_lines_and_ends_when_stopped() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("kubelet-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("0.log");
        std::fs::write(
            &path,
            "2024-01-02T03:04:05Z stdout F a\n2024-01-02T03:04:06Z stdout P b",
        )
        .unwrap();
        let live = std::sync::Arc::new(Until(true.into()));
        let (tx, mut rx) = mpsc::channel(16);
        let o = LogOptions {
            follow: true,
            ..opts()
        };
        let (p, l) = (path.clone(), live.clone());
        let task = tokio::spawn(async move { read_logs(&p, &o, l.as_ref(), tx).await });
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"a\n"));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"\n2024-01-02T03:04:07Z stdout F c\n2024-01-02T03:04:08Z stdout F d\n")
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            got.extend_from_slice(&rx.recv().await.unwrap());
        }
        assert_eq!(text(got), "bc\nd\n");
        live.0.store(false, std::sync::atomic::Ordering::SeqCst);
        task.await.unwrap().unwrap();
        assert!(rx.recv().await.is_none());
        std::fs::remove_dir_all(&dir).ok();
    }
}
