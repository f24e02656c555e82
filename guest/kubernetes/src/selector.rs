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
        out.push(Query { selector: format!("{base},{team_label}={team}"), warn_if_missing: false });
    }
    let global = match team_label {
        Some(team_label) => format!("{base},!{team_label}"),
        None => base,
    };
    out.push(Query { selector: global, warn_if_missing: true });
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
                    warn_if_missing: false
                },
                Query {
                    selector: "airflow.apache.org/connection-id=db,!airflow.apache.org/team".into(),
                    warn_if_missing: true
                },
            ]
        );
    }

    #[test]
    fn no_team_label_sends_base_only() {
        let q = queries("l", "db", None, Some("blue"));
        assert_eq!(q, vec![Query { selector: "l=db".into(), warn_if_missing: true }]);
    }

    #[test]
    fn id_is_not_escaped() {
        let q = queries("airflow.apache.org/connection-id", "a,b=c", TEAM, None);
        assert_eq!(q[0].selector, "airflow.apache.org/connection-id=a,b=c,!airflow.apache.org/team");
        let q = queries("", "my_db", TEAM, None);
        assert_eq!(q[0].selector, "=my_db,!airflow.apache.org/team");
    }
}
