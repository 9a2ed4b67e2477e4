//! Live order status: subscriptions that follow a customer order, or a session's producer
//! orders, as the database reports their changes (see [`crate::changes`]), on any replica.
//!
//! A change only says what to read again: each stream reads the state from the store and sends
//! it when what a client can see differs from what it sent last, so a change seen twice sends
//! nothing twice, and a resync (changes possibly missed) reads everything followed again.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::{Context, ID, Result, Subscription};
use entity::{customer_order, order_part, producer_order};
use futures::stream::{self, BoxStream, StreamExt};
use uuid::Uuid;

use super::access;
use super::orders::Order;
use super::producer_orders::ProducerOrder;
use super::store_error;
use super::trader::{coded, parse_uuid, store};
use crate::changes::{Change, Changes, SubscribeError, Subscriber};
use crate::store::Store;

/// How long a stream whose last read failed waits before it reads again on its own.
const REREAD_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Changed producer orders read by their ids up to this many; more are read with their session.
const READ_BY_ID_UP_TO: usize = 500;

#[derive(Default)]
pub struct Subscription;

fn subscriber(ctx: &Context<'_>) -> Result<Subscriber> {
    let Some(changes) = ctx.data_opt::<Changes>() else {
        return Err(coded("live updates are not served here", "SUBSCRIPTIONS_UNAVAILABLE"));
    };
    changes.subscribe().map_err(|e| match e {
        SubscribeError::Full => {
            coded("too many live subscriptions on this server; retry later", "TOO_MANY_SUBSCRIPTIONS")
        }
        SubscribeError::Closing => coded("the server is shutting down; subscribe again", "SHUTTING_DOWN"),
    })
}

#[Subscription]
impl Subscription {
    /// The order as it is now, then again each time what it shows changes: status, payment,
    /// lines and totals (an amendment), or a producer's reservation. Ends when the order is
    /// removed (a checkout that no producer could hold) or the server shuts down (subscribe
    /// again). Its customer, the trader's staff and operators may follow it.
    async fn order_updated(&self, ctx: &Context<'_>, id: ID) -> Result<BoxStream<'static, Result<Order>>> {
        let id = parse_uuid(&id, "order")?;
        let identity = access::caller(ctx)?;
        // Subscribed before the first read: no change can fall between the two.
        let subscriber = subscriber(ctx)?;
        let store = store(ctx).clone();
        let found = store.customer_order(id).await.map_err(store_error)?;
        let order = access::found(ctx, found, access::may_see_order, || coded("no such order", "NOT_FOUND"))?;
        let parts = store.order_parts(&[id]).await.map_err(store_error)?;
        let follow = OrderFollower { store, subscriber, id, sent: (order.clone(), parts.clone()), stale: false };
        let first = stream::once(async move { Ok(Order::with_parts(order, parts)) });
        Ok(until_expiry(first.chain(stream::unfold(follow, OrderFollower::next)).boxed(), identity))
    }

    /// Each producer order of the session whenever what it shows changes (its status, delivery
    /// state and attempts, lines, the producer's answer), from the moment of subscribing: ask
    /// `salesSession { producerOrders }` after subscribing for the state before. The trader's
    /// staff and operators may follow it; it ends when the server shuts down.
    async fn producer_order_updated(
        &self,
        ctx: &Context<'_>,
        sales_session_id: ID,
    ) -> Result<BoxStream<'static, Result<ProducerOrder>>> {
        let session_id = parse_uuid(&sales_session_id, "sales session")?;
        let identity = access::caller(ctx)?;
        let subscriber = subscriber(ctx)?;
        let store = store(ctx).clone();
        let session = store.sales_session(session_id).await.map_err(store_error)?;
        let session = access::found(
            ctx,
            session,
            |identity, s| access::staff_of(identity, access::TRADER_STAFF, &s.enterprise_id),
            || coded("no such sales session", "NOT_FOUND"),
        )?;
        let current = store.producer_orders_of_sessions(&[session.id]).await.map_err(store_error)?;
        let sent = current.into_iter().map(|po| (po.id, Shown::of(&po))).collect();
        let follow = SessionFollower { store, subscriber, session: session.id, sent, stale: false };
        Ok(until_expiry(stream::unfold(follow, SessionFollower::next).flat_map(stream::iter).boxed(), identity))
    }
}

/// Ends `updates` with `TOKEN_EXPIRED` when the caller's token stops verifying: a subscription
/// must not outlive the right to it.
fn until_expiry<T: Send + 'static>(
    updates: BoxStream<'static, Result<T>>,
    identity: &crate::auth::Identity,
) -> BoxStream<'static, Result<T>> {
    let Some(expires_at) = identity.expires_at else { return updates };
    let left = u64::try_from(expires_at.saturating_sub(chrono::Utc::now().timestamp())).unwrap_or(0);
    let expiry = Box::pin(tokio::time::sleep(Duration::from_secs(left)));
    stream::unfold(Some((updates, expiry)), |state| async move {
        let (mut updates, mut expiry) = state?;
        tokio::select! {
            update = updates.next() => update.map(|update| (update, Some((updates, expiry)))),
            () = &mut expiry => Some((
                Err(coded("the token has expired: subscribe again with a fresh one", "TOKEN_EXPIRED")),
                None,
            )),
        }
    })
    .boxed()
}

/// What a client sees of a customer order.
type OrderShown = (customer_order::Model, Vec<order_part::Model>);

struct OrderFollower {
    store: Store,
    subscriber: Subscriber,
    id: Uuid,
    sent: OrderShown,
    /// The last read failed: read again soon even without a change.
    stale: bool,
}

impl OrderFollower {
    async fn next(mut self) -> Option<(Result<Order>, OrderFollower)> {
        loop {
            // After a failure any change, or a second's wait, reads again.
            let change = self.subscriber.next_or_after(self.stale.then_some(REREAD_AFTER_FAILURE)).await?;
            if !self.stale && !self.concerned(change) {
                continue;
            }
            let read = async {
                let Some(order) = self.store.customer_order(self.id).await? else { return Ok(None) };
                let parts = self.store.order_parts(&[self.id]).await?;
                Ok(Some((order, parts)))
            };
            match read.await {
                // Removed: nothing more will happen to it.
                Ok(None) => return None,
                Ok(Some(shown)) => {
                    self.stale = false;
                    if self.sent == shown {
                        continue;
                    }
                    self.sent = shown.clone();
                    let (order, parts) = shown;
                    return Some((Ok(Order::with_parts(order, parts)), self));
                }
                Err(e) => {
                    self.stale = true;
                    return Some((Err(store_error(e)), self));
                }
            }
        }
    }

    /// Whether a change (or those waiting behind it) may concern the order.
    fn concerned(&mut self, change: Change) -> bool {
        let id = self.id;
        let concerns = move |change: &Change| match change {
            Change::Order { id: changed } => *changed == id,
            Change::Resync => true,
            Change::ProducerOrder { .. } => false,
        };
        let waiting = self.subscriber.waiting();
        concerns(&change) || waiting.iter().any(concerns)
    }
}

/// What a client sees of a producer order (not the delivery's bookkeeping, such as when a send
/// started).
#[derive(PartialEq)]
struct Shown {
    status: String,
    fulfilment_status: Option<String>,
    delivery_state: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    remote_iri: Option<String>,
    settled_at: Option<chrono::DateTime<chrono::Utc>>,
    version: i64,
    remote_lines: Option<String>,
    remote_discounts: Option<String>,
}

impl Shown {
    fn of(po: &producer_order::Model) -> Shown {
        Shown {
            status: po.status.clone(),
            fulfilment_status: po.fulfilment_status.clone(),
            delivery_state: po.delivery_state.clone(),
            attempts: po.attempts,
            last_error: po.last_error.clone(),
            next_attempt_at: po.next_attempt_at,
            remote_iri: po.remote_iri.clone(),
            settled_at: po.settled_at,
            version: po.version,
            remote_lines: po.remote_lines.clone(),
            remote_discounts: po.remote_discounts.clone(),
        }
    }
}

struct SessionFollower {
    store: Store,
    subscriber: Subscriber,
    session: Uuid,
    sent: HashMap<Uuid, Shown>,
    stale: bool,
}

/// Which of a session's producer orders to read again.
enum Reread {
    Some(Vec<Uuid>),
    All,
}

impl SessionFollower {
    async fn next(mut self) -> Option<(Vec<Result<ProducerOrder>>, SessionFollower)> {
        loop {
            // After a failure any change, or a second's wait, reads everything again.
            let first = self.subscriber.next_or_after(self.stale.then_some(REREAD_AFTER_FAILURE)).await?;
            let mut changes = vec![first];
            changes.extend(self.subscriber.waiting());
            let reread = if self.stale { Reread::All } else { self.concerned(&changes) };
            let read = match reread {
                Reread::Some(ids) if ids.is_empty() => continue,
                Reread::Some(ids) if ids.len() <= READ_BY_ID_UP_TO => self.store.producer_orders_by_ids(&ids).await,
                _ => self.store.producer_orders_of_sessions(&[self.session]).await,
            };
            let orders = match read {
                Ok(orders) => orders,
                Err(e) => {
                    self.stale = true;
                    return Some((vec![Err(store_error(e))], self));
                }
            };
            self.stale = false;
            let mut changed = Vec::new();
            for po in orders {
                let shown = Shown::of(&po);
                if self.sent.get(&po.id) != Some(&shown) {
                    self.sent.insert(po.id, shown);
                    changed.push(Ok(ProducerOrder(po)));
                }
            }
            if !changed.is_empty() {
                return Some((changed, self));
            }
        }
    }

    fn concerned(&self, changes: &[Change]) -> Reread {
        let mut ids = Vec::new();
        for change in changes {
            match change {
                Change::Resync => return Reread::All,
                Change::ProducerOrder { id, session } if *session == self.session && !ids.contains(id) => ids.push(*id),
                _ => {}
            }
        }
        Reread::Some(ids)
    }
}
