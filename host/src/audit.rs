//! The audit log: one JSON line per chain lookup, appended to a file. The file boundary of the audit trail.
//!
//! A line says who asked (what the embedding host says about the caller), for what (kind, id, team), who
//! answered (the provider, or the cache), how it ended and how long it took. Never a value: the line is built
//! from the lookup's request and outcome only, and [`Record`] has no field that could hold one.
//!
//! Lines are appended with one `write` each to a file opened with `O_APPEND`, so lines of concurrent lookups
//! (and of several processes sharing the file) do not interleave. A line that cannot be written does not fail
//! the lookup: it is counted (`wasm_secrets_audit_failures_total`) and the first failure is logged. The file
//! must be this user's own and closed to others ([`AuditLog::open`]).
//!
//! A long-running daemon's trail grows without end, and a container has no logrotate: with a size limit
//! ([`AuditLog::open_rotating`]) the file is renamed to `FILE.1` (replacing the previous one) once it reaches the
//! limit, and a new `FILE` is started, so the trail takes at most about twice the limit.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Why the audit log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened or created.
    #[error("cannot open the audit log {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not one an audit trail may be written to.
    #[error("the audit log {path} is not used: it is {problem}")]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The lock file of a rotating log (`FILE.lock`) could not be opened or locked, or is not one this process
    /// alone controls.
    #[error("cannot use the audit log's lock file {lock}: {problem}")]
    Lock {
        /// The lock file.
        lock: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// Another process writes the file with rotation: a second writer would go on appending to `FILE.1` after
    /// the first rotated it.
    #[error("another process writes the rotating audit log {path} (it holds the lock on {lock}); one process per file")]
    InUse {
        /// The file.
        path: PathBuf,
        /// The lock file, `FILE.lock`.
        lock: PathBuf,
    },
    /// The platform has no ownership and mode bits to check.
    #[error("the audit log needs Unix file ownership and modes")]
    Unsupported,
}

/// `path` with `suffix` appended to its file name (`FILE.1`, `FILE.lock`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.to_owned().into_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Why [`open_own_file`] did not give a file.
#[cfg(unix)]
enum Refusal {
    /// The system refused.
    Io(std::io::Error),
    /// The file is not one this process alone controls: what it is.
    Untrusted(&'static str),
}

/// Opens `path` with `access` (created mode 0600 when missing, never through a link, without blocking on a
/// FIFO) and checks on the descriptor that it is a regular file of this process's user, closed to group and
/// others: the checks the log and its lock file share.
#[cfg(unix)]
fn open_own_file(path: &Path, access: rustix::fs::OFlags) -> Result<rustix::fd::OwnedFd, Refusal> {
    use rustix::fs::{Mode, OFlags};
    let flags = access | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::LOOP) => return Err(Refusal::Untrusted("a symbolic link")),
        Err(e) => return Err(Refusal::Io(e.into())),
    };
    match crate::files::ownership_problem(
        &fd,
        rustix::fs::FileType::RegularFile,
        0o077,
        "readable or writable by group or others",
    ) {
        Ok(None) => Ok(fd),
        Ok(Some(problem)) => Err(Refusal::Untrusted(problem)),
        Err(e) => Err(Refusal::Io(e)),
    }
}

/// The longest caller, id or team an audit line holds; longer ones are cut, with `…`, so one line stays small
/// enough to be written whole.
pub const MAX_FIELD_CHARS: usize = 1024;

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
    /// Whether the answer came from the cache (fresh, another caller's lookup in flight, or stale).
    pub cached: bool,
    /// Whether that answer was stale: served during an outage, from the cache past its TTL or from a live view
    /// that stopped following the store (see `max_staleness`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    /// `found`, `not_found`, `error`, `cancelled` (the caller stopped waiting before the answer), or `refused`
    /// (the embedding host's access rule, such as a task's grants, refused it before anything was asked).
    pub outcome: &'static str,
    /// The error's kind, when the lookup failed; for a stale answer, the kind of the failure it stood in for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// How long the lookup took, in microseconds.
    pub duration_us: u64,
}

/// The smallest size limit [`AuditLog::open_rotating`] takes: a smaller one would rotate every few lines.
pub const MIN_ROTATE_BYTES: u64 = 64 * 1024;

/// How long after a failed rotation the next is tried.
pub const ROTATE_RETRY: Duration = Duration::from_secs(10);

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    /// Written under the read lock (appends need no exclusion); replaced under the write lock by a rotation.
    file: RwLock<File>,
    /// Rotate once the file holds this many bytes.
    max_bytes: Option<u64>,
    /// The file's size as this process knows it (what it found at open, plus what it wrote).
    size: AtomicU64,
    /// Held by the one thread rotating; when the last attempt failed, when to try again.
    rotating: Mutex<Option<std::time::Instant>>,
    /// How long after a failed rotation the next is tried ([`ROTATE_RETRY`]).
    rotate_retry: Duration,
    failed_once: AtomicBool,
    /// With rotation: `FILE.lock`, locked (`flock`, exclusive) for as long as the log is open.
    _lock: Option<File>,
}

impl AuditLog {
    /// Opens `path` for appending, creating it with mode 0600 when missing. An existing file must be a regular
    /// file (not a link, a FIFO or a device) owned by this process's user and closed to group and others:
    /// otherwise someone else could read the trail, rewrite it, or point it at another file.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        Self::open_with(path, None)
    }

    /// [`AuditLog::open`], rotating the file once it holds `max_bytes` (at least [`MIN_ROTATE_BYTES`]): it is
    /// renamed to `FILE.1`, replacing the previous one, and a new file is started. When that fails (tried again
    /// every [`ROTATE_RETRY`]), the file grows to twice the limit, and lines past that are dropped (and counted),
    /// so the trail never takes more than three times the limit. Only one process may write a rotating file
    /// (another one would go on appending to `FILE.1`): the log holds an exclusive lock on `FILE.lock` while
    /// open, and a second process is refused ([`AuditError::InUse`]).
    pub fn open_rotating(path: &Path, max_bytes: u64) -> Result<Self, AuditError> {
        Self::open_with(path, Some(max_bytes.max(MIN_ROTATE_BYTES)))
    }

    fn open_with(path: &Path, max_bytes: Option<u64>) -> Result<Self, AuditError> {
        // The log first: a path that cannot be a log leaves no lock file behind.
        let (file, size) = Self::open_file(path)?;
        let lock = match max_bytes {
            Some(_) => Self::lock(path)?,
            None => None,
        };
        Ok(Self {
            path: path.to_owned(),
            file: RwLock::new(file),
            max_bytes,
            size: AtomicU64::new(size),
            rotating: Mutex::new(None),
            rotate_retry: ROTATE_RETRY,
            failed_once: AtomicBool::new(false),
            _lock: lock,
        })
    }

    /// Opens `FILE.lock` (created mode 0600, never through a link) and locks it exclusively, without waiting.
    /// On a file system without `flock` (`ENOLCK`, `EOPNOTSUPP`: some network file systems) the log goes on
    /// unlocked, with a warning: the lock guards against a mistake, and rotation does not need it.
    #[cfg(unix)]
    fn lock(path: &Path) -> Result<Option<File>, AuditError> {
        use rustix::fs::{FlockOperation, OFlags};
        use rustix::io::Errno;
        let lock = with_suffix(path, ".lock");
        let refused = |problem: String| AuditError::Lock { lock: lock.clone(), problem };
        // Checked like the log itself: a lock file someone else owns or can open could be held to stop the daemon
        // starting.
        let fd = open_own_file(&lock, OFlags::RDONLY).map_err(|refusal| {
            refused(match refusal {
                Refusal::Io(e) => e.to_string(),
                Refusal::Untrusted(problem) => format!("it is {problem}"),
            })
        })?;
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(File::from(fd))),
            Err(Errno::WOULDBLOCK) => Err(AuditError::InUse { path: path.to_owned(), lock }),
            Err(e @ (Errno::NOLCK | Errno::OPNOTSUPP)) => {
                tracing::warn!(
                    "the audit log {} is rotated without its lock ({}: {e}): make sure one process writes it",
                    path.display(),
                    lock.display()
                );
                Ok(None)
            }
            Err(e) => Err(refused(std::io::Error::from(e).to_string())),
        }
    }

    #[cfg(not(unix))]
    fn lock(_path: &Path) -> Result<Option<File>, AuditError> {
        Err(AuditError::Unsupported)
    }

    /// Opens the file at `path` for appending, with [`AuditLog::open`]'s checks; returns it and its size.
    #[cfg(unix)]
    fn open_file(path: &Path) -> Result<(File, u64), AuditError> {
        use rustix::fs::OFlags;
        let open_error = |source| AuditError::Open { path: path.to_owned(), source };
        let fd = open_own_file(path, OFlags::WRONLY | OFlags::APPEND).map_err(|refusal| match refusal {
            Refusal::Io(source) => open_error(source),
            Refusal::Untrusted(problem) => AuditError::Untrusted { path: path.to_owned(), problem },
        })?;
        let size = rustix::fs::fstat(&fd).map_err(|e| open_error(e.into()))?.st_size;
        Ok((File::from(fd), u64::try_from(size).unwrap_or(0)))
    }

    /// Always [`AuditError::Unsupported`]: the checks need Unix ownership and modes.
    #[cfg(not(unix))]
    fn open_file(_path: &Path) -> Result<(File, u64), AuditError> {
        Err(AuditError::Unsupported)
    }

    /// The name the file is rotated to: `FILE.1`.
    pub fn rotated_path(&self) -> PathBuf {
        self.sibling(".1")
    }

    /// The file's name with `suffix` appended.
    fn sibling(&self, suffix: &str) -> PathBuf {
        with_suffix(&self.path, suffix)
    }

    /// Renames the file to [`AuditLog::rotated_path`] and starts a new one, unless another thread is doing so or
    /// the last attempt failed less than [`ROTATE_RETRY`] ago. Returns what to log when it fails (writing then
    /// goes on to the file already open, up to twice the limit).
    fn rotate(&self, max_bytes: u64) -> Option<String> {
        let mut retry_at = match self.rotating.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::WouldBlock) => return None,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        };
        if retry_at.is_some_and(|at| std::time::Instant::now() < at) {
            return None;
        }
        // No line is written while the file changes (lines in flight finish first), so the size is exact.
        let mut file = self.file.write().unwrap_or_else(PoisonError::into_inner);
        if self.size.load(Ordering::Relaxed) < max_bytes {
            return None; // Another thread rotated since.
        }
        match self.start_new_file() {
            Ok(new) => {
                *file = new;
                self.size.store(0, Ordering::Relaxed);
                *retry_at = None;
                None
            }
            Err(why) => {
                *retry_at = Some(std::time::Instant::now() + self.rotate_retry);
                Some(format!(
                    "cannot rotate the audit log {}: {why} (tried again in {} s; past twice its limit, lines are \
                     dropped and counted in wasm_secrets_audit_failures_total)",
                    self.path.display(),
                    self.rotate_retry.as_secs()
                ))
            }
        }
    }

    /// Creates the next file first (`FILE.new`, exclusively, mode 0600, never through a link), then renames the
    /// file to `FILE.1` and the new one to `FILE`: a failure at any step leaves the file in place and open.
    #[cfg(unix)]
    fn start_new_file(&self) -> Result<File, String> {
        use rustix::fs::{Mode, OFlags};
        let fresh = self.sibling(".new");
        // A leftover of an interrupted rotation, or anything else at that name (a link is removed, not followed).
        match std::fs::remove_file(&fresh) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {}: {e}", fresh.display()));
            }
            _ => {}
        }
        let flags =
            OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&fresh, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| format!("cannot create {}: {e}", fresh.display()))?;
        let undo = |why: String| {
            let _ = std::fs::remove_file(&fresh);
            why
        };
        std::fs::rename(&self.path, self.rotated_path())
            .map_err(|e| undo(format!("cannot rename it to {}: {e}", self.rotated_path().display())))?;
        if let Err(e) = std::fs::rename(&fresh, &self.path) {
            // Put the file back where it was: the open descriptor still writes to it.
            let _ = std::fs::rename(self.rotated_path(), &self.path);
            return Err(undo(format!("cannot rename {} to it: {e}", fresh.display())));
        }
        Ok(File::from(fd))
    }

    #[cfg(not(unix))]
    fn start_new_file(&self) -> Result<File, String> {
        Err("rotation needs Unix".to_owned())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one line. `Ok` when it was written, with a message to log when the rotation that
    /// followed failed; on failure, the message to log for the first failure of this log (`None` for later ones:
    /// one warning, not one per lookup).
    pub fn write(&self, record: &Record<'_>) -> Result<Option<String>, Option<String>> {
        let (caller, id, key, team) =
            (record.caller.map(cut), cut(record.id), record.key.map(cut), record.team.map(cut));
        let record = Record {
            caller: caller.as_deref(),
            id: &id,
            key: key.as_deref(),
            team: team.as_deref(),
            time: record.time.clone(),
            ..*record
        };
        let mut line = serde_json::to_vec(&record).map_err(|_| self.failed("the record could not be serialised"))?;
        line.push(b'\n');
        // A file that could not be rotated stops at twice its limit: the volume it is on stays bounded.
        if let Some(max_bytes) = self.max_bytes
            && self.size.load(Ordering::Relaxed) >= max_bytes.saturating_mul(2)
        {
            let rotated = self.rotate(max_bytes);
            if self.size.load(Ordering::Relaxed) >= max_bytes.saturating_mul(2) {
                return Err(rotated.or_else(|| self.failed("it is past twice its limit and not rotated: line dropped")));
            }
        }
        // One write call per line: with O_APPEND the kernel places it whole at the end of the file.
        let (written, size) = {
            let file = self.file.read().unwrap_or_else(PoisonError::into_inner);
            let (written, bytes) = match (&*file).write(&line) {
                Ok(n) if n == line.len() => (Ok(()), n),
                Ok(n) => {
                    // End the partial line, so the next one is not glued to it.
                    let ended = (&*file).write(b"\n").unwrap_or(0);
                    (Err(self.failed("a short write (is the disk full?)")), n + ended)
                }
                Err(e) => (Err(self.failed(&e.to_string())), 0),
            };
            // Counted under the lock, so a rotation never counts a line of the file it replaced.
            (written, self.size.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64)
        };
        let rotated = self.max_bytes.filter(|max| size >= *max).and_then(|max| self.rotate(max));
        written.map(|()| rotated)
    }

    fn failed(&self, why: &str) -> Option<String> {
        (!self.failed_once.swap(true, Ordering::Relaxed)).then(|| {
            format!(
                "cannot write to the audit log {}: {why} (said once; every failure is counted in \
                 wasm_secrets_audit_failures_total)",
                self.path.display()
            )
        })
    }
}

/// `text`, at most [`MAX_FIELD_CHARS`] characters of it, with `…` when cut.
fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    let end = text.char_indices().nth(MAX_FIELD_CHARS).map(|(end, _)| end);
    if end.is_none() && !text.chars().any(is_invisible) {
        return std::borrow::Cow::Borrowed(text);
    }
    let kept = &text[..end.unwrap_or(text.len())];
    let mut shown: String =
        kept.chars().map(|c| if is_invisible(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect();
    if end.is_some() {
        shown.push('…');
    }
    std::borrow::Cow::Owned(shown)
}

/// Whether `c` is an invisible formatting character: zero-width ones, bidirectional marks, overrides and
/// isolates, the line and paragraph separators, the byte-order mark. In a line of text (an audit line shown in a
/// viewer, a log line) they hide or reorder what follows, so the audit log writes them as `\u{...}`, and ids a
/// task names never hold them (crate::task).
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}')
}

/// `text` with every control and invisible formatting character written as its `\u{..}` escape: text from
/// something untrusted (a provider's log record, a daemon's error message), made safe to print on one line.
///
/// ```
/// assert_eq!(wasm_secrets::audit::escape_controls("a\nb\u{202e}c"), "a\\u{a}b\\u{202e}c");
/// ```
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
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

    fn record() -> Record<'static> {
        Record {
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
        }
    }

    #[test]
    fn records_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.write(&record()), Ok(None));
        let long = "x".repeat(MAX_FIELD_CHARS + 5);
        let second =
            Record { key: None, error: None, outcome: "found", cached: true, stale: true, id: &long, ..record() };
        assert_eq!(log.write(&second), Ok(None));
        drop(log);
        // Reopened: appended to.
        AuditLog::open(&path).unwrap().write(&record()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let first = "{\"time\":\"2026-12-01T19:40:00.123456Z\",\"caller\":\"task \\\"a\\\"\",\"kind\":\"secret\",\"id\":\"group\",\"key\":\"key\",\"team\":null,\"provider\":\"kubernetes\",\"cached\":false,\"outcome\":\"error\",\"error\":\"unavailable\",\"duration_us\":12}";
        let cut_id = format!("{}…", "x".repeat(MAX_FIELD_CHARS));
        let second = format!(
            "{{\"time\":\"2026-12-01T19:40:00.123456Z\",\"caller\":\"task \\\"a\\\"\",\"kind\":\"secret\",\"id\":\"{cut_id}\",\"team\":null,\"provider\":\"kubernetes\",\"cached\":true,\"stale\":true,\"outcome\":\"found\",\"duration_us\":12}}"
        );
        assert_eq!(text, format!("{first}\n{second}\n{first}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    fn private_file(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_size_limit_rotates_the_file_to_dot_one_keeping_every_line_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        private_file(&path, "{\"earlier\":1}\n");
        let log = std::sync::Arc::new(AuditLog::open_rotating(&path, 1).unwrap());
        assert_eq!(log.max_bytes, Some(MIN_ROTATE_BYTES), "the smallest limit");
        let line_len = serde_json::to_vec(&record()).unwrap().len() as u64 + 1;
        // Two threads write one and a half limits' worth: exactly one rotation.
        let per_thread = 3 * MIN_ROTATE_BYTES / line_len / 4;
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let log = std::sync::Arc::clone(&log);
                std::thread::spawn(move || (0..per_thread).all(|_| log.write(&record()) == Ok(None)))
            })
            .collect();
        assert!(writers.into_iter().all(|w| w.join().unwrap()), "every write succeeded");
        let (rotated, current) = (lines(&log.rotated_path()), lines(&path));
        // Every line is whole and in one of the two files; the rotated one holds the earlier line.
        assert_eq!(rotated.len() + current.len(), 2 * per_thread as usize + 1);
        assert_eq!(rotated[0], "{\"earlier\":1}");
        for line in rotated[1..].iter().chain(&current) {
            assert_eq!(serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"], "secret", "{line}");
        }
        // The rotated file reached the limit (lines of the other thread may land between the one that reached it
        // and the rotation); the current one is under it.
        let rotated_len = std::fs::metadata(log.rotated_path()).unwrap().len();
        assert!((MIN_ROTATE_BYTES..MIN_ROTATE_BYTES + 64 * line_len).contains(&rotated_len), "{rotated_len}");
        assert!(std::fs::metadata(&path).unwrap().len() < MIN_ROTATE_BYTES);
        assert_eq!(log.rotated_path(), dir.path().join("audit.jsonl.1"));
        assert!(!dir.path().join("audit.jsonl.new").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_rotation_that_fails_keeps_the_file_and_stops_it_at_twice_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open_rotating(&path, MIN_ROTATE_BYTES).unwrap();
        log.rotate_retry = Duration::ZERO;
        // `FILE.1` is a directory that is not empty: the rename fails.
        std::fs::create_dir(log.rotated_path()).unwrap();
        std::fs::write(log.rotated_path().join("x"), "").unwrap();
        let line_len = serde_json::to_vec(&record()).unwrap().len() as u64 + 1;
        let per_limit = MIN_ROTATE_BYTES.div_ceil(line_len) as usize;
        let twice = (2 * MIN_ROTATE_BYTES).div_ceil(line_len) as usize;
        let outcomes: Vec<_> = (0..3 * per_limit).map(|_| log.write(&record())).collect();
        let failed_rotation = |o: &Result<Option<String>, Option<String>>| matches!(o, Ok(Some(m)) if m.contains("cannot rotate the audit log") && m.contains("cannot rename it to"));
        // Under the limit: written. From the limit to twice it: written, and the rotation that failed said why.
        assert!(outcomes[..per_limit - 1].iter().all(|o| *o == Ok(None)));
        assert!(outcomes[per_limit - 1..twice].iter().all(failed_rotation), "{:?}", &outcomes[per_limit - 1..twice]);
        // Past twice the limit: dropped (a failure).
        assert!(matches!(&outcomes[twice], Err(Some(m)) if m.contains("cannot rotate")), "{:?}", outcomes[twice]);
        assert!(outcomes[twice + 1..].iter().all(|o| matches!(o, Err(Some(_)))), "{outcomes:?}");
        assert_eq!(lines(&path).len(), twice);
        assert!(!dir.path().join("audit.jsonl.new").exists(), "the new file is removed when the rename fails");
        // Once the rename can succeed, the next line rotates and is written to a new file.
        std::fs::remove_dir_all(log.rotated_path()).unwrap();
        assert_eq!(log.write(&record()), Ok(None));
        assert_eq!((lines(&log.rotated_path()).len(), lines(&path).len()), (twice, 1));
    }

    #[test]
    fn one_writer_rotates_after_exactly_the_lines_that_reach_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open_rotating(&path, MIN_ROTATE_BYTES).unwrap();
        let line_len = serde_json::to_vec(&record()).unwrap().len() as u64 + 1;
        let per_file = MIN_ROTATE_BYTES.div_ceil(line_len);
        for _ in 0..2 * per_file + 5 {
            log.write(&record()).unwrap();
        }
        let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count() as u64;
        assert_eq!((lines(&log.rotated_path()), lines(&path)), (per_file, 5));
    }

    #[test]
    fn a_second_rotating_writer_of_one_file_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let first = AuditLog::open_rotating(&path, MIN_ROTATE_BYTES).unwrap();
        let refused = AuditLog::open_rotating(&path, MIN_ROTATE_BYTES).unwrap_err();
        assert!(matches!(&refused, AuditError::InUse { lock, .. } if *lock == dir.path().join("audit.jsonl.lock")));
        assert_eq!(
            refused.to_string(),
            format!(
                "another process writes the rotating audit log {} (it holds the lock on {}.lock); one process per file",
                path.display(),
                path.display()
            )
        );
        // Without rotation nothing is renamed under another writer: appending is allowed.
        assert!(AuditLog::open(&path).is_ok());
        drop(first);
        assert!(AuditLog::open_rotating(&path, MIN_ROTATE_BYTES).is_ok(), "the lock goes with the log");
        // A lock file that is a link is not followed, and one others may open is not trusted.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let linked = dir.path().join("linked.jsonl");
            std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("linked.jsonl.lock")).unwrap();
            let refused = AuditLog::open_rotating(&linked, MIN_ROTATE_BYTES).unwrap_err().to_string();
            assert!(refused.ends_with("linked.jsonl.lock: it is a symbolic link"), "{refused}");
            assert!(!dir.path().join("elsewhere").exists());
            let shared = dir.path().join("shared.jsonl");
            std::fs::write(dir.path().join("shared.jsonl.lock"), "").unwrap();
            let lock = dir.path().join("shared.jsonl.lock");
            std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).unwrap();
            let refused = AuditLog::open_rotating(&shared, MIN_ROTATE_BYTES).unwrap_err().to_string();
            assert!(refused.ends_with("it is readable or writable by group or others"), "{refused}");
        }
    }

    #[test]
    fn invisible_characters_are_written_as_escapes() {
        assert_eq!(cut("plain ünïcode"), "plain ünïcode");
        assert!(matches!(cut("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(cut("a\u{202e}b\u{200b}c\u{2028}"), "a\\u{202e}b\\u{200b}c\\u{2028}");
        assert_eq!(cut(&"\u{feff}".repeat(MAX_FIELD_CHARS + 1)), format!("{}…", "\\u{feff}".repeat(MAX_FIELD_CHARS)));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_a_link_or_a_fifo_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open.jsonl");
        std::fs::write(&open, "").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = AuditLog::open(&open).unwrap_err().to_string();
        assert_eq!(
            error,
            format!("the audit log {} is not used: it is readable or writable by group or others", open.display())
        );
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        let error = AuditLog::open(&link).unwrap_err().to_string();
        assert_eq!(error, format!("the audit log {} is not used: it is a symbolic link", link.display()));
        assert!(!dir.path().join("elsewhere").exists(), "nothing was created through the link");
        let fifo = crate::files::testing::test_fifo(dir.path());
        let error = crate::files::testing::within_seconds(5, move || AuditLog::open(&fifo).unwrap_err().to_string());
        // No reader: opening it for writing without blocking fails at once (ENXIO); with one, the check refuses it.
        assert!(
            error.ends_with("No such device or address (os error 6)") || error.ends_with("it is not a regular file"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let error = AuditLog::open(Path::new("/nonexistent-dir/audit.jsonl")).unwrap_err();
        assert!(error.to_string().starts_with("cannot open the audit log /nonexistent-dir/audit.jsonl: "), "{error}");
    }
}
