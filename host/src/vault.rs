//! What the host grants a provider that reads a Vault or OpenBao server (docs/host-configuration.md,
//! `[providers.vault]`): where the server is, how the host authenticates, the mounts the component may read,
//! and the policy its requests pass.
//!
//! Why these rules:
//! - **The component never holds a Vault token.** It addresses [`VAULT_AUTHORITY`]; the host maps that name
//!   to the configured server, adds `X-Vault-Token` itself, and refuses the header from the component. A token
//!   file, an AppRole secret id or a Kubernetes service-account token stay on the host's side.
//! - **Only reads under the granted mounts.** `GET /v1/<mount>/<path>` where `<mount>` is one of the grant's:
//!   a compromised provider cannot write, list, reach `sys/` or `auth/`, or read another mount, whatever the
//!   token's policy would allow.
//! - **One login, kept fresh.** Airflow's `VaultBackend` logs in once per backend instance (per process). The
//!   host logs in once for every lookup and logs in again before the token's lease runs out (at two thirds of
//!   it), and after a refusal when `auth/token/lookup-self` says the token no longer works (revoked, expired
//!   early): a refusal of a path the policy denies is not a reason to log in again.
//!
//! Everything here is pure except reading the credential files; the transport (`transport.rs`) sends the login
//! and the checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use secrecy::{ExposeSecret as _, SecretString};

use crate::files::{MAX_TOKEN_BYTES, read_regular_text};
use crate::transport::shown;

/// The authority a Vault provider addresses; the host maps it to the configured server. `.invalid` never
/// resolves, so the name means nothing outside this host.
pub const VAULT_AUTHORITY: &str = "vault.invalid";

/// Where Kubernetes mounts the pod's service-account token (Airflow's `kubernetes_jwt_path` default).
pub const DEFAULT_KUBERNETES_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Path prefixes that are Vault's own API, never a secrets engine's mount: a grant may not name them.
const RESERVED_MOUNTS: [&str; 3] = ["sys", "auth", "identity"];

/// How the host authenticates to Vault. `Debug` shows paths and names, never a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultAuth {
    /// A token read from a file (re-read on its cadence, and at once after a refusal).
    TokenFile(PathBuf),
    /// AppRole: `POST /v1/auth/<mount>/login` with the role id and secret id read from files at each login.
    AppRole {
        /// The auth mount (`approle` by default).
        mount: String,
        /// The file holding the role id.
        role_id_file: PathBuf,
        /// The file holding the secret id.
        secret_id_file: PathBuf,
    },
    /// Kubernetes auth: `POST /v1/auth/<mount>/login` with the role and the service-account token, read from
    /// its file at each login (the kubelet rotates it).
    Kubernetes {
        /// The auth mount (`kubernetes` by default).
        mount: String,
        /// The Vault role.
        role: String,
        /// The service-account token file.
        jwt_file: PathBuf,
    },
}

/// Everything the host needs to reach one Vault server for one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultGrant {
    /// `https://host:port` of the server (`http://` only on a loopback address: a development server).
    pub address: http::Uri,
    /// PEM file of the CAs trusted for the server (required with `https://`).
    pub ca_file: Option<PathBuf>,
    /// How the host logs in.
    pub auth: VaultAuth,
    /// The mounts the component may read under, each one or more path segments (`secret`, `team/kv`).
    pub mounts: Vec<String>,
}

/// For `secrets providers list`: the server, the login and the mounts (paths and names, no credential).
impl std::fmt::Display for VaultGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.address)?;
        if let Some(ca) = &self.ca_file {
            write!(f, " (CA {})", ca.display())?;
        }
        match &self.auth {
            VaultAuth::TokenFile(path) => write!(f, ", token file {}", path.display())?,
            VaultAuth::AppRole { mount, .. } => write!(f, ", AppRole login at auth/{mount}")?,
            VaultAuth::Kubernetes { mount, role, jwt_file } => {
                write!(f, ", Kubernetes login at auth/{mount} as role {role} with {}", jwt_file.display())?;
            }
        }
        write!(f, ", mounts: {}", self.mounts.join(", "))
    }
}

impl VaultGrant {
    /// Checks the address and the mounts, without reading any file: an `https` address (or `http` on a
    /// loopback address), with no path, query or credentials; at least one mount, each made of plain segments
    /// and not one of Vault's own prefixes.
    pub fn check(&self) -> Result<(), String> {
        check_address(&self.address)?;
        if self.address.scheme() == Some(&Scheme::HTTPS) && self.ca_file.is_none() {
            return Err("an https Vault address needs `ca_file` (the host trusts no public roots)".to_owned());
        }
        if self.mounts.is_empty() {
            return Err("`mounts` is empty: name the mounts the provider may read".to_owned());
        }
        for mount in &self.mounts {
            let segments: Vec<&str> = mount.split('/').collect();
            if segments.iter().any(|s| !is_plain_segment(s)) {
                return Err(format!(
                    "mount `{}` is not a path of plain segments (letters, digits, `-`, `_`, `.`)",
                    mount.escape_debug()
                ));
            }
            // In any segment: a grant naming a namespace (`ns/sys`) would reach that namespace's own API.
            if segments.iter().any(|s| RESERVED_MOUNTS.contains(s)) {
                return Err(format!("mount `{mount}` is Vault's own API, not a secrets engine"));
            }
        }
        Ok(())
    }
}

fn check_address(address: &http::Uri) -> Result<(), String> {
    let authority = address.authority().ok_or_else(|| format!("the Vault address `{address}` has no host"))?;
    if authority.as_str().contains('@') {
        return Err("the Vault address must not hold credentials".to_owned());
    }
    if address.path_and_query().is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty()) {
        return Err(format!("the Vault address `{address}` must have no path or query"));
    }
    match address.scheme() {
        Some(s) if *s == Scheme::HTTPS => Ok(()),
        Some(s) if *s == Scheme::HTTP && is_loopback(authority) => Ok(()),
        Some(s) if *s == Scheme::HTTP => Err(format!(
            "the Vault address `{address}` is plain http on a host that is not loopback: the token would cross \
             the network in clear; use https"
        )),
        _ => Err(format!("the Vault address `{address}` must start with https://")),
    }
}

/// A literal loopback address (not `localhost`, whose meaning is the resolver's).
fn is_loopback(authority: &Authority) -> bool {
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A segment of a mount as a grant names it.
fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why the policy refused a Vault request (for the host's log; the component sees `HttpRequestDenied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultViolation {
    /// The scheme is not `https`.
    #[error("scheme `{0}` is not allowed; providers must use https")]
    Scheme(String),
    /// The authority is not the Vault server's name.
    #[error("authority `{0}` is not allowed; a Vault provider may only reach {VAULT_AUTHORITY}")]
    Authority(String),
    /// Providers only read.
    #[error("method {0} is not allowed; providers may only read (GET)")]
    Method(String),
    /// The path is not a read under a granted mount.
    #[error("path `{0}` is not allowed; the provider may only read /v1/<mount>/... under the mounts granted to it")]
    Path(String),
    /// A query parameter other than a kv v2 `version`.
    #[error("query `{0}` is not allowed; a read takes at most `version=<number>`")]
    Query(String),
    /// A header outside the allowlist (a token, a namespace, ...).
    #[error("header `{0}` is not allowed; the host supplies the token")]
    Header(String),
}

/// Request headers a Vault provider may send.
pub const ALLOWED_VAULT_HEADERS: [&str; 3] = ["accept", "user-agent", "x-vault-request"];

/// The policy of a Vault provider's requests: `GET https://vault.invalid/v1/<mount>/<path>` where `<mount>` is
/// one of `mounts` and `<path>` has at least one segment, at most a `version` query, and no header outside
/// [`ALLOWED_VAULT_HEADERS`].
///
/// The path is judged as Vault will read it: Vault's router percent-decodes the path and cleans it, so a
/// segment decoding to `..`, `.`, nothing or one holding `/` could leave the mount; such a path is refused.
pub fn check_vault_request<B>(request: &http::Request<B>, mounts: &[String]) -> Result<(), VaultViolation> {
    let uri = request.uri();
    match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => {}
        other => return Err(VaultViolation::Scheme(shown(&other.map(ToString::to_string).unwrap_or_default()))),
    }
    let authority = uri.authority().map(Authority::as_str).unwrap_or_default();
    if authority != VAULT_AUTHORITY && authority != format!("{VAULT_AUTHORITY}:443") {
        return Err(VaultViolation::Authority(shown(authority)));
    }
    if request.method() != http::Method::GET {
        return Err(VaultViolation::Method(shown(request.method().as_str())));
    }
    if !is_read_under(uri.path(), mounts) {
        return Err(VaultViolation::Path(shown(uri.path())));
    }
    if let Some(query) = uri.query() {
        let mut pairs = form_urlencoded::parse(query.as_bytes());
        let ok = match (pairs.next(), pairs.next()) {
            (None, _) => true,
            (Some((name, value)), None) => {
                name == "version" && !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
            }
            _ => false,
        };
        if !ok {
            return Err(VaultViolation::Query(shown(query)));
        }
    }
    if let Some(name) = request.headers().keys().find(|n| !ALLOWED_VAULT_HEADERS.contains(&n.as_str())) {
        return Err(VaultViolation::Header(shown(name.as_str())));
    }
    Ok(())
}

/// `/v1/<mount segments>/<one or more segments>`, every segment non-empty, not `.` or `..` and without `/` once
/// percent-decoded, and without control characters.
fn is_read_under(path: &str, mounts: &[String]) -> bool {
    let Some(rest) = path.strip_prefix("/v1/") else {
        return false;
    };
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        let Ok(decoded) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
            return false;
        };
        if decoded.is_empty()
            || decoded == "."
            || decoded == ".."
            || decoded.contains('/')
            || decoded.contains('%')
            || decoded.chars().any(char::is_control)
        {
            return false;
        }
        segments.push(decoded);
    }
    mounts.iter().any(|mount| {
        let mount: Vec<&str> = mount.split('/').collect();
        segments.len() > mount.len() && segments.iter().zip(&mount).all(|(s, m)| s == m)
    })
}

/// The login request of `auth` (not for a token file): the path below the server and the JSON body, which
/// holds the credential. Reads the credential files now (they may have been rotated since the last login).
pub fn login_request(auth: &VaultAuth) -> Result<Option<(String, SecretString)>, VaultLoginError> {
    let read = |path: &Path| -> Result<String, VaultLoginError> {
        let text = read_regular_text(path, MAX_TOKEN_BYTES)
            .map_err(|e| VaultLoginError::ReadFile(path.to_owned(), e.kind().to_string()))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(VaultLoginError::EmptyFile(path.to_owned()));
        }
        Ok(text.to_owned())
    };
    let (mount, body) = match auth {
        VaultAuth::TokenFile(_) => return Ok(None),
        VaultAuth::AppRole { mount, role_id_file, secret_id_file } => {
            let body = serde_json::json!({"role_id": read(role_id_file)?, "secret_id": read(secret_id_file)?});
            (mount, body)
        }
        VaultAuth::Kubernetes { mount, role, jwt_file } => {
            (mount, serde_json::json!({"role": role, "jwt": read(jwt_file)?}))
        }
    };
    Ok(Some((format!("/v1/auth/{mount}/login"), SecretString::from(body.to_string()))))
}

/// A token the host obtained by logging in, and how long it is good for.
#[derive(Clone)]
pub struct Login {
    /// The client token.
    pub token: SecretString,
    /// The lease; `None` for a token that does not expire.
    pub lease: Option<Duration>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("token", &"[REDACTED]").field("lease", &self.lease).finish()
    }
}

/// The largest login answer read.
pub const MAX_LOGIN_ANSWER_BYTES: usize = 64 * 1024;

/// The longest lease taken at its word (Vault's own default maximum is 32 days): a larger one is this.
pub const MAX_LEASE: Duration = Duration::from_secs(32 * 24 * 3600);

/// The shortest client token accepted: the host redacts the token from every answer, so a one-character
/// "token" would garble them.
pub const MIN_TOKEN_LEN: usize = 8;

/// Reads a login answer: `auth.client_token` and `auth.lease_duration` (seconds) on 2xx; otherwise the
/// refusal with Vault's `errors`, from which every string value of `sent` (the login body: the credential) is
/// cut, in case a server or proxy echoes it.
pub fn parse_login(status: u16, body: &[u8], mount: &str, sent: &SecretString) -> Result<Login, VaultLoginError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        auth: Option<Auth>,
        #[serde(default)]
        errors: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Auth {
        client_token: String,
        #[serde(default)]
        lease_duration: u64,
    }
    let answer: Result<Answer, _> = serde_json::from_slice(body);
    if !(200..300).contains(&status) {
        // The credential is cut from Vault's text before it is shortened (a long JWT would not match after).
        let mut errors = answer.map(|a| a.errors).unwrap_or_default();
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(sent.expose_secret()) {
            for value in fields.values().filter_map(serde_json::Value::as_str).filter(|v| !v.is_empty()) {
                for error in &mut errors {
                    *error = error.replace(value, "[REDACTED]");
                }
            }
        }
        return Err(VaultLoginError::Refused { mount: mount.to_owned(), status, errors: summarize(&errors) });
    }
    let auth = answer
        .ok()
        .and_then(|a| a.auth)
        .filter(|a| is_usable_token(&a.client_token))
        .ok_or_else(|| VaultLoginError::Unreadable(mount.to_owned()))?;
    let lease = (auth.lease_duration > 0).then(|| Duration::from_secs(auth.lease_duration).min(MAX_LEASE));
    Ok(Login { token: SecretString::from(auth.client_token), lease })
}

/// Whether `token` can be sent and redacted: at least [`MIN_TOKEN_LEN`] printable ASCII characters.
pub fn is_usable_token(token: &str) -> bool {
    token.len() >= MIN_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Vault's error messages, one line, escaped, cut.
pub fn summarize(errors: &[String]) -> String {
    let joined = errors.iter().map(|e| e.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>();
    shown(&joined.join("; "))
}

/// How long after a login with `lease` the host logs in again: at two thirds of the lease, so a lookup never
/// sends a token about to expire.
pub fn renew_after(lease: Duration) -> Duration {
    lease.min(MAX_LEASE) / 3 * 2
}

/// Why the host could not log in to Vault. No variant holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultLoginError {
    /// A credential file could not be read.
    #[error("cannot read the Vault credential file {path}: {why}", path = .0.display(), why = .1)]
    ReadFile(PathBuf, String),
    /// A credential file is empty.
    #[error("the Vault credential file {} is empty", .0.display())]
    EmptyFile(PathBuf),
    /// Vault refused the login.
    #[error("Vault refused the host's login at auth/{mount} (HTTP {status}): {errors}")]
    Refused {
        /// The auth mount.
        mount: String,
        /// The answer's status.
        status: u16,
        /// Vault's messages.
        errors: String,
    },
    /// The login answer had no usable client token.
    #[error("the login answer of auth/{0} holds no usable client token")]
    Unreadable(String),
    /// The grant names no login (a token file), or the transport cannot send one (in memory).
    #[error("no login is possible with this grant")]
    NoLogin,
}

impl VaultLoginError {
    /// Whether the login failed because Vault could not answer it (429 or 5xx: sealed, standby, overloaded), not
    /// because it refused the credential: the provider then sees `unavailable`, which the chain falls through.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Refused { status, .. } if *status == 429 || *status >= 500)
    }

    /// What the provider (untrusted) is told: the auth mount and the status, never Vault's text (it could echo
    /// the credential) nor the host's paths. The host's log has the whole error.
    pub fn for_provider(&self) -> String {
        match self {
            Self::Refused { mount, status, .. } => {
                format!("Vault refused the host's login at auth/{mount} (HTTP {status})")
            }
            Self::Unreadable(mount) => format!("the login answer of auth/{mount} holds no usable client token"),
            Self::ReadFile(..) | Self::EmptyFile(_) => {
                "the host could not read its Vault credentials (the host's log says which file)".to_owned()
            }
            Self::NoLogin => "no login is possible with this grant".to_owned(),
        }
    }
}

/// Whether two tokens are the same (a refusal of `sent` when the session already holds another one needs no
/// new login).
pub fn same_token(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str) -> http::Request<()> {
        http::Request::get(uri).body(()).unwrap()
    }

    #[test]
    fn only_reads_under_the_granted_mounts_pass() {
        let mounts = vec!["secret".to_owned(), "team/kv".to_owned()];
        for ok in [
            "https://vault.invalid/v1/secret/data/connections/db",
            "https://vault.invalid:443/v1/secret/connections/db",
            "https://vault.invalid/v1/team/kv/data/variables/x?version=3",
            "https://vault.invalid/v1/secret/data/a%20b",
        ] {
            assert_eq!(check_vault_request(&get(ok), &mounts), Ok(()), "{ok}");
        }
        for path in [
            "/v1/secret",
            "/v1/secret/",
            "/v1/other/data/x",
            "/v1/sys/mounts",
            "/v1/auth/token/lookup-self",
            "/v1/secret/../sys/mounts",
            "/v1/secret/%2e%2e/sys",
            "/v1/secret/a%2Fb",
            "/v1/secret//x",
            "/v1/team/x",
            "/v1/secretx/data/a",
            "/v2/secret/data/a",
            "/v1/secret/a%00",
            "/v1/secret/%FF",
        ] {
            assert_eq!(
                check_vault_request(&get(&format!("https://vault.invalid{path}")), &mounts),
                Err(VaultViolation::Path(shown(path))),
                "{path}"
            );
        }
        for query in ["list=true", "version=1&version=2", "version=", "version=-1", "version=1&list=true"] {
            let uri = format!("https://vault.invalid/v1/secret/data/a?{query}");
            assert_eq!(check_vault_request(&get(&uri), &mounts), Err(VaultViolation::Query(query.into())), "{query}");
        }
        let put = http::Request::put("https://vault.invalid/v1/secret/data/a").body(()).unwrap();
        assert_eq!(check_vault_request(&put, &mounts), Err(VaultViolation::Method("PUT".into())));
        let with_token =
            http::Request::get("https://vault.invalid/v1/secret/data/a").header("x-vault-token", "t").body(()).unwrap();
        assert_eq!(check_vault_request(&with_token, &mounts), Err(VaultViolation::Header("x-vault-token".into())));
        assert_eq!(
            check_vault_request(&get("https://kubernetes.default.svc/v1/secret/data/a"), &mounts),
            Err(VaultViolation::Authority("kubernetes.default.svc".into()))
        );
        assert_eq!(
            check_vault_request(&get("http://vault.invalid/v1/secret/data/a"), &mounts),
            Err(VaultViolation::Scheme("http".into()))
        );
    }

    #[test]
    fn grants_are_checked() {
        let grant = |address: &str, ca: bool, mounts: &[&str]| VaultGrant {
            address: address.parse().unwrap(),
            ca_file: ca.then(|| PathBuf::from("/ca.pem")),
            auth: VaultAuth::TokenFile("/t".into()),
            mounts: mounts.iter().map(|m| (*m).to_owned()).collect(),
        };
        assert_eq!(grant("https://vault.example:8200", true, &["secret"]).check(), Ok(()));
        assert_eq!(grant("http://127.0.0.1:8200", false, &["secret", "a/b"]).check(), Ok(()));
        assert_eq!(grant("http://[::1]:8200", false, &["secret"]).check(), Ok(()));
        assert!(grant("http://localhost:8200", false, &["secret"]).check().is_err(), "the resolver's, not a literal");
        for (g, expected) in [
            (grant("http://vault.example:8200", false, &["secret"]), "plain http on a host that is not loopback"),
            (grant("https://vault.example:8200", false, &["secret"]), "needs `ca_file`"),
            (grant("https://vault.example:8200/x", true, &["secret"]), "must have no path"),
            (grant("https://u:p@vault.example", true, &["secret"]), "must not hold credentials"),
            (grant("https://vault.example", true, &[]), "`mounts` is empty"),
            (grant("https://vault.example", true, &["sys"]), "Vault's own API"),
            (grant("https://vault.example", true, &["auth/x"]), "Vault's own API"),
            (grant("https://vault.example", true, &["ns/sys"]), "Vault's own API"),
            (grant("https://vault.example", true, &["a/../b"]), "plain segments"),
            (grant("https://vault.example", true, &["a b"]), "plain segments"),
        ] {
            let err = g.check().unwrap_err();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains(":p@"), "{err}");
        }
    }

    #[test]
    fn logins_are_read_and_refusals_name_no_credential() {
        let dir = tempfile::tempdir().unwrap();
        let (role, secret) = (dir.path().join("role"), dir.path().join("secret"));
        std::fs::write(&role, "r-1\n").unwrap();
        std::fs::write(&secret, "s3cret\n").unwrap();
        let auth = VaultAuth::AppRole { mount: "approle".into(), role_id_file: role, secret_id_file: secret.clone() };
        let (path, body) = login_request(&auth).unwrap().unwrap();
        assert_eq!(path, "/v1/auth/approle/login");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body.expose_secret()).unwrap(),
            serde_json::json!({"role_id": "r-1", "secret_id": "s3cret"})
        );
        std::fs::write(&secret, "  \n").unwrap();
        assert_eq!(login_request(&auth).unwrap_err(), VaultLoginError::EmptyFile(secret.clone()));
        assert!(!login_request(&auth).unwrap_err().for_provider().contains("secret"));
        assert!(login_request(&VaultAuth::TokenFile("/t".into())).unwrap().is_none());

        let ok = br#"{"auth":{"client_token":"hvs.abcdefgh","lease_duration":60,"renewable":true}}"#;
        let login = parse_login(200, ok, "approle", &body).unwrap();
        assert_eq!((login.token.expose_secret(), login.lease), ("hvs.abcdefgh", Some(Duration::from_secs(60))));
        assert!(!format!("{login:?}").contains("hvs.abc"));
        let root = parse_login(200, br#"{"auth":{"client_token":"s.0123456789","lease_duration":0}}"#, "k", &body);
        assert_eq!(root.unwrap().lease, None);
        let huge = br#"{"auth":{"client_token":"s.0123456789","lease_duration":18446744073709551615}}"#;
        assert_eq!(parse_login(200, huge, "k", &body).unwrap().lease, Some(MAX_LEASE));
        assert_eq!(renew_after(Duration::from_secs(90)), Duration::from_secs(60));
        assert_eq!(renew_after(Duration::MAX), MAX_LEASE / 3 * 2);
        for short in [r#"{"auth":{"client_token":"a"}}"#, r#"{"auth":{"client_token":"s.0123 456789"}}"#, "{}"] {
            assert_eq!(
                parse_login(200, short.as_bytes(), "k", &body).unwrap_err(),
                VaultLoginError::Unreadable("k".into())
            );
        }
        let refused = parse_login(400, br#"{"errors":["invalid role or secret ID"]}"#, "approle", &body).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Vault refused the host's login at auth/approle (HTTP 400): invalid role or secret ID"
        );
        assert_eq!(refused.for_provider(), "Vault refused the host's login at auth/approle (HTTP 400)");
        assert!(!refused.is_unavailable());
        for status in [429, 500, 503] {
            assert!(parse_login(status, b"{}", "approle", &body).unwrap_err().is_unavailable(), "{status}");
        }
        // A long credential (a JWT) is cut out before Vault's text is shortened.
        let jwt = format!("eyJ{}", "x".repeat(400));
        let sent = SecretString::from(serde_json::json!({"role": "r", "jwt": jwt}).to_string());
        let echo = serde_json::json!({"errors": [format!("token {jwt} is invalid")]}).to_string();
        let cut = parse_login(403, echo.as_bytes(), "kubernetes", &sent).unwrap_err().to_string();
        assert!(cut.contains("token [REDACTED] is invalid") && !cut.contains("xxxxxx"), "{cut}");
        // A server echoing the body: the credential is cut from the host's log line too.
        let echo = br#"{"errors":["bad body {\"role_id\":\"r-1\",\"secret_id\":\"s3cret\"}"]}"#;
        let echoed = parse_login(400, echo, "approle", &body).unwrap_err().to_string();
        assert!(!echoed.contains("s3cret") && !echoed.contains("r-1"), "{echoed}");
    }
}
