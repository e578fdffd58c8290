//! # crm-export: a durable CRM export in plain Rust
//!
//! The classic integration: take a list of users and create each of them in a CRM
//! (a Salesforce-style REST API), one `POST` per user, collecting the ids the CRM
//! assigns.
//!
//! `export_users` has the shape of the article that started Reprise: it dispatches one
//! `send_user` child invocation per user and gathers their results. Each child is its own
//! durable invocation (started exactly once, even across crashes); the parent is suspended,
//! holding no memory, until every child has finished, and is then resumed once.
//! `export_in_order` does the same work in one invocation, one user after the other.
//!
//! Written naively, this job has a nasty failure mode: if the process dies after user
//! 40 of 100, a retry either starts over (creating 40 duplicates) or needs hand-written
//! checkpointing. Under Reprise the code stays naive. Every HTTP request is journaled
//! by the host before the function sees its response; after a crash the invocation is
//! replayed, the first 40 `POST`s return their recorded responses without touching the
//! CRM, and the export continues with user 41. Each request also carries a stable
//! `Idempotency-Key`, so a request that was in flight during the crash is safe to
//! repeat.
//!
//! Input:
//!
//! ```json
//! {
//!   "crm_url": "https://crm.example.com",
//!   "token": "…",
//!   "users": [
//!     { "id": 1, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com" }
//!   ]
//! }
//! ```
//!
//! Output: `{ "exported": 1, "crm_ids": ["005xx0000012345"] }`.
//!
//! Build with `cargo build --release --target wasm32-wasip2 -p crm-export`; the
//! component is `target/wasm32-wasip2/release/crm_export.wasm`.

use reprise_sdk::{Error, http};
use serde::{Deserialize, Serialize};

/// What to export, and where to.
#[derive(Deserialize)]
pub struct Export {
    /// Base URL of the CRM, e.g. `https://crm.example.com`.
    pub crm_url: String,
    /// API token, sent as `Authorization: Bearer {token}`.
    pub token: String,
    /// The users to create, in order.
    pub users: Vec<User>,
}

/// A user in our own system.
#[derive(Serialize, Deserialize)]
pub struct User {
    /// Our id for the user.
    pub id: u64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email address.
    pub email: String,
}

/// The body of the CRM's "create user" request.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CrmUser<'a> {
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
}

/// The CRM's answer to "create user".
#[derive(Deserialize)]
struct Created {
    id: String,
    /// `false` when the CRM refused to create the user (absent means `true`).
    success: Option<bool>,
}

/// What was exported.
#[derive(Serialize)]
pub struct Summary {
    /// How many users were created.
    pub exported: usize,
    /// The CRM's ids for the created users, in input order.
    pub crm_ids: Vec<String>,
}

/// One user to create, and where: the input of `send_user`.
#[derive(Serialize, Deserialize)]
pub struct SendUser {
    /// Base URL of the CRM.
    pub crm_url: String,
    /// API token.
    pub token: String,
    /// The user.
    pub user: User,
}

/// Creates every user of `input.users` in the CRM: one `send_user` child per user, then
/// gathers their ids (in input order). The first user the CRM refuses fails the export.
#[reprise_sdk::function]
pub fn export_users(input: Export) -> Result<Summary, Error> {
    let Export {
        crm_url,
        token,
        users,
    } = input;
    let handles: Vec<_> = users
        .into_iter()
        .map(|user| {
            send_user::dispatch(&SendUser {
                crm_url: crm_url.clone(),
                token: token.clone(),
                user,
            })
        })
        .collect();
    let crm_ids = reprise_sdk::gather(&handles)?;
    Ok(Summary {
        exported: crm_ids.len(),
        crm_ids,
    })
}

/// Creates one user in the CRM and returns the CRM's id for it.
#[reprise_sdk::function]
pub fn send_user(input: SendUser) -> Result<String, Error> {
    create(&users_url(&input.crm_url), &input.token, &input.user)
}

/// Creates every user of `input.users` in the CRM, one after the other, in one invocation.
#[reprise_sdk::function]
pub fn export_in_order(input: Export) -> Result<Summary, Error> {
    let url = users_url(&input.crm_url);
    let crm_ids = input
        .users
        .iter()
        .map(|user| create(&url, &input.token, user))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Summary {
        exported: crm_ids.len(),
        crm_ids,
    })
}

fn users_url(crm_url: &str) -> String {
    format!(
        "{}/services/data/v52.0/sobjects/User",
        crm_url.trim_end_matches('/')
    )
}

/// `POST`s `user` to the CRM's users endpoint `url`; returns the CRM's id.
fn create(url: &str, token: &str, user: &User) -> Result<String, Error> {
    let created: Created = http::post(url)
        .bearer(token)
        .json(&CrmUser {
            first_name: &user.first_name,
            last_name: &user.last_name,
            email: &user.email,
        })
        .send()?
        .error_for_status()?
        .json()?;
    if created.success == Some(false) {
        return Err(Error::msg(format!(
            "the CRM did not create user {} ({})",
            user.id, user.email
        )));
    }
    reprise_sdk::info!("exported user {} as {}", user.id, created.id);
    Ok(created.id)
}

reprise_sdk::export!(export_users, send_user, export_in_order);
