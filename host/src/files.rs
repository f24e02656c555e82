//! Reading the files the host is pointed at: the service-account token, CA bundle and namespace, a kubeconfig,
//! the host configuration, a component, the files granted to a provider.
//!
//! Each of them is input from outside the process, and a path can name something other than a file: a FIFO
//! (opening it for reading blocks until a writer comes), a device that never ends (`/dev/zero`), a file that
//! keeps growing. So every read here opens without blocking, checks on the open descriptor that it is a regular
//! file (following symbolic links, which the kubelet's projected volumes use), and reads at most a stated
//! number of bytes: a larger file is an error, never a partial read.

use std::io::Read as _;
use std::path::Path;

/// The largest service-account token read (projected tokens are about 1 KiB).
pub const MAX_TOKEN_BYTES: u64 = 64 * 1024;
/// The largest CA bundle read.
pub const MAX_CA_BYTES: u64 = 1024 * 1024;
/// The largest namespace file read (a namespace name has at most 63 characters).
pub const MAX_NAMESPACE_BYTES: u64 = 4 * 1024;
/// The largest kubeconfig read.
pub const MAX_KUBECONFIG_BYTES: u64 = 4 * 1024 * 1024;
/// The largest host configuration read.
pub const MAX_HOST_CONFIG_BYTES: u64 = 1024 * 1024;
/// The largest provider component read (the built-in ones are well under 1 MiB).
pub const MAX_COMPONENT_BYTES: u64 = 64 * 1024 * 1024;

/// The content of the regular file at `path`, at most `max` bytes. Errors keep the OS's kind (`NotFound`
/// for a missing file); something other than a regular file is `InvalidInput`, a larger file `FileTooLarge`.
pub fn read_regular_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    read_at_most(&open_regular_file(path)?, max)
}

/// The rest of `file`, at most `max` bytes (a larger file is `FileTooLarge`, never a partial read).
fn read_at_most(mut file: &std::fs::File, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    (&mut file).take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, format!("it is larger than {max} bytes")));
    }
    Ok(bytes)
}

/// `bytes` as UTF-8 text.
fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not valid UTF-8"))
}

/// [`read_regular_file`] as UTF-8 text.
pub fn read_regular_text(path: &Path, max: u64) -> std::io::Result<String> {
    utf8(read_regular_file(path, max)?)
}

/// [`read_regular_text`] of a file holding a credential the host checks callers against (a `[[serve.tokens]]`
/// file): it must also be owned by the process's effective user or by root, and neither readable nor writable by
/// others nor writable by its group (a Kubernetes Secret volume with `defaultMode: 0400` or `0440` qualifies).
/// Anyone who may write such a file may admit themselves; anyone who may read it holds the credential.
#[cfg(unix)]
pub fn read_private_text(path: &Path, max: u64) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt as _;
    let file = open_regular_file(path)?;
    let meta = file.metadata()?;
    let euid = rustix::process::geteuid().as_raw();
    let problem = if meta.uid() != euid && meta.uid() != 0 {
        Some("it is owned by another user than the daemon's or root")
    } else if meta.mode() & 0o026 != 0 {
        Some("others may read or write it, or its group may write it (chmod 0600 or 0400)")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, problem));
    }
    utf8(read_at_most(&file, max)?)
}

/// Checks, without reading it, that `path` is a regular file of at most `max` bytes (for files another
/// library reads after us).
pub fn check_regular_file(path: &Path, max: u64) -> std::io::Result<()> {
    let size = open_regular_file(path)?.metadata()?.len();
    if size > max {
        return Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, format!("it is larger than {max} bytes")));
    }
    Ok(())
}

/// Opens `path` for reading without blocking (a FIFO would block until a writer comes) and checks on the
/// descriptor that it is a regular file.
fn open_regular_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, nonblocking_flag());
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() { "a directory" } else { "not a regular file" };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {what}")));
    }
    Ok(file)
}

/// Why the open `fd` is not one this process may trust, if it is not: not of `kind`, owned by another user
/// than the process's effective one, or with any of the `forbidden` mode bits set (`mode_problem` says which,
/// e.g. "writable by group or others" for `0o022`). Shared by the artifact cache and the audit log.
#[cfg(unix)]
pub(crate) fn ownership_problem(
    fd: &rustix::fd::OwnedFd,
    kind: rustix::fs::FileType,
    forbidden: u32,
    mode_problem: &'static str,
) -> std::io::Result<Option<&'static str>> {
    let stat = rustix::fs::fstat(fd)?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != kind {
        return Ok(Some(match kind {
            rustix::fs::FileType::Directory => "not a directory",
            _ => "not a regular file",
        }));
    }
    if stat.st_uid != rustix::process::geteuid().as_raw() {
        return Ok(Some("owned by another user"));
    }
    Ok((stat.st_mode & forbidden != 0).then_some(mode_problem))
}

#[cfg(unix)]
fn nonblocking_flag() -> i32 {
    // `O_NONBLOCK` fits an `i32` on every Unix; the cast only changes the type.
    i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::testing::{test_fifo, within_seconds};
    use super::*;

    #[test]
    fn bounded_reads_of_regular_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_regular_file(&file, 10).unwrap(), b"0123456789");
        let err = read_regular_file(&file, 9).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string()),
            (std::io::ErrorKind::FileTooLarge, "it is larger than 9 bytes".into())
        );
        assert!(check_regular_file(&file, 10).is_ok());
        assert_eq!(check_regular_file(&file, 9).unwrap_err().kind(), std::io::ErrorKind::FileTooLarge);
        let err = read_regular_file(dir.path(), 10).unwrap_err();
        assert_eq!((err.kind(), err.to_string()), (std::io::ErrorKind::InvalidInput, "it is a directory".into()));
        let missing = read_regular_file(&dir.path().join("missing"), 10).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        // An endless device is refused before anything is read.
        let err = read_regular_file(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(
            (err.kind(), err.to_string()),
            (std::io::ErrorKind::InvalidInput, "it is not a regular file".into())
        );
        // A link to a regular file is followed (the kubelet's projected volumes are links).
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_regular_file(&link, 10).unwrap(), b"0123456789");
    }

    /// A FIFO with no writer: opening it for reading would block forever; it is refused at once.
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = test_fifo(dir.path());
        let result = within_seconds(5, move || read_regular_file(&fifo, 10).map_err(|e| e.to_string()));
        assert_eq!(result, Err("it is not a regular file".to_owned()));
    }
}

/// Test helpers for the readers of this module's callers.
#[cfg(test)]
#[cfg(unix)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};

    /// A FIFO named `fifo` in `dir`, with no writer: a blocking open for reading never returns.
    pub(crate) fn test_fifo(dir: &Path) -> PathBuf {
        let fifo = dir.join("fifo");
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        fifo
    }

    /// Runs `f` on its own thread and returns its result, failing the test if it takes longer than `seconds`
    /// (a blocked read must fail the test, not hang it).
    pub(crate) fn within_seconds<T: Send + 'static>(seconds: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(f());
        });
        result.recv_timeout(std::time::Duration::from_secs(seconds)).expect("the read blocked")
    }
}
