//! Multi-document YAML manifests (`kubectl apply -f` style) holding Secrets and Namespaces.

use serde::Deserialize as _;
use serde_json::Value;

use crate::EmulatorError;

/// One object from a manifest.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Object {
    /// A Namespace, by name.
    Namespace(String),
    /// A Secret, as JSON (`data` base64 and/or `stringData`).
    Secret(Value),
}

/// Parses every document; empty documents are skipped and `List`s are flattened.
pub(crate) fn parse(yaml: &str) -> Result<Vec<Object>, EmulatorError> {
    let mut objects = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_yaml::Value::deserialize(document)
            .map_err(|e| EmulatorError::Manifest(format!("document {}: {e}", index + 1)))?;
        if value.is_null() {
            continue;
        }
        let json = serde_json::to_value(&value)
            .map_err(|e| EmulatorError::Manifest(format!("document {}: {e}", index + 1)))?;
        collect(json, index + 1, &mut objects)?;
    }
    Ok(objects)
}

fn collect(value: Value, document: usize, objects: &mut Vec<Object>) -> Result<(), EmulatorError> {
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    match kind.as_str() {
        "Secret" => objects.push(Object::Secret(value)),
        "Namespace" => {
            let name =
                value.pointer("/metadata/name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or_else(|| {
                    EmulatorError::Manifest(format!("document {document}: Namespace without metadata.name"))
                })?;
            objects.push(Object::Namespace(name.to_owned()));
        }
        "List" | "SecretList" | "NamespaceList" => {
            let items = match value.get("items") {
                Some(Value::Array(items)) => items.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(EmulatorError::Manifest(format!("document {document}: items is not a list")));
                }
            };
            let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
            for mut item in items {
                if let (Some(k), Value::Object(map)) = (item_kind, &mut item) {
                    map.entry("kind").or_insert_with(|| Value::from(k));
                }
                collect(item, document, objects)?;
            }
        }
        "" => {
            return Err(EmulatorError::Manifest(format!("document {document}: missing kind")));
        }
        other => {
            return Err(EmulatorError::Manifest(format!(
                "document {document}: unsupported kind {other:?} (only Secret and Namespace)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_secrets_namespaces_and_lists() {
        let yaml = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: airflow
---
apiVersion: v1
kind: Secret
metadata:
  name: airflow-conn-db
  labels:
    airflow.apache.org/connection-id: my_db
data:
  value: cG9zdGdyZXNxbDovL3VzZXI6cGFzc0Bob3N0OjU0MzIvZGI=
---
# an empty document
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: a}
  stringData: {value: x}
"#;
        let objects = parse(yaml).unwrap();
        assert_eq!(objects.len(), 3);
        assert_eq!(objects[0], Object::Namespace("airflow".into()));
        assert!(matches!(&objects[1], Object::Secret(v) if v["metadata"]["name"] == "airflow-conn-db"));
        assert!(matches!(&objects[2], Object::Secret(v) if v["stringData"]["value"] == "x"));
    }

    #[test]
    fn rejects_other_kinds_and_bad_yaml() {
        assert!(matches!(parse("kind: ConfigMap\n"), Err(EmulatorError::Manifest(_))));
        assert!(matches!(parse("a: [\n"), Err(EmulatorError::Manifest(_))));
        assert!(matches!(parse("metadata: {}\n"), Err(EmulatorError::Manifest(_))));
    }
}
