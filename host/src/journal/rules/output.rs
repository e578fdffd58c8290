//! What keeping a guest's output writes: each line under its key once (a replay writing it
//! again changes nothing), counted towards the tenant's `stored_bytes`.

use super::super::codec::{decode, encode};
use super::super::error::WriteError;
use super::super::output::OutputLine;
use super::super::rows::Rows;
use super::{Applied, Txn, refuse};
use crate::ids::{InvocationId, TenantId};

impl<R: Rows + ?Sized> Txn<'_, R> {
    /// Keeps the `lines` of `id`'s output not kept already (a line whose text changed, the
    /// end of a line a run left unfinished, replaces the one under its key).
    pub(super) fn put_output(
        &mut self,
        tenant: &TenantId,
        id: InvocationId,
        lines: &[OutputLine],
    ) -> Applied {
        if self.rows.record(tenant, id)?.is_none() {
            return refuse(WriteError::NoSuchInvocation(id.to_string()));
        }
        let mut writes = Vec::new();
        let (mut added, mut freed) = (0usize, 0u64);
        for line in lines {
            let old = self.rows.output_line(id, line.position, line.n)?;
            if let Some(old) = &old
                && decode::<OutputLine>("output line", old).is_ok_and(|old| old.same_as(line))
            {
                continue;
            }
            let encoded = encode(line);
            added += encoded.len();
            freed += old.map_or(0, |old| old.len() as u64);
            writes.push((line, encoded));
        }
        if let Err(over) = self.check_stored(tenant, added)? {
            return refuse(over);
        }
        for (line, encoded) in &writes {
            self.rows
                .put_output_line(id, line.position, line.n, encoded)?;
        }
        self.add_stored(tenant, added)?;
        self.release_stored(tenant, freed)?;
        Ok(Ok(()))
    }
}
