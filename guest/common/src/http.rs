//! An HTTP answer as a provider's pure code sees it (the `transport` module reads it from `wasi:http`).

/// An HTTP answer from the secret store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response body.
    pub body: Vec<u8>,
}
