//! The on-disk cache of compiled components: the one place the host reads native code from a file.
//!
//! Threat model: wasmtime deserializes a cached artifact as machine code without checking it (that is why
//! `Component::deserialize` is `unsafe`), so whoever can write a file the host loads from the cache runs code
//! in the host, next to the service-account token. The cache directory is user input (`--cache-dir`,
//! `XDG_CACHE_HOME`), possibly shared, possibly prepared by someone else. So:
//! - the directory is opened once, without following a symbolic link, and checked on the open descriptor: a
//!   directory owned by this user that neither group nor others may write; otherwise the cache is bypassed
//!   (the caller compiles and warns). Every later access is relative to that descriptor, so swapping the path
//!   afterwards changes nothing;
//! - an artifact is opened without following a link and checked on its descriptor the same way (a regular
//!   file, owned by this user, written by nobody else), then read through that descriptor, at most
//!   [`MAX_ARTIFACT_BYTES`]; the bytes in memory are what gets deserialized, not a path that could change;
//! - a new artifact goes to a temporary file created exclusively (never an existing file, never through a
//!   link), mode 0600, then renamed into place within the directory.
//!
//! Only Unix has the ownership and mode bits this needs; elsewhere the cache is always bypassed.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The largest artifact read from the cache. The compiled built-in components take a few MiB; a larger file
/// is not something this host wrote.
pub const MAX_ARTIFACT_BYTES: u64 = 256 * 1024 * 1024;

/// Why the cache (or one entry of it) is not used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The directory could not be created or opened (a symbolic link is refused here too).
    #[error("cannot open the cache directory {}: {source}", .path.display())]
    OpenDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The directory or an entry is not this user's alone.
    #[error("{} is {problem}; only a directory and files that this user owns and nobody else can write are used", .path.display())]
    Untrusted {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Reading or writing an entry failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The platform has no ownership and mode bits to check.
    #[error("the compiled-component cache needs Unix file ownership and modes")]
    Unsupported,
}

/// An opened, checked cache directory.
#[derive(Debug)]
pub struct CacheDir {
    path: PathBuf,
    #[cfg(unix)]
    fd: rustix::fd::OwnedFd,
}

#[cfg(unix)]
impl CacheDir {
    /// Opens `path`, creating it (and its missing parents) with mode 0700 when it does not exist, and checks it.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        use rustix::fs::{Mode, OFlags};
        let open_dir = |source| CacheError::OpenDir { path: path.to_owned(), source };
        if std::fs::symlink_metadata(path).is_err() {
            let mut builder = std::fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(builder.recursive(true), 0o700);
            builder.create(path).map_err(open_dir)?;
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| open_dir(e.into()))?;
        check_owner_and_mode(&fd, path, rustix::fs::FileType::Directory)?;
        Ok(Self { path: path.to_owned(), fd })
    }

    /// The artifact `name`: `None` when there is none, an error when there is one that cannot be trusted.
    pub fn load(&self, name: &str) -> Result<Option<Vec<u8>>, CacheError> {
        use rustix::fs::{Mode, OFlags};
        let path = self.path.join(name);
        let read_error = |source| CacheError::Io { action: "read", path: path.clone(), source };
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) => {
                return Err(CacheError::Untrusted { path, problem: "a symbolic link" });
            }
            Err(e) => return Err(read_error(e.into())),
        };
        check_owner_and_mode(&fd, &path, rustix::fs::FileType::RegularFile)?;
        let mut bytes = Vec::new();
        std::fs::File::from(fd).take(MAX_ARTIFACT_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
        if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
            return Err(CacheError::Untrusted { path, problem: "larger than any artifact this host writes" });
        }
        Ok(Some(bytes))
    }

    /// Stores `bytes` as `name`: written to a new temporary file (created exclusively, no link followed, mode
    /// 0600), then renamed over `name`.
    pub fn store(&self, name: &str, bytes: &[u8]) -> Result<(), CacheError> {
        use rustix::fs::{AtFlags, Mode, OFlags};
        let tmp = format!(".tmp-{}-{name}", std::process::id());
        let tmp_path = self.path.join(&tmp);
        let write_error = |source| CacheError::Io { action: "write", path: tmp_path.clone(), source };
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, tmp.as_str(), flags, Mode::from_raw_mode(0o600))
            .map_err(|e| write_error(e.into()))?;
        let written = std::fs::File::from(fd).write_all(bytes);
        let renamed = written.and_then(|()| Ok(rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name)?));
        if let Err(e) = renamed {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
            return Err(write_error(e));
        }
        Ok(())
    }
}

/// `fd` is of `kind`, owned by this process's effective user, and writable by neither group nor others.
#[cfg(unix)]
fn check_owner_and_mode(fd: &rustix::fd::OwnedFd, path: &Path, kind: rustix::fs::FileType) -> Result<(), CacheError> {
    match crate::files::ownership_problem(fd, kind, 0o022, "writable by group or others") {
        Ok(None) => Ok(()),
        Ok(Some(problem)) => Err(CacheError::Untrusted { path: path.to_owned(), problem }),
        Err(source) => Err(CacheError::Io { action: "read", path: path.to_owned(), source }),
    }
}

#[cfg(not(unix))]
impl CacheDir {
    /// Always [`CacheError::Unsupported`]: the checks need Unix ownership and modes.
    pub fn open(_path: &Path) -> Result<Self, CacheError> {
        Err(CacheError::Unsupported)
    }

    /// Never called: [`CacheDir::open`] fails.
    pub fn load(&self, _name: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Err(CacheError::Unsupported)
    }

    /// Never called: [`CacheDir::open`] fails.
    pub fn store(&self, _name: &str, _bytes: &[u8]) -> Result<(), CacheError> {
        Err(CacheError::Unsupported)
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_new_directory_is_private_and_round_trips() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b");
        let cache = CacheDir::open(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(cache.load("x.cwasm").unwrap(), None);
        cache.store("x.cwasm", b"artifact").unwrap();
        assert_eq!(cache.load("x.cwasm").unwrap().as_deref(), Some(&b"artifact"[..]));
        assert_eq!(std::fs::metadata(dir.join("x.cwasm")).unwrap().permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["x.cwasm"], "no temporary file is left");
    }

    #[test]
    fn a_directory_others_can_write_or_a_link_is_not_used() {
        let base = tempfile::tempdir().unwrap();
        let shared = base.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        set_mode(&shared, 0o777);
        let err = CacheDir::open(&shared).unwrap_err();
        assert!(matches!(err, CacheError::Untrusted { problem: "writable by group or others", .. }), "{err}");
        set_mode(&shared, 0o700);
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&shared, &link).unwrap();
        assert!(matches!(CacheDir::open(&link).unwrap_err(), CacheError::OpenDir { .. }));
        let file = base.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(matches!(CacheDir::open(&file).unwrap_err(), CacheError::OpenDir { .. }));
        assert!(CacheDir::open(&shared).is_ok());
    }

    #[test]
    fn entries_others_can_write_links_and_non_files_are_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        set_mode(dir.path(), 0o700);
        let cache = CacheDir::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("writable.cwasm"), "x").unwrap();
        set_mode(&dir.path().join("writable.cwasm"), 0o666);
        let err = cache.load("writable.cwasm").unwrap_err();
        assert!(matches!(err, CacheError::Untrusted { problem: "writable by group or others", .. }), "{err}");
        let target = dir.path().join("target.cwasm");
        std::fs::write(&target, "x").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("link.cwasm")).unwrap();
        let err = cache.load("link.cwasm").unwrap_err();
        assert!(matches!(err, CacheError::Untrusted { problem: "a symbolic link", .. }), "{err}");
        std::fs::create_dir(dir.path().join("dir.cwasm")).unwrap();
        let err = cache.load("dir.cwasm").unwrap_err();
        assert!(matches!(err, CacheError::Untrusted { problem: "not a regular file", .. }), "{err}");
    }

    #[test]
    fn a_temporary_file_is_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        set_mode(dir.path(), 0o700);
        let cache = CacheDir::open(dir.path()).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let tmp = format!(".tmp-{}-x.cwasm", std::process::id());
        std::os::unix::fs::symlink(&victim, dir.path().join(tmp)).unwrap();
        assert!(matches!(cache.store("x.cwasm", b"evil").unwrap_err(), CacheError::Io { action: "write", .. }));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(cache.load("x.cwasm").unwrap(), None);
    }
}
