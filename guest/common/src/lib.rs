//! What the wasm-secrets provider components share, so each of them holds only its own lookups.
//!
//! - [`error`]: [`LookupError`], one variant per case of the WIT `error`, and the conversions between the
//!   WIT's error and connection types and their Rust twins ([`convert_wit_error!`], [`convert_wit_connection!`]),
//!   which the host uses too.
//! - [`kwargs`]: reading `backend_kwargs` (object check, unknown keys, typed values, the `dialect` key); each
//!   provider lists its keys once, each with the configuration field it sets.
//! - [`provider`]: the [`Lookups`] and [`Provider`] traits, the WIT `lookup` interface in Rust types.
//!
//! Only on `wasm32`: `bindings` holds the WIT bindings of the `wasm-secrets:provider/provider` world, generated
//! once for all providers, `transport` sends a provider's GET through `wasi:http`, and `component` turns a
//! [`Provider`] into the exported interface (with the conversions of errors and connections to their WIT types);
//! its documentation shows the two lines that end a component crate.
//!
//! Everything else is pure and unit-tested on the native target:
//!
//! ```
//! use wasm_secrets_provider_common::{LookupError, kwargs};
//!
//! let mut namespace: Option<String> = None;
//! let err = kwargs::read("[1]", &mut [("namespace", &mut namespace)]).unwrap_err();
//! assert_eq!(err, LookupError::InvalidConfiguration("backend_kwargs must be a JSON object, got an array".into()));
//! assert_eq!(err.to_string(), "invalid configuration: backend_kwargs must be a JSON object, got an array");
//! ```

pub mod error;
pub mod http;
pub mod kwargs;
pub mod live;
pub mod provider;

pub use error::LookupError;
pub use kwargs::FromKwargs;
pub use provider::{Level, Lookups, Provider};

/// The WIT bindings of the `wasm-secrets:provider/provider` world: imports (`host`, `wasi:http`, ...) and
/// the exported `lookup` trait.
#[cfg(target_arch = "wasm32")]
#[expect(missing_docs, reason = "generated from the WIT, whose documentation it carries where there is any")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "wasm-secrets:provider/provider",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "wasm_secrets_provider_common::bindings",
    });
}

#[cfg(target_arch = "wasm32")]
pub use bindings::export;

#[cfg(target_arch = "wasm32")]
pub mod component;
#[cfg(target_arch = "wasm32")]
pub mod transport;
