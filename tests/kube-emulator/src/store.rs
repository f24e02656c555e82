//! The in-memory object store: namespaces and secrets, a global revision counter (the etcd
//! revision), server-managed fields, validation and the JSON shape the real server returns.

use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::selector::{dns1123_subdomain_errors, qualified_name_errors, validate_labels};
use crate::status::{FieldError, Status};

/// `corev1.MaxSecretSize`.
const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// How many Secret events the store keeps for watch resumption by default (the watch cache's
/// default capacity is of this order).
pub(crate) const DEFAULT_HISTORY_LIMIT: usize = 1000;

/// One write to a Secret, as the watch cache records it: the state before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// The revision of the write (the deletion revision for a delete).
    pub(crate) revision: u64,
    /// The object before the write (`None` for a create).
    pub(crate) old: Option<Secret>,
    /// The object after the write (`None` for a delete).
    pub(crate) new: Option<Secret>,
}

/// A stored Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Secret {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) uid: String,
    pub(crate) resource_version: u64,
    pub(crate) creation_timestamp: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) immutable: Option<bool>,
    /// Raw (decoded) bytes; base64-encoded on output.
    pub(crate) data: BTreeMap<String, Vec<u8>>,
    pub(crate) secret_type: String,
}

impl Secret {
    /// The JSON the real server returns, in Go struct field order.
    pub(crate) fn to_json(&self) -> Value {
        let mut metadata = Map::new();
        metadata.insert("name".into(), json!(self.name));
        metadata.insert("namespace".into(), json!(self.namespace));
        metadata.insert("uid".into(), json!(self.uid));
        metadata.insert("resourceVersion".into(), json!(self.resource_version.to_string()));
        metadata.insert("creationTimestamp".into(), json!(self.creation_timestamp));
        if !self.labels.is_empty() {
            metadata.insert("labels".into(), json!(self.labels));
        }
        if !self.annotations.is_empty() {
            metadata.insert("annotations".into(), json!(self.annotations));
        }
        let mut object = Map::new();
        object.insert("kind".into(), json!("Secret"));
        object.insert("apiVersion".into(), json!("v1"));
        object.insert("metadata".into(), Value::Object(metadata));
        if let Some(immutable) = self.immutable {
            object.insert("immutable".into(), json!(immutable));
        }
        if !self.data.is_empty() {
            let data: Map<String, Value> =
                self.data.iter().map(|(k, v)| (k.clone(), json!(STANDARD.encode(v)))).collect();
            object.insert("data".into(), Value::Object(data));
        }
        object.insert("type".into(), json!(self.secret_type));
        Value::Object(object)
    }
}

/// A stored Namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Namespace {
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) resource_version: u64,
    pub(crate) creation_timestamp: String,
}

impl Namespace {
    /// The JSON the real server returns for an active namespace.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": self.name,
                "uid": self.uid,
                "resourceVersion": self.resource_version.to_string(),
                "creationTimestamp": self.creation_timestamp,
                "labels": {"kubernetes.io/metadata.name": self.name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })
    }
}

/// A Secret as sent by a client, before the server fills in its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SecretInput {
    pub(crate) name: String,
    pub(crate) generate_name: String,
    pub(crate) namespace: String,
    pub(crate) resource_version: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) immutable: Option<bool>,
    pub(crate) data: BTreeMap<String, Vec<u8>>,
    pub(crate) string_data: BTreeMap<String, String>,
    pub(crate) secret_type: String,
}

impl SecretInput {
    /// Folds `stringData` into `data` (stringData wins) and defaults `type` to `Opaque`.
    fn normalize(mut self) -> SecretInput {
        for (key, value) in std::mem::take(&mut self.string_data) {
            self.data.insert(key, value.into_bytes());
        }
        if self.secret_type.is_empty() {
            self.secret_type = "Opaque".to_owned();
        }
        self
    }
}

fn cannot_handle(detail: &str) -> Status {
    Status::bad_request(format!("Secret in version \"v1\" cannot be handled as a Secret: {detail}"))
}

fn string_field(object: &Map<String, Value>, key: &str, go_path: &str) -> Result<String, Status> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(cannot_handle(&format!(
            "json: cannot unmarshal {} into Go struct field {go_path} of type string",
            json_type(other)
        ))),
    }
}

fn string_map(object: &Map<String, Value>, key: &str, go_path: &str) -> Result<BTreeMap<String, String>, Status> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(cannot_handle(&format!(
                    "json: cannot unmarshal {} into Go struct field {go_path} of type string",
                    json_type(other)
                ))),
            })
            .collect(),
        Some(other) => Err(cannot_handle(&format!(
            "json: cannot unmarshal {} into Go struct field {go_path} of type map[string]string",
            json_type(other)
        ))),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes a JSON Secret body the way the apiserver's JSON serializer would (400 on type errors).
pub(crate) fn decode_secret_json(value: &Value) -> Result<SecretInput, Status> {
    let Value::Object(object) = value else {
        return Err(cannot_handle(&format!(
            "json: cannot unmarshal {} into Go value of type v1.Secret",
            json_type(value)
        )));
    };
    let kind = string_field(object, "kind", "Secret.kind")?;
    if !kind.is_empty() && kind != "Secret" {
        return Err(Status::bad_request(format!(
            "the object provided is unrecognized (must be of type Secret): kind {kind:?} is not Secret"
        )));
    }
    let api_version = string_field(object, "apiVersion", "Secret.apiVersion")?;
    if !api_version.is_empty() && api_version != "v1" {
        return Err(Status::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version (v1)"
        )));
    }
    let empty = Map::new();
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(cannot_handle(&format!(
                "json: cannot unmarshal {} into Go struct field Secret.metadata of type v1.ObjectMeta",
                json_type(other)
            )));
        }
    };
    let mut data = BTreeMap::new();
    for (key, encoded) in string_map(object, "data", "Secret.data")? {
        let bytes = STANDARD
            .decode(encoded.replace(['\r', '\n'], ""))
            .map_err(|e| cannot_handle(&format!("illegal base64 data: {e}")))?;
        data.insert(key, bytes);
    }
    let immutable = match object.get("immutable") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(cannot_handle(&format!(
                "json: cannot unmarshal {} into Go struct field Secret.immutable of type bool",
                json_type(other)
            )));
        }
    };
    Ok(SecretInput {
        name: string_field(metadata, "name", "ObjectMeta.metadata.name")?,
        generate_name: string_field(metadata, "generateName", "ObjectMeta.metadata.generateName")?,
        namespace: string_field(metadata, "namespace", "ObjectMeta.metadata.namespace")?,
        resource_version: string_field(metadata, "resourceVersion", "ObjectMeta.metadata.resourceVersion")?,
        labels: string_map(metadata, "labels", "ObjectMeta.metadata.labels")?,
        annotations: string_map(metadata, "annotations", "ObjectMeta.metadata.annotations")?,
        immutable,
        data,
        string_data: string_map(object, "stringData", "Secret.stringData")?,
        secret_type: string_field(object, "type", "Secret.type")?,
    })
}

/// `IsConfigMapKey`.
fn config_map_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    if key.is_empty() || !key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_')) {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_owned());
    }
    if key == "." {
        errs.push("must not be '.'".to_owned());
    } else if key == ".." {
        errs.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_owned());
    }
    errs
}

/// `ValidateSecret` (the parts that matter for our clients).
fn validate_secret(input: &SecretInput) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if input.name.is_empty() {
        errs.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else {
        for msg in dns1123_subdomain_errors(&input.name) {
            errs.push(FieldError::invalid("metadata.name", &input.name, &msg));
        }
    }
    errs.extend(validate_labels(&input.labels, "metadata.labels"));
    for key in input.annotations.keys() {
        for msg in qualified_name_errors(&key.to_lowercase()) {
            errs.push(FieldError::invalid("metadata.annotations", key, &msg));
        }
    }
    let mut total = 0;
    for (key, value) in &input.data {
        for msg in config_map_key_errors(key) {
            errs.push(FieldError::invalid(&format!("data[{key}]"), key, &msg));
        }
        total += value.len();
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("data", &format!("must have at most {MAX_SECRET_SIZE} bytes")));
    }
    let require = |errs: &mut Vec<FieldError>, key: &str| {
        if !input.data.contains_key(key) {
            errs.push(FieldError::required(&format!("data[{key}]"), ""));
        }
    };
    match input.secret_type.as_str() {
        "kubernetes.io/tls" => {
            require(&mut errs, "tls.crt");
            require(&mut errs, "tls.key");
        }
        "kubernetes.io/ssh-auth" => require(&mut errs, "ssh-privatekey"),
        "kubernetes.io/basic-auth" if !input.data.contains_key("username") && !input.data.contains_key("password") => {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/service-account-token"
            if !input.annotations.contains_key("kubernetes.io/service-account.name") =>
        {
            errs.push(FieldError::required("metadata.annotations[kubernetes.io/service-account.name]", ""));
        }
        _ => {}
    }
    errs
}

/// How a PATCH body is to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// RFC 7386.
    Merge,
    /// Strategic merge patch; for Secret this is a merge patch plus a few `$` directives.
    Strategic,
    /// RFC 6902 JSON patch.
    Json,
}

/// Splits an RFC 6901 JSON pointer into unescaped tokens.
fn pointer_tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("JSON pointer must be empty or start with a \"/\": {pointer:?}"));
    };
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

/// The parent container of `tokens` and the last token.
fn parent_mut<'a>(doc: &'a mut Value, tokens: &'a [String]) -> Result<(&'a mut Value, &'a str), String> {
    let Some((last, parents)) = tokens.split_last() else {
        return Err("cannot operate on the document root".to_owned());
    };
    let mut current = doc;
    for token in parents {
        current = match current {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("doc is missing path: {token}"))?;
    }
    Ok((current, last.as_str()))
}

fn pointer_remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = pointer_tokens(path)?;
    let (parent, last) = parent_mut(doc, &tokens)?;
    match parent {
        Value::Object(map) => map.shift_remove(last),
        Value::Array(items) => last.parse::<usize>().ok().filter(|i| *i < items.len()).map(|i| items.remove(i)),
        _ => None,
    }
    .ok_or_else(|| format!("unable to remove nonexistent key: {last}: missing value"))
}

fn pointer_add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = pointer_tokens(path)?;
    if tokens.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_mut(doc, &tokens)?;
    match parent {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" { Some(items.len()) } else { last.parse::<usize>().ok() };
            match index {
                Some(i) if i <= items.len() => {
                    items.insert(i, value);
                    Ok(())
                }
                _ => Err(format!("add operation does not apply: doc is missing path: {path}")),
            }
        }
        _ => Err(format!("add operation does not apply: doc is missing path: {path}")),
    }
}

/// RFC 6902: `add`, `remove`, `replace`, `move`, `copy` and `test`.
pub(crate) fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Array(operations) = patch else {
        return Err("json: cannot unmarshal object into Go value of type jsonpatch.Patch".to_owned());
    };
    for operation in operations {
        let field = |name: &str| operation.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let path = field("path");
        let value = || operation.get("value").cloned().ok_or_else(|| format!("missing value for {path}"));
        match field("op").as_str() {
            "add" => pointer_add(doc, &path, value()?)?,
            "remove" => {
                pointer_remove(doc, &path)?;
            }
            "replace" => {
                pointer_remove(doc, &path)
                    .map_err(|_| format!("replace operation does not apply: doc is missing key: {path}"))?;
                pointer_add(doc, &path, value()?)?;
            }
            "move" => {
                let moved = pointer_remove(doc, &field("from"))?;
                pointer_add(doc, &path, moved)?;
            }
            "copy" => {
                let copied = doc.pointer(&field("from")).cloned().ok_or_else(|| {
                    format!("copy operation does not apply: doc is missing from path: {}", field("from"))
                })?;
                pointer_add(doc, &path, copied)?;
            }
            "test" => {
                if doc.pointer(&path) != Some(&value()?) {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(())
}

/// RFC 7386 JSON merge patch; `strategic` also honours `$patch: replace|delete` on maps and drops
/// the other `$` directives.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value, strategic: bool) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if strategic {
        match patch_map.get("$patch").and_then(Value::as_str) {
            Some("delete") => {
                *target = Value::Null;
                return;
            }
            Some("replace") => {
                let mut replaced = patch.clone();
                strip_directives(&mut replaced);
                *target = replaced;
                return;
            }
            _ => {}
        }
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if strategic && key.starts_with('$') {
                continue;
            }
            if value.is_null() {
                target_map.remove(key);
            } else {
                let entry = target_map.entry(key.clone()).or_insert(Value::Null);
                merge_patch(entry, value, strategic);
                if entry.is_null() {
                    target_map.remove(key);
                }
            }
        }
    }
}

fn strip_directives(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|k, _| !k.starts_with('$'));
        for v in map.values_mut() {
            strip_directives(v);
        }
    }
}

/// A small random number generator (splitmix64) seeded from the OS.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn from_os() -> Rng {
        let mut seed = [0u8; 8];
        let from_urandom =
            std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut seed));
        let seed = match from_urandom {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => {
                use std::hash::{BuildHasher, Hasher};
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default());
                h.finish()
            }
        };
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random (version 4) UUID.
    pub(crate) fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
    }

    /// `utilrand.String(5)` for generateName.
    fn suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5)
            .map(|_| {
                let index = (self.next_u64() % ALPHABET.len() as u64) as usize;
                char::from(ALPHABET.get(index).copied().unwrap_or(b'x'))
            })
            .collect()
    }
}

/// RFC 3339 UTC timestamp with second precision, like `metav1.Time`.
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    format_rfc3339(secs)
}

fn format_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem / 60) % 60, rem % 60)
}

/// Secrets by (namespace, name).
type SecretMap = BTreeMap<(String, String), Secret>;

/// Namespaces, secrets and the revision counter.
#[derive(Debug)]
pub(crate) struct Store {
    namespaces: BTreeMap<String, Namespace>,
    secrets: SecretMap,
    revision: u64,
    pub(crate) rng: Rng,
    /// Secret writes with a revision above `history_start`, oldest first.
    history: VecDeque<Change>,
    /// Every Secret write with a revision above this one is in `history`.
    history_start: u64,
    history_limit: usize,
    /// Publishes the revision after every Secret write, to wake the watches.
    changes: tokio::sync::watch::Sender<u64>,
    /// While set, lists with `resourceVersion=0` are answered from this snapshot (revision, secrets): the
    /// API server's watch cache lagging behind etcd.
    stale: Option<(u64, SecretMap)>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// An empty store; the first write gets resourceVersion 101 as in the recordings.
    pub(crate) fn new() -> Store {
        Store {
            namespaces: BTreeMap::new(),
            secrets: BTreeMap::new(),
            revision: 100,
            rng: Rng::from_os(),
            history: VecDeque::new(),
            history_start: 100,
            history_limit: DEFAULT_HISTORY_LIMIT,
            changes: tokio::sync::watch::Sender::new(100),
            stale: None,
        }
    }

    /// From now on, `resourceVersion=0` lists see the Secrets as they are now, until [`Store::thaw_cache`].
    pub(crate) fn freeze_cache(&mut self) {
        self.stale = Some((self.revision, self.secrets.clone()));
    }

    /// `resourceVersion=0` lists see the current Secrets again.
    pub(crate) fn thaw_cache(&mut self) {
        self.stale = None;
    }

    /// The revision and Secrets a `resourceVersion=0` list is answered from: the frozen snapshot if any.
    pub(crate) fn cached_secrets<'a>(
        &'a self,
        namespace: Option<&'a str>,
    ) -> (u64, Box<dyn Iterator<Item = &'a Secret> + 'a>) {
        match &self.stale {
            Some((revision, secrets)) => {
                (*revision, Box::new(secrets.values().filter(move |s| namespace.is_none_or(|ns| s.namespace == ns))))
            }
            None => (self.revision, Box::new(self.secrets(namespace))),
        }
    }

    /// Records a Secret write at the current revision and wakes the watches.
    fn record(&mut self, old: Option<Secret>, new: Option<Secret>) {
        self.history.push_back(Change { revision: self.revision, old, new });
        self.trim_history();
        self.changes.send_replace(self.revision);
    }

    fn trim_history(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.history_start = dropped.revision;
            }
        }
    }

    /// Forgets every recorded event, as an etcd compaction would: watches from any revision
    /// older than the current one then get `410 Expired`.
    pub(crate) fn compact_history(&mut self) {
        self.history.clear();
        self.history_start = self.revision;
    }

    /// Keeps at most `limit` events (older ones are compacted away).
    pub(crate) fn set_history_limit(&mut self, limit: usize) {
        self.history_limit = limit;
        self.trim_history();
    }

    /// The oldest revision a watch may start from: every Secret write after it is recorded.
    pub(crate) fn history_start(&self) -> u64 {
        self.history_start
    }

    /// The recorded Secret writes with a revision above `after` (`None` when some were
    /// compacted away).
    pub(crate) fn changes_since(&self, after: u64) -> Option<Vec<Change>> {
        if after < self.history_start {
            return None;
        }
        Some(self.history.iter().filter(|c| c.revision > after).cloned().collect())
    }

    /// A receiver woken after every Secret write.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The current revision (the list resourceVersion).
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    /// Creates a namespace if missing; returns whether it was created.
    pub(crate) fn ensure_namespace(&mut self, name: &str) -> bool {
        if self.namespaces.contains_key(name) {
            return false;
        }
        self.revision += 1;
        let namespace = Namespace {
            name: name.to_owned(),
            uid: self.rng.uuid(),
            resource_version: self.revision,
            creation_timestamp: now_rfc3339(),
        };
        self.namespaces.insert(name.to_owned(), namespace);
        true
    }

    /// A namespace by name.
    pub(crate) fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// All namespaces, by name.
    pub(crate) fn namespaces(&self) -> impl Iterator<Item = &Namespace> {
        self.namespaces.values()
    }

    /// A secret by namespace and name.
    pub(crate) fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        self.secrets.get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Secrets ordered by namespace, then name; all namespaces when `namespace` is `None`.
    pub(crate) fn secrets<'a>(&'a self, namespace: Option<&'a str>) -> impl Iterator<Item = &'a Secret> + 'a {
        self.secrets.values().filter(move |s| namespace.is_none_or(|ns| s.namespace == ns))
    }

    /// POST: validates, assigns server fields, stores (unless `dry_run`).
    pub(crate) fn create_secret(
        &mut self,
        namespace: &str,
        input: SecretInput,
        dry_run: bool,
    ) -> Result<Secret, Status> {
        if !input.namespace.is_empty() && input.namespace != namespace {
            return Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let mut input = input.normalize();
        if input.name.is_empty() && !input.generate_name.is_empty() {
            input.name = format!("{}{}", input.generate_name, self.rng.suffix());
        }
        if !self.namespaces.contains_key(namespace) {
            return Err(Status::not_found("namespaces", namespace));
        }
        let errors = validate_secret(&input);
        if !errors.is_empty() {
            return Err(Status::invalid("Secret", "", &input.name, &errors));
        }
        if !input.resource_version.is_empty() {
            return Err(Status::internal_error("resourceVersion should not be set on objects to be created"));
        }
        let key = (namespace.to_owned(), input.name.clone());
        if self.secrets.contains_key(&key) {
            return Err(Status::already_exists("secrets", &input.name));
        }
        let secret = Secret {
            name: input.name,
            namespace: namespace.to_owned(),
            uid: self.rng.uuid(),
            resource_version: self.revision + 1,
            creation_timestamp: now_rfc3339(),
            labels: input.labels,
            annotations: input.annotations,
            immutable: input.immutable,
            data: input.data,
            secret_type: input.secret_type,
        };
        if !dry_run {
            self.revision += 1;
            self.secrets.insert(key, secret.clone());
            self.record(None, Some(secret.clone()));
        }
        Ok(secret)
    }

    /// PUT (and the tail of PATCH): name check, RV precondition, immutability, validation.
    pub(crate) fn update_secret(
        &mut self,
        namespace: &str,
        name: &str,
        input: SecretInput,
        dry_run: bool,
    ) -> Result<Secret, Status> {
        let key = (namespace.to_owned(), name.to_owned());
        let Some(old) = self.secrets.get(&key) else {
            return Err(Status::not_found("secrets", name));
        };
        if !input.namespace.is_empty() && input.namespace != namespace {
            return Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if input.name != name {
            return Err(Status::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                input.name
            )));
        }
        if !input.resource_version.is_empty() && input.resource_version != old.resource_version.to_string() {
            return Err(Status::conflict("secrets", name));
        }
        let input = input.normalize();
        let mut errors = validate_secret(&input);
        if input.secret_type != old.secret_type {
            errors.push(FieldError::invalid("type", &input.secret_type, "field is immutable"));
        }
        if old.immutable == Some(true) {
            if input.data != old.data {
                errors.push(FieldError::forbidden("data", "field is immutable when `immutable` is set"));
            }
            if input.immutable != Some(true) {
                errors.push(FieldError::forbidden("immutable", "field is immutable when `immutable` is set"));
            }
        }
        if !errors.is_empty() {
            return Err(Status::invalid("Secret", "", name, &errors));
        }
        let mut updated = Secret {
            labels: input.labels,
            annotations: input.annotations,
            immutable: input.immutable,
            data: input.data,
            secret_type: input.secret_type,
            ..old.clone()
        };
        if &updated == old {
            return Ok(updated);
        }
        updated.resource_version = self.revision + 1;
        if !dry_run {
            self.revision += 1;
            let old = self.secrets.insert(key, updated.clone());
            self.record(old, Some(updated.clone()));
        }
        Ok(updated)
    }

    /// PATCH: applies the patch to the stored JSON, then updates.
    pub(crate) fn patch_secret(
        &mut self,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        dry_run: bool,
    ) -> Result<Secret, Status> {
        let Some(old) = self.secret(namespace, name) else {
            return Err(Status::not_found("secrets", name));
        };
        let mut document = old.to_json();
        if patch_type == PatchType::Json {
            json_patch(&mut document, patch).map_err(|message| {
                Status::invalid_generic(&format!(
                    "the server rejected our request due to an error in our request: {message}"
                ))
            })?;
        } else {
            if !patch.is_object() {
                return Err(Status::bad_request("error decoding patch: json: cannot unmarshal into a map"));
            }
            merge_patch(&mut document, patch, patch_type == PatchType::Strategic);
        }
        let input = decode_secret_json(&document)?;
        self.update_secret(namespace, name, input, dry_run)
    }

    /// DELETE: returns the Success Status.
    pub(crate) fn delete_secret(&mut self, namespace: &str, name: &str, dry_run: bool) -> Result<Status, Status> {
        let key = (namespace.to_owned(), name.to_owned());
        let Some(old) = self.secrets.get(&key) else {
            return Err(Status::not_found("secrets", name));
        };
        let status = Status::delete_success("secrets", name, &old.uid);
        if !dry_run {
            self.revision += 1;
            let old = self.secrets.remove(&key);
            self.record(old, None);
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut store = Store::new();
        store.ensure_namespace("ns1");
        store
    }

    fn create(store: &mut Store, body: Value) -> Result<Secret, Status> {
        let input = decode_secret_json(&body)?;
        store.create_secret("ns1", input, false)
    }

    #[test]
    fn string_data_is_folded_into_data_and_never_returned() {
        let mut store = store();
        let secret = create(
            &mut store,
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"labels":{"airflow-conn":"rust"},"name":"from-rust"},"stringData":{"value":"hello"},"data":{"other":"eA=="}}),
        )
        .unwrap();
        let out = secret.to_json();
        assert_eq!(out["data"], json!({"other":"eA==","value":"aGVsbG8="}));
        assert!(out.get("stringData").is_none());
        assert_eq!(out["type"], "Opaque");
        assert_eq!(out["metadata"]["resourceVersion"], "102");
        let text = serde_json::to_string(&out).unwrap();
        assert!(
            text.starts_with(
                r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"from-rust","namespace":"ns1","uid":""#
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                r#""labels":{"airflow-conn":"rust"}},"data":{"other":"eA==","value":"aGVsbG8="},"type":"Opaque"}"#
            ),
            "{text}"
        );
    }

    #[test]
    fn string_data_wins_on_key_clash() {
        let mut store = store();
        let secret =
            create(&mut store, json!({"metadata":{"name":"a"},"data":{"value":"eA=="},"stringData":{"value":"y"}}))
                .unwrap();
        assert_eq!(secret.data["value"], b"y");
    }

    #[test]
    fn kubectl_131_body_is_accepted() {
        let mut store = store();
        let secret = create(
            &mut store,
            json!({"kind":"Secret","apiVersion":"v1","metadata":{"name":"d-31","namespace":"ns1","creationTimestamp":null},"data":{"value":"eA=="}}),
        )
        .unwrap();
        assert_eq!(secret.data["value"], b"x");
    }

    #[test]
    fn create_errors() {
        let mut store = store();
        create(&mut store, json!({"metadata":{"name":"a"}})).unwrap();
        assert_eq!(
            create(&mut store, json!({"metadata":{"name":"a"}})).unwrap_err(),
            Status::already_exists("secrets", "a")
        );
        let input = decode_secret_json(&json!({"metadata":{"name":"a"}})).unwrap();
        assert_eq!(store.create_secret("nope", input, false).unwrap_err(), Status::not_found("namespaces", "nope"));
        let invalid = create(&mut store, json!({"metadata":{"name":"Bad_Name"}})).unwrap_err();
        assert_eq!(invalid.code, 422);
        assert!(invalid.message.starts_with(
            "Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        ));
        let missing = create(&mut store, json!({"metadata":{}})).unwrap_err();
        assert_eq!(
            missing.message,
            "Secret \"\" is invalid: metadata.name: Required value: name or generateName is required"
        );
        let bad_b64 = create(&mut store, json!({"metadata":{"name":"b"},"data":{"v":"not base64!"}})).unwrap_err();
        assert_eq!(bad_b64.code, 400);
        let label = create(&mut store, json!({"metadata":{"name":"c","labels":{"k":"bad value"}}})).unwrap_err();
        assert_eq!(label.code, 422);
        let tls = create(&mut store, json!({"metadata":{"name":"d"},"type":"kubernetes.io/tls"})).unwrap_err();
        assert_eq!(
            tls.message,
            "Secret \"d\" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value]"
        );
        assert_eq!(create(&mut store, json!([1])).unwrap_err().code, 400);
    }

    #[test]
    fn merge_patch_adds_and_removes_labels() {
        let mut store = store();
        create(&mut store, json!({"metadata":{"name":"a"},"stringData":{"value":"v"}})).unwrap();
        let patched = store
            .patch_secret(
                "ns1",
                "a",
                PatchType::Merge,
                &json!({"metadata":{"labels":{"airflow.apache.org/connection-id":"smtp_default"}}}),
                false,
            )
            .unwrap();
        assert_eq!(patched.labels["airflow.apache.org/connection-id"], "smtp_default");
        assert_eq!(patched.resource_version, 103);
        let unchanged = store
            .patch_secret(
                "ns1",
                "a",
                PatchType::Strategic,
                &json!({"metadata":{"labels":{"airflow.apache.org/connection-id":"smtp_default"}}}),
                false,
            )
            .unwrap();
        assert_eq!(unchanged.resource_version, 103, "a no-op patch keeps the RV");
        let removed = store
            .patch_secret(
                "ns1",
                "a",
                PatchType::Merge,
                &json!({"metadata":{"labels":{"airflow.apache.org/connection-id":null}}}),
                false,
            )
            .unwrap();
        assert!(removed.labels.is_empty());
        assert!(removed.to_json()["metadata"].get("labels").is_none());
        assert_eq!(
            store.patch_secret("ns1", "zz", PatchType::Merge, &json!({}), false).unwrap_err(),
            Status::not_found("secrets", "zz")
        );
    }

    #[test]
    fn json_patch_operations() {
        let mut store = store();
        create(&mut store, json!({"metadata":{"name":"a","labels":{"x":"1"}},"stringData":{"v":"1"}})).unwrap();
        let patch = json!([
            {"op":"test","path":"/metadata/labels/x","value":"1"},
            {"op":"add","path":"/metadata/labels/airflow.apache.org~1connection-id","value":"c"},
            {"op":"replace","path":"/data/v","value":"Mg=="},
            {"op":"copy","from":"/data/v","path":"/data/w"},
            {"op":"move","from":"/metadata/labels/x","path":"/metadata/labels/y"},
            {"op":"remove","path":"/data/w"}
        ]);
        let patched = store.patch_secret("ns1", "a", PatchType::Json, &patch, false).unwrap();
        assert_eq!(
            patched.labels,
            BTreeMap::from([
                ("airflow.apache.org/connection-id".to_owned(), "c".to_owned()),
                ("y".to_owned(), "1".to_owned())
            ])
        );
        assert_eq!(patched.data, BTreeMap::from([("v".to_owned(), b"2".to_vec())]));
        let failed = store
            .patch_secret("ns1", "a", PatchType::Json, &json!([{"op":"test","path":"/type","value":"x"}]), false)
            .unwrap_err();
        assert_eq!(failed.code, 422);
        let missing = store
            .patch_secret("ns1", "a", PatchType::Json, &json!([{"op":"remove","path":"/nope"}]), false)
            .unwrap_err();
        assert_eq!(missing.code, 422);
    }

    #[test]
    fn update_checks_resource_version_and_immutability() {
        let mut store = store();
        create(&mut store, json!({"metadata":{"name":"a"},"immutable":true,"stringData":{"v":"1"}})).unwrap();
        let stale = decode_secret_json(
            &json!({"metadata":{"name":"a","resourceVersion":"1"},"immutable":true,"stringData":{"v":"1"}}),
        )
        .unwrap();
        assert_eq!(store.update_secret("ns1", "a", stale, false).unwrap_err(), Status::conflict("secrets", "a"));
        let change =
            decode_secret_json(&json!({"metadata":{"name":"a"},"immutable":true,"stringData":{"v":"2"}})).unwrap();
        let err = store.update_secret("ns1", "a", change, false).unwrap_err();
        assert_eq!(err.message, "Secret \"a\" is invalid: data: Forbidden: field is immutable when `immutable` is set");
    }

    #[test]
    fn delete_returns_success_status() {
        let mut store = store();
        let secret = create(&mut store, json!({"metadata":{"name":"a"}})).unwrap();
        let status = store.delete_secret("ns1", "a", false).unwrap();
        assert_eq!(status, Status::delete_success("secrets", "a", &secret.uid));
        assert!(store.secret("ns1", "a").is_none());
        assert_eq!(store.delete_secret("ns1", "a", false).unwrap_err().code, 404);
    }

    #[test]
    fn history_records_writes_and_compacts() {
        let mut store = store();
        let start = store.revision();
        create(&mut store, json!({"metadata":{"name":"a"}})).unwrap();
        store.patch_secret("ns1", "a", PatchType::Merge, &json!({"stringData":{"v":"1"}}), false).unwrap();
        store.patch_secret("ns1", "a", PatchType::Merge, &json!({"stringData":{"v":"1"}}), false).unwrap();
        create(&mut store, json!({"metadata":{"name":"dry"}})).map(|_| ()).unwrap();
        store.delete_secret("ns1", "dry", true).unwrap();
        store.delete_secret("ns1", "a", false).unwrap();
        let changes = store.changes_since(start).unwrap();
        let shape: Vec<(bool, bool)> = changes.iter().map(|c| (c.old.is_some(), c.new.is_some())).collect();
        assert_eq!(
            shape,
            [(false, true), (true, true), (false, true), (true, false)],
            "no-op and dry-run writes are not events"
        );
        assert_eq!(changes.last().unwrap().revision, store.revision());
        assert_eq!(store.changes_since(store.revision()).unwrap(), []);
        store.set_history_limit(2);
        assert!(store.changes_since(start).is_none(), "trimmed");
        assert_eq!(store.changes_since(store.revision() - 2).unwrap().len(), 2);
        store.compact_history();
        assert!(store.changes_since(store.revision() - 1).is_none());
        assert_eq!(store.history_start(), store.revision());
    }

    #[test]
    fn timestamps_and_uuids_are_well_formed() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_448_345), "2026-11-23T15:39:05Z");
        let uuid = Rng::from_os().uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
    }
}
