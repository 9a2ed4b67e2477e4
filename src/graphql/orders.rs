//! Customer orders as the trader and the customer see them: lines, each producer's part
//! (reservation), payment, and the `Customer` entity other subgraphs own, extended with its orders.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{customer_order, customer_order_line, order_part};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::discounts::{AppliedDiscount, VatAmount};
use super::producer::Money;
use crate::domain::PartState;
use crate::domain::discounts::{self, PricedLine};
use crate::store::consolidation::WHOLE_SESSION;
use crate::trader::CheckedOut;
use crate::trader::stored_discounts;

use super::loaders::*;
use super::producer_orders::ProducerOrder;
use super::trader::{Producer, SaleSession, decimal};

/// Payment states of the DFC vocabulary.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum PaymentStatus {
    Unpaid,
    Paid,
    Cancelled,
}

impl PaymentStatus {
    pub(super) fn dfc_name(self) -> &'static str {
        match self {
            PaymentStatus::Unpaid => "Unpaid",
            PaymentStatus::Paid => "Paid",
            PaymentStatus::Cancelled => "Cancelled",
        }
    }

    fn from_stored(text: &str) -> PaymentStatus {
        match text {
            "Paid" => PaymentStatus::Paid,
            "Cancelled" => PaymentStatus::Cancelled,
            _ => PaymentStatus::Unpaid,
        }
    }
}

/// A customer order: products of several producers, paid to the trader.
pub struct Order {
    order: customer_order::Model,
    /// Read with the order (a checkout's answer must be whole; a single order is read without
    /// waiting on a batch): its lines, its parts. Otherwise loaded in batches.
    lines: Option<Vec<customer_order_line::Model>>,
    parts: Option<Vec<order_part::Model>>,
}

impl From<customer_order::Model> for Order {
    fn from(order: customer_order::Model) -> Order {
        Order { order, lines: None, parts: None }
    }
}

impl Order {
    /// An order read with its parts (its lines load as usual).
    pub(super) fn with_parts(order: customer_order::Model, parts: Vec<order_part::Model>) -> Order {
        Order { order, lines: None, parts: Some(parts) }
    }

    /// An order with what was read with it.
    pub(super) fn read_with(
        order: customer_order::Model,
        lines: Option<Vec<customer_order_line::Model>>,
        parts: Option<Vec<order_part::Model>>,
    ) -> Order {
        Order { order, lines, parts }
    }

    pub(super) fn checked_out(answer: CheckedOut) -> Order {
        Order { order: answer.order, lines: answer.lines, parts: Some(answer.parts) }
    }

    async fn line_models(&self, ctx: &Context<'_>) -> Result<Vec<customer_order_line::Model>> {
        Ok(match &self.lines {
            Some(lines) => lines.clone(),
            None => ctx
                .data_unchecked::<DataLoader<TraderLoader>>()
                .load_one(LinesKey(self.order.id))
                .await?
                .unwrap_or_default(),
        })
    }

    async fn amounts(&self, ctx: &Context<'_>) -> Result<(Vec<PricedLine>, Vec<discounts::VatAmount>)> {
        Ok(amounts_of(&self.line_models(ctx).await?))
    }
}

/// An order's amounts from its lines as stored: what its pricing gave it.
fn amounts_of(lines: &[customer_order_line::Model]) -> (Vec<PricedLine>, Vec<discounts::VatAmount>) {
    let stored: Vec<(i64, Decimal, Decimal, Decimal)> = lines
        .iter()
        .map(|l| {
            (
                l.quantity,
                decimal(&l.unit_price),
                decimal(&l.vat_rate),
                l.discount.as_deref().map_or(Decimal::ZERO, decimal),
            )
        })
        .collect();
    discounts::amounts_of(&stored)
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.order.id.to_string())
    }

    async fn customer(&self) -> Customer {
        Customer { id: ID(self.order.customer_id.clone()) }
    }

    async fn sale_session(&self, ctx: &Context<'_>) -> Result<Option<SaleSession>> {
        Ok(ctx
            .data_unchecked::<DataLoader<TraderLoader>>()
            .load_one(SessionKey(self.order.sales_session_id))
            .await?
            .map(SaleSession))
    }

    /// ACTIVE, CANCELLED, or REFUSED (a producer could not hold it).
    async fn status(&self) -> &str {
        &self.order.status
    }

    async fn payment_status(&self) -> PaymentStatus {
        PaymentStatus::from_stored(&self.order.payment_status)
    }

    /// What the customer pays: subtotal, less discounts, plus VAT (see `vat`), to the cent.
    async fn total(&self) -> Money {
        Money::of(decimal(&self.order.total), &self.order.currency)
    }

    /// The lines' amounts before discounts, VAT excluded.
    async fn subtotal(&self, ctx: &Context<'_>) -> Result<Money> {
        let (lines, _) = self.amounts(ctx).await?;
        Ok(Money::of(lines.iter().map(|l| l.gross).sum(), &self.order.currency))
    }

    /// The discounts the order was given when it was last priced (placed or amended), as they
    /// were then: editing or archiving a rule since changes nothing here.
    async fn discounts(&self) -> Vec<AppliedDiscount> {
        stored_discounts(self.order.discounts.as_deref())
            .into_iter()
            .map(|d| AppliedDiscount {
                rule: ID(d.rule),
                name: d.name,
                amount: Money::of(d.amount, &self.order.currency),
            })
            .collect()
    }

    async fn discount_total(&self) -> Money {
        let total = stored_discounts(self.order.discounts.as_deref()).iter().map(|d| d.amount).sum();
        Money::of(total, &self.order.currency)
    }

    /// VAT per rate, on the discounted base.
    async fn vat(&self, ctx: &Context<'_>) -> Result<Vec<VatAmount>> {
        let (_, vat) = self.amounts(ctx).await?;
        let money = |amount| Money::of(amount, &self.order.currency);
        Ok(vat.into_iter().map(|v| VatAmount { rate: v.rate, base: money(v.base), amount: money(v.amount) }).collect())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.order.created_at
    }

    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<OrderLine>> {
        let lines = self.line_models(ctx).await?;
        let (amounts, _) = amounts_of(&lines);
        Ok(lines
            .into_iter()
            .zip(amounts)
            .map(|(line, amounts)| OrderLine {
                line,
                amounts,
                session: self.order.sales_session_id,
                trader: self.order.trader_enterprise_id.clone(),
            })
            .collect())
    }

    /// Whether each producer holds its part of the order: RESERVED, PENDING (a send is on its
    /// way), UNCONFIRMED (the producer could not be reached in time; the send stays queued),
    /// REFUSED, or RELEASED (the order was cancelled or refused).
    async fn reservations(&self, ctx: &Context<'_>) -> Result<Vec<Reservation>> {
        let parts = match &self.parts {
            Some(parts) => parts.clone(),
            None => ctx
                .data_unchecked::<DataLoader<TraderLoader>>()
                .load_one(PartsKey(self.order.id))
                .await?
                .unwrap_or_default(),
        };
        let active = self.order.status == crate::store::trader::ORDER_ACTIVE;
        Ok(parts.into_iter().map(|part| Reservation { part, active }).collect())
    }
}

/// A producer's part of a customer order.
pub struct Reservation {
    part: order_part::Model,
    active: bool,
}

/// Whether a producer holds its part of a customer order.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ReservationState {
    Pending,
    Reserved,
    Refused,
    Unconfirmed,
    Released,
}

#[Object]
impl Reservation {
    async fn producer(&self, ctx: &Context<'_>) -> Result<Option<Producer>> {
        Ok(ctx
            .data_unchecked::<DataLoader<TraderLoader>>()
            .load_one(PeerKey(self.part.peer_id.clone()))
            .await?
            .map(Producer))
    }

    async fn state(&self) -> ReservationState {
        let state = PartState::parse(&self.part.state).unwrap_or(PartState::Pending);
        match state {
            // Of an order no longer active, nothing is asked for any more.
            _ if !self.active && state != PartState::Refused => ReservationState::Released,
            PartState::Pending => ReservationState::Pending,
            PartState::Reserved => ReservationState::Reserved,
            PartState::Refused => ReservationState::Refused,
            PartState::Unconfirmed => ReservationState::Unconfirmed,
            PartState::Released => ReservationState::Released,
        }
    }

    /// Why it is refused or unconfirmed (or why an amendment was refused): a stable code first.
    async fn reason(&self) -> Option<&str> {
        self.part.reason.as_deref()
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.part.updated_at
    }
}

pub struct OrderLine {
    line: customer_order_line::Model,
    amounts: PricedLine,
    session: Uuid,
    trader: String,
}

#[Object]
impl OrderLine {
    async fn id(&self) -> ID {
        ID(self.line.id.to_string())
    }

    async fn producer(&self, ctx: &Context<'_>) -> Result<Option<Producer>> {
        Ok(ctx
            .data_unchecked::<DataLoader<TraderLoader>>()
            .load_one(PeerKey(self.line.peer_id.clone()))
            .await?
            .map(Producer))
    }

    async fn product_id(&self) -> &str {
        &self.line.product_iri
    }

    async fn offer_id(&self) -> &str {
        &self.line.offer_iri
    }

    /// What this line ordered, as an entity other subgraphs (a catalogue, reviews) may extend.
    async fn offer(&self) -> Offer {
        Offer { id: ID(self.line.offer_iri.clone()) }
    }

    async fn name(&self) -> &str {
        &self.line.name
    }

    async fn quantity(&self) -> i64 {
        self.line.quantity
    }

    /// Unit price VAT excluded, as offered at checkout.
    async fn unit_price(&self) -> Money {
        Money::of(decimal(&self.line.unit_price), &self.line.currency)
    }

    /// Quantity x unit price, VAT excluded.
    async fn gross(&self) -> Money {
        Money::of(self.amounts.gross, &self.line.currency)
    }

    /// What the order's discounts took off this line.
    async fn discount(&self) -> Money {
        Money::of(self.amounts.discount, &self.line.currency)
    }

    /// Gross less discount: the line's VAT base.
    async fn net(&self) -> Money {
        Money::of(self.amounts.net, &self.line.currency)
    }

    /// The line's share of its rate's VAT.
    async fn vat(&self) -> Money {
        Money::of(self.amounts.vat, &self.line.currency)
    }

    /// Net plus VAT; the lines' totals add up to the order's.
    async fn total(&self) -> Money {
        Money::of(self.amounts.total, &self.line.currency)
    }

    async fn vat_rate(&self) -> Decimal {
        decimal(&self.line.vat_rate)
    }

    /// The producer order this line is part of: the order's own (PER_CUSTOMER_ORDER) or the
    /// session's.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn producer_order(&self, ctx: &Context<'_>) -> Result<Option<ProducerOrder>> {
        super::access::trader_staff(ctx, &self.trader)?;
        let loader = ctx.data_unchecked::<DataLoader<TraderLoader>>();
        let orders = loader.load_one(SessionProducerOrdersKey(self.session)).await?.unwrap_or_default();
        let own_group = self.line.order_id.to_string();
        let of_producer =
            |group: &str| orders.iter().find(|po| po.peer_id == self.line.peer_id && po.group_key == group).cloned();
        Ok(of_producer(&own_group)
            .filter(|po| po.status != crate::domain::OrderStatus::Cancelled.dfc_name())
            .or_else(|| of_producer(WHOLE_SESSION))
            .or_else(|| of_producer(&own_group))
            .map(ProducerOrder))
    }
}

/// A customer, owned by another subgraph; this one knows their orders.
/// A producer's DFC offer, keyed by its IRI: what a session offers and an order line orders.
/// This subgraph knows it by its id; others may add what they know of it.
#[derive(SimpleObject)]
pub struct Offer {
    pub id: ID,
}

pub struct Customer {
    pub(super) id: ID,
}

#[Object]
impl Customer {
    async fn id(&self) -> &ID {
        &self.id
    }

    /// This customer's orders, newest first: all of them for the customer themselves, those
    /// placed with the traders they work for to trader staff.
    #[graphql(
        complexity = "super::page_cost(first, child_complexity)",
        requires_scopes = "customer",
        requires_scopes = "trader_staff",
        requires_scopes = "operator"
    )]
    async fn orders(&self, ctx: &Context<'_>, #[graphql(default = 20)] first: i32) -> Result<Vec<Order>> {
        use super::access;
        let identity = access::caller(ctx)?;
        let limit = u64::try_from(first.clamp(1, 100)).unwrap_or(20);
        let traders = if access::operator(ctx) || access::is_customer(identity, &self.id) {
            None
        } else {
            let traders: Vec<String> = identity
                .enterprises
                .iter()
                .filter(|e| access::staff_of(identity, access::TRADER_STAFF, e))
                .cloned()
                .collect();
            if traders.is_empty() {
                return Err(access::forbidden());
            }
            Some(traders)
        };
        let key = super::loaders::CustomerOrdersKey { customer: self.id.to_string(), traders, limit };
        let loader = ctx.data_unchecked::<async_graphql::dataloader::DataLoader<super::loaders::TraderLoader>>();
        let orders = loader.load_one(key).await?.unwrap_or_default();
        Ok(orders.into_iter().map(Order::from).collect())
    }
}
