//! Recording checkouts (group commit). Every checkout goes to one recorder task, which records
//! those that arrived together in one transaction: one statement for their orders, one for their
//! lines, one bump per producer order for all of them, one for their parts, one durable commit.
//! On SQLite's single writer and on a producer order's hot row alike, the cost of a checkout is
//! then shared by the batch.
//!
//! Each checkout of a batch still gets a version of its own at each producer order (the order
//! they were recorded in), so that stock is allocated first come, first served. If the batch
//! fails as a whole, its checkouts are recorded again one by one: one that cannot be recorded
//! fails alone.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{customer_order, order_part};
use sea_orm::{ActiveValue::Set, EntityTrait, TryInsertResult};
use uuid::Uuid;

use super::consolidation::{QueueMemo, queue_new_orders};
use super::trader::{NewCustomerOrder, ORDER_ACTIVE, Recorded, distinct_peers, find_by_key, insert_order_lines};
use super::{Store, StoreError, WriteTxn};
use crate::domain::PartState;

/// (trader, sales session, producer): whose producer orders a batch queues.
type ProducerOfSession = (String, Uuid, String);

/// The most checkouts recorded in one transaction.
const CHECKOUTS_PER_COMMIT: usize = 64;

/// Orders per INSERT statement: 15 bound values each, far below every backend's limit.
const ORDERS_PER_STATEMENT: usize = 64;

impl Store {
    /// Records a checkout and queues the affected producer orders, in one transaction; or returns
    /// the order an earlier request with the same idempotency key created.
    pub async fn record_checkout(
        &self,
        new: NewCustomerOrder,
        hold_sends_until: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let Some(recorder) = &self.checkout_recorder else {
            return self.record_checkouts(vec![(new, hold_sends_until)]).await.pop().unwrap_or(Err(StoreError::Busy));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        recorder.send(PendingCheckout { new, hold_sends_until, reply }).await.map_err(|_| StoreError::Busy)?;
        answer.await.unwrap_or(Err(StoreError::Busy))
    }

    /// Records checkouts together; if that fails, one by one, so that one that cannot be
    /// recorded fails alone.
    pub(super) async fn record_checkouts(
        &self,
        batch: Vec<(NewCustomerOrder, DateTime<Utc>)>,
    ) -> Vec<Result<Recorded, StoreError>> {
        let count = batch.len();
        match self.record_together(&batch).await {
            Ok(results) => results,
            Err(StoreError::Busy) => (0..count).map(|_| Err(StoreError::Busy)).collect(),
            Err(err) if count == 1 => vec![Err(err)],
            Err(err) => {
                tracing::warn!(error = %err, count, "checkouts recorded together failed; recording them one by one");
                let mut results = Vec::with_capacity(count);
                for one in batch.chunks(1) {
                    let result =
                        self.record_together(one).await.and_then(|mut r| r.pop().unwrap_or(Err(StoreError::Busy)));
                    results.push(result);
                }
                results
            }
        }
    }

    async fn record_together(
        &self,
        batch: &[(NewCustomerOrder, DateTime<Utc>)],
    ) -> Result<Vec<Result<Recorded, StoreError>>, StoreError> {
        let write = self.begin_write().await?;
        let mut inserted = insert_orders(&write, batch.iter().map(|(new, _)| new)).await?;
        let mut outcomes: Vec<Result<Recorded, StoreError>> = Vec::with_capacity(batch.len());
        for (new, _) in batch {
            let outcome = match inserted.remove(&(new.trader.clone(), new.idempotency_key.clone())) {
                Some(order) => Ok(Recorded::New { order, producer_orders: Vec::new() }),
                None => key_taken(&write, new).await?,
            };
            outcomes.push(outcome);
        }

        let new_orders = || {
            outcomes.iter().zip(batch).filter_map(|(outcome, (new, hold))| match outcome {
                Ok(Recorded::New { order, .. }) => Some((order.id, new, *hold)),
                _ => None,
            })
        };
        let mut lines = Vec::new();
        for (id, new, _) in new_orders() {
            lines.extend(new.lines.iter().map(|line| (id, line.clone())));
        }
        insert_order_lines(&write, lines).await?;

        // Each producer order once for the batch, in one order on every replica (no deadlock
        // between two replicas' batches), and each checkout's place in it.
        let mut by_producer: BTreeMap<ProducerOfSession, (Vec<Uuid>, DateTime<Utc>)> = BTreeMap::new();
        for (id, new, hold) in new_orders() {
            for peer in distinct_peers(new.lines.iter()) {
                let entry = by_producer.entry((new.trader.clone(), new.session_id, peer)).or_insert((Vec::new(), hold));
                entry.0.push(id);
                entry.1 = entry.1.max(hold);
            }
        }
        let mut memo = QueueMemo::default();
        let producers: Vec<(&str, Uuid, &str)> =
            by_producer.keys().map(|(trader, session, peer)| (trader.as_str(), *session, peer.as_str())).collect();
        memo.prefetch(&write.txn, &producers).await?;
        let mut carried: HashMap<Uuid, Vec<(String, Uuid, i64)>> = HashMap::new();
        let mut parts = Vec::new();
        for ((trader, session, peer), (orders, hold)) in &by_producer {
            let queued = queue_new_orders(&write, &mut memo, trader, *session, peer, orders, *hold).await?;
            for (order, producer_orders) in orders.iter().zip(queued) {
                // The last is the producer order that carries the order's lines; the others are
                // emptied of another mode's grouping.
                if let Some((_, version)) = producer_orders.last() {
                    parts.push((*order, peer.clone(), *version));
                }
                let list = carried.entry(*order).or_default();
                list.extend(producer_orders.into_iter().map(|(po, version)| (peer.clone(), po, version)));
            }
        }
        insert_pending_parts(&write, &parts).await?;
        write.commit().await?;

        for outcome in &mut outcomes {
            if let Ok(Recorded::New { order, producer_orders }) = outcome {
                *producer_orders = carried.remove(&order.id).unwrap_or_default();
            }
        }
        Ok(outcomes)
    }
}

/// Inserts the orders whose idempotency key is free; returns them by (trader, key). A key taken
/// (earlier, by another replica meanwhile, or twice in the batch) is left out, not an error.
async fn insert_orders<'n>(
    write: &WriteTxn<'_>,
    news: impl Iterator<Item = &'n NewCustomerOrder>,
) -> Result<HashMap<(String, String), customer_order::Model>, StoreError> {
    let now = Utc::now();
    let rows: Vec<customer_order::ActiveModel> = news
        .map(|new| customer_order::ActiveModel {
            id: Set(Uuid::new_v4()),
            trader_enterprise_id: Set(new.trader.clone()),
            sales_session_id: Set(new.session_id),
            customer_id: Set(new.customer_id.clone()),
            idempotency_key: Set(new.idempotency_key.clone()),
            request_digest: Set(new.request_digest.clone()),
            contact_name: Set(new.contact_name.clone()),
            contact_email: Set(new.contact_email.clone()),
            delivery_address: Set(new.delivery_address.clone()),
            status: Set(ORDER_ACTIVE.to_owned()),
            payment_status: Set("Unpaid".to_owned()),
            total: Set(new.total.clone()),
            currency: Set(new.currency.clone()),
            discounts: Set(new.discounts.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    let mut inserted = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(ORDERS_PER_STATEMENT) {
        let result = customer_order::Entity::insert_many(chunk.to_vec())
            .on_conflict_do_nothing_on([
                customer_order::Column::TraderEnterpriseId,
                customer_order::Column::IdempotencyKey,
            ])
            .exec_with_returning_many(&write.txn)
            .await?;
        if let TryInsertResult::Inserted(orders) = result {
            for order in orders {
                inserted.insert((order.trader_enterprise_id.clone(), order.idempotency_key.clone()), order);
            }
        }
    }
    Ok(inserted)
}

/// A checkout whose key was taken: the order that took it, unless that one was refused. A
/// refused checkout left nothing to keep: it is removed and the key used again.
async fn key_taken(write: &WriteTxn<'_>, new: &NewCustomerOrder) -> Result<Result<Recorded, StoreError>, StoreError> {
    let Some(existing) = find_by_key(&write.txn, &new.trader, &new.idempotency_key).await? else {
        // Taken, then gone: another replica is removing a refused order of this key right now.
        return Ok(Err(StoreError::Busy));
    };
    if !super::parts::remove_if_refused(write, existing.id).await? {
        return Ok(Ok(Recorded::Existing(existing)));
    }
    let mut again = insert_orders(write, std::iter::once(new)).await?;
    Ok(match again.remove(&(new.trader.clone(), new.idempotency_key.clone())) {
        Some(order) => Ok(Recorded::New { order, producer_orders: Vec::new() }),
        // Removed, yet taken again at once: another replica is recording the same key.
        None => Err(StoreError::Busy),
    })
}

/// The parts of new orders, `(order, producer, version that carries it)`, pending.
async fn insert_pending_parts(write: &WriteTxn<'_>, parts: &[(Uuid, String, i64)]) -> Result<(), StoreError> {
    let now = Utc::now();
    for chunk in parts.chunks(200) {
        let rows = chunk.iter().map(|(order, peer_id, queued_version)| order_part::ActiveModel {
            order_id: Set(*order),
            peer_id: Set(peer_id.clone()),
            state: Set(PartState::Pending.as_str().to_owned()),
            queued_version: Set(*queued_version),
            shortages: Set(None),
            fallback_lines: Set(None),
            reason: Set(None),
            updated_at: Set(now),
        });
        order_part::Entity::insert_many(rows).exec_without_returning(&write.txn).await?;
    }
    Ok(())
}

/// A checkout waiting to be recorded with others.
pub(super) struct PendingCheckout {
    new: NewCustomerOrder,
    hold_sends_until: DateTime<Utc>,
    reply: tokio::sync::oneshot::Sender<Result<Recorded, StoreError>>,
}

/// Records checkouts as they come, together those that came while the previous ones were being
/// committed.
pub(super) async fn run_checkout_recorder(store: Store, mut pending: tokio::sync::mpsc::Receiver<PendingCheckout>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < CHECKOUTS_PER_COMMIT {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (work, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| ((p.new, p.hold_sends_until), p.reply)).unzip();
        for (reply, result) in replies.into_iter().zip(store.record_checkouts(work).await) {
            let _ = reply.send(result);
        }
    }
}
