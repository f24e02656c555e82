//! The daemon's Unix socket (the file-system edge of `secrets serve`): created with its final mode and group
//! before anyone can connect, never over a live daemon's socket, and removed when the daemon stops.
//!
//! The socket is bound in a private directory (mode 0700, a name no one can guess) next to the requested path,
//! given its mode and group there, and then renamed into place without replacing anything
//! (`RENAME_NOREPLACE`): there is no moment at which it exists at the path with the umask's mode, and two
//! daemons started together cannot both think they serve. The parent directory must not be writable by other
//! users unless it is sticky: there, another user could swap the private directory for a link between the
//! steps.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Why the socket could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Something other than a socket is at the path.
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    /// A daemon answers on the path.
    #[error("another process is serving on {0}")]
    InUse(PathBuf),
    /// The parent directory is writable by other users and not sticky.
    #[error(
        "{0} is writable by other users and not sticky: the socket could be swapped there; use a private directory"
    )]
    OpenParent(PathBuf),
    /// The file system refused.
    #[error("cannot create the socket {1}: {0}")]
    Io(#[source] std::io::Error, PathBuf),
}

/// A bound socket that removes its file when dropped (if the file is still the one it created).
#[derive(Debug)]
pub struct BoundSocket {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    inode: u64,
}

impl BoundSocket {
    /// Binds `path` with mode 0600, or 0660 and group `group`. A stale socket left by a daemon that died (one
    /// that refuses connections) is replaced; a live one, or one whose state cannot be told, is not.
    pub fn bind(path: &Path, group: Option<u32>) -> Result<Self, SocketError> {
        let io = |e| SocketError::Io(e, path.to_owned());
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mode = std::fs::metadata(parent).map_err(io)?.permissions().mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(SocketError::OpenParent(parent.to_owned()));
        }
        remove_stale(path)?;
        let name = path.file_name().ok_or_else(|| io(std::io::Error::other("the path names no file")))?;
        let private = private_dir(parent, &name.to_string_lossy()).map_err(io)?;
        let staged = private.join("socket");
        let result = (|| {
            let listener = std::os::unix::net::UnixListener::bind(&staged)?;
            if let Some(gid) = group {
                std::os::unix::fs::lchown(&staged, None, Some(gid))?;
            }
            let mode = if group.is_some() { 0o660 } else { 0o600 };
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
            let cwd = rustix::fs::CWD;
            match rustix::fs::renameat_with(cwd, &staged, cwd, path, rustix::fs::RenameFlags::NOREPLACE) {
                Ok(()) => {}
                Err(rustix::io::Errno::EXIST) => return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists)),
                // A file system without RENAME_NOREPLACE (NFS, some FUSE mounts): a hard link fails just as
                // atomically when the name exists; the staged name is removed below.
                Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::OPNOTSUPP) => {
                    std::fs::hard_link(&staged, path)?;
                }
                Err(e) => return Err(e.into()),
            }
            let inode = std::fs::symlink_metadata(path)?.ino();
            listener.set_nonblocking(true)?;
            Ok((tokio::net::UnixListener::from_std(listener)?, inode))
        })();
        let _ = std::fs::remove_file(&staged);
        let _ = std::fs::remove_dir(&private);
        match result {
            Ok((listener, inode)) => Ok(Self { listener, path: path.to_owned(), inode }),
            // Another daemon put its socket there since the check.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(SocketError::InUse(path.to_owned())),
            Err(e) => Err(io(e)),
        }
    }

    /// The listener.
    pub fn listener(&self) -> &tokio::net::UnixListener {
        &self.listener
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes a socket at `path` that refuses connections (its daemon died); leaves anything else, with an error.
fn remove_stale(path: &Path) -> Result<(), SocketError> {
    let io = |e| SocketError::Io(e, path.to_owned());
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => Err(SocketError::NotASocket(path.to_owned())),
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => Err(SocketError::InUse(path.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path).map_err(io),
            Err(e) => Err(io(e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// A new directory (mode 0700) in `parent`, named after the socket with a part no one can guess in advance.
fn private_dir(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::os::unix::fs::DirBuilderExt as _;
    for attempt in 0u32..16 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(attempt);
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        let dir = parent.join(format!(".{name}.{}.{:016x}.tmp", std::process::id(), hasher.finish()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("every private directory name tried exists"))
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_socket() && m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
