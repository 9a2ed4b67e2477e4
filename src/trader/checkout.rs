//! Checkout: one customer order holding products of several producers, paid to the trader only.
//! The order, its parts (one per producer, PENDING) and the queued producer orders are committed
//! together; then each producer order is delivered (the delivery engine coalesces concurrent
//! checkouts into one send) and the checkout waits, up to its deadline, until every part is
//! decided. A part refused refuses the whole order everywhere; a part not confirmed in time is
//! acknowledged or withdrawn as the trader chose (`UnconfirmedPolicy`).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::Utc;
use entity::{customer_order, order_part};
use futures::future::join_all;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Trader;
use crate::domain::discounts::{self, CartLine};
use crate::domain::{Currency, PartState, Quantity, Unit};
use crate::store::StoreError;
use crate::store::parts::PartShortage;
use crate::store::trader::{AmendOutcome, NewCustomerOrder, NewLine, Recorded};

/// Personal data: kept by the trader, never sent to a producer.
#[derive(Clone, Debug, Default)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CheckoutLineRequest {
    /// The offer (or product) IRI as the session's catalogue lists it.
    pub offer: String,
    pub quantity: i64,
}

#[derive(Clone, Debug)]
pub struct CheckoutRequest {
    pub idempotency_key: String,
    pub session_id: Uuid,
    pub customer_id: String,
    pub contact: Contact,
    pub lines: Vec<CheckoutLineRequest>,
}

/// A line that a producer cannot supply in full.
#[derive(Clone, Debug, PartialEq)]
pub struct LineShortage {
    /// Index of the line in the checkout request.
    pub line: usize,
    pub offer: String,
    pub name: String,
    pub requested: i64,
    pub available: Decimal,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("no such sales session")]
    SessionNotFound,
    #[error("the sales session is not open")]
    SessionClosed,
    #[error("{0}")]
    InvalidInput(String),
    #[error("line {line}: `{offer}` is not offered in this sales session")]
    UnknownOffer { line: usize, offer: String },
    #[error("this idempotency key was used for a different checkout")]
    IdempotencyKeyReused,
    #[error("no such order")]
    OrderNotFound,
    #[error("the order is cancelled")]
    OrderNotActive,
    #[error("a producer has already completed its order; this order can no longer change")]
    OrderComplete,
    #[error("not enough stock")]
    OutOfStock(Vec<LineShortage>),
    #[error("a producer refused the order: {reason}")]
    ProducerRefused { reason: String },
    #[error("producer `{producer}` could not confirm the order in time; nothing was ordered")]
    ProducerUnconfirmed { producer: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checkout lines priced from the producers' offers, with the trader's discounts in force.
pub struct Priced {
    pub lines: Vec<NewLine>,
    pub currency: String,
    pub total: Decimal,
    /// The discounts applied, as stored with the order (None: none).
    pub discounts: Option<String>,
    /// The whole pricing, for an answer that shows it (a preview).
    pub priced: discounts::PricedOrder,
    /// What was priced, and with which rules: what a preview's next tiers are worked out from.
    cart: Vec<CartLine>,
    rules: Vec<discounts::Rule>,
    /// The producers that publish stock for at least one of the lines' products.
    stock_counted: std::collections::BTreeSet<String>,
}

/// The discounts an order was given, as stored with it: rule, name, amount and the amount taken
/// off each line (by its place in the order).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredDiscount {
    pub rule: String,
    pub name: String,
    pub amount: Decimal,
    pub lines: Vec<(usize, Decimal)>,
}

impl Priced {
    /// The rule a discount of [`Self::priced`] names.
    pub fn rule_of(&self, applied: &discounts::Applied) -> &discounts::Rule {
        &self.rules[applied.rule]
    }

    /// What the next tier of each rule would give (a preview's; checkout has no use for it).
    pub fn next_tiers(&self) -> Vec<discounts::NextTier> {
        discounts::next_tiers(self.priced.currency, &self.cart, &self.rules)
    }
}

pub fn stored_discounts(text: Option<&str>) -> Vec<StoredDiscount> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

fn digest(request: &CheckoutRequest) -> String {
    let mut lines: Vec<(&str, i64)> = request.lines.iter().map(|l| (l.offer.as_str(), l.quantity)).collect();
    lines.sort_unstable();
    let canonical = serde_json::json!([request.session_id, request.customer_id, lines]).to_string();
    crate::store::digest_hex(canonical.as_bytes())
}

impl Trader {
    /// Prices checkout lines from the offers the session's producers (`peers`) published,
    /// asking them once when a line names an offer not seen yet.
    pub(crate) async fn price_lines(
        &self,
        session: &entity::sales_session::Model,
        peers: &[entity::peer::Model],
        requested: &[CheckoutLineRequest],
    ) -> Result<Priced, CheckoutError> {
        if requested.is_empty() {
            return Err(CheckoutError::InvalidInput("an order needs at least one line".into()));
        }
        let peer_ids: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();

        let mut quantities = Vec::with_capacity(requested.len());
        for (index, line) in requested.iter().enumerate() {
            let quantity = Quantity::try_from(line.quantity)
                .map_err(|e| CheckoutError::InvalidInput(format!("line {index}: {e}")))?;
            if quantity.is_zero() {
                return Err(CheckoutError::InvalidInput(format!("line {index}: quantity must be at least 1")));
            }
            quantities.push(quantity);
        }
        // Price every line from the offers the producers published.
        let iris: Vec<&str> = requested.iter().map(|l| l.offer.as_str()).collect();
        let mut offers = self.store.find_peer_offers(&peer_ids, &iris).await?;
        if offers.len() < iris.iter().collect::<std::collections::HashSet<_>>().len() {
            // Not seen yet: ask the producers once (those that answer).
            join_all(peers.iter().map(|p| self.refresh_peer_catalogue(p))).await;
            offers = self.store.find_peer_offers(&peer_ids, &iris).await?;
        }
        let mut lines = Vec::with_capacity(requested.len());
        let mut cart = Vec::with_capacity(requested.len());
        let mut stock_counted = std::collections::BTreeSet::new();
        for (index, (line, quantity)) in requested.iter().zip(quantities).enumerate() {
            let offer = offers
                .get(&line.offer)
                .cloned()
                .ok_or_else(|| CheckoutError::UnknownOffer { line: index, offer: line.offer.clone() })?;
            if offer.available.is_some() {
                stock_counted.insert(offer.peer_id.clone());
            }
            let corrupt = |e: rust_decimal::Error| StoreError::Corrupt(e.to_string());
            let unit_grams = match (&offer.unit_value, &offer.unit_code) {
                (Some(value), Some(code)) => Decimal::from_str(value).ok().and_then(|v| Unit::from_name(code).grams(v)),
                _ => None,
            };
            cart.push(CartLine {
                producer: offer.peer_id.clone(),
                product: offer.product_iri.clone(),
                quantity: quantity.get(),
                unit_price: Decimal::from_str(&offer.price).map_err(corrupt)?,
                vat_rate: Decimal::from_str(&offer.vat_rate).map_err(corrupt)?,
                unit_grams,
            });
            lines.push(NewLine {
                peer_id: offer.peer_id,
                product_iri: offer.product_iri,
                offer_iri: offer.offer_iri,
                name: offer.name,
                quantity: quantity.get(),
                unit_price: offer.price,
                currency: offer.currency,
                vat_rate: offer.vat_rate,
                discount: None,
            });
        }
        let currency = lines[0].currency.clone();
        if lines.iter().any(|l| l.currency != currency) {
            return Err(CheckoutError::InvalidInput("all lines of an order must be in one currency".into()));
        }
        let money =
            Currency::from_name(&currency).ok_or_else(|| StoreError::Corrupt(format!("currency {currency}")))?;
        // The rules in force now: a checkout sees today's rules, an amendment the rules of the
        // day it is made (what an order was given is stored with it).
        let rules = self.store.rules_in_force(&session.enterprise_id, session.id, Utc::now()).await?;
        let priced = discounts::price(money, &cart, &rules);
        for (line, priced) in lines.iter_mut().zip(&priced.lines) {
            line.discount = (!priced.discount.is_zero()).then(|| priced.discount.to_string());
        }
        let stored: Vec<StoredDiscount> = priced
            .applied
            .iter()
            .map(|a| {
                let rule = &rules[a.rule];
                StoredDiscount {
                    rule: rule.id.clone(),
                    name: rule.name.clone(),
                    amount: a.amount,
                    lines: priced.shares(a).collect(),
                }
            })
            .collect();
        let discounts = (!stored.is_empty()).then(|| serde_json::to_string(&stored).unwrap_or_default());
        Ok(Priced { lines, currency, total: priced.total, discounts, priced, cart, rules, stock_counted })
    }

    pub async fn checkout(&self, request: CheckoutRequest) -> Result<CheckedOut, CheckoutError> {
        self.checkout_in(None, request).await
    }

    /// [`Self::checkout`], with the request's session when the caller has just read it (to see
    /// who may check out in it): it is not read twice.
    pub async fn checkout_in(
        &self,
        session: Option<entity::sales_session::Model>,
        request: CheckoutRequest,
    ) -> Result<CheckedOut, CheckoutError> {
        let deadline = tokio::time::Instant::now() + self.settings.checkout_deadline;
        if request.idempotency_key.trim().is_empty() || request.idempotency_key.len() > 200 {
            return Err(CheckoutError::InvalidInput("the idempotency key must have 1 to 200 characters".into()));
        }
        if request.lines.is_empty() {
            return Err(CheckoutError::InvalidInput("an order needs at least one line".into()));
        }
        let session = match session.filter(|s| s.id == request.session_id) {
            Some(session) => session,
            None => self.store.sales_session(request.session_id).await?.ok_or(CheckoutError::SessionNotFound)?,
        };
        let now = Utc::now();
        if now < session.begins_at || now >= session.ends_at || session.closed_at.is_some() {
            return Err(CheckoutError::SessionClosed);
        }
        let peers = self.store.session_peers(session.id).await?;
        let priced = self.price_lines(&session, &peers, &request.lines).await?;
        let peer_ids: Vec<String> = peers.into_iter().map(|p| p.id).collect();

        let digest = digest(&request);
        let hold = self.hold_sends();
        let recorded = self
            .store
            .record_checkout(
                NewCustomerOrder {
                    trader: session.enterprise_id.clone(),
                    session_id: session.id,
                    customer_id: request.customer_id.clone(),
                    idempotency_key: request.idempotency_key.clone(),
                    request_digest: digest.clone(),
                    contact_name: request.contact.name.clone(),
                    contact_email: request.contact.email.clone(),
                    delivery_address: request.contact.address.clone(),
                    total: priced.total.to_string(),
                    currency: priced.currency,
                    discounts: priced.discounts,
                    lines: priced.lines,
                },
                hold,
            )
            .await?;
        let (order, producer_orders) = match recorded {
            Recorded::Existing(order) if order.request_digest == digest => return self.checked_out(order).await,
            Recorded::Existing(_) => return Err(CheckoutError::IdempotencyKeyReused),
            Recorded::New { order, producer_orders } => (order, producer_orders),
        };
        let parts = self.settle_parts(order.id, &producer_orders, deadline).await?;
        if let Some(refusal) = self.refusal(&parts, &peer_ids, &request.lines).await? {
            self.await_put_back(order.id, &producer_orders, deadline).await?;
            // Nothing of it is held anywhere now; the key may be used again.
            self.store.remove_refused_order(order.id).await?;
            tracing::info!(order = %order.id, "checkout refused");
            return Err(refusal);
        }
        if parts.iter().all(|p| PartState::parse(&p.state) != Some(PartState::Pending)) {
            // Every part decided, none refused: the order as recorded, with the parts as decided
            // (its lines are what was just recorded: read only if the caller asks for them).
            return Ok(CheckedOut { order, lines: None, parts });
        }
        let mut policy = None;
        for part in parts.iter().filter(|p| PartState::parse(&p.state) == Some(PartState::Pending)) {
            // Read only when a part is still waiting: most checkouts never need it.
            let policy = match policy {
                Some(policy) => policy,
                None => *policy.insert(
                    self.store.unconfirmed_policy(&session.enterprise_id).await?.unwrap_or(self.settings.unconfirmed),
                ),
            };
            let acknowledge = policy.acknowledges(priced.stock_counted.contains(&part.peer_id));
            let why = "PEER_UNAVAILABLE: not confirmed within the checkout's deadline";
            if acknowledge {
                self.store.mark_unconfirmed(order.id, &part.peer_id, why).await?;
            } else if let Some(requeued) = self.store.withdraw_order(order.id, &part.peer_id, why, hold).await? {
                self.deliver_in_background(requeued);
                // Past the deadline already: a short wait for the put-back, within the request.
                let grace = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
                self.await_put_back(order.id, &producer_orders, grace).await?;
                self.store.remove_refused_order(order.id).await?;
                tracing::info!(order = %order.id, producer = %part.peer_id, "checkout withdrawn: producer did not confirm in time");
                return Err(CheckoutError::ProducerUnconfirmed { producer: part.peer_id.clone() });
            }
        }
        let order = self.store.customer_order(order.id).await?.unwrap_or(order);
        self.checked_out(order).await
    }

    /// The answer of a checkout: the order with its lines and the state of each of its parts,
    /// read together so that the answer is whole.
    async fn checked_out(&self, order: customer_order::Model) -> Result<CheckedOut, CheckoutError> {
        let lines = self.store.customer_order_lines(&[order.id]).await?;
        let parts = self.store.order_parts(&[order.id]).await?;
        Ok(CheckedOut { order, lines: Some(lines), parts })
    }

    /// Delivers the producer orders a change queued, each for the change's part at its producer,
    /// and waits until every part is decided or the deadline passes.
    pub(super) async fn settle_parts(
        &self,
        order: Uuid,
        producer_orders: &[(String, Uuid, i64)],
        deadline: tokio::time::Instant,
    ) -> Result<Vec<order_part::Model>, StoreError> {
        self.deliver_and_wait(producer_orders.iter().map(|(_, po, version)| (*po, Some(*version))), deadline).await;
        self.store.order_parts(&[order]).await
    }

    /// Delivers producer orders (each for a change queued at a version, or whole), and waits for
    /// them until `deadline`. The sends are tasks of their own: they go on past the deadline,
    /// since a send cut off midway would leave its outcome unknown.
    async fn deliver_and_wait(&self, sends: impl Iterator<Item = (Uuid, Option<i64>)>, deadline: tokio::time::Instant) {
        let sends: Vec<_> = sends
            .map(|(po, version)| {
                let trader = self.clone();
                tokio::spawn(crate::trace_context::within_current(
                    async move { trader.deliver_part(po, version).await },
                ))
            })
            .collect();
        let _ = tokio::time::timeout_at(deadline, join_all(sends)).await;
    }

    /// Waits (up to `deadline`) until the producer orders a refused or withdrawn order touched
    /// have been sent without it, so the customer hears "no" once every producer is put back.
    async fn await_put_back(
        &self,
        order: Uuid,
        producer_orders: &[(String, Uuid, i64)],
        deadline: tokio::time::Instant,
    ) -> Result<(), StoreError> {
        let mut now_queued = Vec::with_capacity(producer_orders.len());
        for (peer, po, _) in producer_orders {
            if let Some(current) = self.store.producer_order(*po).await? {
                now_queued.push((peer.clone(), *po, current.version));
            }
        }
        self.settle_parts(order, &now_queued, deadline).await.map(|_| ())
    }

    pub(super) fn deliver_in_background(&self, producer_orders: Vec<Uuid>) {
        for po in producer_orders {
            tokio::spawn(crate::trace_context::within_current(self.clone().delivery(po)));
        }
    }

    /// How long the outbox leaves a change's sends to the request that made it (it takes over
    /// if that request's process dies).
    fn hold_sends(&self) -> chrono::DateTime<Utc> {
        let hold = self.settings.checkout_deadline + std::time::Duration::from_secs(5);
        Utc::now() + chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::seconds(30))
    }

    /// What the customer is told when a part was refused: for a lack of stock, each line short
    /// and what was really left for it.
    async fn refusal(
        &self,
        parts: &[order_part::Model],
        peer_ids: &[String],
        requested: &[CheckoutLineRequest],
    ) -> Result<Option<CheckoutError>, StoreError> {
        let refused: Vec<&order_part::Model> = parts
            .iter()
            .filter(|p| p.shortages.is_some() && p.reason.is_some())
            .filter(|p| matches!(PartState::parse(&p.state), Some(PartState::Refused | PartState::Reserved)))
            .collect();
        let Some(first) = refused.first() else { return Ok(None) };
        let shortages: Vec<PartShortage> = refused
            .iter()
            .flat_map(|p| {
                serde_json::from_str::<Vec<PartShortage>>(p.shortages.as_deref().unwrap_or("[]")).unwrap_or_default()
            })
            .collect();
        let reason = first.reason.clone().unwrap_or_default();
        if shortages.is_empty() {
            return Ok(Some(CheckoutError::ProducerRefused { reason }));
        }
        let by_product: HashMap<&str, &PartShortage> = shortages.iter().map(|s| (s.product.as_str(), s)).collect();
        let mut found = Vec::new();
        for (index, line) in requested.iter().enumerate() {
            let Some(offer) = self.store.find_peer_offer(peer_ids, &line.offer).await? else { continue };
            let Some(shortage) = by_product.get(offer.product_iri.as_str()) else { continue };
            let name = match &shortage.ordered_as {
                Some(pack) => format!("{} (ordered in packs: {pack})", offer.name),
                None => offer.name,
            };
            found.push(LineShortage {
                line: index,
                offer: line.offer.clone(),
                name,
                requested: line.quantity,
                available: shortage.available,
            });
        }
        if found.is_empty() {
            // The shortage is of nothing this customer asked for: say the producer refused.
            return Ok(Some(CheckoutError::ProducerRefused { reason }));
        }
        Ok(Some(CheckoutError::OutOfStock(found)))
    }
}

/// A checkout's answer: the order, its lines, and each producer's part of it.
#[derive(Clone, Debug)]
pub struct CheckedOut {
    pub order: customer_order::Model,
    /// None when they are exactly what the checkout recorded, to be read if asked for.
    pub lines: Option<Vec<entity::customer_order_line::Model>>,
    pub parts: Vec<order_part::Model>,
}

impl Trader {
    /// Changes the lines of a customer order. The producer orders it involved or now involves are
    /// recomputed and sent at once; if a producer refuses, the order gets its previous lines back
    /// (the refusing producer kept them all along) and the refusal is reported. A producer that
    /// does not confirm in time keeps what it held until the amendment reaches it.
    pub async fn amend_order(
        &self,
        id: Uuid,
        requested: Vec<CheckoutLineRequest>,
    ) -> Result<CheckedOut, CheckoutError> {
        let deadline = tokio::time::Instant::now() + self.settings.checkout_deadline;
        let order = self.store.customer_order(id).await?.ok_or(CheckoutError::OrderNotFound)?;
        let session = self.store.sales_session(order.sales_session_id).await?.ok_or(CheckoutError::SessionNotFound)?;
        if session.closed_at.is_some() {
            return Err(CheckoutError::OrderComplete);
        }
        let peers = self.store.session_peers(session.id).await?;
        let priced = self.price_lines(&session, &peers, &requested).await?;
        if priced.currency != order.currency {
            return Err(CheckoutError::InvalidInput(format!(
                "the order is in {}, not {}",
                order.currency, priced.currency
            )));
        }
        let hold = self.hold_sends();
        let priced_as = (priced.total.to_string(), priced.discounts);
        let (previous, previous_pricing, producer_orders) =
            match self.store.replace_customer_order_lines(id, priced.lines, priced_as, hold).await? {
                AmendOutcome::NotFound => return Err(CheckoutError::OrderNotFound),
                AmendOutcome::NotActive => return Err(CheckoutError::OrderNotActive),
                AmendOutcome::TooLate => return Err(CheckoutError::OrderComplete),
                AmendOutcome::Amended { previous, previous_pricing, producer_orders, .. } => {
                    (previous, previous_pricing, producer_orders)
                }
            };
        let parts = self.settle_parts(id, &producer_orders, deadline).await?;
        let peer_ids: Vec<String> = peers.into_iter().map(|p| p.id).collect();
        if let Some(refusal) = self.refusal(&parts, &peer_ids, &requested).await? {
            // The order as it was, everywhere (where the amendment was refused, it already is).
            if let AmendOutcome::Amended { producer_orders, .. } =
                self.store.replace_customer_order_lines(id, previous, previous_pricing, hold).await?
            {
                let deadline = tokio::time::Instant::now() + self.settings.checkout_deadline;
                self.settle_parts(id, &producer_orders, deadline).await?;
            }
            tracing::info!(order = %id, "amendment refused by a producer and undone");
            return Err(refusal);
        }
        for part in parts.iter().filter(|p| PartState::parse(&p.state) == Some(PartState::Pending)) {
            self.store
                .mark_unconfirmed(id, &part.peer_id, "PEER_UNAVAILABLE: not confirmed within the deadline")
                .await?;
        }
        let order = self.store.customer_order(id).await?.ok_or(CheckoutError::OrderNotFound)?;
        self.checked_out(order).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no such order")]
    NotFound,
    #[error("a producer has already completed its order; this order can no longer change")]
    TooLate,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Trader {
    /// Cancels a customer order: its producers' orders are recomputed from the remaining orders
    /// and sent at once (lines reduced or removed, stock released; an order left empty is
    /// cancelled at the producer). A producer that cannot be reached gets it from the outbox.
    pub async fn cancel_order(&self, id: Uuid) -> Result<customer_order::Model, CancelError> {
        let deadline = tokio::time::Instant::now() + self.settings.checkout_deadline;
        match self.store.cancel_customer_order(id, self.hold_sends()).await? {
            crate::store::trader::CancelOutcome::NotFound => Err(CancelError::NotFound),
            crate::store::trader::CancelOutcome::TooLate => Err(CancelError::TooLate),
            crate::store::trader::CancelOutcome::Cancelled { order, producer_orders } => {
                self.deliver_and_wait(producer_orders.into_iter().map(|po| (po, None)), deadline).await;
                Ok(*order)
            }
        }
    }

    /// Sends a producer order again now, e.g. after a FAILED one's cause was fixed.
    pub async fn retry_producer_order(&self, id: Uuid) -> Result<Option<entity::producer_order::Model>, StoreError> {
        let Some(requeued) = self.store.requeue_producer_order(id).await? else { return Ok(None) };
        // A person asks for it now: the peer's circuit does not hold it back.
        self.breakers.reset(&requeued.peer_id);
        // The outcome is recorded on the producer order, which is what the caller is shown.
        let _ = self.deliver(id).await;
        self.store.producer_order(id).await
    }
}
