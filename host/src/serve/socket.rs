//! The daemon's Unix socket (the file-system edge of `secrets serve`): created with its final mode and group
//! before anyone can connect, never over a live daemon's socket, and removed when the daemon stops.
//!
//! The socket is bound in a private directory (mode 0700) next to the requested path, given its mode and group
//! there, and then renamed into place: there is no moment at which it exists at the path with the umask's mode.

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
    /// Binds `path` with mode 0600, or 0660 and group `group`. A stale socket left by a daemon that died is
    /// replaced; a live one is not.
    pub fn bind(path: &Path, group: Option<u32>) -> Result<Self, SocketError> {
        let io = |e| SocketError::Io(e, path.to_owned());
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => return Err(SocketError::NotASocket(path.to_owned())),
            Ok(_) => {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(SocketError::InUse(path.to_owned()));
                }
                std::fs::remove_file(path).map_err(io)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().ok_or_else(|| io(std::io::Error::other("the path names no file")))?;
        let private = parent.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(&private).map_err(io)?;
        let staged = private.join("socket");
        let result = (|| {
            let listener = std::os::unix::net::UnixListener::bind(&staged)?;
            if let Some(gid) = group {
                std::os::unix::fs::chown(&staged, None, Some(gid))?;
            }
            let mode = if group.is_some() { 0o660 } else { 0o600 };
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
            std::fs::rename(&staged, path)?;
            let inode = std::fs::symlink_metadata(path)?.ino();
            listener.set_nonblocking(true)?;
            Ok((tokio::net::UnixListener::from_std(listener)?, inode))
        })();
        let _ = std::fs::remove_file(&staged);
        let _ = std::fs::remove_dir(&private);
        let (listener, inode) = result.map_err(io)?;
        Ok(Self { listener, path: path.to_owned(), inode })
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

impl Drop for BoundSocket {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_socket() && m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
