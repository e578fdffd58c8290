//! The embedded backend's guest output: the lines read back in order, and the op that keeps
//! them.

use async_trait::async_trait;
use redb::ReadableDatabase;

use super::schema::OUTPUT;
use super::store::{Store, storage};
use crate::ids::{InvocationId, TenantId};
use crate::journal::codec::decode;
use crate::journal::{Op, OutputLine, StoreError};
use crate::storage::Output;

#[async_trait]
impl Output for Store {
    fn output(&self, id: InvocationId) -> Result<Vec<OutputLine>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OUTPUT).map_err(storage)?;
        let range = (id.0, 0, 0)..=(id.0, u32::MAX, u32::MAX);
        let mut lines = Vec::new();
        for row in table.range(range).map_err(storage)? {
            let (_, line) = row.map_err(storage)?;
            lines.push(decode("output line", line.value())?);
        }
        Ok(lines)
    }

    async fn put_output(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        lines: Vec<OutputLine>,
    ) -> Result<(), StoreError> {
        let op = Op::PutOutput {
            tenant: tenant.clone(),
            invocation: id,
            lines,
        };
        self.writer.submit(op).await?;
        Ok(())
    }
}
