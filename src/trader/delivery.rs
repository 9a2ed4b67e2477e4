//! Delivering producer orders: recompute from all active customer orders, send whole (POST the
//! first time, PUT afterwards), and keep retrying with backoff what could not be delivered.
//! One send at a time per producer order, so concurrent checkouts never overwrite each other:
//! whichever send comes last was computed from every order committed before it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_decimal::Decimal;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Trader;
use super::lines::{LineIds, RemoteDiscounts, SentLine, answered_order};
use crate::dfc::vocab::CONTEXT_1_16;
use crate::dfc::writer;
use crate::domain::reservation;
use crate::domain::reservation::UnconfirmedPolicy;
use crate::domain::{ConsolidationMode, OrderStatus, Unit};
use crate::peers::PeerError;
use crate::peers::breaker::Permit;
use crate::store::StoreError;
use crate::store::delivery::{Acknowledged, Failure, RetryBudget};
use crate::store::parts::{PartRefusal, PartShortage};
use crate::store::trader::{DELIVERY_DELIVERED, DELIVERY_FAILED, ProducerOrderPlan};

/// How many producer orders the outbox worker sends at once.
const SENDS_AT_ONCE: usize = 8;

#[derive(Clone, Copy, Debug)]
pub struct DeliverySettings {
    /// How often the outbox worker looks for due sends.
    pub poll_interval: Duration,
    /// First retry delay; doubled each attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// After this many failed sends a producer order needs a person (FAILED); None: no limit
    /// but `retry_budget`.
    pub max_attempts: Option<i32>,
    /// How long a producer order may keep failing (an outage) before it needs a person.
    pub retry_budget: chrono::Duration,
    /// How long a checkout, amendment or cancellation waits for its producers' answers.
    pub checkout_deadline: Duration,
    /// Whether a checkout whose producer did not confirm in time is acknowledged.
    pub unconfirmed: UnconfirmedPolicy,
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
            max_attempts: None,
            retry_budget: chrono::Duration::hours(24),
            checkout_deadline: Duration::from_secs(10),
            unconfirmed: UnconfirmedPolicy::default(),
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

/// One key's place in this process: its lock, the highest producer order version that a send
/// finished here (or a look at the database) is known to have carried, and a wake-up for the
/// changes waiting on it. Waiters check the version in memory and sleep; only one of them takes
/// the lock to send next, so a batch of waiting checkouts costs one send, not one turn each.
#[derive(Default)]
pub struct Slot {
    lock: Arc<tokio::sync::Mutex<()>>,
    carried: AtomicI64,
    finished: tokio::sync::Notify,
}

impl Slot {
    fn carried_up_to(&self, version: i64) {
        self.carried.fetch_max(version, AtomicOrdering::SeqCst);
    }
}

/// A held lock; it keeps its slot alive, so nobody else gets a new lock for the key meanwhile.
pub struct Held {
    _slot: Arc<Slot>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

/// Per-key slots, dropped when nobody holds or waits on them.
#[derive(Default)]
pub struct KeyedLocks {
    slots: Mutex<HashMap<LockKey, Arc<Slot>>>,
}

impl KeyedLocks {
    fn slot(&self, key: LockKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        slots.entry(key).or_default().clone()
    }

    async fn lock(&self, key: LockKey) -> Held {
        let slot = self.slot(key);
        let guard = slot.lock.clone().lock_owned().await;
        Held { _slot: slot, _guard: guard }
    }
}

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the producer's platform failed recently; the send waits for its circuit to close")]
    CircuitOpen,
}

/// A send's peer error is the delivery's to handle; a store error ends the delivery.
fn peer_error<T>(result: Result<T, DeliveryError>) -> Result<Result<T, PeerError>, DeliveryError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(DeliveryError::Peer(error)) => Ok(Err(error)),
        Err(other) => Err(other),
    }
}

/// Sends of one delivery: the whole batch, then after each refusal for stock the batch as far
/// as the stock goes; then the held parts alone.
const ROUNDS: usize = 4;

impl Trader {
    /// Recomputes the producer order and sends it; records the outcome for the outbox.
    pub async fn deliver(&self, producer_order: Uuid) -> Result<(), DeliveryError> {
        self.deliver_part(producer_order, None).await
    }

    /// Delivers a producer order for a change (checkout, amendment, cancellation) that queued it
    /// at `waiter` (its version then): returns at once if a send already carried that version
    /// (the group commit: one send carries every change committed before it, and each waiting
    /// change learns its outcome from it).
    pub(super) async fn deliver_part(&self, producer_order: Uuid, waiter: Option<i64>) -> Result<(), DeliveryError> {
        let slot = self.locks.slot(LockKey::ProducerOrder(producer_order));
        let one_writer_here = match waiter {
            None => slot.lock.clone().lock_owned().await,
            Some(version) => loop {
                if slot.carried.load(AtomicOrdering::SeqCst) >= version {
                    return Ok(());
                }
                // Registered before trying the lock, so a send finishing in between still wakes us.
                let finished = slot.finished.notified();
                tokio::pin!(finished);
                finished.as_mut().enable();
                if let Ok(guard) = slot.lock.clone().try_lock_owned() {
                    break guard;
                }
                finished.await;
            },
        };
        let mut result = self.deliver_locked(producer_order, waiter, &slot).await;
        // Two deliveries recording at once (one refusing an order, another reserving its part at
        // another producer) can deadlock on PostgreSQL, which aborts one of them whole. Nothing of
        // it was recorded, so it is delivered again: a PUT says the whole order again, and a POST
        // whose answer was not recorded is found at the producer first.
        for _ in 0..3 {
            match &result {
                Err(DeliveryError::Store(err)) if err.is_conflict() => {
                    tracing::info!(%producer_order, "delivery aborted by a database conflict; delivering again");
                    result = self.deliver_locked(producer_order, waiter, &slot).await;
                }
                _ => break,
            }
        }
        drop(one_writer_here);
        slot.finished.notify_waiters();
        result
    }

    /// The delivery itself, under this process's lock of the producer order.
    async fn deliver_locked(
        &self,
        producer_order: Uuid,
        waiter: Option<i64>,
        slot: &Slot,
    ) -> Result<(), DeliveryError> {
        // The producer order as read to decide whether to send is the one planned, unless
        // another replica may have sent it meanwhile: then it is read again under the lock.
        let mut read = None;
        if let Some(waiter) = waiter {
            if slot.carried.load(AtomicOrdering::SeqCst) >= waiter {
                return Ok(());
            }
            let context = self.store.producer_order_with_mode(producer_order).await?;
            if decided(context.as_ref().map(|c| &c.order), waiter) {
                slot.carried_up_to(waiter);
                return Ok(());
            }
            read = context;
        }
        // Replicas take turns; the one that waited sends what the other one did not carry.
        let one_writer_anywhere = self.store.lock_producer_order_send(producer_order).await?;
        if read.is_none() || one_writer_anywhere.shared_with_replicas() {
            read = self.store.producer_order_with_mode(producer_order).await?;
            // Only another replica can have sent it meanwhile: a single process (SQLite) knows.
            if let Some(waiter) = waiter
                && decided(read.as_ref().map(|c| &c.order), waiter)
            {
                slot.carried_up_to(waiter);
                return Ok(());
            }
        }
        let Some(context) = read else {
            return Ok(());
        };
        if let Permit::Wait(until) = self.breakers.permit(&context.peer.id) {
            let at = Utc::now() + chrono::Duration::from_std(until - std::time::Instant::now()).unwrap_or_default();
            self.store.defer_send(producer_order, at).await?;
            // Nothing goes to this producer now: the changes waiting need not queue for the lock.
            slot.carried_up_to(context.order.version);
            return Err(DeliveryError::CircuitOpen);
        }
        // Two orders with one producer planned at once by weight could both count on the same
        // kilos of carried-over stock; planned under this lock, each sees what the other took
        // (its lines are recorded before the lock is released). Lock order: producer order first.
        let _stock_shared_with_other_orders = match context.mode {
            ConsolidationMode::ByWeight => Some(self.lock_carried_stock(&context.order).await?),
            _ => None,
        };
        let mut plan = self.store.plan_producer_order(context).await?;
        let status = OrderStatus::from_name(&plan.order.status);
        if status == Some(OrderStatus::Complete) || plan.order.settled_at.is_some() {
            // A completed producer order is never amended (the producer prepares the goods), and
            // a settled one's lines are final: the carried-over stock is counted from them.
            self.store.drop_queued_send(producer_order).await?;
            slot.carried_up_to(plan.order.version);
            return Ok(());
        }
        if plan.order.delivery_state == DELIVERY_DELIVERED
            && plan.order.delivered_version >= plan.order.version
            && plan.admitted.is_empty()
        {
            // A send that waited for the lock found its change already delivered by the send
            // before it (computed after the change committed): nothing left to say.
            slot.carried_up_to(plan.order.delivered_version);
            return Ok(());
        }
        for round in 1..=ROUNDS {
            let error = match peer_error(self.send(&mut plan).await)? {
                Ok(acknowledged) => {
                    let version = acknowledged.version;
                    self.store.mark_delivered(producer_order, acknowledged, &plan.lines, &plan.admitted).await?;
                    slot.carried_up_to(version);
                    if self.breakers.success(&plan.peer.id) {
                        let woken = self.store.wake_sends_to(&plan.peer.id).await?;
                        tracing::info!(peer = %plan.peer.id, woken, "producer answers again");
                    }
                    tracing::info!(%producer_order, peer = %plan.peer.id, version, lines = plan.lines.len(), carried = plan.admitted.len(), round, mode = plan.mode.as_str(), "producer order delivered");
                    return Ok(());
                }
                Err(error) => error,
            };
            let unknown = error.outcome_unknown();
            if !error.is_transient() && !unknown {
                // The producer is there and said no: what we sent was not created or changed.
                self.breakers.success(&plan.peer.id);
                if round < ROUNDS && !plan.admitted.is_empty() {
                    let refusals = match error.shortages() {
                        Some(shortages) if round + 1 < ROUNDS => self.share_out(&mut plan, shortages),
                        // Refused, not for stock (or again and again): the waiting parts are what
                        // changed since the producer last agreed; send the held ones alone.
                        _ => self.refuse_all_waiting(&mut plan, &error),
                    };
                    self.refuse(&plan.peer.id, &refusals).await?;
                    tracing::info!(%producer_order, peer = %plan.peer.id, refused = refusals.len(), admitted = plan.admitted.len(), code = error.code(), "producer refused part of a batch");
                    continue;
                }
            } else if matches!(error, PeerError::Unaccounted(_)) {
                // The producer answered; what is missing is an answer only a person can give.
                self.breakers.success(&plan.peer.id);
            } else {
                self.breakers.failure(&plan.peer.id);
            }
            let failure = Failure {
                version: plan.order.version,
                error: format!("{}: {error}", error.code()),
                permanent: !error.is_transient() && !unknown,
                retry_at: Utc::now() + self.backoff(plan.order.attempts + 1),
            };
            let failed = self.store.mark_attempt_failed(producer_order, failure, self.budget()).await?;
            // The changes it carried learn the failure from it; the outbox retries.
            slot.carried_up_to(plan.order.version);
            tracing::warn!(%producer_order, peer = %plan.peer.id, attempts = plan.order.attempts + 1, failed, unknown, code = error.code(), error = %error, "producer order not delivered");
            return Err(error.into());
        }
        Ok(())
    }

    /// Shares out what a producer refusing for stock says is available among the waiting parts
    /// of the plan, in checkout order; the plan keeps those that fit. Returns the others.
    fn share_out(&self, plan: &mut ProducerOrderPlan, shortages: &[crate::peers::PeerShortage]) -> Vec<PartRefusal> {
        let available: BTreeMap<String, Decimal> =
            shortages.iter().map(|s| (s.product_iri.clone(), s.available)).collect();
        let waiting = plan.admitted.clone();
        let allocation = reservation::allocate(&waiting, &available, |set| plan.sent_units(set));
        let admitted: BTreeSet<Uuid> = allocation.admitted.iter().copied().collect();
        let refusals = allocation
            .refused
            .iter()
            .map(|order| {
                let shortages = self.really_available(plan, &admitted, *order, &available);
                PartRefusal { order: *order, shortages, reason: "OUT_OF_STOCK: not enough stock".to_owned() }
            })
            .collect();
        plan.admit_only(allocation.admitted);
        refusals
    }

    /// For each product of a refused order that cannot be had in full: the most of it that
    /// would fit beside the admitted orders (alone of the order's products), found by bisection
    /// over the real plan, so that packs and carried-over stock count exactly as they will.
    fn really_available(
        &self,
        plan: &ProducerOrderPlan,
        admitted: &BTreeSet<Uuid>,
        order: Uuid,
        available: &BTreeMap<String, Decimal>,
    ) -> Vec<PartShortage> {
        let mut with_it = admitted.clone();
        with_it.insert(order);
        let fits_with = |product: &str, units: i64| {
            let sent = plan.sent_units_with(&with_it, Some((order, product, units)));
            reservation::fits(&sent, available)
        };
        plan.inputs
            .own_units(order)
            .into_iter()
            .filter(|(product, wanted)| !fits_with(product, *wanted))
            .map(|(product, wanted)| {
                let (mut fits, mut short) = (0, wanted);
                while short - fits > 1 {
                    let middle = fits + (short - fits) / 2;
                    if fits_with(&product, middle) { fits = middle } else { short = middle }
                }
                let fits = if fits_with(&product, fits) { fits } else { 0 };
                let ordered_as = plan.pack_name_for(&product);
                PartShortage { product, ordered_as, requested: wanted, available: Decimal::from(fits) }
            })
            .collect()
    }

    fn refuse_all_waiting(&self, plan: &mut ProducerOrderPlan, error: &PeerError) -> Vec<PartRefusal> {
        let refusals = plan
            .admitted
            .iter()
            .map(|order| PartRefusal {
                order: *order,
                shortages: Vec::new(),
                reason: format!("{}: {error}", error.code()),
            })
            .collect();
        plan.admit_only(Vec::new());
        refusals
    }

    /// Records refused parts; the producer orders of refused customer orders' other producers
    /// are sent again without them, in the background.
    async fn refuse(&self, peer_id: &str, refusals: &[PartRefusal]) -> Result<(), StoreError> {
        let hold = Utc::now() + chrono::Duration::seconds(30);
        let requeued = self.store.refuse_parts(peer_id, refusals, hold).await?;
        self.deliver_in_background(requeued);
        Ok(())
    }

    /// A delivery as a named `Send` future, to be spawned from within a delivery (the compiler
    /// cannot see through the recursion otherwise).
    pub(super) fn delivery(self, producer_order: Uuid) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = self.deliver(producer_order).await;
        })
    }

    /// One send of the plan (see [`Self::send_once`]). A producer refusing a change to its order
    /// may no longer have it open: a cancellation whose answer was lost went through, or a
    /// person cancelled it there. The producer is asked; if its order is Cancelled, the send
    /// places a new one instead of refusing the customer orders waiting on it.
    async fn send(&self, plan: &mut ProducerOrderPlan) -> Result<Acknowledged, DeliveryError> {
        let error = match self.send_once(plan).await {
            Err(DeliveryError::Peer(error)) => error,
            other => return other,
        };
        let refused_outright = !error.is_transient() && !error.outcome_unknown() && error.shortages().is_none();
        let open_here = OrderStatus::from_name(&plan.order.status) != Some(OrderStatus::Cancelled);
        let Some(remote) = plan.order.remote_iri.clone().filter(|_| refused_outright && open_here) else {
            return Err(error.into());
        };
        let peer = self.peer(&plan.peer);
        // If the producer cannot say now, the refusal is not taken as final: the outbox asks again.
        let now = self.client.order(&peer, &remote).await?;
        if answered_order(&now, &remote).and_then(|o| o.order_status) != Some(OrderStatus::Cancelled) {
            return Err(error.into());
        }
        tracing::info!(producer_order = %plan.order.id, peer = %peer.id, remote = %remote, "the producer's order is Cancelled there; placing a new one");
        self.store.record_cancelled_at_producer(plan.order.id).await?;
        plan.order.status = OrderStatus::Cancelled.dfc_name().to_owned();
        plan.order.post_started_at = None;
        self.send_once(plan).await
    }

    /// POST the first time (after looking for the order at the producer if an earlier POST's
    /// answer was lost), PUT afterwards, Cancelled when nothing is left, Complete once the
    /// session has closed.
    async fn send_once(&self, plan: &mut ProducerOrderPlan) -> Result<Acknowledged, DeliveryError> {
        let id = plan.order.id;
        let peer = self.peer(&plan.peer);
        let status = OrderStatus::from_name(&plan.order.status);
        let version = plan.order.version;
        // After the session closed (plus grace), the last send completes the order.
        let closing = plan.session.closed_at.is_some();
        // A Cancelled order at the producer cannot take lines again: new lines make a new order.
        let mut remote = plan.order.remote_iri.clone().filter(|_| status != Some(OrderStatus::Cancelled));
        let mut line_ids =
            if remote.is_some() { LineIds::parse(plan.order.remote_lines.as_deref()) } else { LineIds::default() };
        if remote.is_none()
            && plan.order.post_started_at.is_some()
            && let Some(found) = self.find_at_producer(&peer, id).await?
            && let Some(iri) = found.id.clone()
        {
            tracing::info!(producer_order = %id, peer = %peer.id, "found the order a lost answer had created");
            line_ids.learn_listed(&found, &offered_products(plan));
            self.store.record_remote_order(id, &iri, &line_ids.to_json()).await?;
            plan.order.remote_iri = Some(iri.clone());
            plan.order.status = OrderStatus::Held.dfc_name().to_owned();
            remote = Some(iri);
        }
        let acknowledged = |remote_iri: Option<String>,
                            status: OrderStatus,
                            answer: Option<(crate::dfc::Document, Vec<SentLine>)>,
                            line_ids: &LineIds| {
            let order = answer.as_ref().and_then(|(a, _)| answered_order(a, remote_iri.as_deref().unwrap_or_default()));
            // What the producer says it does with the order (Unfulfilled once complete), and
            // what it takes off (its own discounts: what the trader will pay).
            let fulfilment = order.and_then(|o| o.fulfilment_status.clone());
            let remote_discounts = match (&answer, order) {
                (Some((_, sent)), Some(order)) => RemoteDiscounts::from_answer(sent, order),
                _ => None,
            };
            Acknowledged {
                version,
                remote_iri: remote_iri.clone(),
                status,
                fulfilment,
                last: closing,
                remote_lines: Some(line_ids.to_json()),
                remote_discounts,
            }
        };
        let remote = match (remote, plan.sent_lines().is_empty()) {
            // Nothing ordered and nothing at the producer: nothing to say, and the state stays
            // what it was (Cancelled at the producer, or never sent).
            (None, true) => {
                let state = status.unwrap_or(OrderStatus::Held);
                return Ok(acknowledged(plan.order.remote_iri.clone(), state, None, &line_ids));
            }
            (None, false) => {
                let started = self.store.mark_post_started(id).await?;
                let key = format!("{id}/{}", started.timestamp_micros());
                // The new order's placeholder id is the producer's orders URL, as Open Food
                // Network sends it; its lines are named under it.
                let payload = |orders_url: &str| {
                    let sent = name_lines(plan, orders_url, &mut line_ids.clone());
                    self.order_payload(plan, orders_url, OrderStatus::Held, &sent)
                };
                let (iri, answer) = match self.client.place_order(&peer, payload, &key).await {
                    Ok(placed) => placed,
                    Err(error) => {
                        if !error.is_transient() && !error.outcome_unknown() {
                            self.store.clear_post_started(id).await?;
                            plan.order.post_started_at = None;
                        }
                        return Err(error.into());
                    }
                };
                let sent = name_lines(plan, &iri, &mut line_ids);
                learn_line_ids(&mut line_ids, &sent, &answer, &iri);
                if !closing {
                    return Ok(acknowledged(Some(iri), OrderStatus::Held, Some((answer, sent)), &line_ids));
                }
                // Known before the second call: if completing fails, the retry completes this
                // order (naming its lines as the producer does) instead of placing another.
                self.store.record_remote_order(id, &iri, &line_ids.to_json()).await?;
                plan.order.remote_iri = Some(iri.clone());
                plan.order.remote_lines = Some(line_ids.to_json());
                iri
            }
            (Some(iri), true) => {
                let answer = self.client.replace_order(&peer, &iri, &self.cancellation(&iri)).await?;
                return Ok(acknowledged(Some(iri), OrderStatus::Cancelled, Some((answer, Vec::new())), &line_ids));
            }
            (Some(iri), false) => iri,
        };
        let wanted = if closing { OrderStatus::Complete } else { OrderStatus::Held };
        let sent = name_lines(plan, &remote, &mut line_ids);
        let payload = self.order_payload(plan, &remote, wanted, &sent);
        let answer = self.client.replace_order(&peer, &remote, &payload).await?;
        learn_line_ids(&mut line_ids, &sent, &answer, &remote);
        Ok(acknowledged(Some(remote), wanted, Some((answer, sent)), &line_ids))
    }

    /// The producer's order for one of ours whose creation answer was lost, found by the
    /// `dfc-b:orderNumber` we sent with it; None when the creation did not land. A producer that
    /// keeps no order number (the Shopify app) cannot say which order is ours: if it lists orders
    /// we cannot account for, one of them may be, and sending again could order twice, so the
    /// send fails (retried, and visible) until a person has looked.
    async fn find_at_producer(
        &self,
        peer: &crate::peers::Peer,
        id: Uuid,
    ) -> Result<Option<crate::dfc::model::Order>, DeliveryError> {
        let listed = self.client.orders(peer).await?;
        let number = id.to_string();
        let open: Vec<crate::dfc::model::Order> =
            listed.orders.into_iter().filter(|o| o.order_status != Some(OrderStatus::Cancelled)).collect();
        if let Some(found) = open.iter().find(|o| o.number.as_deref() == Some(number.as_str())) {
            return Ok(Some(found.clone()));
        }
        let unnumbered: Vec<String> = open.iter().filter(|o| o.number.is_none()).filter_map(|o| o.id.clone()).collect();
        if unnumbered.is_empty() {
            return Ok(None);
        }
        let known = self.store.remote_orders_of(&peer.id).await?;
        let unaccounted: Vec<String> = unnumbered.into_iter().filter(|iri| !known.contains(iri)).collect();
        if unaccounted.is_empty() { Ok(None) } else { Err(PeerError::Unaccounted(unaccounted).into()) }
    }

    fn budget(&self) -> RetryBudget {
        RetryBudget { time: self.settings.retry_budget, attempts: self.settings.max_attempts }
    }

    /// The carried-over stock of (trader, producer), here and across replicas. In-process first:
    /// then at most one delivery per process holds a connection while it waits for the others.
    async fn lock_carried_stock(
        &self,
        order: &entity::producer_order::Model,
    ) -> Result<(Held, crate::store::trader::SendLock), StoreError> {
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

    /// The producer order as DFC, in the shape Open Food Network sends and every running reader
    /// parses: the order (our id for it as `dfc-b:orderNumber`, how a lost creation is found
    /// again), each line named (see [`LineIds`]) with its Offer (price and VAT as the catalogue
    /// published them) and SuppliedProduct, the sale session, and the trader enterprise as buyer.
    /// Every node the document refers to is in it, and nothing about any customer (use case 2).
    fn order_payload(
        &self,
        plan: &ProducerOrderPlan,
        order_iri: &str,
        status: OrderStatus,
        sent: &[SentLine],
    ) -> Value {
        let trader = &plan.order.trader_enterprise_id;
        let trader_iri = self.trader_iri(trader);
        let session_iri = format!("{trader_iri}/sales_sessions/{}", plan.session.id);
        let ids: Vec<&str> = sent.iter().map(|line| line.id.as_str()).collect();
        let mut graph = vec![
            json!({
                "@id": order_iri,
                "@type": "dfc-b:Order",
                "dfc-b:orderedBy": trader_iri,
                "dfc-b:hasOrderStatus": format!("dfc-v:{status}"),
                "dfc-b:orderNumber": plan.order.id.to_string(),
                "dfc-b:belongsTo": session_iri,
                "dfc-b:hasPart": ids,
            }),
            json!({
                "@id": session_iri,
                "@type": "dfc-b:SaleSession",
                "dfc-b:beginDate": plan.session.begins_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "dfc-b:endDate": plan.session.ends_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
            json!({"@id": trader_iri, "@type": "dfc-b:Enterprise"}),
        ];
        for SentLine { product, offer, id, quantity } in sent {
            let mut line_node = json!({
                "@id": id,
                "@type": "dfc-b:OrderLine",
                "dfc-b:quantity": quantity,
                "dfc-b:concerns": offer,
                "dfc-b:partOf": order_iri,
            });
            let mut offer_node = json!({"@id": offer, "@type": "dfc-b:Offer", "dfc-b:offeredItem": product});
            let mut product_node = json!({"@id": product, "@type": "dfc-b:SuppliedProduct"});
            if let Some(published) = plan.offer_for(product) {
                // The unit price the trader expects, on the line as on the offer: the
                // connector's line reader fails on a line without one.
                if let Some(price) = published_price(published) {
                    line_node["dfc-b:hasPrice"] = price.clone();
                    offer_node["dfc-b:hasPrice"] = price;
                }
                product_node["dfc-b:name"] = Value::from(published.name.as_str());
                if let (Some(value), Some(unit)) = (&published.unit_value, &published.unit_code)
                    && let Ok(value) = value.parse::<Decimal>()
                {
                    product_node["dfc-b:hasQuantity"] = writer::quantity_node(value, &Unit::from_name(unit));
                }
            }
            graph.push(line_node);
            graph.push(offer_node);
            graph.push(product_node);
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

/// The product each offer of the plan offers, to recognise the lines of a listed order.
fn offered_products(plan: &ProducerOrderPlan) -> BTreeMap<String, String> {
    plan.sent_lines().into_keys().map(|(product, offer)| (offer, product)).collect()
}

/// The lines the plan sends, each named in the order `order_iri` (see [`LineIds::assign`]).
fn name_lines(plan: &ProducerOrderPlan, order_iri: &str, line_ids: &mut LineIds) -> Vec<SentLine> {
    let lines = plan.sent_lines();
    let ids = line_ids.assign(order_iri, lines.keys().map(|(product, _)| product.as_str()));
    lines
        .into_iter()
        .zip(ids)
        .map(|(((product, offer), quantity), id)| SentLine { product, offer, id, quantity })
        .collect()
}

/// The producer's ids for the lines just sent, from its answer's order (the one it answered for).
fn learn_line_ids(ids: &mut LineIds, sent: &[SentLine], answer: &crate::dfc::Document, order_iri: &str) {
    if let Some(order) = answered_order(answer, order_iri) {
        ids.learn(sent, order);
    }
}

/// A catalogue price as a DFC Price node.
fn published_price(offer: &entity::peer_offer::Model) -> Option<Value> {
    let value: Decimal = offer.price.parse().ok()?;
    let vat: Decimal = offer.vat_rate.parse().unwrap_or_default();
    let currency = crate::domain::Currency::from_name(&offer.currency)?;
    Some(writer::price_node(value, vat, currency.dfc_name()))
}

/// Whether a change queued at `version` no longer needs a send of `order`: a send carrying it was
/// acknowledged (which decided its part), or failed (the outbox retries it; another try now would
/// only spend the producer's patience). A producer order that is gone needs none.
fn decided(order: Option<&entity::producer_order::Model>, version: i64) -> bool {
    let Some(po) = order else { return true };
    let failed_with_it = po.attempted_version >= version
        && po.failing_since.is_some()
        && po.next_attempt_at.is_some_and(|at| at > Utc::now());
    let complete = po.status == OrderStatus::Complete.dfc_name() || po.settled_at.is_some();
    po.delivered_version >= version || failed_with_it || po.delivery_state == DELIVERY_FAILED || complete
}
