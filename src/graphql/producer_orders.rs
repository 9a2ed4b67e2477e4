//! Producer orders as trader staff see them: what each says, how each line was derived, and
//! where its delivery stands.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::producer_order;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::store_error;
use crate::domain::consolidation::PlannedLine;
use crate::trader::RemoteDiscounts;

use super::loaders::*;
use super::orders::Order;
use super::trader::{Producer, store};

/// Whether a producer has what its order should say.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DeliveryState {
    /// A send is queued (the producer was unreachable, or a change is on its way).
    Pending,
    Delivered,
    /// Retries are exhausted or the producer refused: a person must act.
    Failed,
}

/// An order a trader keeps with a producer for a sales session: the session's one, or one per
/// customer order under PER_CUSTOMER_ORDER consolidation.
pub struct ProducerOrder(pub(super) producer_order::Model);

#[Object]
impl ProducerOrder {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn producer(&self, ctx: &Context<'_>) -> Result<Option<Producer>> {
        Ok(ctx
            .data_unchecked::<DataLoader<TraderLoader>>()
            .load_one(PeerKey(self.0.peer_id.clone()))
            .await?
            .map(Producer))
    }

    /// The order's id at the producer, once assigned.
    async fn remote_id(&self) -> Option<&str> {
        self.0.remote_iri.as_deref()
    }

    /// The `dfc-v` order state at the producer (Held, Complete, Cancelled).
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// What the producer last said it does with the order (`dfc-v` fulfilment state:
    /// Unfulfilled once complete, then Fulfilled ...), when it said.
    async fn fulfilment_status(&self) -> Option<&str> {
        self.0.fulfilment_status.as_deref()
    }

    async fn delivery_state(&self) -> DeliveryState {
        match self.0.delivery_state.as_str() {
            "DELIVERED" => DeliveryState::Delivered,
            "FAILED" => DeliveryState::Failed,
            _ => DeliveryState::Pending,
        }
    }

    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// Why the last send failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at.filter(|_| self.0.delivery_state != "DELIVERED")
    }

    /// The customer order it gathers, under PER_CUSTOMER_ORDER consolidation.
    async fn customer_order(&self, ctx: &Context<'_>) -> Result<Option<Order>> {
        let Ok(id) = Uuid::parse_str(&self.0.group_key) else { return Ok(None) };
        Ok(ctx.data_unchecked::<DataLoader<TraderLoader>>().load_one(OrderKey(id)).await?.map(Order::from))
    }

    /// When its last send after the session closed was acknowledged: its lines are final.
    async fn settled_at(&self) -> Option<DateTime<Utc>> {
        self.0.settled_at
    }

    /// What the producer order says: once settled, its final lines; until then, what it says
    /// now, recomputed from the active customer orders it gathers under the current mode.
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<ProducerOrderLine>> {
        let store = store(ctx);
        let lines = if self.0.settled_at.is_some() {
            store.producer_order_lines(self.0.id).await.map_err(store_error)?
        } else {
            store.producer_order_plan(self.0.id).await.map_err(store_error)?.map(|p| p.lines).unwrap_or_default()
        };
        let discounts = RemoteDiscounts::parse(self.0.remote_discounts.as_deref());
        Ok(lines
            .into_iter()
            .map(|line| {
                let discount = discounts.lines.get(&line.ordered_product_iri).copied().unwrap_or_default();
                ProducerOrderLine(line, discount)
            })
            .collect())
    }

    /// What the producer says it takes off this order (its `dfc-b:discount`, in its prices'
    /// currency): the trader pays the lines' prices less this. The trader's own customer
    /// discounts never change what it orders.
    async fn discount(&self) -> Decimal {
        RemoteDiscounts::parse(self.0.remote_discounts.as_deref()).total
    }

    /// The consolidation mode that applies to its producer now.
    async fn consolidation_mode(&self, ctx: &Context<'_>) -> Result<super::consolidation::ConsolidationModeValue> {
        let store = store(ctx);
        let mode = store.consolidation_mode_of(&self.0.trader_enterprise_id, &self.0.peer_id).await;
        Ok(mode.map_err(store_error)?.into())
    }
}

/// One line of a producer order and how it was derived from what customers need.
pub struct ProducerOrderLine(PlannedLine, Decimal);

#[Object]
impl ProducerOrderLine {
    /// What the producer says it takes off this line (0 when nothing).
    async fn discount(&self) -> Decimal {
        self.1
    }

    /// The product customers ordered.
    async fn product_id(&self) -> &str {
        &self.0.product_iri
    }

    /// What is ordered from the producer: that product, or a pack of it.
    async fn ordered_product_id(&self) -> &str {
        &self.0.ordered_product_iri
    }

    async fn offer_id(&self) -> &str {
        &self.0.offer_iri
    }

    /// The name of what is ordered.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Units of the offer sent to the producer; 0 when carried-over stock covers the need.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }

    /// Units of the product the customers need.
    async fn needed_units(&self) -> i64 {
        self.0.needed_units
    }

    /// Their weight in kg, when the product's weight is known.
    async fn needed_kg(&self) -> Option<Decimal> {
        self.0.needed_grams.map(kilograms)
    }

    /// Kg taken from stock carried over from earlier packs.
    async fn carried_over_used_kg(&self) -> Decimal {
        kilograms(self.0.carry_used_grams)
    }

    /// Kg of pack excess this line adds to the trader's stock.
    async fn carried_over_added_kg(&self) -> Decimal {
        kilograms(self.0.carry_added_grams)
    }

    async fn basis(&self) -> LineBasis {
        self.0.basis.into()
    }

    /// Why the line is counted although the mode weighs (no weight known, say).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

/// What a producer order line's quantity counts.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::consolidation::Basis")]
pub enum LineBasis {
    /// Units as customers ordered them.
    Count,
    /// The total weight, in units of the product.
    Weight,
    /// The total weight, rounded up to whole packs.
    Pack,
}

pub(super) fn kilograms(grams: Decimal) -> Decimal {
    (grams / Decimal::ONE_THOUSAND).normalize()
}
