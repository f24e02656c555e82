//! Label selectors, exactly as Airflow's `KubernetesSecretsBackend._get_secret` builds them.
//!
//! The id is interpolated verbatim, without escaping or validation, like Airflow: an id such as `a,b=c` adds
//! a requirement and the API server answers 400 for ids that are not valid label values. We keep that
//! behaviour so that results stay identical to Airflow's, and map the 400 to a clear `invalid-request` error.

/// One list query the backend sends, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The `labelSelector` value.
    pub selector: String,
    /// Whether "no secret found" is logged as a warning (the team-scoped query stays silent).
    pub warn_if_missing: bool,
    /// Which of the Secrets carrying the id the selector keeps, by their team label: what the live view
    /// filters its items by.
    pub scope: Scope,
}

/// The team requirement of a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The team label equals this team (`,<team_label>=<team>`).
    Team(String),
    /// No team label (`,!<team_label>`).
    Unteamed,
    /// No team requirement (team handling off).
    Any,
}

impl Scope {
    /// Whether a Secret whose team label is `team` (`None`: no team label) is selected.
    pub fn admits(&self, team: Option<&str>) -> bool {
        match self {
            Self::Team(wanted) => team == Some(wanted.as_str()),
            Self::Unteamed => team.is_none(),
            Self::Any => true,
        }
    }
}

/// The longest label value, and the longest name part of a label key.
pub const MAX_LABEL_LEN: usize = 63;

/// Whether `value` is a valid label value: empty, or at most 63 ASCII letters, digits, `-`, `_` and `.`,
/// starting and ending with a letter or digit (the API server's `IsValidLabelValue`). A selector `key=value`
/// means exactly "the label equals `value`" only for such values; any other id makes the API server refuse the
/// selector, or (with `,` or `=`) adds requirements. The live view answers only ids a selector expresses exactly.
///
/// ```
/// use wasm_secrets_provider_kubernetes::selector::is_label_value;
/// assert!(is_label_value("my_db.v1") && is_label_value(""));
/// assert!(!is_label_value("a,b=c") && !is_label_value("-x") && !is_label_value(&"a".repeat(64)));
/// ```
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn is_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && bytes.len() <= MAX_LABEL_LEN
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `key` is a valid label key: an optional DNS-1123 subdomain prefix and `/`, then a name of at most 63
/// letters, digits, `-`, `_` and `.` (the API server's `IsQualifiedName`). The live view lists a kind by its
/// label key alone, so it follows only kinds whose label is a valid key.
///
/// ```
/// use wasm_secrets_provider_kubernetes::selector::is_label_key;
/// assert!(is_label_key("airflow.apache.org/connection-id") && is_label_key("conn"));
/// assert!(!is_label_key("") && !is_label_key("a/b/c") && !is_label_key("Bad.Prefix/x") && !is_label_key("a,b"));
/// ```
pub fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => crate::request::is_object_name(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

/// Airflow's team-scoped-id guard: an id shaped like `_<team>___<id>` (the environment backend's
/// `AIRFLOW_CONN__<TEAM>___<ID>` naming) asked for without a team is never looked up.
///
/// This is `re.fullmatch(r"_[^_]+___.+", id)`.
///
/// ```
/// use wasm_secrets_provider_kubernetes::selector::is_team_scoped_id;
/// assert!(is_team_scoped_id("_team1___my_conn"));
/// assert!(!is_team_scoped_id("a___b"));
/// assert!(!is_team_scoped_id("__x___y"));
/// ```
pub fn is_team_scoped_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix('_') else {
        return false;
    };
    // `[^_]+` is greedy and cannot cross `_`, so the team is everything up to the first `_`.
    let team_len = rest.find('_').unwrap_or(rest.len());
    if team_len == 0 {
        return false;
    }
    // `.` does not match `\n` in Python's `re` without DOTALL.
    rest[team_len..].strip_prefix("___").is_some_and(|tail| !tail.is_empty() && !tail.contains('\n'))
}

/// The queries Airflow sends for `label=id`, in order: the team-scoped query first when a team is given and
/// team handling is on, then the global one (which excludes team-labelled secrets when team handling is on).
///
/// ```
/// use wasm_secrets_provider_kubernetes::selector::queries;
/// let q = queries("airflow.apache.org/connection-id", "my_db", Some("airflow.apache.org/team"), None);
/// assert_eq!(q.len(), 1);
/// assert_eq!(q[0].selector, "airflow.apache.org/connection-id=my_db,!airflow.apache.org/team");
/// ```
pub fn queries(label: &str, id: &str, team_label: Option<&str>, team_name: Option<&str>) -> Vec<Query> {
    let base = format!("{label}={id}");
    let mut out = Vec::with_capacity(2);
    let team_label = team_label.filter(|l| !l.is_empty());
    if let (Some(team_label), Some(team)) = (team_label, team_name.filter(|t| !t.is_empty())) {
        out.push(Query {
            selector: format!("{base},{team_label}={team}"),
            warn_if_missing: false,
            scope: Scope::Team(team.to_owned()),
        });
    }
    let (global, scope) = match team_label {
        Some(team_label) => (format!("{base},!{team_label}"), Scope::Unteamed),
        None => (base, Scope::Any),
    };
    out.push(Query { selector: global, warn_if_missing: true, scope });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAM: Option<&str> = Some("airflow.apache.org/team");

    #[test]
    fn team_guard_matches_airflow_regex() {
        for (id, expected) in [
            ("_t___x", true),
            ("_team___a_b", true),
            ("_t____x", true),
            ("_t___", false),
            ("_t__x", false),
            ("a___b", false),
            ("__t___x", false),
            ("_", false),
            ("", false),
            ("_t___x\n", false),
            ("_ü___x", true),
        ] {
            assert_eq!(is_team_scoped_id(id), expected, "id {id:?}");
        }
    }

    #[test]
    fn team_first_then_global() {
        let q = queries("airflow.apache.org/connection-id", "db", TEAM, Some("blue"));
        assert_eq!(
            q,
            vec![
                Query {
                    selector: "airflow.apache.org/connection-id=db,airflow.apache.org/team=blue".into(),
                    warn_if_missing: false,
                    scope: Scope::Team("blue".into()),
                },
                Query {
                    selector: "airflow.apache.org/connection-id=db,!airflow.apache.org/team".into(),
                    warn_if_missing: true,
                    scope: Scope::Unteamed,
                },
            ]
        );
    }

    #[test]
    fn no_team_label_sends_base_only() {
        let q = queries("l", "db", None, Some("blue"));
        assert_eq!(q, vec![Query { selector: "l=db".into(), warn_if_missing: true, scope: Scope::Any }]);
    }

    #[test]
    fn label_keys_and_values_as_the_api_server_checks_them() {
        for (value, ok) in [("a", true), ("", true), ("a-b_c.d", true), ("A9", true), ("_a", false), ("a.", false)] {
            assert_eq!(is_label_value(value), ok, "{value:?}");
        }
        assert!(is_label_value(&"a".repeat(63)));
        assert!(!is_label_value("ü"));
        for (key, ok) in [("x.io/n", true), ("n", true), ("/n", false), ("x.io/", false), ("X.io/n", false)] {
            assert_eq!(is_label_key(key), ok, "{key:?}");
        }
    }

    #[test]
    fn scopes_admit_by_team_label() {
        assert!(Scope::Team("blue".into()).admits(Some("blue")));
        assert!(!Scope::Team("blue".into()).admits(None));
        assert!(Scope::Unteamed.admits(None) && !Scope::Unteamed.admits(Some("blue")));
        assert!(Scope::Any.admits(None) && Scope::Any.admits(Some("blue")));
    }

    #[test]
    fn id_is_not_escaped() {
        let q = queries("airflow.apache.org/connection-id", "a,b=c", TEAM, None);
        assert_eq!(q[0].selector, "airflow.apache.org/connection-id=a,b=c,!airflow.apache.org/team");
        let q = queries("", "my_db", TEAM, None);
        assert_eq!(q[0].selector, "=my_db,!airflow.apache.org/team");
    }
}
