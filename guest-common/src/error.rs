//! The providers' error type: one variant per case of the WIT `error`, so the mapping at the boundary is total.

/// Why a lookup failed. Messages never contain a secret value (password, token or stored payload).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The provider configuration is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),
    /// The secret store rejected the request built from the caller's key.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The stored value could not be decoded or parsed.
    #[error("malformed payload: {0}")]
    MalformedPayload(String),
    /// The secret store refused the host's credentials.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The host refused the request.
    #[error("denied by host: {0}")]
    DeniedByHost(String),
    /// The secret store answered with an unexpected status or body.
    #[error("upstream error: {0}")]
    Upstream(String),
    /// The secret store could not be reached.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The lookup took too long.
    #[error("timeout: {0}")]
    Timeout(String),
}
