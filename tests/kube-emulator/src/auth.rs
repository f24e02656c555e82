//! Bearer-token authentication and a tiny per-token authorizer.
//!
//! Authentication follows `apiserver pkg/authentication/request/bearertoken/bearertoken.go`:
//! the `Authorization` header is trimmed, split on single spaces into at most three parts, the
//! scheme is compared case-insensitively with `bearer` (the Python client sends
//! `authorization: bearer <token>`), and the token is the second part.

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
}

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
        self.tokens.insert(token.to_owned(), Identity { user: user.to_owned(), access });
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
