//! airflow-core's `Connection.__init__`, the constructor every server-side path ends in: the JSON form after
//! `Connection.from_json` has typed its fields, and `LocalFilesystemBackend`'s object and string forms.

use super::{Connection, Dialect, uri, validate_extra_server};
use crate::error::ConnectionError;

/// The keyword arguments of airflow-core 3.3.2's `Connection.__init__`, already typed by the caller (the
/// JSON form coerces `port` with `int()` and normalises `conn_type`; the local-files form keeps both as
/// written). `conn_id` and `team_name` are not kept on the connection and are not listed. No `Debug`: the
/// password, the extra and the URI are secrets.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CoreArguments {
    /// `conn_type`.
    pub conn_type: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `host`.
    pub host: Option<String>,
    /// `login`.
    pub login: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `schema`.
    pub schema: Option<String>,
    /// `port`.
    pub port: Option<i64>,
    /// `extra`, as a string (a non-string extra is `json.dumps`-ed by the caller, as core does).
    pub extra: Option<String>,
    /// `uri`.
    pub uri: Option<String>,
}

impl CoreArguments {
    /// `Connection(**arguments)` in airflow-core:
    /// - a truthy `uri` together with any other truthy field but `description` is an error; otherwise the
    ///   URI is parsed (by `uri_dialect`'s parser) and `description` kept;
    /// - without a truthy `uri`, every field is kept as given, except that the `password` setter ignores
    ///   falsy values and a truthy `extra` must be a JSON object (`_validate_extra`).
    ///
    /// ```
    /// use airflow_compat::{ConnectionError, Dialect, connection::CoreArguments};
    /// let args = CoreArguments { uri: Some("postgresql://u:p@h/db".into()), description: Some("d".into()), ..Default::default() };
    /// let c = args.construct(Dialect::Server).unwrap();
    /// assert_eq!((c.conn_type.as_deref(), c.description.as_deref()), (Some("postgres"), Some("d")));
    ///
    /// let args = CoreArguments { conn_type: Some("postgresql".into()), password: Some(String::new()), ..Default::default() };
    /// let c = args.construct(Dialect::Server).unwrap();
    /// assert_eq!((c.conn_type.as_deref(), c.password), (Some("postgresql"), None));
    ///
    /// let mixed = CoreArguments { uri: Some("x://h".into()), port: Some(1), ..Default::default() };
    /// assert_eq!(mixed.construct(Dialect::Server), Err(ConnectionError::UriMixedWithFields));
    /// ```
    pub fn construct(self, uri_dialect: Dialect) -> Result<Connection, ConnectionError> {
        let truthy = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if let Some(uri) = self.uri.filter(|u| !u.is_empty()) {
            if truthy(&self.conn_type)
                || truthy(&self.host)
                || truthy(&self.login)
                || truthy(&self.password)
                || truthy(&self.schema)
                || self.port.is_some_and(|p| p != 0)
                || truthy(&self.extra)
            {
                return Err(ConnectionError::UriMixedWithFields);
            }
            let mut connection = uri::parse_uri(&uri, uri_dialect)?;
            connection.description = self.description;
            return Ok(connection);
        }
        validate_extra_server(self.extra.as_deref())?;
        Ok(Connection {
            conn_type: self.conn_type,
            description: self.description,
            host: self.host,
            schema: self.schema,
            login: self.login,
            password: self.password.filter(|p| !p.is_empty()),
            port: self.port,
            extra: self.extra,
        })
    }
}
