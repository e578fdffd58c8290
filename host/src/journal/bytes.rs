//! Byte strings in stored values, encoded as bytes rather than as a sequence of numbers.
//!
//! serde sees a `Vec<u8>` as a sequence and visits it one byte at a time; as bytes it is
//! copied at once. postcard writes both the same way (a length, then the bytes), so values
//! written before this module read back unchanged.

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::bindings::{HttpError, HttpResponse};

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

/// The same for an HTTP outcome, whose response body is a byte string (the response type is
/// generated from the WIT contract, so its fields cannot carry the attribute themselves).
pub mod http {
    use super::*;

    #[derive(Serialize)]
    #[serde(rename = "HttpResponse")]
    struct Ref<'a> {
        status: u16,
        headers: &'a [(String, String)],
        #[serde(with = "super")]
        body: &'a [u8],
    }

    #[derive(Deserialize)]
    #[serde(rename = "HttpResponse")]
    struct Owned {
        status: u16,
        headers: Vec<(String, String)>,
        #[serde(with = "super")]
        body: Vec<u8>,
    }

    /// Serializes an HTTP outcome.
    pub fn serialize<S: Serializer>(
        outcome: &Result<HttpResponse, HttpError>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let outcome: Result<Ref<'_>, &HttpError> = match outcome {
            Ok(r) => Ok(Ref {
                status: r.status,
                headers: &r.headers,
                body: &r.body,
            }),
            Err(e) => Err(e),
        };
        outcome.serialize(serializer)
    }

    /// Deserializes an HTTP outcome.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Result<HttpResponse, HttpError>, D::Error> {
        let outcome = Result::<Owned, HttpError>::deserialize(deserializer)?;
        Ok(outcome.map(|o| HttpResponse {
            status: o.status,
            headers: o.headers,
            body: o.body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::{decode, encode};
    use super::super::entry::Outcome;
    use super::*;

    /// How an HTTP outcome and a byte outcome were encoded before this module: every byte
    /// string as a sequence.
    #[derive(Serialize)]
    enum OldOutcome {
        Http(Result<HttpResponse, HttpError>),
        _Time { seconds: u64, nanoseconds: u32 },
        _Instant(u64),
        Bytes(Vec<u8>),
    }

    #[test]
    fn values_written_as_sequences_read_back_the_same() {
        let response = HttpResponse {
            status: 201,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{\"id\": 7}".to_vec(),
        };
        let old = encode(&OldOutcome::Http(Ok(response.clone())));
        let new = encode(&Outcome::Http(Ok(response.clone())));
        assert_eq!(old, new, "the same bytes on disk");
        let back: Outcome = decode("outcome", &old).expect("decode");
        assert_eq!(back, Outcome::Http(Ok(response)));

        let old = encode(&OldOutcome::Bytes(vec![1, 2, 3, 200]));
        let back: Outcome = decode("outcome", &old).expect("decode");
        assert_eq!(back, Outcome::Bytes(vec![1, 2, 3, 200]));
        assert_eq!(encode(&back), old);

        let err = Outcome::Http(Err(HttpError::Timeout));
        assert_eq!(
            decode::<Outcome>("outcome", &encode(&err)).expect("decode"),
            err
        );
    }

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
