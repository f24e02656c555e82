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

use crate::bindings::exports::wasm_secrets::provider::live;
use crate::bindings::exports::wasm_secrets::provider::lookup::Guest;
use crate::bindings::wasm_secrets::provider::host;
use crate::bindings::wasm_secrets::provider::types::{
    Connection as WitConnection, Error as WitError, Item as WitItem, Kind as WitKind,
};
use crate::error::LookupError;
use crate::kwargs::FromKwargs as _;
use crate::live::{Change, Follow as _, Item, Kind, ViewAccess};
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

    fn list_ids(config: String, kind: WitKind, team_name: Option<String>) -> Result<(), WitError> {
        let mut listed = |id: &str| host::listed_id(id);
        Ok(P::lookups(&P::Config::from_json(&config)?).list_ids(kind.into(), team_name.as_deref(), &mut listed)?)
    }
}

impl From<WitKind> for Kind {
    fn from(kind: WitKind) -> Self {
        match kind {
            WitKind::Connection => Self::Connection,
            WitKind::Variable => Self::Variable,
            WitKind::Config => Self::Config,
        }
    }
}

impl From<Kind> for WitKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Connection => Self::Connection,
            Kind::Variable => Self::Variable,
            Kind::Config => Self::Config,
        }
    }
}

impl From<Item> for WitItem {
    fn from(Item { name, id, payload }: Item) -> Self {
        Self { name, id, payload }
    }
}

impl From<WitItem> for Item {
    fn from(WitItem { name, id, payload }: WitItem) -> Self {
        Self { name, id, payload }
    }
}

/// Records `message` on the host's log (the `host.log` import).
pub fn log(level: crate::Level, message: &str) {
    let level = match level {
        crate::Level::Info => host::LogLevel::Info,
        crate::Level::Warning => host::LogLevel::Warning,
    };
    host::log(level, message);
}

/// The host's live view, through the `host.view` import.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostView;

impl ViewAccess for HostView {
    fn view(&mut self, kind: Kind, id: &str) -> Option<Vec<Item>> {
        host::view(kind.into(), id).map(|items| items.into_iter().map(Item::from).collect())
    }
}

impl<P: Provider> live::Guest for Component<P> {
    fn list_request(config: String, kind: WitKind, continue_token: Option<String>) -> Result<Option<String>, WitError> {
        Ok(P::follow(&P::Config::from_json(&config)?).list_request(kind.into(), continue_token.as_deref())?)
    }

    fn decode_list(config: String, kind: WitKind, status: u16, body: Vec<u8>) -> Result<live::Page, WitError> {
        let config = P::Config::from_json(&config)?;
        let mut listed = |item: Item| host::listed(&WitItem::from(item));
        let page = P::follow(&config).decode_list(kind.into(), status, &body, &mut listed)?;
        Ok(live::Page { continue_token: page.continue_token, resource_version: page.resource_version })
    }

    fn watch_request(config: String, kind: WitKind, resource_version: String) -> Result<String, WitError> {
        Ok(P::follow(&P::Config::from_json(&config)?).watch_request(kind.into(), &resource_version)?)
    }

    fn decode_event(config: String, kind: WitKind, line: Vec<u8>) -> Result<live::Event, WitError> {
        let event = P::follow(&P::Config::from_json(&config)?).decode_event(kind.into(), &line)?;
        let change = match event.change {
            Change::Put(item) => live::Change::Put(item.into()),
            Change::Removed(name) => live::Change::Removed(name),
            Change::Progress => live::Change::Progress,
            Change::Expired => live::Change::Expired,
        };
        Ok(live::Event { change, resource_version: event.resource_version })
    }
}
