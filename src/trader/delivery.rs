//! Delivering producer orders: recompute from all active customer orders, send whole (POST the
//! first time, PUT afterwards), and keep retrying with backoff what could not be delivered.
//! One send at a time per producer order, so concurrent checkouts never overwrite each other:
//! whichever send comes last was computed from every order committed before it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Trader;
use crate::dfc::vocab::CONTEXT_1_16;
use crate::domain::{ConsolidationMode, OrderStatus};
use crate::peers::PeerError;
use crate::store::StoreError;
use crate::store::trader::{Acknowledged, DELIVERY_DELIVERED, ProducerOrderPlan};

/// How many producer orders the outbox worker sends at once.
const SENDS_AT_ONCE: usize = 8;

#[derive(Clone, Copy, Debug)]
pub struct DeliverySettings {
    /// How often the outbox worker looks for due sends.
    pub poll_interval: Duration,
    /// First retry delay; doubled each attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// After this many failed attempts a send needs a person (FAILED).
    pub max_attempts: i32,
    /// How long after a session's end its producer orders are completed (traders adjust orders
    /// after the customer-facing close).
    pub close_grace: chrono::Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            poll_interval: Duration::from_secs(1),
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            max_attempts: 30,
            close_grace: chrono::Duration::hours(2),
        }
    }
}

/// What a delivery locks in this process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum LockKey {
    /// One send at a time per producer order.
    ProducerOrder(Uuid),
    /// One BY_WEIGHT plan at a time per (trader, producer): they share the carried-over stock.
    CarriedStock(String, String),
}

/// Per-key async locks, dropped when nobody holds them.
#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<LockKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    async fn lock(&self, key: LockKey) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(key).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another replica is sending this producer order")]
    SentElsewhere,
}

impl Trader {
    /// Recomputes the producer order and sends it; records the outcome for the outbox.
    pub async fn deliver(&self, producer_order: Uuid) -> Result<(), DeliveryError> {
        let _one_writer_here = self.locks.lock(LockKey::ProducerOrder(producer_order)).await;
        let Some(_one_writer_anywhere) = self.store.try_lock_producer_order_send(producer_order).await? else {
            // Another replica is sending this order; what it sends includes every committed change.
            return Err(DeliveryError::SentElsewhere);
        };
        let Some((order, peer, mode)) = self.store.producer_order_with_mode(producer_order).await? else {
            return Ok(());
        };
        // Two orders with one producer planned at once by weight could both count on the same
        // kilos of carried-over stock; planned under this lock, each sees what the other took
        // (its lines are recorded before the lock is released). Lock order: producer order first.
        let _stock_shared_with_other_orders = match mode {
            ConsolidationMode::ByWeight => Some(self.lock_carried_stock(&order).await?),
            _ => None,
        };
        let plan = self.store.plan_producer_order(order, peer, mode).await?;
        let status = OrderStatus::from_name(&plan.order.status);
        if status == Some(OrderStatus::Complete) || plan.order.settled_at.is_some() {
            // A completed producer order is never amended (the producer prepares the goods), and
            // a settled one's lines are final: the carried-over stock is counted from them.
            self.store.drop_queued_send(producer_order).await?;
            return Ok(());
        }
        if plan.order.delivery_state == DELIVERY_DELIVERED && plan.order.delivered_version >= plan.order.version {
            // A send that waited for the lock found its change already delivered by the send
            // before it (computed after the change committed): nothing left to say.
            return Ok(());
        }
        let version = plan.order.version;
        let peer = self.peer(&plan.peer);
        let payload = self.payload(&plan);
        let remote = plan.order.remote_iri.clone().filter(|_| status != Some(OrderStatus::Cancelled));
        // After the session closed (plus grace), the last send completes the order.
        let closing = plan.session.closed_at.is_some();
        let outcome = match (&remote, plan.sent_lines().is_empty()) {
            // Nothing ordered and nothing at the producer: nothing to say, and the state stays
            // what it was (Cancelled at the producer, or never sent).
            (None, true) => Ok((None, status.unwrap_or(OrderStatus::Held), None)),
            (None, false) if closing => match self.client.place_order(&peer, &payload).await {
                Ok((iri, _)) => {
                    // Known before the second call: if completing fails, the retry completes this
                    // order instead of placing another.
                    self.store.record_remote_order(producer_order, &iri).await?;
                    let complete = self.payload_with_status(&plan, Some(&iri), OrderStatus::Complete);
                    self.client
                        .replace_order(&peer, &iri, &complete)
                        .await
                        .map(|a| (Some(iri), OrderStatus::Complete, Some(a)))
                }
                Err(e) => Err(e),
            },
            (None, false) => {
                self.client.place_order(&peer, &payload).await.map(|(iri, a)| (Some(iri), OrderStatus::Held, Some(a)))
            }
            (Some(iri), true) => {
                let cancel = self.cancellation(iri);
                self.client
                    .replace_order(&peer, iri, &cancel)
                    .await
                    .map(|a| (Some(iri.clone()), OrderStatus::Cancelled, Some(a)))
            }
            (Some(iri), false) if closing => {
                let complete = self.payload_with_status(&plan, Some(iri), OrderStatus::Complete);
                self.client
                    .replace_order(&peer, iri, &complete)
                    .await
                    .map(|a| (Some(iri.clone()), OrderStatus::Complete, Some(a)))
            }
            (Some(iri), false) => self
                .client
                .replace_order(&peer, iri, &payload)
                .await
                .map(|a| (Some(iri.clone()), OrderStatus::Held, Some(a))),
        };
        match outcome {
            Ok((iri, status, answer)) => {
                let iri = iri.or(plan.order.remote_iri.clone());
                // What the producer says it does with the order (Unfulfilled once complete).
                let fulfilment = answer.and_then(|a| a.orders.into_iter().find_map(|o| o.fulfilment_status));
                let acknowledged = Acknowledged { version, remote_iri: iri, status, fulfilment, last: closing };
                self.store.mark_delivered(producer_order, acknowledged, &plan.lines).await?;
                tracing::info!(%producer_order, peer = %peer.id, version, lines = plan.lines.len(), mode = plan.mode.as_str(), "producer order delivered");
                Ok(())
            }
            Err(err) => {
                let attempts = plan.order.attempts + 1;
                let retry_at = (attempts < self.settings.max_attempts).then(|| Utc::now() + self.backoff(attempts));
                self.store.mark_attempt_failed(producer_order, &format!("{}: {err}", err.code()), retry_at).await?;
                tracing::warn!(%producer_order, peer = %peer.id, attempts, code = err.code(), error = %err, "producer order not delivered");
                Err(err.into())
            }
        }
    }

    /// The carried-over stock of (trader, producer), here and across replicas. In-process first:
    /// then at most one delivery per process holds a connection while it waits for the others.
    async fn lock_carried_stock(
        &self,
        order: &entity::producer_order::Model,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, crate::store::trader::SendLock), StoreError> {
        let (trader, peer) = (&order.trader_enterprise_id, &order.peer_id);
        let here = self.locks.lock(LockKey::CarriedStock(trader.clone(), peer.clone())).await;
        let everywhere = self.store.lock_carried_stock(trader, peer).await?;
        Ok((here, everywhere))
    }

    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let factor = 2u32.saturating_pow(u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20));
        let delay = self.settings.base_backoff.saturating_mul(factor).min(self.settings.max_backoff);
        chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(300))
    }

    fn trader_iri(&self, trader: &str) -> String {
        self.urls.enterprise(trader)
    }

    /// The producer order as DFC: the trader enterprise as buyer, product quantities only. Nothing
    /// about any customer is in it (use case 2).
    fn payload(&self, plan: &ProducerOrderPlan) -> Value {
        self.payload_with_status(plan, plan.order.remote_iri.as_deref(), OrderStatus::Held)
    }

    fn payload_with_status(&self, plan: &ProducerOrderPlan, remote: Option<&str>, status: OrderStatus) -> Value {
        let trader = &plan.order.trader_enterprise_id;
        let session_iri = format!("{}/sales_sessions/{}", self.trader_iri(trader), plan.session.id);
        let order_id = remote.map_or_else(|| format!("{}#", self.peer(&plan.peer).orders_url()), str::to_owned);
        let lines = plan.sent_lines();
        let line_ids: Vec<String> = (1..=lines.len()).map(|i| format!("_:line{i}")).collect();
        let mut graph = vec![
            json!({
                "@id": order_id,
                "@type": "dfc-b:Order",
                "dfc-b:orderedBy": self.trader_iri(trader),
                "dfc-b:hasOrderStatus": format!("dfc-v:{status}"),
                "dfc-b:belongsTo": session_iri,
                "dfc-b:hasPart": line_ids,
            }),
            json!({
                "@id": session_iri,
                "@type": "dfc-b:SaleSession",
                "dfc-b:beginDate": plan.session.begins_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "dfc-b:endDate": plan.session.ends_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
        ];
        for (((product, offer), quantity), id) in lines.iter().zip(&line_ids) {
            graph.push(
                json!({"@id": id, "@type": "dfc-b:OrderLine", "dfc-b:quantity": quantity, "dfc-b:concerns": offer}),
            );
            graph.push(json!({"@id": offer, "@type": "dfc-b:Offer", "dfc-b:offeredItem": product}));
        }
        json!({"@context": CONTEXT_1_16, "@graph": graph})
    }

    fn cancellation(&self, order_iri: &str) -> Value {
        json!({"@context": CONTEXT_1_16, "@id": order_iri, "@type": "dfc-b:Order", "dfc-b:hasOrderStatus": "dfc-v:Cancelled"})
    }

    /// Closes a session now (or at its scheduled time): claims the closing once, then sends every
    /// producer order of the session one last time, Complete.
    pub async fn close_session(&self, session: Uuid) -> Result<bool, StoreError> {
        let Some(orders) = self.store.claim_session_closing(session, Utc::now()).await? else { return Ok(false) };
        tracing::info!(%session, producer_orders = orders.len(), "sales session closed; completing producer orders");
        self.deliver_all(&orders).await;
        Ok(true)
    }

    /// Sets a trader's consolidation mode (or a producer's override) and regroups the open
    /// sessions' producer orders at once: orders the new mode no longer gathers are emptied
    /// first, so the stock they release is there for the orders that now need it.
    pub async fn set_consolidation_mode(
        &self,
        trader: &str,
        producer: Option<&str>,
        mode: Option<ConsolidationMode>,
    ) -> Result<bool, StoreError> {
        let hold = Utc::now() + chrono::Duration::seconds(30);
        let Some((emptied, filled)) = self.store.set_consolidation_mode(trader, producer, mode, hold).await? else {
            return Ok(false);
        };
        tracing::info!(
            trader,
            producer,
            mode = mode.map(ConsolidationMode::as_str),
            regrouped = emptied.len() + filled.len(),
            "consolidation mode changed"
        );
        // Failures are recorded on each producer order and retried by the outbox.
        self.deliver_all(&emptied).await;
        self.deliver_all(&filled).await;
        Ok(true)
    }

    /// Delivers producer orders a few at a time (each send holds a database connection while it
    /// waits, and a session in PER_CUSTOMER_ORDER mode has one per customer order); failures are
    /// recorded on each and retried by the outbox.
    async fn deliver_all(&self, orders: &[Uuid]) {
        use futures::StreamExt;
        futures::stream::iter(orders)
            .for_each_concurrent(SENDS_AT_ONCE, |po| async move {
                let _ = self.deliver(*po).await;
            })
            .await;
    }

    /// Delivers every due producer order, and closes sessions due for closing, until `shutdown`
    /// resolves.
    pub async fn run_outbox(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.store.sessions_due_for_closing(Utc::now(), self.settings.close_grace).await {
                Ok(due) => {
                    for session in due {
                        if let Err(e) = self.close_session(session).await {
                            tracing::error!(%session, error = %e, "closing a sales session failed");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "looking for sessions to close failed"),
            }
            match self.store.due_producer_orders(Utc::now(), 32).await {
                Ok(due) => self.deliver_all(&due.iter().map(|po| po.id).collect::<Vec<_>>()).await,
                Err(e) => tracing::error!(error = %e, "outbox poll failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
