//! Messages to other nodes about parents and children that live apart (one of them moved):
//! a child's end for its parent's node, a cancel for a moved child's node.
//!
//! A message is written in the same op as the event it reports (the child's end, the parent's
//! cancel) into the outbox, keyed by the node it goes to and what it is about, and stays there
//! until that node acknowledges it; so it is sent at least once, however often either node
//! stops. The receiving node applies it idempotently: a child's end is taken once (while its
//! forwarding record is there; after that it is an end already known), a cancel of what has
//! ended is a cancel already done. So each takes effect exactly once.

use serde::{Deserialize, Serialize};

use super::records::InvocationRecord;
use crate::ids::{InvocationId, TenantId};

/// A message kept in the outbox until the node it goes to acknowledges it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// A child ended on this node; its parent lives on the node the message goes to.
    ChildEnded(Box<InvocationRecord>),
    /// Cancel this invocation, a child whose parent was cancelled on this node.
    Cancel {
        tenant: TenantId,
        invocation: InvocationId,
    },
}

impl Message {
    /// What it is about: the outbox keeps one message per (tenant, invocation, kind).
    pub fn key(&self) -> (&TenantId, InvocationId, u8) {
        match self {
            Message::ChildEnded(record) => (&record.tenant, record.id, 0),
            Message::Cancel { tenant, invocation } => (tenant, *invocation, 1),
        }
    }
}
