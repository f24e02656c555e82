//! The audit log: one JSON line per chain lookup, appended to a file. The file boundary of the audit trail.
//!
//! A line says who asked (what the embedding host says about the caller), for what (kind, id, team), who
//! answered (the provider, or the cache), how it ended and how long it took. Never a value: the line is built
//! from the lookup's request and outcome only, and [`Record`] has no field that could hold one.
//!
//! Lines are appended with one `write` each to a file opened with `O_APPEND`, so lines of concurrent lookups
//! (and of several processes sharing the file) do not interleave. A line that cannot be written does not fail
//! the lookup: it is counted (`wasm_secrets_audit_failures_total`) and the first failure is logged.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Why the audit log could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the audit log {path}: {source}")]
pub struct AuditError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// One lookup, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record<'a> {
    /// When the lookup started, RFC 3339 in UTC with microseconds.
    pub time: String,
    /// The caller, as the embedding host names it (`None` when it does not).
    pub caller: Option<&'a str>,
    /// `connection`, `variable`, `config` or `secret`.
    pub kind: &'static str,
    /// The connection id, variable or config key, or the Flyte secret's group.
    pub id: &'a str,
    /// The Flyte secret's key (secrets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    /// The team asked first, if any.
    pub team: Option<&'a str>,
    /// The provider that answered, failed, or was last asked; `None` when no provider was asked.
    pub provider: Option<&'a str>,
    /// Whether the answer came from the cache (fresh, or another caller's lookup in flight).
    pub cached: bool,
    /// Whether that answer was stale: served during an outage, past its TTL (see `max_staleness`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    /// `found`, `not_found` or `error`.
    pub outcome: &'static str,
    /// The error's kind, when the lookup failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// How long the lookup took, in microseconds.
    pub duration_us: u64,
}

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    failed_once: AtomicBool,
}

impl AuditLog {
    /// Opens `path` for appending (creating it, owner-only, when missing).
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(|source| AuditError { path: path.to_owned(), source })?;
        Ok(Self { path: path.to_owned(), file, failed_once: AtomicBool::new(false) })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one line; whether it was written.
    pub fn write(&self, record: &Record<'_>) -> bool {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(_) => return self.failed("the record could not be serialised"),
        };
        line.push(b'\n');
        // One write call per line: with O_APPEND the kernel places it whole at the end of the file.
        match (&self.file).write(&line) {
            Ok(n) if n == line.len() => true,
            Ok(_) => self.failed("a short write"),
            Err(e) => self.failed(&e.to_string()),
        }
    }

    fn failed(&self, why: &str) -> bool {
        if !self.failed_once.swap(true, Ordering::Relaxed) {
            tracing::warn!(path = %self.path.display(), "cannot write to the audit log: {why} (logged once; counted in wasm_secrets_audit_failures_total)");
        }
        false
    }
}

/// `time` as RFC 3339 in UTC with microseconds (`2026-12-01T19:40:00.123456Z`); times before 1970 as the epoch.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        let at = |secs: u64, micros: u64| {
            rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(1_796_154_000, 123_456), "2026-12-01T19:40:00.123456Z");
        assert_eq!(at(4_107_542_399, 999_999), "2100-02-28T23:59:59.999999Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
    }

    #[test]
    fn records_are_appended_as_json_lines() {
        let dir = std::env::temp_dir().join(format!("wasm-secrets-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        std::fs::write(&path, "earlier line\n").unwrap();
        let log = AuditLog::open(&path).unwrap();
        let record = Record {
            time: "2026-12-01T19:40:00.123456Z".into(),
            caller: Some("task \"a\""),
            kind: "secret",
            id: "group",
            key: Some("key"),
            team: None,
            provider: Some("kubernetes"),
            cached: false,
            stale: false,
            outcome: "error",
            error: Some("unavailable"),
            duration_us: 12,
        };
        assert!(log.write(&record));
        assert!(log.write(&Record { key: None, error: None, outcome: "found", cached: true, ..record.clone() }));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "earlier line\n\
             {\"time\":\"2026-12-01T19:40:00.123456Z\",\"caller\":\"task \\\"a\\\"\",\"kind\":\"secret\",\"id\":\"group\",\"key\":\"key\",\"team\":null,\"provider\":\"kubernetes\",\"cached\":false,\"outcome\":\"error\",\"error\":\"unavailable\",\"duration_us\":12}\n\
             {\"time\":\"2026-12-01T19:40:00.123456Z\",\"caller\":\"task \\\"a\\\"\",\"kind\":\"secret\",\"id\":\"group\",\"team\":null,\"provider\":\"kubernetes\",\"cached\":true,\"outcome\":\"found\",\"duration_us\":12}\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::remove_file(&path).unwrap();
            drop(AuditLog::open(&path).unwrap());
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let error = AuditLog::open(Path::new("/nonexistent-dir/audit.jsonl")).unwrap_err();
        assert!(error.to_string().starts_with("cannot open the audit log /nonexistent-dir/audit.jsonl: "), "{error}");
    }
}
