//! Names users give: deployments, functions and signals, and what they may be.

/// Longest name.
pub const MAX_NAME: usize = 128;

/// Whether `name` can be a deployment, function or signal name: 1 to 128 ASCII letters,
/// digits, `_` and `-`.
pub fn valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
