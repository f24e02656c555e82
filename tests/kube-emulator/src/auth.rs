//! Bearer-token authentication and a tiny per-token authorizer.
//!
//! Authentication follows `apiserver pkg/authentication/request/bearertoken/bearertoken.go`:
//! the `Authorization` header is trimmed, split on single spaces into at most three parts, the
//! scheme is compared case-insensitively with `bearer` (the Python client sends
//! `authorization: bearer <token>`), and the token is the second part.
//!
//! Service-account tokens ([`Tokens::issue_service_account`]) are shaped like the kubelet's projected tokens:
//! a JWT (`RS256` header, the `kubernetes.io` claims and the legacy `kubernetes.io/serviceaccount/*` ones)
//! with a signature nobody verifies, because Vault's and OpenBao's Kubernetes auth refuse a login token that
//! does not parse as a JWT before asking the API server. The API server's answer is the `TokenReview`
//! (`server.rs`), which knows them by value like any other token.

use std::collections::HashMap;

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Every verb in every namespace, and cluster-scoped requests.
    All,
    /// Every verb in the listed namespaces.
    Namespaces(Vec<String>),
    /// `get`, `list` and `watch` in the listed namespaces.
    ReadOnly(Vec<String>),
    /// Authenticated, but every resource request is forbidden (403). Discovery stays allowed, as
    /// on a real cluster where `system:discovery` is bound to every authenticated user.
    Nothing,
}

impl Access {
    /// Whether `verb` is allowed in `namespace` (`None` = a cluster-scoped request).
    pub(crate) fn allows(&self, verb: &str, namespace: Option<&str>) -> bool {
        let in_list = |list: &[String]| namespace.is_some_and(|ns| list.iter().any(|n| n == ns));
        match self {
            Access::All => true,
            Access::Namespaces(list) => in_list(list),
            Access::ReadOnly(list) => matches!(verb, "get" | "list" | "watch") && in_list(list),
            Access::Nothing => false,
        }
    }
}

/// A known token: who it authenticates as and what it may do.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) user: String,
    pub(crate) access: Access,
    /// The service account's uid, for a token issued by [`Tokens::issue_service_account`].
    pub(crate) uid: Option<String>,
}

/// The issuer and audience of the service-account tokens the emulator issues (a real cluster's default).
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The set of valid tokens, changeable at runtime.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    tokens: HashMap<String, Identity>,
    counter: u64,
}

impl Tokens {
    /// Adds (or replaces) a token with a generated service-account user name.
    pub(crate) fn add(&mut self, token: &str, access: Access) -> String {
        self.counter += 1;
        let user = format!("system:serviceaccount:default:emulator-{}", self.counter);
        self.add_as(token, &user, access);
        user
    }

    /// Adds (or replaces) a token authenticating as `user`.
    pub(crate) fn add_as(&mut self, token: &str, user: &str, access: Access) {
        self.tokens.insert(token.to_owned(), Identity { user: user.to_owned(), access, uid: None });
    }

    /// Issues a JWT-shaped token for the service account `name` in `namespace`, valid for an hour from
    /// `now_secs` (Unix time), and accepts it from now on.
    pub(crate) fn issue_service_account(
        &mut self,
        namespace: &str,
        name: &str,
        access: Access,
        now_secs: u64,
    ) -> String {
        use base64::Engine as _;
        self.counter += 1;
        let uid = format!("00000000-0000-4000-8000-{:012x}", self.counter);
        let encode = |value: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string().as_bytes())
        };
        let header = encode(&serde_json::json!({"alg": "RS256", "kid": "kube-emulator"}));
        let claims = encode(&serde_json::json!({
            "aud": [SERVICE_ACCOUNT_ISSUER],
            "exp": now_secs + 3600,
            "iat": now_secs,
            "nbf": now_secs,
            "iss": SERVICE_ACCOUNT_ISSUER,
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
        }));
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("kube-emulator-unverified-signature-{}", self.counter).as_bytes());
        let token = format!("{header}.{claims}.{signature}");
        let user = format!("system:serviceaccount:{namespace}:{name}");
        self.tokens.insert(token.clone(), Identity { user, access, uid: Some(uid) });
        token
    }

    /// The identity of `token` itself (a `TokenReview`'s question).
    pub(crate) fn review(&self, token: &str) -> Option<Identity> {
        self.tokens.get(token).cloned()
    }

    /// Removes a token: later requests with it get 401.
    pub(crate) fn revoke(&mut self, token: &str) {
        self.tokens.remove(token);
    }

    /// The identity for an `Authorization` header value, if it carries a known bearer token.
    pub(crate) fn authenticate(&self, authorization: Option<&str>) -> Option<Identity> {
        let token = bearer_token(authorization?)?;
        self.tokens.get(token).cloned()
    }
}

/// Extracts the token from an `Authorization` header value, like the apiserver does.
pub(crate) fn bearer_token(header: &str) -> Option<&str> {
    let header = header.trim();
    if header.is_empty() {
        return None;
    }
    let mut parts = header.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return None;
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer T0k3n"), Some("T0k3n"));
        assert_eq!(bearer_token("bearer T0k3n"), Some("T0k3n"));
        assert_eq!(bearer_token("BEARER T0k3n"), Some("T0k3n"));
        assert_eq!(bearer_token("  Bearer T0k3n \n"), Some("T0k3n"));
    }

    #[test]
    fn malformed_headers_have_no_token() {
        assert_eq!(bearer_token(""), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer  T0k3n"), None, "double space gives an empty token");
        assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer_token("BearerT0k3n"), None);
        // A third part is ignored, like strings.SplitN(auth, " ", 3).
        assert_eq!(bearer_token("Bearer T0k3n extra"), Some("T0k3n"));
    }

    #[test]
    fn tokens_can_be_added_and_revoked() {
        let mut tokens = Tokens::default();
        let user = tokens.add("t1", Access::All);
        assert_eq!(user, "system:serviceaccount:default:emulator-1");
        assert_eq!(tokens.authenticate(Some("bearer t1")).map(|i| i.user), Some(user));
        assert!(tokens.authenticate(Some("Bearer t2")).is_none());
        assert!(tokens.authenticate(None).is_none());
        tokens.revoke("t1");
        assert!(tokens.authenticate(Some("Bearer t1")).is_none());
    }

    #[test]
    fn service_account_tokens_are_jwts_known_by_value() {
        use base64::Engine as _;
        let mut tokens = Tokens::default();
        let token = tokens.issue_service_account("airflow", "worker", Access::Nothing, 1_000);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
                .unwrap();
        assert_eq!(claims["kubernetes.io/serviceaccount/service-account.name"], "worker");
        assert_eq!(claims["kubernetes.io"]["namespace"], "airflow");
        assert_eq!(claims["exp"], 4_600);
        let identity = tokens.review(&token).unwrap();
        assert_eq!(identity.user, "system:serviceaccount:airflow:worker");
        assert_eq!(
            Some(identity.uid.unwrap().as_str()),
            claims["kubernetes.io/serviceaccount/service-account.uid"].as_str()
        );
        tokens.revoke(&token);
        assert!(tokens.review(&token).is_none());
    }

    #[test]
    fn access_rules() {
        let ns = vec!["airflow".to_owned()];
        assert!(Access::All.allows("delete", None));
        assert!(Access::Namespaces(ns.clone()).allows("create", Some("airflow")));
        assert!(!Access::Namespaces(ns.clone()).allows("create", Some("other")));
        assert!(!Access::Namespaces(ns.clone()).allows("list", None));
        assert!(Access::ReadOnly(ns.clone()).allows("list", Some("airflow")));
        assert!(Access::ReadOnly(ns.clone()).allows("watch", Some("airflow")));
        assert!(!Access::ReadOnly(ns.clone()).allows("patch", Some("airflow")));
        assert!(!Access::Nothing.allows("get", Some("airflow")));
    }
}
