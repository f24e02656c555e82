//! The component boundary shared by every provider: the WIT bindings, generated once for the
//! `wasm-secrets:provider/provider` world, the conversions to their types, and the `lookup` export of any
//! [`Provider`].
//!
//! A provider component exports itself with
//!
//! ```text
//! type Exported = wasm_secrets_guest::component::Component<MyProvider>;
//! wasm_secrets_guest::export!(Exported with_types_in wasm_secrets_guest::bindings);
//! ```
//!
//! The `export!` macro emits the full world description into the component crate; `wit-component` drops
//! every import the component does not call, so each component imports only what it uses, as before.

use std::marker::PhantomData;

use crate::bindings::exports::wasm_secrets::provider::lookup::Guest;
use crate::bindings::wasm_secrets::provider::types::{Connection as WitConnection, Error as WitError};
use crate::error::LookupError;
use crate::provider::Provider;

/// The WIT `lookup` interface implemented by the [`Provider`] `P`; export it with [`crate::export!`].
pub struct Component<P>(PhantomData<fn() -> P>);

/// Case for case: [`LookupError`] has one variant per case of the WIT `error`.
impl From<LookupError> for WitError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::InvalidConfiguration(m) => Self::InvalidConfiguration(m),
            LookupError::InvalidRequest(m) => Self::InvalidRequest(m),
            LookupError::MalformedPayload(m) => Self::MalformedPayload(m),
            LookupError::AccessDenied(m) => Self::AccessDenied(m),
            LookupError::DeniedByHost(m) => Self::DeniedByHost(m),
            LookupError::Upstream(m) => Self::Upstream(m),
            LookupError::Unavailable(m) => Self::Unavailable(m),
            LookupError::Timeout(m) => Self::Timeout(m),
        }
    }
}

/// Field for field.
impl From<airflow_compat::Connection> for WitConnection {
    fn from(c: airflow_compat::Connection) -> Self {
        Self {
            conn_type: c.conn_type,
            description: c.description,
            host: c.host,
            schema: c.schema,
            login: c.login,
            password: c.password,
            port: c.port,
            extra: c.extra,
        }
    }
}

impl<P: Provider> Guest for Component<P> {
    fn validate_config(config: String) -> Result<(), WitError> {
        P::config(&config)?;
        Ok(())
    }

    fn get_conn_value(config: String, conn_id: String, team_name: Option<String>) -> Result<Option<String>, WitError> {
        Ok(P::get_conn_value(&P::config(&config)?, &conn_id, team_name.as_deref())?)
    }

    fn get_connection(
        config: String,
        conn_id: String,
        team_name: Option<String>,
    ) -> Result<Option<WitConnection>, WitError> {
        Ok(P::get_connection(&P::config(&config)?, &conn_id, team_name.as_deref())?.map(WitConnection::from))
    }

    fn get_variable(config: String, key: String, team_name: Option<String>) -> Result<Option<String>, WitError> {
        Ok(P::get_variable(&P::config(&config)?, &key, team_name.as_deref())?)
    }

    fn get_config(config: String, key: String) -> Result<Option<String>, WitError> {
        Ok(P::get_config(&P::config(&config)?, &key)?)
    }

    fn get_secret(config: String, group: String, key: String) -> Result<Option<String>, WitError> {
        Ok(P::get_secret(&P::config(&config)?, &group, &key)?)
    }
}
