//! `meta/v1 Status` bodies, rendered exactly like the real kube-apiserver renders them.
//!
//! Field order and `omitempty` rules follow `apimachinery pkg/apis/meta/v1/types.go`: the struct
//! order below is the Go struct order, `metadata` is always `{}`, `details` is emitted whenever it
//! is present (an empty one serialises as `{}`), and every other empty field is omitted.

use serde::Serialize;

/// A `Status` object, as returned in error responses and by DELETE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Status {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: EmptyMeta,
    status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Box<Details>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) code: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct EmptyMeta {}

/// `StatusDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Details {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    uid: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    causes: Vec<Cause>,
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "is_zero_u32")]
    retry_after_seconds: u32,
}

/// `StatusCause`: the cause type is serialised under the key `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Cause {
    #[serde(skip_serializing_if = "String::is_empty")]
    reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    field: String,
}

fn is_zero(code: &u16) -> bool {
    *code == 0
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}

/// The kind of a field validation error (`apimachinery pkg/util/validation/field`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldErrorType {
    /// `FieldValueInvalid`: `Invalid value: "<v>": <detail>`.
    Invalid,
    /// `FieldValueRequired`: `Required value[: <detail>]`.
    Required,
    /// `FieldValueForbidden`: `Forbidden: <detail>`.
    Forbidden,
    /// `FieldValueTooLong`: `Too long: <detail>`.
    TooLong,
}

/// One `field.Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) kind: FieldErrorType,
    pub(crate) field: String,
    /// The bad value, already rendered the way Go renders it (`%q` for strings).
    pub(crate) value: Option<String>,
    pub(crate) detail: String,
}

impl FieldError {
    /// `field.Invalid(path, "<string value>", detail)`.
    pub(crate) fn invalid(field: &str, value: &str, detail: &str) -> FieldError {
        FieldError {
            kind: FieldErrorType::Invalid,
            field: field.to_owned(),
            value: Some(go_quote(value)),
            detail: detail.to_owned(),
        }
    }

    /// `field.Required(path, detail)`.
    pub(crate) fn required(field: &str, detail: &str) -> FieldError {
        FieldError { kind: FieldErrorType::Required, field: field.to_owned(), value: None, detail: detail.to_owned() }
    }

    /// `field.Forbidden(path, detail)`.
    pub(crate) fn forbidden(field: &str, detail: &str) -> FieldError {
        FieldError { kind: FieldErrorType::Forbidden, field: field.to_owned(), value: None, detail: detail.to_owned() }
    }

    /// `field.TooLong(path, value, max)`.
    pub(crate) fn too_long(field: &str, detail: &str) -> FieldError {
        FieldError { kind: FieldErrorType::TooLong, field: field.to_owned(), value: None, detail: detail.to_owned() }
    }

    fn cause_type(&self) -> &'static str {
        match self.kind {
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
        }
    }

    /// `Error.ErrorBody()`.
    pub(crate) fn body(&self) -> String {
        let mut body = match self.kind {
            FieldErrorType::Invalid => match &self.value {
                Some(value) => format!("Invalid value: {value}"),
                None => "Invalid value".to_owned(),
            },
            FieldErrorType::Required => "Required value".to_owned(),
            FieldErrorType::Forbidden => "Forbidden".to_owned(),
            FieldErrorType::TooLong => "Too long".to_owned(),
        };
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Go's `%q` for a string: double quotes, with `"` and `\` and control characters escaped.
pub(crate) fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Status {
    pub(crate) fn failure(code: u16, reason: &str, message: String, details: Option<Details>) -> Status {
        let details = details.map(Box::new);
        Status {
            kind: "Status",
            api_version: "v1",
            metadata: EmptyMeta {},
            status: "Failure",
            message,
            reason: reason.to_owned(),
            details,
            code,
        }
    }

    fn named(name: &str, kind: &str) -> Option<Details> {
        Some(Details { name: name.to_owned(), kind: kind.to_owned(), ..Details::default() })
    }

    /// 401 from the authentication filter.
    pub(crate) fn unauthorized() -> Status {
        Status::failure(401, "Unauthorized", "Unauthorized".to_owned(), None)
    }

    /// 403 from the authorization filter (`responsewriters/errors.go forbiddenMessage`).
    pub(crate) fn forbidden(
        user: &str,
        verb: &str,
        resource: &str,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> Status {
        let scope = match namespace {
            Some(ns) => format!("in the namespace {}", go_quote(ns)),
            None => "at the cluster scope".to_owned(),
        };
        let reason =
            format!("User {} cannot {verb} resource {} in API group \"\" {scope}", go_quote(user), go_quote(resource));
        let message = match name {
            Some(name) => format!("{resource} {} is forbidden: {reason}", go_quote(name)),
            None => format!("{resource} is forbidden: {reason}"),
        };
        Status::failure(403, "Forbidden", message, Status::named(name.unwrap_or(""), resource))
    }

    /// 404 for a named object.
    pub(crate) fn not_found(resource: &str, name: &str) -> Status {
        Status::failure(
            404,
            "NotFound",
            format!("{resource} {} not found", go_quote(name)),
            Status::named(name, resource),
        )
    }

    /// 404 for a URL no route serves.
    pub(crate) fn not_found_path() -> Status {
        Status::failure(
            404,
            "NotFound",
            "the server could not find the requested resource".to_owned(),
            Some(Details::default()),
        )
    }

    /// 405 for a known path with a method it does not serve.
    pub(crate) fn method_not_allowed() -> Status {
        Status::failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_owned(),
            Some(Details::default()),
        )
    }

    /// 409 on create of an existing name.
    pub(crate) fn already_exists(resource: &str, name: &str) -> Status {
        Status::failure(
            409,
            "AlreadyExists",
            format!("{resource} {} already exists", go_quote(name)),
            Status::named(name, resource),
        )
    }

    /// 409 for a stale `resourceVersion`.
    pub(crate) fn conflict(resource: &str, name: &str) -> Status {
        Status::failure(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} {}: the object has been modified; please apply your changes to the latest version and try again",
                go_quote(name)
            ),
            Status::named(name, resource),
        )
    }

    /// 400 (`NewBadRequest`).
    pub(crate) fn bad_request(message: impl Into<String>) -> Status {
        Status::failure(400, "BadRequest", message.into(), None)
    }

    /// 410 `Expired`.
    pub(crate) fn expired(message: impl Into<String>) -> Status {
        Status::failure(410, "Expired", message.into(), None)
    }

    /// 413 for a body over the server's limit.
    pub(crate) fn request_entity_too_large(limit: usize) -> Status {
        Status::failure(413, "RequestEntityTooLarge", format!("Request entity too large: limit is {limit}"), None)
    }

    /// 415 for a body the server cannot decode.
    pub(crate) fn unsupported_media_type(accepted: &str) -> Status {
        Status::failure(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {accepted}"),
            None,
        )
    }

    /// 422 (`NewInvalid`): `details.kind` is the Kind, one cause per field error.
    pub(crate) fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Status {
        let joined = match errors {
            [one] => one.to_string(),
            many => format!("[{}]", many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        };
        let qualified = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
        let causes = errors
            .iter()
            .map(|e| Cause { reason: e.cause_type().to_owned(), message: e.body(), field: e.field.clone() })
            .collect();
        Status::failure(
            422,
            "Invalid",
            format!("{qualified} {} is invalid: {joined}", go_quote(name)),
            Some(Details {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: kind.to_owned(),
                causes,
                ..Details::default()
            }),
        )
    }

    /// 422 from `NewGenericServerResponse` (patch application errors): no details.
    pub(crate) fn invalid_generic(message: &str) -> Status {
        Status::failure(422, "Invalid", message.to_owned(), None)
    }

    /// 500 (`NewInternalError`).
    pub(crate) fn internal_error(message: &str) -> Status {
        Status::failure(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
            Some(Details {
                causes: vec![Cause { reason: String::new(), message: message.to_owned(), field: String::new() }],
                ..Details::default()
            }),
        )
    }

    /// 503 (`NewServiceUnavailable`).
    pub(crate) fn service_unavailable(message: &str) -> Status {
        Status::failure(503, "ServiceUnavailable", message.to_owned(), None)
    }

    /// 504 (`NewTimeoutError`).
    pub(crate) fn timeout(message: &str, retry_after_seconds: u32) -> Status {
        Status::failure(
            504,
            "Timeout",
            format!("Timeout: {message}"),
            Some(Details { retry_after_seconds, ..Details::default() }),
        )
    }

    /// 429 as a Status (`NewTooManyRequests`).
    pub(crate) fn too_many_requests(message: &str, retry_after_seconds: u32) -> Status {
        Status::failure(
            429,
            "TooManyRequests",
            message.to_owned(),
            Some(Details { retry_after_seconds, ..Details::default() }),
        )
    }

    /// The Status a fault injection answers with for an arbitrary HTTP code.
    pub(crate) fn for_code(code: u16) -> Status {
        match code {
            400 => Status::bad_request("emulated fault"),
            401 => Status::unauthorized(),
            404 => Status::not_found_path(),
            405 => Status::method_not_allowed(),
            410 => Status::expired("emulated fault"),
            429 => Status::too_many_requests("emulated fault", 1),
            500 => Status::internal_error("emulated fault"),
            503 => Status::service_unavailable("emulated fault"),
            504 => Status::timeout("emulated fault", 0),
            other => Status::failure(other, "", "emulated fault".to_owned(), None),
        }
    }

    /// 200 for DELETE (`ReturnDeletedObject=false`): no `code`, no message.
    pub(crate) fn delete_success(resource: &str, name: &str, uid: &str) -> Status {
        Status {
            kind: "Status",
            api_version: "v1",
            metadata: EmptyMeta {},
            status: "Success",
            message: String::new(),
            reason: String::new(),
            details: Some(Box::new(Details {
                name: name.to_owned(),
                kind: resource.to_owned(),
                uid: uid.to_owned(),
                ..Details::default()
            })),
            code: 0,
        }
    }

    /// The HTTP status code to answer with (200 for a Success Status without a code).
    pub(crate) fn http_code(&self) -> u16 {
        if self.code == 0 { 200 } else { self.code }
    }

    /// `details.retryAfterSeconds`, which the server mirrors into a `Retry-After` header.
    pub(crate) fn retry_after(&self) -> Option<u32> {
        self.details.as_ref().map(|d| d.retry_after_seconds).filter(|s| *s > 0)
    }

    /// The JSON body.
    pub(crate) fn to_json(&self) -> String {
        // Serialising plain strings, integers and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_body_is_byte_exact() {
        assert_eq!(
            Status::unauthorized().to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
        );
    }

    #[test]
    fn forbidden_bodies_are_byte_exact() {
        assert_eq!(
            Status::forbidden("system:serviceaccount:ns1:reader", "list", "secrets", None, Some("ns1")).to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets is forbidden: User \"system:serviceaccount:ns1:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ns1\"","reason":"Forbidden","details":{"kind":"secrets"},"code":403}"#
        );
        assert_eq!(
            Status::forbidden("u", "get", "secrets", Some("db-pass"), Some("ns1")).to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \"db-pass\" is forbidden: User \"u\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns1\"","reason":"Forbidden","details":{"name":"db-pass","kind":"secrets"},"code":403}"#
        );
        assert_eq!(
            Status::forbidden("u", "list", "secrets", None, None).message,
            r#"secrets is forbidden: User "u" cannot list resource "secrets" in API group "" at the cluster scope"#
        );
    }

    #[test]
    fn not_found_bodies_are_byte_exact() {
        assert_eq!(
            Status::not_found("secrets", "db-pass").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \"db-pass\" not found","reason":"NotFound","details":{"name":"db-pass","kind":"secrets"},"code":404}"#
        );
        assert_eq!(
            Status::not_found_path().to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#
        );
        assert_eq!(
            Status::not_found("namespaces", "nope").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"namespaces"},"code":404}"#
        );
    }

    #[test]
    fn conflict_and_exists_bodies_are_byte_exact() {
        assert_eq!(
            Status::already_exists("secrets", "db-pass").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \"db-pass\" already exists","reason":"AlreadyExists","details":{"name":"db-pass","kind":"secrets"},"code":409}"#
        );
        assert_eq!(
            Status::conflict("secrets", "db-pass").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on secrets \"db-pass\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"db-pass","kind":"secrets"},"code":409}"#
        );
    }

    #[test]
    fn misc_bodies_are_byte_exact() {
        assert_eq!(
            Status::internal_error("etcdserver: request timed out").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: etcdserver: request timed out","reason":"InternalError","details":{"causes":[{"message":"etcdserver: request timed out"}]},"code":500}"#
        );
        assert_eq!(
            Status::delete_success("secrets", "db-pass", "f1bc6026-ce76-4fc2-a2f5-0ad9d1af6251").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"db-pass","kind":"secrets","uid":"f1bc6026-ce76-4fc2-a2f5-0ad9d1af6251"}}"#
        );
        assert_eq!(
            Status::unsupported_media_type("application/json, application/yaml, application/vnd.kubernetes.protobuf")
                .to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf","reason":"UnsupportedMediaType","code":415}"#
        );
        assert_eq!(
            Status::bad_request("unable to parse requirement: x").to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unable to parse requirement: x","reason":"BadRequest","code":400}"#
        );
        assert_eq!(Status::too_many_requests("m", 1).retry_after(), Some(1));
        assert_eq!(Status::delete_success("s", "n", "u").http_code(), 200);
    }

    #[test]
    fn invalid_body_follows_new_invalid() {
        let err = FieldError::invalid("metadata.labels", "bad value", "a valid label must be x");
        assert_eq!(
            Status::invalid("Secret", "", "db-pass", std::slice::from_ref(&err)).to_json(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Secret \"db-pass\" is invalid: metadata.labels: Invalid value: \"bad value\": a valid label must be x","reason":"Invalid","details":{"name":"db-pass","kind":"Secret","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"bad value\": a valid label must be x","field":"metadata.labels"}]},"code":422}"#
        );
        let two = Status::invalid(
            "Secret",
            "",
            "x",
            &[err, FieldError::required("metadata.name", "name or generateName is required")],
        );
        assert_eq!(
            two.message,
            r#"Secret "x" is invalid: [metadata.labels: Invalid value: "bad value": a valid label must be x, metadata.name: Required value: name or generateName is required]"#
        );
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("a\nb\u{1}"), r#""a\nb\x01""#);
        assert_eq!(go_quote("é"), "\"é\"");
    }
}
