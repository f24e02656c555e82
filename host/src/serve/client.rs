//! A client of `secrets serve` over its Unix socket (what `secrets exec --socket` uses): one HTTP/1.1 request
//! per connection, the answer bounded in size and time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::route::Read;

/// The most bytes of one answer read (head and body): a value's JSON encoding at most escapes each byte to six.
pub const MAX_ANSWER_BYTES: usize = 128 * 1024 * 1024;

/// Why the daemon gave no answer. Messages carry the daemon's error kind and message, which name no value.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached.
    #[error("cannot connect to the daemon at {path}: {0}", path = .1.display())]
    Connect(#[source] std::io::Error, PathBuf),
    /// The exchange failed midway.
    #[error("the daemon's answer could not be read: {0}")]
    Io(#[source] std::io::Error),
    /// No answer within the time limit.
    #[error("the daemon did not answer within {0:?}")]
    Timeout(Duration),
    /// An answer longer than [`MAX_ANSWER_BYTES`].
    #[error("the daemon's answer is longer than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// Not an HTTP answer with a JSON body holding the expected field.
    #[error("the daemon's answer is malformed: {0}")]
    Malformed(&'static str),
    /// The daemon refused or failed the request.
    #[error("the daemon answered {status} {kind}: {message}")]
    Daemon {
        /// The HTTP status.
        status: u16,
        /// The error kind (`forbidden`, `unavailable`, ...).
        kind: String,
        /// Its message.
        message: String,
    },
}

impl ClientError {
    /// The lookup error of the chain's vocabulary this stands for (for reports that count errors by kind).
    pub fn into_lookup_error(self) -> crate::LookupError {
        use crate::LookupError;
        let message = self.to_string();
        match self {
            Self::Connect(..) => LookupError::Unavailable(message),
            Self::Timeout(_) => LookupError::Timeout(message),
            Self::Daemon { status: 503, .. } => LookupError::Unavailable(message),
            Self::Daemon { status: 504, .. } => LookupError::Timeout(message),
            Self::Daemon { status: 400, .. } => LookupError::InvalidRequest(message),
            Self::Daemon { status: 403, .. } => LookupError::DeniedByHost(message),
            Self::Io(_) | Self::TooLarge | Self::Malformed(_) | Self::Daemon { .. } => LookupError::Upstream(message),
        }
    }
}

/// A daemon at a socket path.
#[derive(Debug, Clone)]
pub struct DaemonClient {
    socket: PathBuf,
    timeout: Duration,
}

impl DaemonClient {
    /// A client of the daemon at `socket`, waiting at most `timeout` for each answer.
    pub fn new(socket: &Path, timeout: Duration) -> Self {
        Self { socket: socket.to_owned(), timeout }
    }

    /// `read` for `team`: the value (the URI for [`Read::ConnUri`], the whole record as JSON text for
    /// [`Read::Connection`]), `None` when no provider has it.
    pub async fn read(&self, read: &Read, team: Option<&str>) -> Result<Option<String>, ClientError> {
        let (status, body) = self.get(&read.target(team)).await?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| ClientError::Malformed("the body is not JSON"))?;
        let field = |name: &str| json.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
        match status {
            200 => match read {
                Read::Connection(_) => Ok(Some(json.to_string())),
                Read::ConnUri(_) => field("uri").map(Some).ok_or(ClientError::Malformed("no `uri`")),
                _ => field("value").map(Some).ok_or(ClientError::Malformed("no `value`")),
            },
            404 if field("error").as_deref() == Some("not_found") => Ok(None),
            status => Err(ClientError::Daemon {
                status,
                kind: printable(&field("error").unwrap_or_default()),
                message: printable(&field("message").unwrap_or_default()),
            }),
        }
    }

    /// `GET target`: the status and the body.
    pub async fn get(&self, target: &str) -> Result<(u16, Vec<u8>), ClientError> {
        let exchange = async {
            let mut stream = tokio::net::UnixStream::connect(&self.socket)
                .await
                .map_err(|e| ClientError::Connect(e, self.socket.clone()))?;
            let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.map_err(ClientError::Io)?;
            let mut answer = Vec::new();
            let read = (&mut stream).take(MAX_ANSWER_BYTES as u64 + 1).read_to_end(&mut answer).await;
            read.map_err(ClientError::Io)?;
            if answer.len() > MAX_ANSWER_BYTES {
                return Err(ClientError::TooLarge);
            }
            parse_answer(&answer)
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| ClientError::Timeout(self.timeout))?
    }
}

/// The most characters of a daemon's error kind or message kept.
const MAX_MESSAGE_CHARS: usize = 500;

/// `text` cut to [`MAX_MESSAGE_CHARS`], its control and invisible characters escaped
/// ([`crate::audit::escape_controls`]): what a daemon says is printed to terminals and logs, and the daemon is
/// not trusted to keep it tidy.
fn printable(text: &str) -> String {
    let end = text.char_indices().nth(MAX_MESSAGE_CHARS).map_or(text.len(), |(end, _)| end);
    let mut out = crate::audit::escape_controls(&text[..end]);
    if end < text.len() {
        out.push('…');
    }
    out
}

/// The status and body of an HTTP/1.1 answer the daemon sent (a `Content-Length` body, then the end).
pub fn parse_answer(answer: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let end = memchr::memmem::find(answer, b"\r\n\r\n").ok_or(ClientError::Malformed("no end of the head"))?;
    let head = std::str::from_utf8(&answer[..end]).map_err(|_| ClientError::Malformed("the head is not UTF-8"))?;
    // Three digits, the first 1 to 5 (`u16::from_str` alone would take `044` or `+44`: found by fuzzing).
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .filter(|code| code.bytes().all(|b| b.is_ascii_digit()) && (b'1'..=b'5').contains(&code.as_bytes()[0]))
        .and_then(|code| code.parse().ok())
        .ok_or(ClientError::Malformed("no status line"))?;
    let body = &answer[end + 4..];
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or(ClientError::Malformed("no Content-Length"))?;
    if body.len() != length {
        return Err(ClientError::Malformed("the body's length is not its Content-Length"));
    }
    Ok((status, body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_truncated_ones_do_not() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_answer(ok).unwrap(), (200, b"{}".to_vec()));
        let short = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}";
        assert!(matches!(parse_answer(short), Err(ClientError::Malformed(_))));
        assert!(matches!(parse_answer(b"HTTP/1.1 200 OK\r\n"), Err(ClientError::Malformed(_))));
        assert!(matches!(parse_answer(b"SSH-2.0\r\n\r\n"), Err(ClientError::Malformed(_))));
        // Found by the `serve_http` fuzz target: a status of three characters that is no HTTP status.
        for status in ["044", "+44", "600", "2a0"] {
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\n{{}}");
            assert!(matches!(parse_answer(answer.as_bytes()), Err(ClientError::Malformed(_))), "{status}");
        }
    }
}
