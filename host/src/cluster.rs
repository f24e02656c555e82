//! Where the Kubernetes API server is and how to trust and authenticate to it.
//!
//! In a pod this is Airflow's `load_incluster_config()`: `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`,
//! and the service account's `token`, `ca.crt` and `namespace` files. The service-account directory is a
//! parameter (the Python client and kube-rs hard-code it), so tests and local runs can point it anywhere.
//! Outside a cluster, a kubeconfig works too, loaded with the `kube` crate.
//!
//! Reading the environment is kept apart from computing on it: [`ClusterConfig::in_cluster`] takes the
//! environment as a function, so tests never touch process state.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::error::{ClusterConfigError, describe_parse_error};
use crate::files::{MAX_CA_BYTES, MAX_KUBECONFIG_BYTES, MAX_NAMESPACE_BYTES, read_regular_file, read_regular_text};
use crate::token::{TokenFile, TokenSource};

/// The service-account directory Kubernetes mounts into every pod.
pub const DEFAULT_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Everything the host needs to reach one Kubernetes API server.
#[derive(Debug)]
pub struct ClusterConfig {
    /// `https://host:port` of the API server.
    pub server: http::Uri,
    /// Certificates trusted for the API server (the cluster CA).
    pub root_certs: Vec<CertificateDer<'static>>,
    /// The bearer token.
    pub token: TokenSource,
    /// The namespace offered to providers whose configuration names none.
    pub namespace: DetectedNamespace,
}

/// The namespace the host detected, or why it could not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectedNamespace {
    /// Read from the service account's `namespace` file (stripped) or the kubeconfig context.
    Found(String),
    /// The operator-facing reason no namespace is known.
    Missing(String),
}

impl DetectedNamespace {
    /// As the WIT `detected-namespace` result.
    pub fn to_result(&self) -> Result<String, String> {
        match self {
            Self::Found(ns) => Ok(ns.clone()),
            Self::Missing(why) => Err(why.clone()),
        }
    }
}

impl ClusterConfig {
    /// In-cluster configuration from `env` (a lookup such as `|k| std::env::var(k).ok()`) and the service
    /// account directory `sa_dir`. The checks and their order are those of the Python client's
    /// `load_incluster_config`: service host and port, token file, CA file.
    pub fn in_cluster(sa_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ClusterConfigError> {
        let (host, port) = match (env("KUBERNETES_SERVICE_HOST"), env("KUBERNETES_SERVICE_PORT")) {
            (Some(h), Some(p)) => (h, p),
            _ => return Err(ClusterConfigError::ServiceHostNotSet),
        };
        if host.is_empty() || port.is_empty() {
            return Err(ClusterConfigError::ServiceHostEmpty);
        }
        let server = server_uri(&host, &port)?;
        let token = TokenSource::File(TokenFile::open(&sa_dir.join("token"))?);
        let root_certs = read_ca(&sa_dir.join("ca.crt"))?;
        let namespace = read_namespace(&sa_dir.join("namespace"));
        Ok(Self { server, root_certs, token, namespace })
    }

    /// Configuration from a kubeconfig file (its current context), for runs outside a cluster. Supports
    /// users with a `token` or a `tokenFile`; the context's namespace (or `default`) is the detected one.
    pub async fn from_kubeconfig(path: &Path) -> Result<Self, ClusterConfigError> {
        let text = read_regular_text(path, MAX_KUBECONFIG_BYTES)
            .map_err(|e| ClusterConfigError::Kubeconfig(format!("{}: {e}", path.display())))?;
        Self::from_kubeconfig_text(&text, path).await
    }

    /// [`ClusterConfig::from_kubeconfig`] on the text of the kubeconfig at `path` (already read): the files it
    /// names are resolved against `path`'s directory. This is the parsing path the fuzz target `kubeconfig`
    /// drives.
    pub async fn from_kubeconfig_text(text: &str, path: &Path) -> Result<Self, ClusterConfigError> {
        use kube::config::{KubeConfigOptions, Kubeconfig};

        // A kubeconfig holds credentials: its errors name the place and the problem, never a source line or a
        // value (`describe_parse_error`).
        let failed = |e: kube::config::KubeconfigError| {
            ClusterConfigError::Kubeconfig(format!("{}: {}", path.display(), describe_parse_error(&e.to_string())))
        };
        let mut kubeconfig = Kubeconfig::from_yaml(text).map_err(failed)?;
        check_kubeconfig_files(&mut kubeconfig, path)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.map_err(failed)?;
        let auth = &config.auth_info;
        if auth.client_certificate.is_some() || auth.client_certificate_data.is_some() {
            return Err(ClusterConfigError::UnsupportedAuth("client certificates"));
        }
        if auth.exec.is_some() || auth.auth_provider.is_some() {
            return Err(ClusterConfigError::UnsupportedAuth("an exec or auth-provider plugin"));
        }
        let token = match (&auth.token, &auth.token_file) {
            (Some(token), _) => TokenSource::Static(token.clone()),
            (None, Some(file)) => TokenSource::File(TokenFile::open(Path::new(file))?),
            (None, None) => return Err(ClusterConfigError::UnsupportedAuth("no token")),
        };
        let root_certs = match (&config.root_cert, &config.root_cert_file) {
            (Some(ders), _) => ders.iter().map(|d| CertificateDer::from(d.clone())).collect(),
            (None, Some(file)) => read_ca(file)?,
            (None, None) => Vec::new(),
        };
        if root_certs.is_empty() {
            return Err(ClusterConfigError::InvalidCa(format!("{} (no certificate-authority)", path.display())));
        }
        Ok(Self {
            server: config.cluster_url.clone(),
            root_certs,
            token,
            namespace: DetectedNamespace::Found(config.default_namespace.clone()),
        })
    }
}

/// Resolves the files a kubeconfig names (CA bundles, token files) against its directory, as client-go and
/// `Kubeconfig::read_from` do. A CA bundle is read here, bounded, and handed to kube as data; a token file is
/// checked (a regular file of bounded size) and read by [`TokenFile`] later, bounded too. A missing file is
/// left for the loader to report if the context uses it.
fn check_kubeconfig_files(kubeconfig: &mut kube::config::Kubeconfig, path: &Path) -> Result<(), ClusterConfigError> {
    use base64::Engine as _;
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    let absolute = |file: &str| -> std::path::PathBuf {
        if Path::new(file).is_relative() { dir.join(file) } else { Path::new(file).to_owned() }
    };
    let refused = |file: &Path, e: std::io::Error| {
        ClusterConfigError::Kubeconfig(format!("{} names {}: {e}", path.display(), file.display()))
    };
    for cluster in kubeconfig.clusters.iter_mut().filter_map(|named| named.cluster.as_mut()) {
        if let Some(file) = cluster.certificate_authority.as_deref().map(absolute) {
            match read_regular_file(&file, MAX_CA_BYTES) {
                Ok(pem) => {
                    cluster.certificate_authority = None;
                    cluster.certificate_authority_data = Some(base64::engine::general_purpose::STANDARD.encode(pem));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    cluster.certificate_authority = Some(file.display().to_string());
                }
                Err(e) => return Err(refused(&file, e)),
            }
        }
    }
    for auth in kubeconfig.auth_infos.iter_mut().filter_map(|named| named.auth_info.as_mut()) {
        if let Some(file) = auth.token_file.as_deref().map(absolute) {
            match crate::files::check_regular_file(&file, crate::files::MAX_TOKEN_BYTES) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(refused(&file, e)),
                _ => auth.token_file = Some(file.display().to_string()),
            }
        }
    }
    Ok(())
}

/// `https://host:port`, with IPv6 hosts bracketed, as the Python client builds it.
///
/// ```
/// use wasm_secrets::cluster::server_uri;
/// assert_eq!(server_uri("10.96.0.1", "443").unwrap().to_string(), "https://10.96.0.1:443/");
/// assert_eq!(server_uri("fd00::1", "6443").unwrap().to_string(), "https://[fd00::1]:6443/");
/// ```
pub fn server_uri(host: &str, port: &str) -> Result<http::Uri, ClusterConfigError> {
    let host = if host.contains(':') || host.contains('%') { format!("[{host}]") } else { host.to_owned() };
    format!("https://{host}:{port}")
        .parse()
        .map_err(|e: http::uri::InvalidUri| ClusterConfigError::InvalidServer(e.to_string()))
}

/// Reads a PEM bundle of CA certificates.
pub fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClusterConfigError> {
    let pem = read_regular_file(path, MAX_CA_BYTES).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ClusterConfigError::CaMissing(path.to_owned()),
        _ => ClusterConfigError::ReadCa(e, path.to_owned()),
    })?;
    if pem.iter().all(u8::is_ascii_whitespace) {
        return Err(ClusterConfigError::CaEmpty(path.to_owned()));
    }
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| ClusterConfigError::InvalidCa(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ClusterConfigError::InvalidCa(path.display().to_string()));
    }
    Ok(certs)
}

/// Airflow's namespace auto-detection: the file's content, stripped of whitespace. A missing file gives
/// Airflow's message; an empty file gives `""`, as in Airflow.
pub fn read_namespace(path: &Path) -> DetectedNamespace {
    match read_regular_text(path, MAX_NAMESPACE_BYTES) {
        Ok(text) => DetectedNamespace::Found(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DetectedNamespace::Missing(format!(
            "Could not auto-detect Kubernetes namespace from {}. Is automountServiceAccountToken disabled for this pod? Set the 'namespace' parameter explicitly in backend_kwargs.",
            path.display()
        )),
        Err(e) => DetectedNamespace::Missing(format!("Could not read the namespace file {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn missing_and_empty_service_host() {
        let dir = tempfile::tempdir().unwrap();
        let e = ClusterConfig::in_cluster(dir.path(), env(&[])).unwrap_err();
        assert!(matches!(e, ClusterConfigError::ServiceHostNotSet), "{e}");
        let e = ClusterConfig::in_cluster(
            dir.path(),
            env(&[("KUBERNETES_SERVICE_HOST", ""), ("KUBERNETES_SERVICE_PORT", "443")]),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "Service host/port is set but empty.");
    }

    #[test]
    fn checks_token_then_ca() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [("KUBERNETES_SERVICE_HOST", "127.0.0.1"), ("KUBERNETES_SERVICE_PORT", "6443")];
        let e = ClusterConfig::in_cluster(dir.path(), env(&vars)).unwrap_err();
        assert!(matches!(e, ClusterConfigError::TokenMissing(_)), "{e}");
        std::fs::write(dir.path().join("token"), "t").unwrap();
        let e = ClusterConfig::in_cluster(dir.path(), env(&vars)).unwrap_err();
        assert!(matches!(e, ClusterConfigError::CaMissing(_)), "{e}");
        std::fs::write(dir.path().join("ca.crt"), "").unwrap();
        let e = ClusterConfig::in_cluster(dir.path(), env(&vars)).unwrap_err();
        assert!(matches!(e, ClusterConfigError::CaEmpty(_)), "{e}");
        std::fs::write(dir.path().join("ca.crt"), "not pem").unwrap();
        let e = ClusterConfig::in_cluster(dir.path(), env(&vars)).unwrap_err();
        assert!(matches!(e, ClusterConfigError::InvalidCa(_)), "{e}");
    }

    #[test]
    fn namespace_detection_like_airflow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namespace");
        assert_eq!(
            read_namespace(&path),
            DetectedNamespace::Missing(format!(
                "Could not auto-detect Kubernetes namespace from {}. Is automountServiceAccountToken disabled for this pod? Set the 'namespace' parameter explicitly in backend_kwargs.",
                path.display()
            ))
        );
        std::fs::write(&path, " airflow\n").unwrap();
        assert_eq!(read_namespace(&path), DetectedNamespace::Found("airflow".into()));
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_namespace(&path), DetectedNamespace::Found(String::new()));
    }

    /// The kubeconfig and the files it names are bounded reads of regular files: a FIFO (or a device) as the
    /// kubeconfig or as its tokenFile is refused at once. A relative tokenFile is resolved against the
    /// kubeconfig's directory.
    #[cfg(unix)]
    #[test]
    fn kubeconfig_files_that_are_not_regular_files_are_refused() {
        use crate::files::testing::{test_fifo, within_seconds};
        let dir = tempfile::tempdir().unwrap();
        let fifo = test_fifo(dir.path());
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
             users: [{name: u, user: {tokenFile: fifo}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n\
             current-context: x\n",
        )
        .unwrap();
        let load = |path: std::path::PathBuf| {
            within_seconds(5, move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                runtime.block_on(ClusterConfig::from_kubeconfig(&path)).map(|_| ()).map_err(|e| e.to_string())
            })
        };
        let err = load(kubeconfig.clone()).unwrap_err();
        assert_eq!(
            err,
            format!(
                "cannot load the kubeconfig: {} names {}: it is not a regular file",
                kubeconfig.display(),
                fifo.display()
            )
        );
        let err = load(fifo.clone()).unwrap_err();
        assert_eq!(err, format!("cannot load the kubeconfig: {}: it is not a regular file", fifo.display()));
    }
}
