//! What a parent and a child on different nodes write (one of them moved: today a child, away
//! from its parent's node): the child's end goes into the outbox for its parent's node, a
//! cancel of the parent into the outbox for the child's node, and the parent's node takes the
//! child's end once (`journal::outbox` says why once).

use super::super::departure::Phase;
use super::super::error::WriteError;
use super::super::outbox::Message;
use super::super::records::{InvocationRecord, InvocationState};
use super::super::rows::{RowResult, Rows};
use super::{Applied, Txn, refuse};
use crate::ids::{InvocationId, TenantId};

impl<R: Rows + ?Sized> Txn<'_, R> {
    /// Reports the end of `record`, a child whose parent lives on another node, to that node.
    pub(super) fn report_end(&mut self, record: &InvocationRecord) -> RowResult<()> {
        let (tenant, id) = (&record.tenant, record.id);
        let Some(node) = self.rows.parent_node(tenant, id)? else {
            return Ok(());
        };
        self.rows
            .put_message(&node, &Message::ChildEnded(Box::new(record.clone())))?;
        self.rows.set_parent_node(tenant, id, None)?;
        self.effects.outbox = true;
        Ok(())
    }

    /// Asks the node `child` moved to to cancel it (its parent here is being cancelled).
    pub(super) fn cancel_away(&mut self, child: &InvocationRecord) -> RowResult<()> {
        let (tenant, id) = (&child.tenant, child.id);
        if let Some(departure) = self.rows.departure(tenant, id)?
            && !departure.to.is_empty()
        {
            let message = Message::Cancel {
                tenant: tenant.clone(),
                invocation: id,
            };
            self.rows.put_message(&departure.to, &message)?;
            self.effects.outbox = true;
        }
        Ok(())
    }

    /// Takes the end of a child that moved away from here, once: its forwarding record
    /// becomes its final record, which its parent's wait counts.
    pub(super) fn child_ended(&mut self, end: &InvocationRecord) -> Applied {
        let (tenant, id) = (&end.tenant, end.id);
        if !end.state.is_terminal() {
            return refuse(WriteError::NotAllowed {
                invocation: id.to_string(),
                why: "the reported end is not an end",
            });
        }
        let Some(here) = self.rows.record(tenant, id)? else {
            // Forgotten here meanwhile (its parent ended and retention removed both).
            return Ok(Ok(()));
        };
        if here.state.is_terminal() {
            return Ok(Ok(()));
        }
        let departure = self.rows.departure(tenant, id)?;
        let Some(departure) = departure.filter(|_| {
            here.state == InvocationState::Moved
                && here.parent.is_some()
                && here.parent == end.parent
        }) else {
            return refuse(WriteError::NotAllowed {
                invocation: id.to_string(),
                why: "it is not a child that moved away from here",
            });
        };
        // Its move is not decided here yet (this node stopped before it was): again later.
        if departure.phase == Phase::Leaving {
            return refuse(WriteError::InvocationChanged(id.to_string()));
        }
        self.rows.remove_departure(tenant, id)?;
        // The forwarding record's input is counted already; its output is new here.
        self.add_stored(tenant, end.output.as_ref().map_or(0, Vec::len))?;
        self.put_record(end, Some(InvocationState::Moved))?;
        Ok(Ok(()))
    }

    /// Drops the messages `node` acknowledged.
    pub(super) fn delivered(
        &mut self,
        node: &str,
        messages: &[(TenantId, InvocationId, u8)],
    ) -> Applied {
        for (tenant, id, kind) in messages {
            self.rows.remove_message(node, tenant, *id, *kind)?;
        }
        Ok(Ok(()))
    }
}
