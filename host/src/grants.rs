//! What the host grants one provider: the Kubernetes API server (HTTP), environment variables by prefix, and
//! single files by exact path. Everything else a component could ask for is denied.
//!
//! The grants come from the host's configuration, never from the provider's own `backend_kwargs`: the guest
//! is untrusted, so what it may reach is the operator's decision, written down where the operator keeps
//! host settings. A provider whose kwargs name a file the host did not grant gets `denied-by-host`.

use std::path::{Path, PathBuf};

use crate::cluster::ClusterConfig;

/// The environment-variable prefixes the built-in environment provider reads with `backend_kwargs` (by
/// default Airflow's connections and variables and Flyte's secrets: `AIRFLOW_CONN_`, `AIRFLOW_VAR_`,
/// `_FSEC_`), from its own configuration parser. Invalid kwargs grant nothing; the provider reports them.
pub fn builtin_env_prefixes(backend_kwargs: &str) -> Vec<String> {
    use wasm_secrets_provider_common::FromKwargs as _;
    match wasm_secrets_provider_environment::config::BackendConfig::from_json(backend_kwargs) {
        Ok(c) => vec![c.connections_prefix, c.variables_prefix, c.flyte_prefix],
        Err(_) => Vec::new(),
    }
}

/// The files the built-in local-files provider reads with `backend_kwargs` (connections, variables and
/// configs files; `""` or `null` names none), from its own configuration parser. Invalid kwargs grant
/// nothing; the provider reports them.
pub fn builtin_files(backend_kwargs: &str) -> Vec<PathBuf> {
    use wasm_secrets_provider_common::FromKwargs as _;
    match wasm_secrets_provider_local_files::config::BackendConfig::from_json(backend_kwargs) {
        Ok(c) => [c.connections_file_path, c.variables_file_path, c.configs_file_path]
            .into_iter()
            .flatten()
            .map(PathBuf::from)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The largest file `read-file` hands a provider. Airflow's connection and variable files are small; the
/// bound keeps a mistaken path (a log, a disk image) from exhausting the guest's memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The mounts the built-in Vault provider reads under with `backend_kwargs`: its `mount_point` (default
/// `secret`). With no fixed mount (`null`), each key names its mount, so the grant must list them (`mounts`).
pub fn builtin_vault_mounts(backend_kwargs: &str) -> Result<Vec<String>, String> {
    use wasm_secrets_provider_common::FromKwargs as _;
    let config = wasm_secrets_provider_vault::config::BackendConfig::from_json(backend_kwargs)
        .map_err(|e| format!("backend_kwargs: {e}"))?;
    // hvac collapses the `//` a mount written with slashes makes: `secret/` is the mount `secret`.
    match config.fixed_mount().map(|m| m.trim_matches('/')).filter(|m| !m.is_empty()) {
        Some(mount) => Ok(vec![mount.to_owned()]),
        None => Err("`mount_point` is null, so each key names its mount: list them in `vault.mounts`".to_owned()),
    }
}

/// What one provider may reach. `Debug` shows variable names, never their values (an `AIRFLOW_CONN_*` value
/// holds a password).
#[derive(Default)]
pub struct Grants {
    /// The Kubernetes API server, through the host's HTTP policy. `None`: every HTTP request is denied.
    pub cluster: Option<ClusterConfig>,
    /// A Vault server, through the host's Vault policy (used only when `cluster` is `None`: a provider reaches
    /// one store).
    pub vault: Option<crate::vault::VaultGrant>,
    /// The environment the provider sees through WASI: only these variables.
    pub env: Vec<(String, String)>,
    /// The files `read-file` may read. Paths are compared with `Path` equality (which ignores `.` components
    /// and repeated separators but never resolves `..` or symlinks); the OS follows symlinks when the host
    /// opens a granted path.
    pub files: Vec<PathBuf>,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("cluster", &self.cluster)
            .field("vault", &self.vault)
            .field("env", &EnvNames(&self.env))
            .field("files", &self.files)
            .finish()
    }
}

/// `Debug` of an environment: the names only.
pub struct EnvNames<'a>(pub &'a [(String, String)]);

impl std::fmt::Debug for EnvNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(name, _)| name)).finish()
    }
}

/// The keys of `backend_kwargs` JSON text, for listings and `Debug`: a custom provider's kwargs may hold
/// credentials, so values are never shown.
pub fn kwargs_keys(backend_kwargs: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(backend_kwargs) {
        Ok(serde_json::Value::Object(map)) if !map.is_empty() => map.keys().cloned().collect::<Vec<_>>().join(", "),
        _ if backend_kwargs.trim().is_empty() => "(none: defaults)".to_owned(),
        Ok(_) => "(none: defaults)".to_owned(),
        Err(_) => "(not a JSON object: the provider will reject it)".to_owned(),
    }
}

impl Grants {
    /// HTTP to `cluster` and nothing else: the Kubernetes provider.
    pub fn kubernetes(cluster: ClusterConfig) -> Self {
        Self { cluster: Some(cluster), ..Self::default() }
    }
}

/// The variables of `vars` whose names start with one of `prefixes`, sorted by name so the guest's
/// environment does not depend on the order the OS lists it in. An empty prefix would grant the whole
/// environment, so it matches nothing.
pub fn env_with_prefixes(
    vars: impl IntoIterator<Item = (String, String)>,
    prefixes: &[impl AsRef<str>],
) -> Vec<(String, String)> {
    let mut granted: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| prefixes.iter().any(|p| !p.as_ref().is_empty() && name.starts_with(p.as_ref())))
        .collect();
    granted.sort();
    granted
}

/// Why `read-file` gave nothing. Messages name the path, never content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileReadError {
    /// The path is granted but does not exist.
    #[error("no file at {0}")]
    NotFound(String),
    /// The path is not granted to this provider.
    #[error(
        "the host grants this provider no file {0}; list it under `files` of the provider in the host configuration"
    )]
    Denied(String),
    /// The file exists but could not be read, or is too large.
    #[error("cannot read {0}: {1}")]
    Io(String, String),
}

/// Reads `path` if it is exactly one of `granted`: a regular file (never a FIFO or device, opened without
/// blocking), at most [`MAX_FILE_BYTES`].
pub fn read_granted_file(path: &str, granted: &[PathBuf]) -> Result<Vec<u8>, FileReadError> {
    if !granted.iter().any(|g| g.as_path() == Path::new(path)) {
        return Err(FileReadError::Denied(path.to_owned()));
    }
    crate::files::read_regular_file(Path::new(path), MAX_FILE_BYTES).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => FileReadError::NotFound(path.to_owned()),
        _ => FileReadError::Io(path.to_owned(), e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prefixed_variables_are_granted_sorted() {
        let vars = [("PATH", "/bin"), ("AIRFLOW_VAR_B", "2"), ("AIRFLOW_CONN_X", "u"), ("AIRFLOW_VAR_A", "1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let granted = env_with_prefixes(vars, &["AIRFLOW_VAR_", "AIRFLOW_CONN_"]);
        let names: Vec<&str> = granted.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["AIRFLOW_CONN_X", "AIRFLOW_VAR_A", "AIRFLOW_VAR_B"]);
    }

    #[test]
    fn debug_shows_names_and_keys_never_values() {
        let grants =
            Grants { env: vec![("AIRFLOW_CONN_DB".into(), "postgres://u:hunter2@h".into())], ..Grants::default() };
        let shown = format!("{grants:?}");
        assert!(shown.contains("AIRFLOW_CONN_DB") && !shown.contains("hunter2"), "{shown}");
        assert_eq!(kwargs_keys(r#"{"url": "x", "vault_token": "hunter2"}"#), "url, vault_token");
        assert_eq!(kwargs_keys(""), "(none: defaults)");
        assert_eq!(kwargs_keys("[1]"), "(none: defaults)");
        assert_eq!(kwargs_keys("{"), "(not a JSON object: the provider will reject it)");
    }

    #[test]
    fn builtin_grants_follow_the_providers_own_kwargs() {
        assert_eq!(builtin_env_prefixes(""), ["AIRFLOW_CONN_", "AIRFLOW_VAR_", "_FSEC_"]);
        assert_eq!(
            builtin_env_prefixes(r#"{"connections_prefix": "MY_CONN_"}"#),
            ["MY_CONN_", "AIRFLOW_VAR_", "_FSEC_"]
        );
        assert!(builtin_env_prefixes(r#"{"namespace": "x"}"#).is_empty(), "invalid kwargs grant nothing");
        let files = builtin_files(
            r#"{"connections_file_path": "/c.yaml", "variables_file_path": "", "configs_file_path": null}"#,
        );
        assert_eq!(files, [PathBuf::from("/c.yaml")]);
        assert!(builtin_files(r#"{"connections_file_path": "/c.txt"}"#).is_empty(), "invalid kwargs grant nothing");
    }

    #[test]
    fn an_empty_prefix_grants_nothing() {
        let vars = [("HOME".to_owned(), "/root".to_owned())];
        assert!(env_with_prefixes(vars, &[""]).is_empty());
    }

    #[test]
    fn files_are_granted_by_exact_path() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let granted = dir.path().join("conns.env");
        let sibling = dir.path().join("other.env");
        std::fs::write(&granted, "a=b\n")?;
        std::fs::write(&sibling, "secret=1\n")?;
        let list = vec![granted.clone()];
        assert_eq!(read_granted_file(granted.to_str().ok_or("path")?, &list)?, b"a=b\n");
        let sibling = sibling.to_str().ok_or("path")?;
        assert_eq!(read_granted_file(sibling, &list), Err(FileReadError::Denied(sibling.to_owned())));
        let dir_path = dir.path().to_str().ok_or("path")?;
        assert_eq!(read_granted_file(dir_path, &list), Err(FileReadError::Denied(dir_path.to_owned())));
        // `Path` equality ignores `.` components and repeated separators (same file); `..` is never resolved.
        assert_eq!(read_granted_file(&format!("{dir_path}/.//conns.env"), &list)?, b"a=b\n");
        let dotted = format!("{dir_path}/sub/../conns.env");
        assert_eq!(read_granted_file(&dotted, &list), Err(FileReadError::Denied(dotted.clone())));
        std::fs::remove_file(&granted)?;
        let gone = granted.to_str().ok_or("path")?;
        assert_eq!(read_granted_file(gone, &list), Err(FileReadError::NotFound(gone.to_owned())));
        Ok(())
    }

    #[test]
    fn a_granted_directory_is_not_read() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_str().ok_or("path")?;
        let err = read_granted_file(path, &[dir.path().to_owned()]);
        assert_eq!(err, Err(FileReadError::Io(path.to_owned(), "it is a directory".to_owned())));
        Ok(())
    }

    /// A granted path that is a FIFO would block the lookup (and a runtime thread) until a writer comes; a
    /// device would never end. Both are refused at once.
    #[cfg(unix)]
    #[test]
    fn a_granted_fifo_or_device_is_refused_at_once() {
        use crate::files::testing::{test_fifo, within_seconds};
        let dir = tempfile::tempdir().unwrap();
        let fifo = test_fifo(dir.path()).display().to_string();
        let granted = vec![PathBuf::from(&fifo), PathBuf::from("/dev/zero")];
        let list = granted.clone();
        let result = within_seconds(5, move || read_granted_file(&fifo, &list));
        assert!(matches!(&result, Err(FileReadError::Io(_, m)) if m == "it is not a regular file"), "{result:?}");
        let result = within_seconds(5, move || read_granted_file("/dev/zero", &granted));
        assert!(matches!(&result, Err(FileReadError::Io(_, m)) if m == "it is not a regular file"), "{result:?}");
    }
}
