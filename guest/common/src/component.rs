//! The component boundary shared by every provider: the WIT bindings, generated once for the
//! `wasm-secrets:provider/provider` world, the conversions to their types, and the `lookup` export of any
//! [`Provider`].
//!
//! A provider component exports itself with
//!
//! ```text
//! type Exported = wasm_secrets_provider_common::component::Component<MyProvider>;
//! wasm_secrets_provider_common::export!(Exported with_types_in wasm_secrets_provider_common::bindings);
//! ```
//!
//! The `export!` macro emits the full world description into the component crate; `wit-component` drops
//! every import the component does not call, so each component imports only what it uses, as before.

use std::marker::PhantomData;

use crate::bindings::exports::wasm_secrets::provider::lookup::Guest;
use crate::bindings::wasm_secrets::provider::types::{Connection as WitConnection, Error as WitError};
use crate::error::LookupError;
use crate::kwargs::FromKwargs as _;
use crate::provider::{Lookups, Provider};

/// The WIT `lookup` interface implemented by the [`Provider`] `P`; export it with [`crate::export!`].
pub struct Component<P>(PhantomData<fn() -> P>);

/// Case for case: [`LookupError`] has one variant per case of the WIT `error`.
impl From<LookupError> for WitError {
    fn from(e: LookupError) -> Self {
        crate::convert_wit_error!(e, LookupError => Self)
    }
}

/// Field for field.
impl From<airflow_compat::Connection> for WitConnection {
    fn from(c: airflow_compat::Connection) -> Self {
        crate::convert_wit_connection!(c, airflow_compat::Connection => Self)
    }
}

impl<P: Provider> Guest for Component<P> {
    fn validate_config(config: String) -> Result<(), WitError> {
        P::Config::from_json(&config)?;
        Ok(())
    }

    fn get_conn_value(config: String, conn_id: String, team_name: Option<String>) -> Result<Option<String>, WitError> {
        Ok(P::lookups(&P::Config::from_json(&config)?).get_conn_value(&conn_id, team_name.as_deref())?)
    }

    fn get_connection(
        config: String,
        conn_id: String,
        team_name: Option<String>,
    ) -> Result<Option<WitConnection>, WitError> {
        let connection = P::lookups(&P::Config::from_json(&config)?).get_connection(&conn_id, team_name.as_deref())?;
        Ok(connection.map(WitConnection::from))
    }

    fn get_variable(config: String, key: String, team_name: Option<String>) -> Result<Option<String>, WitError> {
        Ok(P::lookups(&P::Config::from_json(&config)?).get_variable(&key, team_name.as_deref())?)
    }

    fn get_config(config: String, key: String) -> Result<Option<String>, WitError> {
        Ok(P::lookups(&P::Config::from_json(&config)?).get_config(&key)?)
    }

    fn get_secret(config: String, group: String, key: String) -> Result<Option<String>, WitError> {
        Ok(P::lookups(&P::Config::from_json(&config)?).get_secret(&group, &key)?)
    }
}
