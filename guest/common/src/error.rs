//! The providers' error type, one variant per case of the WIT `error`, and the conversions at the boundary.

/// Defines a lookup error enum with one variant per case of the WIT `error`, each holding its message, plus
/// the variants given in the braces; and, on it, `wit_case` (the WIT case name of a variant, `None` for the
/// extra ones) and `is_configuration`. The guest's [`LookupError`] and the host's `wasm_secrets::LookupError`
/// (which adds the component's own failure) are both defined by it, so the case list, its documentation and
/// its messages exist once. The crate invoking it needs `thiserror` as a dependency.
///
/// ```
/// wasm_secrets_provider_common::define_lookup_error! {
///     /// A lookup error with one more case.
///     pub enum MyError {
///         /// Something only this side knows.
///         #[error("other: {0}")]
///         Other(String),
///     }
/// }
/// assert_eq!(MyError::AccessDenied("401".into()).to_string(), "access denied: 401");
/// assert_eq!(MyError::AccessDenied("401".into()).wit_case(), Some("access-denied"));
/// assert_eq!(MyError::Other("x".into()).wit_case(), None);
/// assert!(MyError::InvalidRequest("bad id".into()).is_configuration());
/// ```
#[macro_export]
macro_rules! define_lookup_error {
    ($(#[$attr:meta])* $vis:vis enum $name:ident { $($extra:tt)* }) => {
        $(#[$attr])*
        ///
        /// Messages never contain a secret value (password, token or stored payload).
        #[derive(Debug, Clone, PartialEq, Eq, ::thiserror::Error)]
        #[non_exhaustive]
        $vis enum $name {
            /// The provider configuration is invalid.
            #[error("invalid configuration: {0}")]
            InvalidConfiguration(String),
            /// The secret store rejected the request built from the caller's key.
            #[error("invalid request: {0}")]
            InvalidRequest(String),
            /// The stored value could not be decoded or parsed.
            #[error("malformed secret payload: {0}")]
            MalformedPayload(String),
            /// The secret store refused the host's credentials.
            #[error("access denied: {0}")]
            AccessDenied(String),
            /// The host refused the provider's request.
            #[error("denied by the host: {0}")]
            DeniedByHost(String),
            /// The secret store answered with an unexpected status or body.
            #[error("upstream error: {0}")]
            Upstream(String),
            /// The secret store could not be reached.
            #[error("secret store unavailable: {0}")]
            Unavailable(String),
            /// The lookup took too long.
            #[error("timeout: {0}")]
            Timeout(String),
            $($extra)*
        }

        impl $name {
            /// The name of the WIT `error` case this error is (`access-denied`, ...), for logs; `None` for a
            /// case the WIT does not have.
            #[allow(unreachable_patterns, reason = "the guest's enum has no other case; the host's has")]
            pub fn wit_case(&self) -> ::core::option::Option<&'static str> {
                ::core::option::Option::Some(match self {
                    Self::InvalidConfiguration(_) => "invalid-configuration",
                    Self::InvalidRequest(_) => "invalid-request",
                    Self::MalformedPayload(_) => "malformed-payload",
                    Self::AccessDenied(_) => "access-denied",
                    Self::DeniedByHost(_) => "denied-by-host",
                    Self::Upstream(_) => "upstream",
                    Self::Unavailable(_) => "unavailable",
                    Self::Timeout(_) => "timeout",
                    _ => return ::core::option::Option::None,
                })
            }

            /// Whether the operator's configuration (or the caller's input) is at fault rather than the store.
            pub fn is_configuration(&self) -> bool {
                ::core::matches!(self, Self::InvalidConfiguration(_) | Self::InvalidRequest(_))
            }
        }
    };
}

define_lookup_error! {
    /// Why a lookup failed: one variant per case of the WIT `error`, so the mapping at the boundary is total.
    pub enum LookupError {}
}

/// Converts between two enums that both have exactly the cases of the WIT `error`, each holding its message:
/// the guest's [`LookupError`] into the WIT type its bindings generate, and, on the host, the WIT type
/// wasmtime's bindings generate into the host's error. The case list is the one of [`define_lookup_error!`]:
/// a case added to the WIT makes the host's conversion fail to compile until it is added there, and so to
/// both sides' error types at once.
///
/// ```
/// # use wasm_secrets_provider_common::{LookupError, convert_wit_error};
/// mod wit {
///     pub enum Error { InvalidConfiguration(String), InvalidRequest(String), MalformedPayload(String),
///         AccessDenied(String), DeniedByHost(String), Upstream(String), Unavailable(String), Timeout(String) }
/// }
/// let converted = convert_wit_error!(wit::Error::Timeout("slow".into()), wit::Error => LookupError);
/// assert_eq!(converted, LookupError::Timeout("slow".into()));
/// ```
#[macro_export]
macro_rules! convert_wit_error {
    ($value:expr, $($from:ident)::+ => $($to:ident)::+) => {
        match $value {
            $($from)::+::InvalidConfiguration(m) => $($to)::+::InvalidConfiguration(m),
            $($from)::+::InvalidRequest(m) => $($to)::+::InvalidRequest(m),
            $($from)::+::MalformedPayload(m) => $($to)::+::MalformedPayload(m),
            $($from)::+::AccessDenied(m) => $($to)::+::AccessDenied(m),
            $($from)::+::DeniedByHost(m) => $($to)::+::DeniedByHost(m),
            $($from)::+::Upstream(m) => $($to)::+::Upstream(m),
            $($from)::+::Unavailable(m) => $($to)::+::Unavailable(m),
            $($from)::+::Timeout(m) => $($to)::+::Timeout(m),
        }
    };
}

/// Converts between two structs that both have exactly the fields of the WIT `connection` record:
/// `airflow_compat::Connection` into the guest's generated WIT record, and the host's generated record back
/// into `airflow_compat::Connection`. The source is destructured without `..` and the target built field by
/// field, so a field added to either side fails to compile until it is listed here.
///
/// ```
/// # use wasm_secrets_provider_common::convert_wit_connection;
/// struct Record { conn_type: Option<String>, description: Option<String>, host: Option<String>,
///     schema: Option<String>, login: Option<String>, password: Option<String>, port: Option<i64>,
///     extra: Option<String> }
/// let c = airflow_compat::Connection { host: Some("h".into()), port: Some(5432), ..Default::default() };
/// let record = convert_wit_connection!(c, airflow_compat::Connection => Record);
/// assert_eq!((record.host.as_deref(), record.port), (Some("h"), Some(5432)));
/// ```
#[macro_export]
macro_rules! convert_wit_connection {
    ($value:expr, $($from:ident)::+ => $($to:ident)::+) => {{
        let $($from)::+ { conn_type, description, host, schema, login, password, port, extra } = $value;
        $($to)::+ { conn_type, description, host, schema, login, password, port, extra }
    }};
}
