//! Byte strings in stored values, encoded as bytes rather than as a sequence of numbers.
//!
//! serde sees a `Vec<u8>` as a sequence and visits it one byte at a time; as bytes it is
//! copied at once. postcard writes both the same way (a length, then the bytes), so values
//! written before this module read back unchanged.

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Serializes `bytes` as a byte string.
pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// Deserializes a byte string (or a sequence of bytes).
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    deserializer.deserialize_bytes(BytesVisitor)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element()? {
            out.push(b);
        }
        Ok(out)
    }
}

/// The same for `Option<Vec<u8>>`.
pub mod option {
    use super::*;

    #[derive(Serialize)]
    struct Ref<'a>(#[serde(with = "super")] &'a [u8]);

    #[derive(Deserialize)]
    struct Owned(#[serde(with = "super")] Vec<u8>);

    /// Serializes an optional byte string.
    pub fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        bytes.as_deref().map(Ref).serialize(serializer)
    }

    /// Deserializes an optional byte string.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Owned>::deserialize(deserializer)?.map(|o| o.0))
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::{decode, encode};
    use super::*;

    #[test]
    fn optional_byte_strings_read_back_the_same() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct New(#[serde(with = "option")] Option<Vec<u8>>);
        for value in [None, Some(Vec::new()), Some(b"out".to_vec())] {
            let old = encode(&value);
            assert_eq!(encode(&New(value.clone())), old);
            assert_eq!(decode::<New>("v", &old).expect("decode"), New(value));
        }
    }
}
