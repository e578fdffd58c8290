//! The users the mock creates: the check of a "create user" body and the deterministic id
//! of each.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The deterministic id of the user with this email: `"005"` + 12 hex digits of its SHA-256.
pub fn user_id_for(email: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(email.as_bytes());
    let mut id = String::with_capacity(15);
    id.push_str("005");
    for &b in digest.iter().take(6) {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

/// Checks the three required string fields; returns the email, or the error array as JSON.
pub(super) fn validate_user(fields: &serde_json::Map<String, Value>) -> Result<&str, String> {
    let mut missing = Vec::new();
    let mut errors = Vec::new();
    for name in ["FirstName", "LastName", "Email"] {
        match fields.get(name) {
            None | Some(Value::Null) => missing.push(name),
            Some(Value::String(s)) if s.trim().is_empty() => missing.push(name),
            Some(Value::String(s)) if name == "Email" && !is_email(s) => errors.push(json!({
                "message": format!("Email: invalid email address: {s}"),
                "errorCode": "INVALID_EMAIL_ADDRESS",
                "fields": [name],
            })),
            Some(Value::String(_)) => {}
            Some(other) => errors.push(json!({
                "message": format!("{name}: expected a string, got {}", json_type(other)),
                "errorCode": "INVALID_TYPE_ON_FIELD_IN_RECORD",
                "fields": [name],
            })),
        }
    }
    if !missing.is_empty() {
        errors.insert(
            0,
            json!({
                "message": format!("Required fields are missing: [{}]", missing.join(", ")),
                "errorCode": "REQUIRED_FIELD_MISSING",
                "fields": missing,
            }),
        );
    }
    match fields.get("Email") {
        Some(Value::String(email)) if errors.is_empty() => Ok(email),
        _ => Err(Value::Array(errors).to_string()),
    }
}

/// A loose email check: `local@domain` with both parts non-empty and no spaces.
fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// JSON type name of `value`, for error messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
