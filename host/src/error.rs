//! Error types, one enum per concern. None of them ever holds a secret value.

use std::path::PathBuf;

/// Loading, compiling or linking a provider component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The component file could not be read.
    #[error("cannot read the provider component {1}: {0}")]
    ReadComponent(#[source] std::io::Error, PathBuf),
    /// wasmtime could not build its engine.
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component, or do not compile.
    #[error("the provider component {0} is not a valid WebAssembly component: {1}")]
    Compile(String, String),
    /// The component imports something the host does not provide, or exports the wrong world.
    #[error("the provider component {0} does not fit the wasm-secrets:provider world: {1}")]
    Link(String, String),
}

/// Reading the in-cluster or kubeconfig settings. The messages of the in-cluster cases are those of the
/// Python client that Airflow uses, so operators recognise them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterConfigError {
    /// `KUBERNETES_SERVICE_HOST` or `KUBERNETES_SERVICE_PORT` is not set: not running in a pod.
    #[error(
        "Service host/port is not set. (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are read inside a pod; outside a cluster use --kubeconfig)"
    )]
    ServiceHostNotSet,
    /// One of them is set but empty.
    #[error("Service host/port is set but empty.")]
    ServiceHostEmpty,
    /// The service host and port do not make a valid URL.
    #[error("the API server address is not valid: {0}")]
    InvalidServer(String),
    /// The token file does not exist.
    #[error("Service token file does not exist: {}", .0.display())]
    TokenMissing(PathBuf),
    /// The token file is empty.
    #[error("Token file exists but empty: {}", .0.display())]
    TokenEmpty(PathBuf),
    /// The token file could not be read.
    #[error("cannot read the token file {path}: {source}", path = .1.display(), source = .0)]
    ReadTokenFile(#[source] std::io::Error, PathBuf),
    /// The token cache was poisoned by a panic in another thread.
    #[error("the token cache is unusable after a panic in another thread")]
    TokenLock,
    /// The CA file does not exist.
    #[error("Service certification file does not exist: {}", .0.display())]
    CaMissing(PathBuf),
    /// The CA file is empty.
    #[error("Cert file exists but empty: {}", .0.display())]
    CaEmpty(PathBuf),
    /// The CA file could not be read.
    #[error("cannot read the CA file {path}: {source}", path = .1.display(), source = .0)]
    ReadCa(#[source] std::io::Error, PathBuf),
    /// The CA bundle holds no usable certificate.
    #[error("the CA bundle {0} holds no valid PEM certificate")]
    InvalidCa(String),
    /// The kubeconfig could not be loaded.
    #[error("cannot load the kubeconfig: {0}")]
    Kubeconfig(String),
    /// The kubeconfig asks for an authentication method this host does not support.
    #[error("the kubeconfig user uses {0}, which is not supported; use a `token` or `tokenFile` user")]
    UnsupportedAuth(&'static str),
    /// The TLS client could not be built.
    #[error("cannot set up TLS for the API server: {0}")]
    Tls(String),
}

wasm_secrets_provider_common::define_lookup_error! {
    /// Why a lookup failed: the WIT `error` case the provider reported, or the component's own failure.
    pub enum LookupError {
        /// The provider component crashed, or exceeded the memory or time the host allows it.
        #[error("the provider component failed: {0}")]
        Provider(String),
    }
}

impl LookupError {
    /// The short name of the error's kind, for logs: the WIT case name, or `provider-failure`.
    pub fn kind(&self) -> &'static str {
        self.wit_case().unwrap_or("provider-failure")
    }
}

/// A parser's message about a file that may hold credentials (a kubeconfig, the host configuration), made
/// safe to show: its first line only (parsers print the offending source lines below it), with every quoted
/// span replaced by `…`, since that is where parsers quote the offending value. Backquoted names after
/// `field ` and after `expected` are kept: they are keys and the allowed choices, not values. Line and column
/// numbers stay.
///
/// ```
/// use wasm_secrets::error::describe_parse_error;
/// assert_eq!(
///     describe_parse_error("invalid type: string \"hunter2\", expected a boolean\n  |\n4 | x = \"hunter2\""),
///     "invalid type: string \"…\", expected a boolean"
/// );
/// assert_eq!(
///     describe_parse_error("unknown variant `hunter2`, expected one of `variables`, `config`"),
///     "unknown variant `…`, expected one of `variables`, `config`"
/// );
/// assert_eq!(describe_parse_error("unknown field `colour` at line 4"), "unknown field `colour` at line 4");
/// assert_eq!(
///     describe_parse_error(r#"invalid type: string "p\"ssw0rd", expected a map"#),
///     r#"invalid type: string "…", expected a map"#
/// );
/// ```
pub fn describe_parse_error(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or_default();
    let mut out = String::with_capacity(first_line.len());
    let mut rest = first_line;
    while let Some(start) = rest.find(['"', '\'', '`']) {
        let (before, quoted) = rest.split_at(start);
        out.push_str(before);
        let quote = quoted.chars().next().unwrap_or('"');
        let inner = &quoted[quote.len_utf8()..];
        // The closing quote is the first one not escaped with `\` (serde quotes strings with `{:?}`).
        let mut escaped = false;
        let end = inner.char_indices().find_map(|(i, c)| match c {
            _ if escaped => {
                escaped = false;
                None
            }
            '\\' => {
                escaped = true;
                None
            }
            c if c == quote => Some(i),
            _ => None,
        });
        let (content, after) = match end {
            Some(end) => (&inner[..end], &inner[end + quote.len_utf8()..]),
            None => (inner, ""),
        };
        let is_name = quote == '`' && (out.ends_with("field ") || out.contains("expected"));
        out.push(quote);
        out.push_str(if is_name { content } else { "…" });
        out.push(quote);
        rest = after;
    }
    out.push_str(rest);
    out
}
