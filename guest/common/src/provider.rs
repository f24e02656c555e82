//! The lookups a provider component exports, in Rust types.
//!
//! Each provider implements [`Lookups`] on its pure backend (tested natively with fake host access) and
//! [`Provider`] in its `component` module, which only says how the configuration is read and which host
//! imports the backend uses. On `wasm32`, `Component<P>` turns that into the WIT `lookup` interface
//! (configuration parsed on every call, errors and connections converted to their WIT types), so no provider
//! writes WIT glue itself.

use airflow_compat::{Connection, Dialect, parse_connection};

use crate::error::LookupError;
use crate::kwargs::FromKwargs;
use crate::live::{Follow, Kind, NoFollow};

/// Severity of a log record a provider sends to the host (the WIT `host.log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Informational.
    Info,
    /// Worth an operator's attention.
    Warning,
}

/// One provider's lookups, mirroring the WIT `lookup` interface function for function. "Not found" is
/// `Ok(None)`.
pub trait Lookups {
    /// `get-conn-value`: the raw stored connection value.
    fn get_conn_value(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError>;

    /// `get-connection`: the connection parsed as Airflow's `get_connection` does.
    fn get_connection(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<Connection>, LookupError>;

    /// `get-variable`: a variable's value, verbatim.
    fn get_variable(&mut self, key: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError>;

    /// `get-config`: a configuration value, verbatim.
    fn get_config(&mut self, key: &str) -> Result<Option<String>, LookupError>;

    /// `get-secret`: a Flyte secret identified by group and key, verbatim.
    fn get_secret(&mut self, group: &str, key: &str) -> Result<Option<String>, LookupError>;

    /// `list-ids`: hands `listed` every id of `kind` a lookup for `team_name` might find (more is allowed,
    /// fewer is not: the host looks each one up and keeps what is found). `listed` answering `false` means the
    /// host's budget is spent: stop and return [`listing_refused`].
    fn list_ids(
        &mut self,
        kind: Kind,
        team_name: Option<&str>,
        listed: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), LookupError>;
}

/// The error of a listing the host stopped accepting ids from.
pub fn listing_refused() -> LookupError {
    LookupError::DeniedByHost("the host refused a listed id: its listing budget is spent".to_owned())
}

/// A provider component: its configuration, and its [`Lookups`] over the host's imports. Every WIT call
/// gets `backend_kwargs` text, so every call parses it afresh with [`FromKwargs::from_json`]
/// (`validate-config` does only that).
pub trait Provider {
    /// The validated `backend_kwargs`.
    type Config: FromKwargs;

    /// The lookups of one call, over `config` and the host's imports.
    fn lookups(config: &Self::Config) -> impl Lookups + '_;

    /// The live view's functions over `config` (WIT `live`); by default the store cannot be followed.
    fn follow(config: &Self::Config) -> impl Follow + '_ {
        let _ = config;
        NoFollow
    }
}

/// Airflow's `BaseSecretsBackend.get_connection` over a stored value: no value or an empty one is "not
/// found" (`if value:`), anything else is deserialized as the URI or JSON form in `dialect`. A value Airflow
/// would reject is `malformed-payload`, naming the connection, never the value.
///
/// ```
/// use airflow_compat::Dialect;
/// use wasm_secrets_provider_common::provider::connection_from_value;
/// let c = connection_from_value("db", Some("postgresql://u:p@h:5432/s".into()), Dialect::Server).unwrap().unwrap();
/// assert_eq!((c.conn_type.as_deref(), c.port), (Some("postgres"), Some(5432)));
/// assert_eq!(connection_from_value("db", Some(String::new()), Dialect::Server).unwrap(), None);
/// assert_eq!(
///     connection_from_value("db", Some("x://h:99999".into()), Dialect::Server).unwrap_err().to_string(),
///     "malformed secret payload: connection `db`: the port in the connection URI is out of range 0-65535"
/// );
/// ```
pub fn connection_from_value(
    conn_id: &str,
    value: Option<String>,
    dialect: Dialect,
) -> Result<Option<Connection>, LookupError> {
    match value {
        Some(value) if !value.is_empty() => parse_connection(&value, dialect)
            .map(Some)
            .map_err(|e| LookupError::MalformedPayload(format!("connection `{conn_id}`: {e}"))),
        _ => Ok(None),
    }
}
