//! The embedded backend's outbox: the messages read for sending, and the ops that take a
//! child's end and drop what was acknowledged.

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable};

use super::schema::OUTBOX;
use super::store::{Store, storage};
use crate::ids::{InvocationId, TenantId};
use crate::journal::codec::decode;
use crate::journal::{Effects, InvocationRecord, Message, Op, StoreError};
use crate::storage::Outbox;

#[async_trait]
impl Outbox for Store {
    fn outbox(&self) -> Result<Vec<(String, Message)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OUTBOX).map_err(storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            out.push((k.value().0.to_string(), decode("message", v.value())?));
        }
        Ok(out)
    }

    async fn child_ended(&self, record: InvocationRecord) -> Result<Effects, StoreError> {
        let op = Op::ChildEnded {
            record: Box::new(record),
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn delivered(
        &self,
        node: &str,
        messages: Vec<(TenantId, InvocationId, u8)>,
    ) -> Result<(), StoreError> {
        let op = Op::Delivered {
            node: node.to_string(),
            messages,
        };
        self.writer.submit(op).await?;
        Ok(())
    }
}
