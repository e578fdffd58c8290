//! Versioned binary encoding of stored values: a format tag byte, then postcard.

use serde::{Serialize, de::DeserializeOwned};

/// The format tag of every value written by this version.
pub const FORMAT_V1: u8 = 1;

/// A stored value that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The value is empty.
    #[error("stored {what} is empty")]
    Empty { what: &'static str },
    /// The value was written in a format this version does not know.
    #[error("stored {what} has unknown format tag {tag}")]
    UnknownFormat { what: &'static str, tag: u8 },
    /// The bytes do not decode.
    #[error("stored {what} is corrupt: {source}")]
    Corrupt {
        what: &'static str,
        source: postcard::Error,
    },
}

/// Encodes `value` with the current format tag.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    encode_tagged(FORMAT_V1, value)
}

/// Decodes a value written by [`encode`]; `what` names it in errors.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    decode_tagged(what, FORMAT_V1, bytes)
}

/// Encodes `value` after the format tag `tag`.
pub fn encode_tagged<T: Serialize>(tag: u8, value: &T) -> Vec<u8> {
    let mut out = vec![tag];
    // Serializing our own plain structs into a Vec cannot fail.
    postcard::to_io(value, &mut out).expect("postcard encoding into a Vec");
    out
}

/// Decodes a value written by [`encode_tagged`] with `tag`; any other tag is refused.
pub fn decode_tagged<T: DeserializeOwned>(
    what: &'static str,
    tag: u8,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    match bytes.split_first() {
        None => Err(DecodeError::Empty { what }),
        Some((&found, rest)) if found == tag => {
            postcard::from_bytes(rest).map_err(|source| DecodeError::Corrupt { what, source })
        }
        Some((&tag, _)) => Err(DecodeError::UnknownFormat { what, tag }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_unknown_formats_are_refused() {
        let bytes = encode(&(42u32, "x".to_string()));
        assert_eq!(bytes[0], FORMAT_V1);
        let back: (u32, String) = decode("pair", &bytes).expect("decode");
        assert_eq!(back, (42, "x".to_string()));
        let mut future = bytes.clone();
        future[0] = 9;
        assert!(matches!(
            decode::<(u32, String)>("pair", &future),
            Err(DecodeError::UnknownFormat { tag: 9, .. })
        ));
        assert!(matches!(
            decode::<u32>("pair", &[]),
            Err(DecodeError::Empty { .. })
        ));
    }
}
