//! Error types. None of them carries any part of the decoded value, the URI, a login or a password: a
//! secret may end up in logs through an error message, so messages only name the field and the problem.

use std::fmt;

/// Why [`crate::pybase64::b64decode`] rejected its input (Python raises `binascii.Error` or `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// The data ends with an incomplete quantum of 2 or 3 characters (Python: "Incorrect padding").
    #[error("invalid base64: incorrect padding")]
    IncorrectPadding,
    /// The number of data characters is one more than a multiple of four.
    #[error("invalid base64: the number of data characters cannot be 1 more than a multiple of 4")]
    InvalidLength,
    /// The input contains a non-ASCII character (Python: "string argument should contain only ASCII characters").
    #[error("invalid base64: the value contains non-ASCII characters")]
    NonAscii,
}

/// Why [`crate::pybase64::decode_secret_value`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueDecodeError {
    /// The base64 layer failed.
    #[error(transparent)]
    Base64(#[from] Base64Error),
    /// The decoded bytes are not valid UTF-8 (Python: `UnicodeDecodeError`).
    #[error("the decoded secret value is not valid UTF-8")]
    NotUtf8,
}

/// A field of the JSON connection form, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonField {
    /// `conn_type`
    ConnType,
    /// `description`
    Description,
    /// `host`
    Host,
    /// `schema`
    Schema,
    /// `login`
    Login,
    /// `password`
    Password,
    /// `port`
    Port,
    /// `extra`
    Extra,
    /// `uri`
    Uri,
}

impl JsonField {
    /// The JSON key of the field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnType => "conn_type",
            Self::Description => "description",
            Self::Host => "host",
            Self::Schema => "schema",
            Self::Login => "login",
            Self::Password => "password",
            Self::Port => "port",
            Self::Extra => "extra",
            Self::Uri => "uri",
        }
    }
}

impl fmt::Display for JsonField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The syntax problem found by the Python-compatible JSON parser (a static description, no input text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonSyntaxError {
    /// What was expected or found, as in Python's `JSONDecodeError` message.
    pub problem: &'static str,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
}

impl fmt::Display for JsonSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {} column {}", self.problem, self.line, self.column)
    }
}

impl std::error::Error for JsonSyntaxError {}

/// Why a connection value could not be turned into a [`crate::Connection`].
///
/// Every Airflow exception of the parsing path maps to one variant. Messages never contain any part of
/// the value (Airflow's own messages sometimes do: the port error echoes part of the password, the Task
/// SDK echoes the whole URI). The only input-derived text is the name of an unknown JSON key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The value is empty or whitespace only (Airflow: `IndexError: string index out of range`, or "not
    /// found" for an empty value).
    #[error("the connection value is empty or contains only whitespace")]
    EmptyValue,
    /// More than two `://` in the URI, or `@`/`:` before a nested protocol (Airflow: "Invalid connection
    /// string").
    #[error("invalid connection URI: {0}")]
    InvalidUri(UriProblem),
    /// The port in the URI is not made of ASCII digits (Airflow: "Port could not be cast to integer value").
    #[error("the port in the connection URI is not an integer")]
    UriPortNotInteger,
    /// The port in the URI is above 65535 (Airflow: "Port out of range 0-65535").
    #[error("the port in the connection URI is out of range 0-65535")]
    UriPortOutOfRange,
    /// The JSON form is not valid JSON (Airflow: `json.JSONDecodeError`).
    #[error("the connection JSON is invalid: {0}")]
    InvalidJson(JsonSyntaxError),
    /// A JSON key that the connection class does not accept (Airflow: `TypeError`, unexpected keyword).
    #[error("unknown field `{0}` in the connection JSON")]
    UnknownField(String),
    /// The JSON form sets `conn_id` (Airflow: `TypeError`, multiple values for `conn_id`).
    #[error("the connection JSON must not contain `conn_id`: the id comes from the lookup")]
    ConnIdField,
    /// A JSON field has a type this crate cannot represent (Airflow stores it untyped and fails later, for
    /// example in `get_uri`).
    #[error("the `{field}` field of the connection JSON must be {expected}")]
    FieldType {
        /// The field.
        field: JsonField,
        /// What the field must be.
        expected: &'static str,
    },
    /// The JSON `port` is not convertible with Python's `int()` (Airflow: "Expected integer value for
    /// `port`", or `TypeError`/`OverflowError`).
    #[error("the `port` field of the connection JSON is not an integer")]
    JsonPortNotInteger,
    /// The JSON `port` is an integer that does not fit in 64 bits (Airflow would accept it).
    #[error("the `port` field of the connection JSON does not fit in a 64-bit integer")]
    JsonPortTooLarge,
    /// `uri` combined with individual fields (Airflow: `AirflowException`, "You must create an object using
    /// the URI or individual values").
    #[error("the connection mixes `uri` with other fields")]
    UriMixedWithFields,
    /// Server dialect: the extra is not JSON (Airflow: "Encountered non-JSON in `extra` field").
    #[error("the connection extra is not valid JSON")]
    ExtraNotJson,
    /// Server dialect: the extra is JSON but not an object (Airflow: "does not parse as a dictionary").
    #[error("the connection extra is not a JSON object")]
    ExtraNotObject,
}

/// The URI-level problem behind [`ConnectionError::InvalidUri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriProblem {
    /// More than two `://` anywhere in the string (the query counts too).
    TooManySchemes,
    /// `@` or `:` appears before a nested `://` protocol.
    CredentialsBeforeNestedProtocol,
    /// Unbalanced `[`/`]` in the authority (Python: "Invalid IPv6 URL").
    UnbalancedBrackets,
    /// The bracketed host is neither an IPv6 address nor an IPvFuture literal.
    InvalidBracketedHost,
    /// The authority contains characters that NFKC normalisation turns into URL delimiters.
    NfkcDelimiter,
}

impl fmt::Display for UriProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooManySchemes => "more than two `://` separators",
            Self::CredentialsBeforeNestedProtocol => "`@` or `:` before the nested protocol of the host",
            Self::UnbalancedBrackets => "unbalanced brackets in the host",
            Self::InvalidBracketedHost => "the bracketed host is not a valid IPv6 address or IPvFuture literal",
            Self::NfkcDelimiter => "the authority contains characters that become delimiters under NFKC normalization",
        })
    }
}
