//! Sending the outbox to other nodes and taking what they send: the messages between a
//! parent and a child on different nodes (`journal::outbox`).
//!
//! The service sends each node its messages in one request, as soon as an op put some there
//! and every second while any are left, and drops them once the node answered 200: a message
//! is sent until acknowledged, through restarts of either end. The receiving node applies
//! each idempotently, and answers 200 only once every one is applied (or was already).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{ControlError, Scheduler};
use crate::journal::codec::{decode, encode};
use crate::journal::{Message, StoreError, WriteError};

/// How often messages not yet acknowledged are sent again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Why messages from another node were not all taken.
#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    /// The body is not a list of messages.
    #[error("the body is not a list of node messages: {0}")]
    Malformed(String),
    /// One cannot be taken yet (its move is not decided here); the sender tries again.
    #[error("invocation {0} is still moving here: try again")]
    NotYet(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Scheduler {
    /// Starts the service that sends the outbox.
    pub fn start_outbox(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { break };
                let ready = inner.outbox_ready.clone();
                let scheduler = Scheduler { inner };
                if let Err(err) = scheduler.send_outbox().await {
                    tracing::warn!("cannot read the outbox: {err}");
                }
                drop(scheduler);
                let _ = tokio::time::timeout(RETRY_EVERY, ready.notified()).await;
            }
        });
    }

    /// Sends every node its messages; returns how many were acknowledged.
    pub async fn send_outbox(&self) -> Result<usize, StoreError> {
        let mut by_node: BTreeMap<String, Vec<Message>> = BTreeMap::new();
        for (node, message) in self.inner.store.outbox()? {
            by_node.entry(node).or_default().push(message);
        }
        let mut acknowledged = 0;
        for (node, messages) in by_node {
            match self.inner.peer.deliver(&node, encode(&messages)).await {
                Ok(()) => {
                    let keys = messages
                        .iter()
                        .map(|m| {
                            let (tenant, id, kind) = m.key();
                            (tenant.clone(), id, kind)
                        })
                        .collect();
                    self.inner.store.delivered(&node, keys).await?;
                    acknowledged += messages.len();
                }
                Err(err) => tracing::debug!(%node, "messages not delivered yet: {err}"),
            }
        }
        Ok(acknowledged)
    }

    /// Takes the messages another node sent (encoded as the outbox sends them).
    pub async fn receive_messages(&self, bytes: &[u8]) -> Result<usize, MessagesError> {
        let messages: Vec<Message> =
            decode("node messages", bytes).map_err(|e| MessagesError::Malformed(e.to_string()))?;
        for message in &messages {
            match message {
                Message::ChildEnded(record) => {
                    match self.inner.store.child_ended((**record).clone()).await {
                        Ok(effects) => self.inner.apply(effects),
                        Err(StoreError::Write(WriteError::InvocationChanged(id))) => {
                            return Err(MessagesError::NotYet(id));
                        }
                        Err(StoreError::Write(refused)) => {
                            tracing::warn!(invocation = %record.id, "a child's end was not taken: {refused}");
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
                Message::Cancel { tenant, invocation } => {
                    match self.cancel(tenant, *invocation).await {
                        Ok(_) => {}
                        Err(ControlError::Store(err)) => return Err(err.into()),
                        // Ended, gone or moved on meanwhile: nothing left to cancel here.
                        Err(refused) => {
                            tracing::debug!(%invocation, "a cancel from the parent's node: {refused}");
                        }
                    }
                }
            }
        }
        Ok(messages.len())
    }
}
