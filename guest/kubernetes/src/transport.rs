//! The provider's `wasi:http` use: one GET to the Kubernetes API, through the shared transport
//! (`wasm_secrets_provider_common::transport`).
//!
//! The provider addresses the API server by its in-cluster name, `https://kubernetes.default.svc`. The host
//! maps that authority to the API server it is configured for, refuses every other one, and adds the bearer
//! token itself: the component never sees a credential and cannot choose where its requests go.

use crate::error::LookupError;
use crate::lookup::Response;

/// The authority the provider sends its requests to; the host decides which server that is.
pub const API_AUTHORITY: &str = "kubernetes.default.svc";

/// `GET https://kubernetes.default.svc<path_and_query>`.
pub fn get(path_and_query: &str) -> Result<Response, LookupError> {
    wasm_secrets_provider_common::transport::get(API_AUTHORITY, "the Kubernetes API", path_and_query)
}
