//! The embedded backend's moves: a leaving invocation's bundle read at one point in time, and
//! the move ops submitted to the writer.

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable};

use super::schema::{
    ARRIVALS, AWAITED, CHILDREN, DEPARTURES, DEPLOYMENTS, HISTORY, INVOCATIONS, PAUSED, RETRIES,
    SIGNALS,
};
use super::store::{Store, decoded, storage};
use crate::ids::{InvocationId, TenantId};
use crate::journal::Effects;
use crate::journal::codec::decode;
use crate::journal::{
    Arrival, Bundle, ChildCopy, Departure, EncodedEvent, Family, InvocationRecord, InvocationState,
    KeptSignal, Op, Phase, RetryState, StoreError, decode_deployment,
};
use crate::storage::{Deployments, Journals, Moves};

#[async_trait]
impl Moves for Store {
    fn departure(
        &self,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<Option<Departure>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(DEPARTURES).map_err(storage)?;
        decoded(&table, (tenant.as_str(), id.0), "departure")
    }

    fn leaving(&self) -> Result<Vec<(TenantId, InvocationId, Departure)>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(DEPARTURES).map_err(storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            let departure: Departure = decode("departure", v.value())?;
            if departure.phase == Phase::Leaving {
                let (tenant, id) = k.value();
                out.push((TenantId::new(tenant), InvocationId(id), departure));
            }
        }
        Ok(out)
    }

    fn arrival(&self, move_id: u128) -> Result<Option<Arrival>, StoreError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(ARRIVALS).map_err(storage)?;
        decoded(&table, move_id, "arrival")
    }

    fn bundle(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        from_node: &str,
        now_ms: u64,
    ) -> Result<Option<Bundle>, StoreError> {
        // A leaving invocation does not change (no op but deciding its move writes it), so
        // the journal (which may be partly in the log only) is read on its own.
        let steps = self.recorded(id)?.stored_steps();
        let txn = self.db.begin_read().map_err(storage)?;
        let key = (tenant.as_str(), id.0);
        let departures = txn.open_table(DEPARTURES).map_err(storage)?;
        let Some(departure): Option<Departure> = decoded(&departures, key, "departure")? else {
            return Ok(None);
        };
        if departure.phase != Phase::Leaving {
            return Ok(None);
        }
        let invocations = txn.open_table(INVOCATIONS).map_err(storage)?;
        let Some(mut record): Option<InvocationRecord> = decoded(&invocations, key, "invocation")?
        else {
            return Ok(None);
        };
        record.state = departure.from;
        let deployments = txn.open_table(DEPLOYMENTS).map_err(storage)?;
        let deployment = match deployments
            .get((tenant.as_str(), record.deployment.as_str()))
            .map_err(storage)?
        {
            Some(v) => Some(decode_deployment(v.value())?),
            None => None,
        };
        let Some(component) = self.component(&record.component)? else {
            return Err(StoreError::Write(
                crate::journal::WriteError::NoSuchComponent(record.component.to_string()),
            ));
        };
        let history = txn.open_table(HISTORY).map_err(storage)?;
        let history = history
            .range((id.0, 0u32)..=(id.0, u32::MAX))
            .map_err(storage)?
            .map(|row| Ok(EncodedEvent(row.map_err(storage)?.1.value().to_vec())))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let paused = txn.open_table(PAUSED).map_err(storage)?;
        let paused_from: Option<InvocationState> = decoded(&paused, key, "paused state")?;
        let signals = txn.open_table(SIGNALS).map_err(storage)?;
        let signals = signals
            .range((tenant.as_str(), id.0, "", 0u64)..)
            .map_err(storage)?
            .map(|row| {
                let (k, v) = row.map_err(storage)?;
                let (t, of, name, n) = k.value();
                Ok((t == tenant.as_str() && of == id.0).then(|| KeptSignal {
                    name: name.to_string(),
                    n,
                    payload: v.value().to_vec(),
                }))
            })
            .map_while(|row| row.transpose())
            .collect::<Result<Vec<_>, StoreError>>()?;
        let retries = txn.open_table(RETRIES).map_err(storage)?;
        let retries = retries
            .range((id.0, 0u32)..=(id.0, u32::MAX))
            .map_err(storage)?
            .map(|row| {
                let (k, v) = row.map_err(storage)?;
                let (attempts, first_ms) = v.value();
                Ok((k.value().1, RetryState { attempts, first_ms }))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let children = txn.open_table(CHILDREN).map_err(storage)?;
        let children = children
            .range((tenant.as_str(), id.0, 0u128)..=(tenant.as_str(), id.0, u128::MAX))
            .map_err(storage)?
            .map(|row| {
                let (k, v) = row.map_err(storage)?;
                Ok((InvocationId(k.value().2), v.value()))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Its children as they are now: one that ended while it was leaving still has its
        // awaited row (the move's decision counts it), so the target counts it on arrival.
        let awaited = txn.open_table(AWAITED).map_err(storage)?;
        let mut family = Family::default();
        for (child, _) in &children {
            let key = (tenant.as_str(), child.0);
            let Some(record): Option<InvocationRecord> = decoded(&invocations, key, "invocation")?
            else {
                continue;
            };
            if let Some(row) = awaited.get(key).map_err(storage)? {
                let (parent, seq) = row.value();
                if parent == id.0 {
                    family.awaited.push((*child, seq));
                }
            }
            let node = if record.state.is_terminal() {
                String::new()
            } else {
                // Where it runs: here, or where it moved to.
                let departure: Option<Departure> = decoded(&departures, key, "departure")?;
                match departure {
                    Some(d) if d.phase == Phase::Left => d.to,
                    _ => from_node.to_string(),
                }
            };
            family.children.push(ChildCopy { record, node });
        }
        Ok(Some(Bundle {
            move_id: departure.move_id,
            from_node: from_node.to_string(),
            made_at_ms: now_ms,
            record,
            deployment,
            component,
            steps,
            history,
            wait: departure.wait,
            paused_from,
            signals,
            retries,
            children,
            family,
        }))
    }

    async fn leave(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
        to: &str,
    ) -> Result<Effects, StoreError> {
        let op = Op::Leave {
            tenant: tenant.clone(),
            invocation: id,
            move_id,
            to: to.to_string(),
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn depart(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
    ) -> Result<(), StoreError> {
        let op = Op::Depart {
            tenant: tenant.clone(),
            invocation: id,
            move_id,
        };
        self.writer.submit(op).await?;
        Ok(())
    }

    async fn stay_home(
        &self,
        tenant: &TenantId,
        id: InvocationId,
        move_id: u128,
    ) -> Result<Effects, StoreError> {
        let op = Op::StayHome {
            tenant: tenant.clone(),
            invocation: id,
            move_id,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn import(&self, mut bundle: Bundle) -> Result<Effects, StoreError> {
        // The op carries the children itself: a bundle's serde form is format 1's.
        let family = std::mem::take(&mut bundle.family);
        let op = Op::Arrive {
            bundle: Box::new(bundle),
            family,
        };
        Ok(self.writer.submit(op).await?)
    }

    async fn refuse_arrival(
        &self,
        move_id: u128,
        tenant: &TenantId,
        id: InvocationId,
    ) -> Result<(), StoreError> {
        let op = Op::RefuseArrival {
            move_id,
            tenant: tenant.clone(),
            invocation: id,
        };
        self.writer.submit(op).await?;
        Ok(())
    }
}
