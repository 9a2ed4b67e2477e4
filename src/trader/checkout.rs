//! Checkout: one customer order holding products of several producers, paid to the trader only.
//! The order and the queued producer orders are committed together; then every producer involved
//! is sent its recomputed order, in parallel. A producer that refuses undoes the whole checkout
//! everywhere; a producer that cannot be reached gets its order later, from the outbox.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::Utc;
use entity::customer_order;
use futures::future::join_all;
use rust_decimal::{Decimal, RoundingStrategy};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Trader;
use super::delivery::DeliveryError;
use crate::domain::Quantity;
use crate::peers::PeerError;
use crate::store::StoreError;
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
    #[error("a producer refused the order: {error}")]
    ProducerRefused { error: PeerError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Totals are rounded once, to the cent, half away from zero, after summing exact line amounts.
fn round_total(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn digest(request: &CheckoutRequest) -> String {
    let mut lines: Vec<(&str, i64)> = request.lines.iter().map(|l| (l.offer.as_str(), l.quantity)).collect();
    lines.sort_unstable();
    let canonical = serde_json::json!([request.session_id, request.customer_id, lines]).to_string();
    Sha256::digest(canonical.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Trader {
    /// Prices checkout lines from the offers the session's producers (`peers`) published,
    /// asking them once when a line names an offer not seen yet; returns the lines, their
    /// currency and the total.
    async fn price_lines(
        &self,
        peers: &[entity::peer::Model],
        requested: &[CheckoutLineRequest],
    ) -> Result<(Vec<NewLine>, String, Decimal), CheckoutError> {
        if requested.is_empty() {
            return Err(CheckoutError::InvalidInput("an order needs at least one line".into()));
        }
        let peer_ids: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();

        // Price every line from the offers the producers published.
        let mut lines = Vec::with_capacity(requested.len());
        let mut refreshed = false;
        for (index, line) in requested.iter().enumerate() {
            let quantity = Quantity::try_from(line.quantity)
                .map_err(|e| CheckoutError::InvalidInput(format!("line {index}: {e}")))?;
            if quantity.is_zero() {
                return Err(CheckoutError::InvalidInput(format!("line {index}: quantity must be at least 1")));
            }
            let mut offer = self.store.find_peer_offer(&peer_ids, &line.offer).await?;
            if offer.is_none() && !refreshed {
                // Not seen yet: ask the producers once (those that answer).
                refreshed = true;
                join_all(peers.iter().map(|p| self.refresh_peer_catalogue(p))).await;
                offer = self.store.find_peer_offer(&peer_ids, &line.offer).await?;
            }
            let offer = offer.ok_or_else(|| CheckoutError::UnknownOffer { line: index, offer: line.offer.clone() })?;
            lines.push(NewLine {
                peer_id: offer.peer_id,
                product_iri: offer.product_iri,
                offer_iri: offer.offer_iri,
                name: offer.name,
                quantity: quantity.get(),
                unit_price: offer.price,
                currency: offer.currency,
                vat_rate: offer.vat_rate,
            });
        }
        let currency = lines[0].currency.clone();
        if lines.iter().any(|l| l.currency != currency) {
            return Err(CheckoutError::InvalidInput("all lines of an order must be in one currency".into()));
        }
        let mut total = Decimal::ZERO;
        for line in &lines {
            let price = Decimal::from_str(&line.unit_price).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let vat = Decimal::from_str(&line.vat_rate).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            total += price * Decimal::from(line.quantity) * (Decimal::ONE + vat / Decimal::ONE_HUNDRED);
        }
        Ok((lines, currency, round_total(total)))
    }

    pub async fn checkout(&self, request: CheckoutRequest) -> Result<customer_order::Model, CheckoutError> {
        if request.idempotency_key.trim().is_empty() || request.idempotency_key.len() > 200 {
            return Err(CheckoutError::InvalidInput("the idempotency key must have 1 to 200 characters".into()));
        }
        if request.lines.is_empty() {
            return Err(CheckoutError::InvalidInput("an order needs at least one line".into()));
        }
        let session = self.store.sales_session(request.session_id).await?.ok_or(CheckoutError::SessionNotFound)?;
        let now = Utc::now();
        if now < session.begins_at || now >= session.ends_at || session.closed_at.is_some() {
            return Err(CheckoutError::SessionClosed);
        }
        let peers = self.store.session_peers(session.id).await?;
        let (lines, currency, total) = self.price_lines(&peers, &request.lines).await?;
        let peer_ids: Vec<String> = peers.into_iter().map(|p| p.id).collect();

        let digest = digest(&request);
        // The outbox worker leaves these sends to us for a while; it takes over if we die.
        let hold = now
            + chrono::Duration::from_std(self.settings.max_backoff.min(std::time::Duration::from_secs(30)))
                .unwrap_or(chrono::Duration::seconds(30));
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
                    total: total.to_string(),
                    currency,
                    lines,
                },
                hold,
            )
            .await?;
        let (order, producer_orders) = match recorded {
            Recorded::Existing(order) if order.request_digest == digest => return Ok(order),
            Recorded::Existing(_) => return Err(CheckoutError::IdempotencyKeyReused),
            Recorded::New { order, producer_orders } => (order, producer_orders),
        };

        let results = join_all(producer_orders.iter().map(|po| self.deliver(*po))).await;
        let refusal = results.into_iter().find_map(|r| match r {
            Err(DeliveryError::Peer(e)) if !e.is_transient() => Some(e),
            _ => None,
        });
        let Some(refusal) = refusal else { return Ok(order) };

        // A producer said no: undo everywhere, then say why.
        let requeued = self.store.remove_customer_order(order.id, hold).await?;
        join_all(requeued.iter().map(|po| self.deliver(*po))).await;
        tracing::info!(order = %order.id, code = refusal.code(), "checkout refused by a producer and undone");
        Err(self.refusal_error(&peer_ids, (session.id, order.id), &request.lines, refusal).await?)
    }

    /// What the customer is told when a producer refused: for a lack of stock, each line short
    /// and what is available to it (`order`, of `session`, is the one refused: what it asked
    /// for is not held by others).
    async fn refusal_error(
        &self,
        peer_ids: &[String],
        (session_id, order_id): (Uuid, Uuid),
        requested: &[CheckoutLineRequest],
        refusal: PeerError,
    ) -> Result<CheckoutError, StoreError> {
        let PeerError::Rejected { shortages, .. } = &refusal else {
            return Ok(CheckoutError::ProducerRefused { error: refusal });
        };
        if shortages.is_empty() {
            return Ok(CheckoutError::ProducerRefused { error: refusal });
        }
        let by_product: HashMap<&str, &crate::peers::PeerShortage> =
            shortages.iter().map(|s| (s.product_iri.as_str(), s)).collect();
        // Short packs, by (producer, the product they hold): a BY_WEIGHT order asks for packs.
        let mut packs_short = HashMap::new();
        for shortage in shortages {
            if let Some(pack) = self.store.find_peer_offer(peer_ids, &shortage.product_iri).await?
                && let Some(held) = pack.pack_of.clone()
            {
                packs_short.insert((pack.peer_id.clone(), held), (pack, shortage));
            }
        }
        let mut found = Vec::new();
        for (index, line) in requested.iter().enumerate() {
            let Some(offer) = self.store.find_peer_offer(peer_ids, &line.offer).await? else { continue };
            if let Some(shortage) = by_product.get(offer.product_iri.as_str()) {
                // The producer speaks of the whole producer order; the customer of this line:
                // what other customers already hold is not available to it.
                let held_by_others = shortage.requested.map_or(Decimal::ZERO, |r| r - Decimal::from(line.quantity));
                found.push(LineShortage {
                    line: index,
                    offer: line.offer.clone(),
                    name: offer.name,
                    requested: line.quantity,
                    available: (shortage.available - held_by_others).max(Decimal::ZERO),
                });
            } else if let Some((pack, shortage)) = packs_short.get(&(offer.peer_id.clone(), offer.product_iri.clone()))
            {
                // Ordered by weight in whole packs: the packs the producer has left hold
                // `available x units` of the product, of which the session's other orders need some.
                let units = Decimal::from(pack.pack_units.unwrap_or(1));
                let others =
                    self.store.active_units_except(session_id, order_id, &offer.peer_id, &offer.product_iri).await?;
                found.push(LineShortage {
                    line: index,
                    offer: line.offer.clone(),
                    name: format!("{} (ordered in packs: {})", offer.name, pack.name),
                    requested: line.quantity,
                    available: (shortage.available * units - Decimal::from(others)).max(Decimal::ZERO),
                });
            }
        }
        if found.is_empty() {
            // The shortage is of nothing this customer asked for: say the producer refused.
            return Ok(CheckoutError::ProducerRefused { error: refusal });
        }
        Ok(CheckoutError::OutOfStock(found))
    }
}

impl Trader {
    /// Changes the lines of a customer order. The producer orders it involved or now involves are
    /// recomputed and sent at once; if a producer refuses, the order gets its previous lines back
    /// (and the producers their previous orders) and the refusal is reported.
    pub async fn amend_order(
        &self,
        id: Uuid,
        requested: Vec<CheckoutLineRequest>,
    ) -> Result<customer_order::Model, CheckoutError> {
        let order = self.store.customer_order(id).await?.ok_or(CheckoutError::OrderNotFound)?;
        let session = self.store.sales_session(order.sales_session_id).await?.ok_or(CheckoutError::SessionNotFound)?;
        if session.closed_at.is_some() {
            return Err(CheckoutError::OrderComplete);
        }
        let peers = self.store.session_peers(session.id).await?;
        let (lines, currency, total) = self.price_lines(&peers, &requested).await?;
        if currency != order.currency {
            return Err(CheckoutError::InvalidInput(format!("the order is in {}, not {currency}", order.currency)));
        }
        let hold = Utc::now() + chrono::Duration::seconds(30);
        let (amended, previous, previous_total, producer_orders) =
            match self.store.replace_customer_order_lines(id, lines, total.to_string(), hold).await? {
                AmendOutcome::NotFound => return Err(CheckoutError::OrderNotFound),
                AmendOutcome::NotActive => return Err(CheckoutError::OrderNotActive),
                AmendOutcome::TooLate => return Err(CheckoutError::OrderComplete),
                AmendOutcome::Amended { order, previous, previous_total, producer_orders } => {
                    (order, previous, previous_total, producer_orders)
                }
            };
        let results = join_all(producer_orders.iter().map(|po| self.deliver(*po))).await;
        let refusal = results.into_iter().find_map(|r| match r {
            Err(DeliveryError::Peer(e)) if !e.is_transient() => Some(e),
            _ => None,
        });
        let Some(refusal) = refusal else { return Ok(*amended) };

        // A producer said no: the order as it was, everywhere.
        if let AmendOutcome::Amended { producer_orders, .. } =
            self.store.replace_customer_order_lines(id, previous, previous_total, hold).await?
        {
            join_all(producer_orders.iter().map(|po| self.deliver(*po))).await;
        }
        tracing::info!(order = %id, code = refusal.code(), "amendment refused by a producer and undone");
        let peer_ids: Vec<String> = peers.into_iter().map(|p| p.id).collect();
        Err(self.refusal_error(&peer_ids, (session.id, id), &requested, refusal).await?)
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
        let hold = Utc::now() + chrono::Duration::seconds(30);
        match self.store.cancel_customer_order(id, hold).await? {
            crate::store::trader::CancelOutcome::NotFound => Err(CancelError::NotFound),
            crate::store::trader::CancelOutcome::TooLate => Err(CancelError::TooLate),
            crate::store::trader::CancelOutcome::Cancelled { order, producer_orders } => {
                join_all(producer_orders.iter().map(|po| self.deliver(*po))).await;
                Ok(*order)
            }
        }
    }

    /// Sends a producer order again now, e.g. after a FAILED one's cause was fixed.
    pub async fn retry_producer_order(&self, id: Uuid) -> Result<Option<entity::producer_order::Model>, StoreError> {
        if self.store.requeue_producer_order(id).await?.is_none() {
            return Ok(None);
        }
        // The outcome is recorded on the producer order, which is what the caller is shown.
        let _ = self.deliver(id).await;
        self.store.producer_order(id).await
    }
}
