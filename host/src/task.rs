//! What a task component may read (issue 16: embedding in wasmtime schedulers), pure: the grants a scheduler
//! gives one task, and the keys through which a task names a secret in `wasi:config/store`.
//!
//! A grant is `KIND:PATTERN`, as `secrets task run --grant` takes it: `connection:smtp_default`,
//! `variable:etl_*`, `config:sql_alchemy_conn`, `secret:aws-creds/secret_key`. In a pattern `*` stands for
//! any run of characters (none included) and nothing else is special, so an id holding `/`, `:` or `?` (Airflow
//! allows them) is granted by writing it.
//!
//! A `wasi:config/store` key names the kind first, then the id, so that ids holding `/` and `:` stay
//! unambiguous (everything after the kind's prefix, or after the field, is the id):
//!
//! | key | what it reads |
//! |---|---|
//! | `connection/<id>` | the connection in Airflow's URI form (`get_uri`) |
//! | `connection-field/<field>/<id>` | one field: `conn_type`, `description`, `host`, `schema`, `login`, `password`, `port` or `extra` |
//! | `variable/<key>` | a variable |
//! | `config/<key>` | a configuration value |
//! | `secret/<group>/<key>` | a Flyte secret (the group holds no `/`: it is a Kubernetes Secret name) |
//!
//! Grants are checked on the parsed key, before any cache is asked, so a task never learns what another task
//! was granted.

use std::fmt;
use std::str::FromStr;

use airflow_compat::Dialect;

use crate::cache::Value;
use crate::provider::Lookup;

/// What a grant or a key is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Airflow connections.
    Connection,
    /// Airflow variables.
    Variable,
    /// Airflow configuration values.
    Config,
    /// Flyte secrets, named `<group>/<key>`.
    Secret,
}

impl TaskKind {
    /// The word of grants and keys (`connection`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Variable => "variable",
            Self::Config => "config",
            Self::Secret => "secret",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        [Self::Connection, Self::Variable, Self::Config, Self::Secret].into_iter().find(|k| k.as_str() == word)
    }
}

/// One field of a connection, as `connection-field/<field>/<id>` names it (Airflow's attribute names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionField {
    /// `conn_type`.
    ConnType,
    /// `description`.
    Description,
    /// `host`.
    Host,
    /// `schema`.
    Schema,
    /// `login`.
    Login,
    /// `password`.
    Password,
    /// `port`, as decimal text.
    Port,
    /// `extra`, the JSON text Airflow stores.
    Extra,
}

impl ConnectionField {
    const ALL: [Self; 8] = [
        Self::ConnType,
        Self::Description,
        Self::Host,
        Self::Schema,
        Self::Login,
        Self::Password,
        Self::Port,
        Self::Extra,
    ];

    /// The field's name in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnType => "conn_type",
            Self::Description => "description",
            Self::Host => "host",
            Self::Schema => "schema",
            Self::Login => "login",
            Self::Password => "password",
            Self::Port => "port",
            Self::Extra => "extra",
        }
    }
}

/// A `wasi:config/store` key a task asked for, parsed (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigKey {
    /// `connection/<id>`: the connection's URI.
    Connection(String),
    /// `connection-field/<field>/<id>`.
    ConnectionField(ConnectionField, String),
    /// `variable/<key>`.
    Variable(String),
    /// `config/<key>`.
    Config(String),
    /// `secret/<group>/<key>`.
    Secret {
        /// The group (a Kubernetes Secret's name, the environment variable's middle part).
        group: String,
        /// The key.
        key: String,
    },
}

/// Why a `wasi:config` key names nothing. Messages quote at most the key's kind and field, never the id (a
/// task may have put anything there).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key starts with none of `connection/`, `connection-field/`, `variable/`, `config/`, `secret/`.
    #[error(
        "the key names no kind: it starts with none of connection/, connection-field/, variable/, config/, secret/"
    )]
    UnknownKind,
    /// Nothing follows the kind (`variable/`).
    #[error("the {0} key names no id")]
    MissingId(&'static str),
    /// `connection-field/<field>/...` with a field that is not a connection's.
    #[error("the connection field is none of conn_type, description, host, schema, login, password, port, extra")]
    UnknownField,
    /// `secret/<group>` without `/<key>`.
    #[error("the secret key names no `<group>/<key>`")]
    MissingSecretKey,
}

impl ConfigKey {
    /// Parses a key (see the module documentation).
    ///
    /// ```
    /// use wasm_secrets::task::{ConfigKey, ConnectionField};
    /// assert_eq!(ConfigKey::parse("connection/a/b:c").unwrap(), ConfigKey::Connection("a/b:c".into()));
    /// assert_eq!(
    ///     ConfigKey::parse("connection-field/password/db").unwrap(),
    ///     ConfigKey::ConnectionField(ConnectionField::Password, "db".into())
    /// );
    /// assert!(ConfigKey::parse("vault/x").is_err());
    /// ```
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        let (kind, rest) = key.split_once('/').ok_or(KeyError::UnknownKind)?;
        let id = |kind: &'static str| {
            if rest.is_empty() { Err(KeyError::MissingId(kind)) } else { Ok(rest.to_owned()) }
        };
        match kind {
            "connection" => id("connection").map(Self::Connection),
            "variable" => id("variable").map(Self::Variable),
            "config" => id("config").map(Self::Config),
            "connection-field" => {
                let (field, id) = rest.split_once('/').ok_or(KeyError::UnknownField)?;
                let field =
                    ConnectionField::ALL.into_iter().find(|f| f.as_str() == field).ok_or(KeyError::UnknownField)?;
                if id.is_empty() {
                    return Err(KeyError::MissingId("connection-field"));
                }
                Ok(Self::ConnectionField(field, id.to_owned()))
            }
            "secret" => {
                let (group, key) = rest.split_once('/').ok_or(KeyError::MissingSecretKey)?;
                if group.is_empty() || key.is_empty() {
                    return Err(KeyError::MissingSecretKey);
                }
                Ok(Self::Secret { group: group.to_owned(), key: key.to_owned() })
            }
            _ => Err(KeyError::UnknownKind),
        }
    }

    /// The kind of entry the key reads.
    pub fn kind(&self) -> TaskKind {
        match self {
            Self::Connection(_) | Self::ConnectionField(..) => TaskKind::Connection,
            Self::Variable(_) => TaskKind::Variable,
            Self::Config(_) => TaskKind::Config,
            Self::Secret { .. } => TaskKind::Secret,
        }
    }

    /// The id grants are matched against: the connection id, variable or config key, or `<group>/<key>`.
    pub fn granted_id(&self) -> String {
        match self {
            Self::Connection(id) | Self::ConnectionField(_, id) | Self::Variable(id) | Self::Config(id) => id.clone(),
            Self::Secret { group, key } => format!("{group}/{key}"),
        }
    }
}

impl ConfigKey {
    /// The chain lookup that answers this key for a task reading as `team` (configuration values and Flyte
    /// secrets have no team). Every connection key reads the parsed connection.
    pub fn lookup<'a>(&'a self, team: Option<&'a str>) -> Lookup<'a> {
        match self {
            Self::Connection(id) | Self::ConnectionField(_, id) => Lookup::Connection(id, team),
            Self::Variable(key) => Lookup::Variable(key, team),
            Self::Config(key) => Lookup::Config(key),
            Self::Secret { group, key } => Lookup::Secret(group, key),
        }
    }

    /// What `wasi:config/store.get` returns for `value`, the answer of [`ConfigKey::lookup`]: a connection's
    /// URI in `dialect` or one of its fields (`port` as decimal text; a field the connection leaves empty is
    /// `None`, as for an absent key), or the text as stored.
    pub fn value(&self, value: &Value, dialect: Dialect) -> Option<String> {
        match (self, value) {
            (Self::Connection(_), Value::Connection(Some(conn))) => Some(conn.get_uri(dialect)),
            (Self::ConnectionField(field, _), Value::Connection(Some(conn))) => {
                let text = |f: &Option<String>| f.clone();
                match field {
                    ConnectionField::ConnType => text(&conn.conn_type),
                    ConnectionField::Description => text(&conn.description),
                    ConnectionField::Host => text(&conn.host),
                    ConnectionField::Schema => text(&conn.schema),
                    ConnectionField::Login => text(&conn.login),
                    ConnectionField::Password => text(&conn.password),
                    ConnectionField::Port => conn.port.map(|p| p.to_string()),
                    ConnectionField::Extra => text(&conn.extra),
                }
            }
            (Self::Variable(_) | Self::Config(_) | Self::Secret { .. }, Value::Text(Some(text))) => {
                Some(text.to_string())
            }
            _ => None,
        }
    }
}

/// The key as a task writes it.
impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connection(id) => write!(f, "connection/{id}"),
            Self::ConnectionField(field, id) => write!(f, "connection-field/{}/{id}", field.as_str()),
            Self::Variable(key) => write!(f, "variable/{key}"),
            Self::Config(key) => write!(f, "config/{key}"),
            Self::Secret { group, key } => write!(f, "secret/{group}/{key}"),
        }
    }
}

/// One grant: a kind and a pattern of ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    /// What it grants.
    pub kind: TaskKind,
    /// The ids it grants: `*` stands for any run of characters.
    pub pattern: String,
}

/// Why a grant was refused. Grants come from the operator, so messages quote them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// Not `KIND:PATTERN` with a known kind.
    #[error(
        "grant `{0}`: expected connection:ID, variable:KEY, config:KEY or secret:GROUP/KEY (`*` matches any run of characters)"
    )]
    Syntax(String),
    /// A secret grant without `GROUP/KEY`.
    #[error("grant `{0}`: a secret grant names GROUP/KEY")]
    SecretWithoutKey(String),
    /// A secret grant with a `*`.
    #[error(
        "grant `{0}`: a secret grant names one GROUP/KEY exactly, without `*` (in the environment, \
         _FSEC_{{GROUP}}_{{KEY}} does not tell the group from the key, so a pattern could reach another group's secret)"
    )]
    SecretPattern(String),
}

impl FromStr for Grant {
    type Err = GrantError;

    /// `KIND:PATTERN` (see the module documentation).
    fn from_str(text: &str) -> Result<Self, GrantError> {
        let syntax = || GrantError::Syntax(text.to_owned());
        let (kind, pattern) = text.split_once(':').ok_or_else(syntax)?;
        let kind = TaskKind::parse(kind).ok_or_else(syntax)?;
        if pattern.is_empty() {
            return Err(syntax());
        }
        if kind == TaskKind::Secret && !pattern.split_once('/').is_some_and(|(g, k)| !g.is_empty() && !k.is_empty()) {
            return Err(GrantError::SecretWithoutKey(text.to_owned()));
        }
        if kind == TaskKind::Secret && pattern.contains('*') {
            return Err(GrantError::SecretPattern(text.to_owned()));
        }
        Ok(Self { kind, pattern: pattern.to_owned() })
    }
}

impl Grant {
    /// Whether the grant covers `key`.
    pub fn covers(&self, key: &ConfigKey) -> bool {
        self.kind == key.kind() && glob_matches(&self.pattern, &key.granted_id())
    }
}

/// What one task may read: its grants, and the team it reads as (Airflow multi-team).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskGrants {
    /// The grants; a key is readable when one of them covers it.
    pub grants: Vec<Grant>,
    /// The team the task's lookups are made for.
    pub team: Option<String>,
}

impl TaskGrants {
    /// Whether the task may read `key`: its team and its id are ones a task may name
    /// ([`TaskGrants::team_problem`], [`ConfigKey::task_problem`]) and one of the grants covers it.
    pub fn allows(&self, key: &ConfigKey) -> bool {
        self.team_problem().is_none() && key.task_problem().is_none() && self.grants.iter().any(|g| g.covers(key))
    }

    /// Why the team cannot be a task's, if it cannot: the rules of ids ([`IdProblem`]), and no `_` at either
    /// end (the environment's team names are `<prefix>_<TEAM>___<id>`: team `a` and id `_x` would name team
    /// `a_`'s `x`). A task with such a team reads nothing.
    pub fn team_problem(&self) -> Option<IdProblem> {
        let team = self.team.as_deref()?;
        id_problem(team).or((team.starts_with('_') || team.ends_with('_')).then_some(IdProblem::TeamEdge))
    }
}

/// The longest id (connection id, variable or config key, secret group or key) a task may name, in bytes: far
/// more than any store keeps (a Kubernetes label value holds 63), and small enough that checking, caching and
/// auditing it costs nothing.
pub const MAX_TASK_ID_BYTES: usize = 1024;

/// Why a task may not name an id, whatever it was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdProblem {
    /// Empty.
    #[error("the id is empty")]
    Empty,
    /// Longer than [`MAX_TASK_ID_BYTES`].
    #[error("the id is longer than {MAX_TASK_ID_BYTES} bytes")]
    TooLong,
    /// It holds `,`, `=`, `!`, `(`, `)`, whitespace, a control character or an invisible formatting character
    /// (zero-width, bidirectional override): in a Kubernetes label selector the id would select other Secrets
    /// than the one it names (`admin_db,!x_ro` matches a grant `*_ro` and selects `admin_db`), and in a log
    /// line it could start a line of its own or show as something else.
    #[error(
        "the id holds a character of label-selector syntax, whitespace, a control or an invisible formatting character"
    )]
    SelectorSyntax,
    /// It holds `___`, with which Airflow names team-scoped entries (`<TEAM>___<id>`): a task reads other
    /// teams' entries only through its team.
    #[error("the id holds `___`, which names another team's entry")]
    TeamSeparator,
    /// A secret's group holds `/` (it is a Kubernetes Secret name).
    #[error("the secret's group holds `/`")]
    SlashInGroup,
    /// A team starts or ends with `_` ([`TaskGrants::team_problem`]).
    #[error("the team starts or ends with `_`")]
    TeamEdge,
}

/// Why a task may not name `id`, if it may not.
fn id_problem(id: &str) -> Option<IdProblem> {
    if id.is_empty() {
        Some(IdProblem::Empty)
    } else if id.len() > MAX_TASK_ID_BYTES {
        Some(IdProblem::TooLong)
    } else if id.chars().any(|c| {
        matches!(c, ',' | '=' | '!' | '(' | ')') || c.is_whitespace() || c.is_control() || crate::audit::is_invisible(c)
    }) {
        Some(IdProblem::SelectorSyntax)
    } else if id.contains("___") {
        Some(IdProblem::TeamSeparator)
    } else {
        None
    }
}

impl ConfigKey {
    /// Why a task may not read this key whatever it was granted, if it may not: an id no store would hold under
    /// that name, which the stores' own syntax could turn into another entry ([`IdProblem`]). A task's key is
    /// checked before its grants, so a pattern grant covers only plain ids.
    pub fn task_problem(&self) -> Option<IdProblem> {
        match self {
            Self::Connection(id) | Self::ConnectionField(_, id) | Self::Variable(id) | Self::Config(id) => {
                id_problem(id)
            }
            Self::Secret { group, key } => {
                id_problem(group).or_else(|| id_problem(key)).or(group.contains('/').then_some(IdProblem::SlashInGroup))
            }
        }
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (none included) and every other
/// character matches itself. Greedy, backtracking only to the last `*` seen: at most the text's length times
/// the pattern's length steps, without recursion, whatever the pattern.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_kind_then_the_id_whatever_it_holds() {
        for (key, parsed) in [
            ("connection/smtp_default", ConfigKey::Connection("smtp_default".into())),
            ("connection/a/b:c", ConfigKey::Connection("a/b:c".into())),
            ("connection-field/host/a/b", ConfigKey::ConnectionField(ConnectionField::Host, "a/b".into())),
            ("connection-field/conn_type/x", ConfigKey::ConnectionField(ConnectionField::ConnType, "x".into())),
            ("variable/etl:batch/size", ConfigKey::Variable("etl:batch/size".into())),
            ("config/core__sql_alchemy_conn", ConfigKey::Config("core__sql_alchemy_conn".into())),
            ("secret/aws-creds/secret/key", ConfigKey::Secret { group: "aws-creds".into(), key: "secret/key".into() }),
        ] {
            assert_eq!(ConfigKey::parse(key).as_ref(), Ok(&parsed), "{key}");
            assert_eq!(parsed.to_string(), key, "the key round-trips");
        }
        for (key, error) in [
            ("smtp_default", KeyError::UnknownKind),
            ("vault/x", KeyError::UnknownKind),
            ("variable/", KeyError::MissingId("variable")),
            ("connection-field/passwd/db", KeyError::UnknownField),
            ("connection-field/password", KeyError::UnknownField),
            ("connection-field/password/", KeyError::MissingId("connection-field")),
            ("secret/group", KeyError::MissingSecretKey),
            ("secret//key", KeyError::MissingSecretKey),
        ] {
            assert_eq!(ConfigKey::parse(key), Err(error), "{key}");
        }
        // No message quotes the id a task wrote.
        let error = ConfigKey::parse("connection-field/s3cr3t-field/id").unwrap_err();
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }

    #[test]
    fn grants_cover_their_kind_and_pattern_only() {
        let grants = TaskGrants {
            grants: ["connection:smtp_default", "variable:etl_*", "secret:aws-creds/secret_key", "config:a*b*c"]
                .iter()
                .map(|g| g.parse().unwrap())
                .collect(),
            team: None,
        };
        let allows = |key: &str| grants.allows(&ConfigKey::parse(key).unwrap());
        assert!(allows("connection/smtp_default"));
        assert!(allows("connection-field/password/smtp_default"));
        assert!(!allows("connection/smtp_default2"));
        assert!(!allows("variable/smtp_default"), "the kind counts");
        assert!(allows("variable/etl_"));
        assert!(allows("variable/etl_batch/size"));
        assert!(!allows("variable/etl"));
        assert!(allows("secret/aws-creds/secret_key"));
        assert!(!allows("secret/gcp-creds/secret_key"));
        assert!(allows("config/abc") && allows("config/a-b-c") && allows("config/aXbXcXbXc"));
        assert!(!allows("config/acb"));
        assert!(!TaskGrants::default().allows(&ConfigKey::parse("variable/x").unwrap()), "nothing by default");
    }

    #[test]
    fn ids_a_stores_syntax_would_turn_into_other_entries_are_never_granted() {
        let grants = TaskGrants {
            grants: ["connection:*_ro", "variable:*", "secret:db/password"]
                .iter()
                .map(|g| g.parse().unwrap())
                .collect(),
            team: Some("blue".into()),
        };
        let refused = |key: ConfigKey, problem| {
            assert_eq!(key.task_problem(), Some(problem), "{key:?}");
            assert!(!grants.allows(&key), "{key:?}");
        };
        // Matches `*_ro`, but as a label selector it selects `admin_db`.
        refused(ConfigKey::Connection("admin_db,!x_ro".into()), IdProblem::SelectorSyntax);
        for id in ["a=b_ro", "a!_ro", "a(b)_ro", "a\n_ro", "a\u{85}_ro", "a\t_ro", "a\u{202e}_ro", "a\u{200b}_ro"] {
            refused(ConfigKey::Connection(id.into()), IdProblem::SelectorSyntax);
        }
        refused(ConfigKey::Variable("red___db".into()), IdProblem::TeamSeparator);
        refused(ConfigKey::Variable(String::new()), IdProblem::Empty);
        refused(ConfigKey::Variable("x".repeat(MAX_TASK_ID_BYTES + 1)), IdProblem::TooLong);
        refused(ConfigKey::Secret { group: String::new(), key: "password".into() }, IdProblem::Empty);
        refused(ConfigKey::Secret { group: "db".into(), key: String::new() }, IdProblem::Empty);
        refused(ConfigKey::Secret { group: "d/b".into(), key: "password".into() }, IdProblem::SlashInGroup);
        // Plain ids, `/`, `:` and `?` included, are fine.
        for id in ["db_ro", "a/b:c?d_ro", "ünïcode_ro"] {
            assert_eq!(ConfigKey::Connection(id.into()).task_problem(), None, "{id}");
            assert!(grants.allows(&ConfigKey::Connection(id.into())), "{id}");
        }
        assert!(grants.allows(&ConfigKey::Variable("x".repeat(MAX_TASK_ID_BYTES))));
        assert!(grants.allows(&ConfigKey::Secret { group: "db".into(), key: "password".into() }));
        // A team a task may not have: nothing is readable.
        for (team, problem) in
            [("_a", IdProblem::TeamEdge), ("a_", IdProblem::TeamEdge), ("a,b", IdProblem::SelectorSyntax)]
        {
            let grants = TaskGrants { team: Some(team.into()), ..grants.clone() };
            assert_eq!(grants.team_problem(), Some(problem), "{team}");
            assert!(!grants.allows(&ConfigKey::Connection("db_ro".into())), "{team}");
        }
    }

    #[test]
    fn grants_are_kind_colon_pattern() {
        assert_eq!(
            "connection:a:b".parse::<Grant>(),
            Ok(Grant { kind: TaskKind::Connection, pattern: "a:b".into() }),
            "the first colon ends the kind"
        );
        for bad in ["connection", "connection:", "connections:x", ":x"] {
            assert_eq!(bad.parse::<Grant>(), Err(GrantError::Syntax(bad.into())), "{bad}");
        }
        for bad in ["secret:group", "secret:/key", "secret:group/"] {
            assert_eq!(bad.parse::<Grant>(), Err(GrantError::SecretWithoutKey(bad.into())), "{bad}");
        }
        for bad in ["secret:db/*", "secret:*/password"] {
            assert_eq!(bad.parse::<Grant>(), Err(GrantError::SecretPattern(bad.into())), "{bad}");
        }
    }

    #[test]
    fn glob_matching() {
        for (pattern, text, matches) in [
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("a*", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("a*b", "axxb", true),
            ("a*b", "axxbx", false),
            ("a**b", "ab", true),
            ("é*", "éclair", true),
            ("?", "x", false),
            ("a*a*a*a*b", &"a".repeat(5000), false),
        ] {
            assert_eq!(glob_matches(pattern, text), matches, "{pattern} / {text:.20}");
        }
    }

    #[test]
    fn a_key_reads_its_lookup_and_shows_the_uri_a_field_or_the_text() {
        let conn = airflow_compat::parse_connection(
            "postgres://u:p%40ss@db.example:5432/app?sslmode=require",
            Dialect::Server,
        )
        .unwrap();
        let found = Value::Connection(Some(std::sync::Arc::new(conn)));
        let key = |k: &str| ConfigKey::parse(k).unwrap();
        assert_eq!(key("connection/a/b").lookup(Some("blue")), Lookup::Connection("a/b", Some("blue")));
        assert_eq!(key("connection-field/port/db").lookup(None), Lookup::Connection("db", None));
        assert_eq!(key("variable/v").lookup(Some("blue")), Lookup::Variable("v", Some("blue")));
        assert_eq!(key("config/c").lookup(Some("blue")), Lookup::Config("c"), "config values have no team");
        assert_eq!(key("secret/g/k").lookup(Some("blue")), Lookup::Secret("g", "k"));
        assert_eq!(
            key("connection/db").value(&found, Dialect::Server).as_deref(),
            Some("postgres://u:p%40ss@db.example:5432/app?sslmode=require")
        );
        for (field, shown) in [
            ("password", Some("p@ss")),
            ("port", Some("5432")),
            ("schema", Some("app")),
            ("extra", Some(r#"{"sslmode": "require"}"#)),
            ("description", None),
        ] {
            assert_eq!(
                key(&format!("connection-field/{field}/db")).value(&found, Dialect::Server).as_deref(),
                shown,
                "{field}"
            );
        }
        let text = Value::Text(Some("v".into()));
        assert_eq!(key("variable/v").value(&text, Dialect::Server).as_deref(), Some("v"));
        assert_eq!(key("variable/v").value(&Value::Text(None), Dialect::Server), None);
        assert_eq!(key("connection/db").value(&Value::Connection(None), Dialect::Server), None);
        assert_eq!(key("connection/db").value(&text, Dialect::Server), None, "a text answer is no connection");
    }
}
