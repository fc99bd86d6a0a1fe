//! Field-level JSON helpers for the PDU mapping: writing values under their spec names and
//! reading them back with errors that name the field.
//!
//! Representation (one rule per wire type, so every field maps the same way):
//! * C-octet strings and time strings → JSON strings, one char per octet (Latin-1), so any
//!   octet 0x01–0xFF round-trips; on input a char above U+00FF is an error;
//! * integers → JSON numbers;
//! * octet strings (`short_message`, TLV values) → lowercase hex strings.

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Octets → JSON string, each octet becoming the char with the same code (Latin-1).
pub(crate) fn latin1(octets: &[u8]) -> Value {
    Value::String(octets.iter().copied().map(char::from).collect())
}

/// A JSON object being written. Keys stay in insertion order (header first, then the body
/// in wire order) without needing serde_json's `preserve_order` feature.
#[derive(Debug, Default)]
pub(crate) struct Writer(Vec<(&'static str, Field)>);

/// One value of a [`Writer`].
#[derive(Debug)]
enum Field {
    Value(Value),
    Objects(Vec<Writer>),
}

impl Writer {
    /// A C-octet string or time string field.
    pub(crate) fn text(&mut self, name: &'static str, octets: &[u8]) {
        self.value(name, latin1(octets));
    }

    /// An integer field.
    pub(crate) fn int(&mut self, name: &'static str, value: impl Into<u64>) {
        self.value(name, Value::from(value.into()));
    }

    /// An octet-string field, as hex.
    pub(crate) fn octets(&mut self, name: &'static str, octets: &[u8]) {
        self.value(name, Value::String(hex::encode(octets)));
    }

    /// Any value.
    pub(crate) fn value(&mut self, name: &'static str, value: Value) {
        self.0.push((name, Field::Value(value)));
    }

    /// An array of objects.
    pub(crate) fn objects(&mut self, name: &'static str, objects: Vec<Writer>) {
        self.0.push((name, Field::Objects(objects)));
    }

    /// Appends all fields of `other`.
    pub(crate) fn extend(&mut self, other: Writer) {
        self.0.extend(other.0);
    }

    /// The object as one line of JSON.
    pub(crate) fn to_line(&self) -> String {
        // Serializing strings, numbers and maps of them cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Writer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, field) in &self.0 {
            match field {
                Field::Value(value) => map.serialize_entry(name, value)?,
                Field::Objects(objects) => map.serialize_entry(name, objects)?,
            }
        }
        map.end()
    }
}

/// A JSON object being read. `path` prefixes field names in errors (e.g. `dest_address[1].`).
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Reader<'a> {
    /// Reads `value`, which must be an object; `path` names it in errors.
    pub(crate) fn new(value: &'a Value, path: &str) -> anyhow::Result<Self> {
        let map = value.as_object().ok_or_else(|| {
            if path.is_empty() {
                anyhow!("expected a JSON object, got {}", kind(value))
            } else {
                anyhow!("field `{path}`: expected an object, got {}", kind(value))
            }
        })?;
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        Ok(Self { map, path })
    }

    /// The full name of `name` for error messages.
    pub(crate) fn name(&self, name: &str) -> String {
        format!("{}{name}", self.path)
    }

    /// The raw value of a field, `None` when absent or null.
    pub(crate) fn optional(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    /// The raw value of a required field.
    pub(crate) fn required(&self, name: &str) -> anyhow::Result<&'a Value> {
        self.optional(name)
            .ok_or_else(|| anyhow!("field `{}`: missing", self.name(name)))
    }

    /// A string field (C-octet or time string), converted from Latin-1 chars to octets.
    pub(crate) fn text(&self, name: &str) -> anyhow::Result<Bytes> {
        let value = self.required(name)?;
        let text = value.as_str().ok_or_else(|| {
            anyhow!(
                "field `{}`: expected a string, got {}",
                self.name(name),
                kind(value)
            )
        })?;
        text.chars()
            .enumerate()
            .map(|(position, ch)| {
                u8::try_from(ch).map_err(|_| {
                    anyhow!(
                        "field `{}`: character {ch:?} (U+{:04X}) at position {position} is not Latin-1 \
                         (one octet per character)",
                        self.name(name),
                        u32::from(ch)
                    )
                })
            })
            .collect::<anyhow::Result<Vec<u8>>>()
            .map(Bytes::from)
    }

    /// An unsigned integer field that fits in `T`.
    pub(crate) fn int<T: TryFrom<u64>>(&self, name: &str) -> anyhow::Result<T> {
        let value = self.required(name)?;
        let number = value.as_u64().ok_or_else(|| {
            anyhow!(
                "field `{}`: expected an unsigned integer, got {value}",
                self.name(name)
            )
        })?;
        T::try_from(number).map_err(|_| {
            anyhow!(
                "field `{}`: {number} is too large (at most {} octet(s))",
                self.name(name),
                size_of::<T>()
            )
        })
    }

    /// An integer field with a default when absent.
    pub(crate) fn int_or<T: TryFrom<u64>>(&self, name: &str, default: T) -> anyhow::Result<T> {
        if self.optional(name).is_none() {
            return Ok(default);
        }
        self.int(name)
    }

    /// An octet-string field given as hex (whitespace not allowed).
    pub(crate) fn octets(&self, name: &str) -> anyhow::Result<Bytes> {
        let value = self.required(name)?;
        let text = value.as_str().ok_or_else(|| {
            anyhow!(
                "field `{}`: expected a hex string, got {}",
                self.name(name),
                kind(value)
            )
        })?;
        let octets = hex::decode(text)
            .with_context(|| format!("field `{}`: invalid hex", self.name(name)))?;
        Ok(Bytes::from(octets))
    }

    /// An array field.
    pub(crate) fn array(&self, name: &str) -> anyhow::Result<&'a [Value]> {
        let value = self.required(name)?;
        match value {
            Value::Array(items) => Ok(items),
            other => bail!(
                "field `{}`: expected an array, got {}",
                self.name(name),
                kind(other)
            ),
        }
    }
}

/// What kind of JSON value this is, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_round_trips_every_octet() {
        let all: Vec<u8> = (1..=255).collect();
        let value = serde_json::json!({ "s": latin1(&all) });
        let reader = Reader::new(&value, "").unwrap();
        assert_eq!(reader.text("s").unwrap().as_ref(), all.as_slice());
    }

    #[test]
    fn errors_name_the_field() {
        let value = serde_json::json!({ "a": 300, "b": "x\u{100}", "c": "0g", "d": 1 });
        let reader = Reader::new(&value, "dest_address[0]").unwrap();
        let message = |r: anyhow::Result<_>| format!("{:#}", r.map(|_: ()| ()).unwrap_err());
        assert!(message(reader.int::<u8>("a").map(|_| ())).contains("`dest_address[0].a`"));
        assert!(message(reader.text("b").map(|_| ())).contains("U+0100"));
        assert!(
            message(reader.octets("c").map(|_| ())).contains("`dest_address[0].c`: invalid hex")
        );
        assert!(message(reader.text("d").map(|_| ())).contains("expected a string"));
        assert!(message(reader.text("e").map(|_| ())).contains("`dest_address[0].e`: missing"));
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    #[test]
    fn keeps_insertion_order() {
        let mut inner = Writer::default();
        inner.int("z", 1u8);
        inner.text("a", &[0xe9]);
        let mut outer = Writer::default();
        outer.text("command", b"x");
        outer.octets("b", &[0xab]);
        outer.objects("list", vec![inner]);
        assert_eq!(
            outer.to_line(),
            "{\"command\":\"x\",\"b\":\"ab\",\"list\":[{\"z\":1,\"a\":\"\u{e9}\"}]}"
        );
    }
}
