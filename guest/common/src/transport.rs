//! The only module of the providers that speaks `wasi:http`: sends one GET to a secret store and reads the whole
//! answer.
//!
//! A provider addresses its store by a fixed name (`kubernetes.default.svc`, `vault.invalid`). The host maps
//! that authority to the server it is configured for, refuses every other one, and adds the credential itself:
//! the component never sees one and cannot choose where its requests go.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{ErrorCode, Fields, IncomingBody, OutgoingRequest, Scheme};
use crate::bindings::wasi::io::streams::StreamError;

use crate::error::LookupError;
use crate::http::Response;

/// Largest response body a provider accepts (a Secret list answer); the host's own bound is lower by
/// default (an eighth of the memory limit), and is what a user meets first.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// `GET https://<authority><path_and_query>` with `Accept: application/json`; `store` names the store in
/// errors ("the Kubernetes API").
///
/// Every `wasi:http` call crosses the component boundary, the largest share of a lookup's time, so the request
/// takes no call it does not need: the method is not set (a new `outgoing-request` is a `GET`), the answer is
/// asked for before waiting on it (a host that answers at once needs no poll), and the body is dropped rather
/// than finished (a `GET` answer's trailers are not read). `tests/all/lookup.rs` lists the calls.
pub fn get(authority: &str, store: &str, path_and_query: &str) -> Result<Response, LookupError> {
    let headers = Fields::from_list(&[("accept".to_owned(), b"application/json".to_vec())])
        .map_err(|e| LookupError::DeniedByHost(format!("the host refused a request header: {e:?}")))?;
    let request = OutgoingRequest::new(headers);
    let invalid = |what: &str| LookupError::InvalidRequest(format!("the request {what} is not valid"));
    request.set_scheme(Some(&Scheme::Https)).map_err(|()| invalid("scheme"))?;
    request.set_authority(Some(authority)).map_err(|()| invalid("authority"))?;
    request.set_path_with_query(Some(path_and_query)).map_err(|()| invalid("path"))?;

    let pending = outgoing_handler::handle(request, None).map_err(|e| from_error_code(e, store))?;
    let response = loop {
        match pending.get() {
            Some(result) => break result,
            None => pending.subscribe().block(),
        }
    };
    let response = response
        .map_err(|()| LookupError::Upstream("the HTTP response was already consumed".into()))?
        .map_err(|e| from_error_code(e, store))?;
    let status = response.status();
    let body =
        response.consume().map_err(|()| LookupError::Upstream("the HTTP response body was already consumed".into()))?;
    let bytes = read_body(&body, store)?;
    drop(body);
    Ok(Response { status, body: bytes })
}

fn read_body(body: &IncomingBody, store: &str) -> Result<Vec<u8>, LookupError> {
    let stream =
        body.stream().map_err(|()| LookupError::Upstream("the HTTP response body stream was already taken".into()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_BODY_BYTES {
                    return Err(LookupError::Upstream(format!(
                        "the answer of {store} is larger than {MAX_BODY_BYTES} bytes"
                    )));
                }
            }
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(LookupError::Upstream(format!(
                    "reading the answer of {store} failed: {}",
                    e.to_debug_string()
                )));
            }
        }
    }
}

/// Maps a `wasi:http` error to who is at fault.
fn from_error_code(code: ErrorCode, store: &str) -> LookupError {
    let text = format!("{code:?}");
    match code {
        ErrorCode::HttpRequestDenied => LookupError::DeniedByHost(format!("the host refused the request to {store}")),
        ErrorCode::HttpResponseBodySize(Some(max)) => {
            LookupError::Upstream(format!("the answer of {store} is larger than the {max} bytes the host allows"))
        }
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => LookupError::Timeout(format!("{store} did not answer in time ({text})")),
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::DnsError(_)
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => LookupError::Unavailable(format!("{store} could not be reached ({text})")),
        _ => LookupError::Upstream(format!("the HTTP exchange with {store} failed ({text})")),
    }
}
