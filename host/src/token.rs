//! The service-account token, re-read from its file so the host follows the kubelet's rotation.
//!
//! The kubelet rotates projected tokens (an atomic swap of the `..data` symlink). Like kube-rs's `TokenFile`
//! and the Python client, we re-read the file when the cached copy is older than [`TOKEN_REFRESH`], and keep
//! the last good token when a re-read fails or finds an empty file (kubernetes/kubernetes#68164): a
//! half-rotated volume must not break lookups. Unlike the Python client we strip trailing whitespace, so a
//! token file written with a trailing newline works instead of failing every request.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ClusterConfigError;
use secrecy::{ExposeSecret as _, SecretString};

/// How long a token read from disk is used before the file is read again.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(60);

/// Where the bearer token comes from.
#[derive(Debug)]
pub enum TokenSource {
    /// A fixed token (from a kubeconfig `token` field).
    Static(SecretString),
    /// A token file re-read every [`TOKEN_REFRESH`].
    File(TokenFile),
}

impl TokenSource {
    /// The token to send now.
    pub fn token(&self) -> Result<SecretString, ClusterConfigError> {
        match self {
            Self::Static(token) => Ok(token.clone()),
            Self::File(file) => file.token(Instant::now()),
        }
    }

    /// After the API server refused `sent`: the token file's current token, when it differs from `sent`
    /// (it was rotated since it was last read). `None` for a fixed token or an unchanged file.
    pub fn rotated_since(&self, sent: &SecretString) -> Option<SecretString> {
        match self {
            Self::Static(_) => None,
            Self::File(file) => file.reread_if_changed(sent, Instant::now()),
        }
    }
}

/// A token file with its cached content.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    refresh: Duration,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl TokenFile {
    /// Reads the token file once, failing as Airflow's in-cluster loader does when it is missing or empty.
    pub fn open(path: &Path) -> Result<Self, ClusterConfigError> {
        Self::with_refresh(path, TOKEN_REFRESH)
    }

    /// [`TokenFile::open`] with another refresh period (tests).
    pub fn with_refresh(path: &Path, refresh: Duration) -> Result<Self, ClusterConfigError> {
        let token = read(path)?;
        Ok(Self { path: path.to_owned(), refresh, cached: Mutex::new(Some((token, Instant::now()))) })
    }

    /// The cached token, re-read first when it is older than the refresh period.
    pub fn token(&self, now: Instant) -> Result<SecretString, ClusterConfigError> {
        let mut cached = self.cached.lock().map_err(|_| ClusterConfigError::TokenLock)?;
        match cached.as_ref() {
            Some((token, read_at)) if now.saturating_duration_since(*read_at) < self.refresh => Ok(token.clone()),
            previous => match read(&self.path) {
                Ok(token) => {
                    *cached = Some((token.clone(), now));
                    Ok(token)
                }
                Err(e) => match previous.map(|(token, _)| token.clone()) {
                    Some(token) => {
                        tracing::warn!(path = %self.path.display(), error = %e, "re-reading the token file failed; keeping the last good token");
                        // The next attempt waits for the next period too: a broken file is not read per request.
                        *cached = Some((token.clone(), now));
                        Ok(token)
                    }
                    None => Err(e),
                },
            },
        }
    }
}

impl TokenFile {
    /// Reads the file now; when it holds a token other than `sent`, caches and returns it.
    pub fn reread_if_changed(&self, sent: &SecretString, now: Instant) -> Option<SecretString> {
        let token = read(&self.path).ok()?;
        if token.expose_secret() == sent.expose_secret() {
            return None;
        }
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((token.clone(), now));
        }
        Some(token)
    }
}

fn read(path: &Path) -> Result<SecretString, ClusterConfigError> {
    let text = crate::files::read_regular_text(path, crate::files::MAX_TOKEN_BYTES).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ClusterConfigError::TokenMissing(path.to_owned()),
        _ => ClusterConfigError::ReadTokenFile(e, path.to_owned()),
    })?;
    let token = text.trim_end();
    if token.is_empty() {
        return Err(ClusterConfigError::TokenEmpty(path.to_owned()));
    }
    Ok(SecretString::from(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_after_refresh_and_keeps_last_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let file = TokenFile::with_refresh(&path, Duration::from_secs(60)).unwrap();
        let t0 = Instant::now();
        assert_eq!(file.token(t0).unwrap().expose_secret(), "first", "trailing newline tolerated");

        std::fs::write(&path, "second").unwrap();
        assert_eq!(
            file.token(t0 + Duration::from_secs(30)).unwrap().expose_secret(),
            "first",
            "cached within the period"
        );
        assert_eq!(
            file.token(t0 + Duration::from_secs(61)).unwrap().expose_secret(),
            "second",
            "re-read after the period"
        );

        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            file.token(t0 + Duration::from_secs(200)).unwrap().expose_secret(),
            "second",
            "last good token kept"
        );
        std::fs::write(&path, "").unwrap();
        assert_eq!(file.token(t0 + Duration::from_secs(300)).unwrap().expose_secret(), "second", "empty file ignored");

        // A failed re-read restarts the period: the broken file is not read again on every request.
        std::fs::write(&path, "third").unwrap();
        assert_eq!(
            file.token(t0 + Duration::from_secs(330)).unwrap().expose_secret(),
            "second",
            "not re-read within the period after a failed read"
        );
        assert_eq!(file.token(t0 + Duration::from_secs(361)).unwrap().expose_secret(), "third", "re-read after it");
    }

    #[test]
    fn a_refused_token_is_replaced_only_by_a_different_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "old").unwrap();
        let source = TokenSource::File(TokenFile::open(&path).unwrap());
        let sent = source.token().unwrap();
        assert!(source.rotated_since(&sent).is_none(), "unchanged file: no retry");
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(source.rotated_since(&sent).map(|t| t.expose_secret().to_owned()).as_deref(), Some("new"));
        assert_eq!(source.token().unwrap().expose_secret(), "new", "the rotated token is cached");
        assert!(TokenSource::Static(SecretString::from("s")).rotated_since(&sent).is_none());
    }

    #[test]
    fn missing_and_empty_files_fail_like_airflow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let e = TokenFile::open(&path).unwrap_err();
        assert_eq!(e.to_string(), format!("Service token file does not exist: {}", path.display()));
        std::fs::write(&path, "\n").unwrap();
        let e = TokenFile::open(&path).unwrap_err();
        assert_eq!(e.to_string(), format!("Token file exists but empty: {}", path.display()));
    }

    #[test]
    fn debug_never_shows_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "hunter2-from-file").unwrap();
        let shown = format!(
            "{:?} {:?}",
            TokenSource::Static(SecretString::from("hunter2-static")),
            TokenSource::File(TokenFile::open(&path).unwrap())
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }

    /// A token path that is a FIFO (or a device, or a growing file) is refused at once, never read without end.
    #[cfg(unix)]
    #[test]
    fn a_token_path_that_is_not_a_regular_file_is_refused() {
        use crate::files::testing::{test_fifo, within_seconds};
        let dir = tempfile::tempdir().unwrap();
        let fifo = test_fifo(dir.path());
        let err = within_seconds(5, move || TokenFile::open(&fifo).map(|_| ()).map_err(|e| e.to_string()));
        assert!(err.as_ref().is_err_and(|e| e.ends_with("it is not a regular file")), "{err:?}");
        let err = within_seconds(5, || TokenFile::open(Path::new("/dev/zero")).map(|_| ()).map_err(|e| e.to_string()));
        assert!(err.as_ref().is_err_and(|e| e.ends_with("it is not a regular file")), "{err:?}");
    }
}
