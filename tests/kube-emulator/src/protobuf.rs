//! Decoding the Protobuf body `kubectl` ≥ 1.32 sends for `create secret generic`.
//!
//! The body is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` message
//! (`apimachinery pkg/runtime/generated.proto`) whose `raw` field holds a
//! `k8s.io.api.core.v1.Secret` (`kubernetes/api core/v1/generated.proto`). gogo-proto writes
//! empty optional fields, so `""` and `0` mean unset. Unknown fields are skipped.

use std::collections::BTreeMap;

use crate::store::SecretInput;

const MAGIC: &[u8] = b"k8s\0";

/// A protobuf field value.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates over `(field number, value)` pairs of one message.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8]) -> Fields<'a> {
        Fields { buf }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.buf.split_first().ok_or_else(|| "unexpected EOF in varint".to_owned())?;
            self.buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint overflow".to_owned())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < len {
            return Err("unexpected EOF".to_owned());
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Value::Fixed
            }
            other => return Err(format!("proto: illegal wireType {other}")),
        };
        Ok(Some((number, value)))
    }
}

fn string(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "proto: invalid UTF-8 string".to_owned())
}

/// A `map<string, X>` entry: `{1: key, 2: value}`.
fn map_entry(bytes: &[u8]) -> Result<(String, &[u8]), String> {
    let mut key = String::new();
    let mut value: &[u8] = &[];
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, Value::Bytes(b)) => key = string(b)?,
            (2, Value::Bytes(b)) => value = b,
            _ => {}
        }
    }
    Ok((key, value))
}

fn object_meta(bytes: &[u8], input: &mut SecretInput) -> Result<(), String> {
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        let Value::Bytes(b) = field else { continue };
        match number {
            1 => input.name = string(b)?,
            2 => input.generate_name = string(b)?,
            3 => input.namespace = string(b)?,
            6 => input.resource_version = string(b)?,
            11 => {
                let (k, v) = map_entry(b)?;
                input.labels.insert(k, string(v)?);
            }
            12 => {
                let (k, v) = map_entry(b)?;
                input.annotations.insert(k, string(v)?);
            }
            _ => {}
        }
    }
    Ok(())
}

fn secret(bytes: &[u8]) -> Result<SecretInput, String> {
    let mut input = SecretInput::default();
    let mut data = BTreeMap::new();
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, Value::Bytes(b)) => object_meta(b, &mut input)?,
            (2, Value::Bytes(b)) => {
                let (k, v) = map_entry(b)?;
                data.insert(k, v.to_vec());
            }
            (3, Value::Bytes(b)) => input.secret_type = string(b)?,
            (4, Value::Bytes(b)) => {
                let (k, v) = map_entry(b)?;
                input.string_data.insert(k, string(v)?);
            }
            (5, Value::Varint(v)) => input.immutable = Some(v != 0),
            _ => {}
        }
    }
    input.data = data;
    Ok(input)
}

/// Decodes a `k8s\0`-framed Secret. The error is the decoder's message.
pub(crate) fn decode_secret(body: &[u8]) -> Result<SecretInput, String> {
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]".to_owned());
    };
    let mut kind = String::new();
    let mut api_version = String::new();
    let mut raw: &[u8] = &[];
    let mut content_encoding = String::new();
    let mut fields = Fields::new(envelope);
    while let Some((number, field)) = fields.next_field()? {
        let Value::Bytes(b) = field else { continue };
        match number {
            1 => {
                let mut type_meta = Fields::new(b);
                while let Some((n, f)) = type_meta.next_field()? {
                    match (n, f) {
                        (1, Value::Bytes(v)) => api_version = string(v)?,
                        (2, Value::Bytes(v)) => kind = string(v)?,
                        _ => {}
                    }
                }
            }
            2 => raw = b,
            3 => content_encoding = string(b)?,
            _ => {}
        }
    }
    if !content_encoding.is_empty() {
        return Err(format!("unsupported content encoding {content_encoding:?}"));
    }
    if !kind.is_empty() && kind != "Secret" {
        return Err(format!("the kind in the body ({kind}) is not Secret"));
    }
    if !api_version.is_empty() && api_version != "v1" {
        return Err(format!(
            "the API version in the data ({api_version}) does not match the expected API version (v1)"
        ));
    }
    secret(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn decodes_the_recorded_kubectl_132_body() {
        let body = hex(
            "6b3873000a0c0a0276311206536563726574122f0a1a0a0764622d7061737312001a036e733122002a00320038004200120f0a0576616c756512067333637233741a001a002200",
        );
        assert_eq!(body.len(), 71);
        let input = decode_secret(&body).unwrap();
        assert_eq!(input.name, "db-pass");
        assert_eq!(input.namespace, "ns1");
        assert_eq!(input.resource_version, "");
        assert_eq!(input.secret_type, "");
        assert_eq!(input.data.get("value").map(Vec::as_slice), Some(&b"s3cr3t"[..]));
        assert!(input.labels.is_empty());
    }

    #[test]
    fn decodes_labels_string_data_and_immutable() {
        // metadata {name: "a", labels {"k": "v"}}, stringData {"x": "y"}, type "Opaque", immutable.
        let meta = [&[0x0a, 0x01, b'a'][..], &[0x5a, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v']].concat();
        let secret = [
            &[0x0a, meta.len() as u8][..],
            &meta,
            &[0x22, 0x06, 0x0a, 0x01, b'x', 0x12, 0x01, b'y'],
            &[0x1a, 0x06],
            b"Opaque",
            &[0x28, 0x01],
        ]
        .concat();
        let body = [&b"k8s\0"[..], &[0x12, secret.len() as u8], &secret].concat();
        let input = decode_secret(&body).unwrap();
        assert_eq!(input.name, "a");
        assert_eq!(input.labels["k"], "v");
        assert_eq!(input.string_data["x"], "y");
        assert_eq!(input.secret_type, "Opaque");
        assert_eq!(input.immutable, Some(true));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(decode_secret(b"{}").is_err());
        assert!(decode_secret(b"k8s\0\x12\x50").is_err());
        assert!(decode_secret(b"k8s\0\x0f").is_err());
        assert!(decode_secret(b"k8s\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").is_err());
        for len in 0..71 {
            let body = hex(
                "6b3873000a0c0a0276311206536563726574122f0a1a0a0764622d7061737312001a036e733122002a00320038004200120f0a0576616c756512067333637233741a001a002200",
            );
            let _ = decode_secret(&body[..len]);
        }
    }
}
