//! The lookups a provider component exports, in Rust types.
//!
//! Each provider implements [`Provider`] over its own configuration and backend; on `wasm32`,
//! `Component<P>` turns that implementation into the WIT `lookup` interface (configuration parsed on every
//! call, errors and connections converted to their WIT types), so no provider writes WIT glue itself.

use airflow_compat::Connection;

use crate::error::LookupError;

/// One provider's lookups, mirroring the WIT `lookup` interface function for function. Every call gets
/// the configuration freshly parsed by [`Provider::config`], exactly as the WIT functions get
/// `backend_kwargs` text on every call. "Not found" is `Ok(None)`.
pub trait Provider {
    /// The validated `backend_kwargs`.
    type Config;

    /// Parses and validates `backend_kwargs` JSON text (`validate-config`, and the first step of every lookup).
    fn config(text: &str) -> Result<Self::Config, LookupError>;

    /// `get-conn-value`: the raw stored connection value.
    fn get_conn_value(
        config: &Self::Config,
        conn_id: &str,
        team_name: Option<&str>,
    ) -> Result<Option<String>, LookupError>;

    /// `get-connection`: the connection parsed as Airflow's `get_connection` does.
    fn get_connection(
        config: &Self::Config,
        conn_id: &str,
        team_name: Option<&str>,
    ) -> Result<Option<Connection>, LookupError>;

    /// `get-variable`: a variable's value, verbatim.
    fn get_variable(config: &Self::Config, key: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError>;

    /// `get-config`: a configuration value, verbatim.
    fn get_config(config: &Self::Config, key: &str) -> Result<Option<String>, LookupError>;

    /// `get-secret`: a Flyte secret identified by group and key, verbatim.
    fn get_secret(config: &Self::Config, group: &str, key: &str) -> Result<Option<String>, LookupError>;
}
