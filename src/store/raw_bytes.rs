//! `#[serde(with = "raw_bytes")]` for `Vec<u8>` fields: serialised as one byte string
//! instead of a sequence of `u8` (postcard writes both as a varint length and the bytes,
//! so stored records read the same; only the encoder stops pushing byte by byte).

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;

pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_byte_buf(BytesVisitor)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    // Formats without a byte-string type (JSON) write a sequence of numbers.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(65_536));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Before {
        id: u64,
        bytes: Vec<u8>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct After {
        id: u64,
        #[serde(with = "super")]
        bytes: Vec<u8>,
    }

    #[test]
    fn same_postcard_bytes_as_a_plain_vec() {
        for len in [0usize, 1, 127, 128, 300] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let before = postcard::to_stdvec(&Before {
                id: 7,
                bytes: bytes.clone(),
            })
            .unwrap();
            let after = postcard::to_stdvec(&After {
                id: 7,
                bytes: bytes.clone(),
            })
            .unwrap();
            assert_eq!(before, after);
            let read: After = postcard::from_bytes(&before).unwrap();
            assert_eq!(read.bytes, bytes);
        }
        // JSON (no byte strings) still round-trips.
        let json = serde_json::to_string(&After {
            id: 1,
            bytes: vec![1, 2],
        })
        .unwrap();
        assert_eq!(serde_json::from_str::<After>(&json).unwrap().bytes, [1, 2]);
    }
}
