//! The trader's view: sales sessions and their multi-producer catalogue, checkout, customer
//! orders with their producer orders, and the `Customer` entity other subgraphs own, extended
//! with its orders. Entity loads are batched with data loaders.

use std::collections::HashMap;
use std::str::FromStr;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Enum, ErrorExtensions, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{customer_order, customer_order_line, order_part, peer, peer_offer, producer_order, sales_session};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::producer::Money;
use super::store_error;
use crate::domain::PartState;
use crate::domain::consolidation::PlannedLine;
use crate::store::consolidation::WHOLE_SESSION;
use crate::store::trader::CustomerOrderFilter;
use crate::store::{Store, StoreError};
use crate::trader::{CancelError, CheckedOut, CheckoutError, CheckoutLineRequest, CheckoutRequest, Contact, Trader};

pub(super) fn trader<'c>(ctx: &Context<'c>) -> &'c Trader {
    ctx.data_unchecked::<Trader>()
}

pub(super) fn store<'c>(ctx: &Context<'c>) -> &'c Store {
    ctx.data_unchecked::<Store>()
}

pub(super) fn coded(message: impl Into<String>, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

fn parse_uuid(id: &ID, what: &str) -> Result<Uuid> {
    Uuid::from_str(id).map_err(|_| {
        coded(format!("`{}` is not a {what} id", id.chars().take(64).collect::<String>()), "BAD_USER_INPUT")
    })
}

fn decimal(text: &str) -> Decimal {
    // Written by us from a Decimal; a corrupt row shows as zero rather than failing a whole page.
    Decimal::from_str(text).unwrap_or_default()
}

#[derive(Default)]
pub struct TraderQuery;

#[Object]
impl TraderQuery {
    async fn sales_session(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SaleSession>> {
        let id = parse_uuid(&id, "sales session")?;
        Ok(store(ctx).sales_session(id).await.map_err(store_error)?.map(SaleSession))
    }

    /// A trader's sales sessions, latest first.
    async fn sales_sessions(&self, ctx: &Context<'_>, trader_id: ID) -> Result<Vec<SaleSession>> {
        Ok(store(ctx).sales_sessions(&trader_id).await.map_err(store_error)?.into_iter().map(SaleSession).collect())
    }

    /// A customer order.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>> {
        let id = parse_uuid(&id, "order")?;
        Ok(store(ctx).customer_order(id).await.map_err(store_error)?.map(Order::from))
    }

    /// Customer orders, newest first, `first` at a time (at most 100) after the cursor `after`.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<OrderPage> {
        let limit = u64::try_from(first.clamp(1, 100)).unwrap_or(20);
        let offset = match after {
            None => 0,
            Some(cursor) => cursor.parse::<u64>().map_err(|_| coded("invalid cursor", "BAD_USER_INPUT"))?,
        };
        let filter = filter.unwrap_or_default();
        let filter = CustomerOrderFilter {
            trader: filter.trader_id.map(|t| t.to_string()),
            session_id: filter.sales_session_id.as_ref().map(|s| parse_uuid(s, "sales session")).transpose()?,
            customer_id: filter.customer_id.map(|c| c.to_string()),
            payment_status: filter.payment_status.map(|p| p.dfc_name().to_owned()),
        };
        let (items, total) = store(ctx).customer_orders(filter, offset, limit).await.map_err(store_error)?;
        let next = offset + items.len() as u64;
        Ok(OrderPage {
            next_cursor: (next < total).then(|| next.to_string()),
            total_count: i64::try_from(total).unwrap_or(i64::MAX),
            items: items.into_iter().map(Order::from).collect(),
        })
    }

    #[graphql(entity)]
    async fn find_order_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>> {
        Ok(load_entity(ctx, &id, "order", OrderKey).await.map(Order::from))
    }

    #[graphql(entity)]
    async fn find_sale_session_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SaleSession>> {
        Ok(load_entity(ctx, &id, "sales session", SessionKey).await.map(SaleSession))
    }

    /// Customers are owned by another subgraph; this one adds their orders.
    #[graphql(entity)]
    async fn find_customer_by_id(&self, id: ID) -> Customer {
        Customer { id }
    }
}

/// Resolves one `_entities` representation. A bad id or a failed load is reported beside the
/// others' results and resolves to null, never failing the whole `_entities` answer.
async fn load_entity<K, V>(ctx: &Context<'_>, id: &ID, what: &str, key: fn(Uuid) -> K) -> Option<V>
where
    TraderLoader: Loader<K, Value = V, Error = async_graphql::Error>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    let Ok(uuid) = Uuid::from_str(id) else {
        ctx.add_error(coded(format!("not a {what} id"), "BAD_USER_INPUT").into_server_error(ctx.item.pos));
        return None;
    };
    match ctx.data_unchecked::<DataLoader<TraderLoader>>().load_one(key(uuid)).await {
        Ok(found) => found,
        Err(err) => {
            ctx.add_error(err.into_server_error(ctx.item.pos));
            None
        }
    }
}

#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub trader_id: Option<ID>,
    pub sales_session_id: Option<ID>,
    pub customer_id: Option<ID>,
    pub payment_status: Option<PaymentStatus>,
}

#[derive(SimpleObject)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub total_count: i64,
    /// Pass as `after` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(InputObject)]
pub struct CreateSalesSessionInput {
    pub trader_id: ID,
    pub name: String,
    pub begins_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Producers (peer ids) whose offers the session lists.
    pub producer_ids: Vec<ID>,
}

#[derive(InputObject, Default)]
pub struct ContactInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
}

#[derive(InputObject)]
pub struct CheckoutLineInput {
    /// The offer id (or product id) as the session's catalogue lists it.
    pub offer_id: ID,
    pub quantity: i32,
}

#[derive(InputObject)]
pub struct CheckoutInput {
    /// Chosen by the client; retrying with the same key returns the same order.
    pub idempotency_key: String,
    pub sales_session_id: ID,
    pub customer_id: ID,
    /// Kept by the trader; never sent to a producer.
    pub contact: Option<ContactInput>,
    pub lines: Vec<CheckoutLineInput>,
}

#[derive(Default)]
pub struct TraderMutation;

#[Object]
impl TraderMutation {
    async fn create_sales_session(&self, ctx: &Context<'_>, input: CreateSalesSessionInput) -> Result<SaleSession> {
        if input.ends_at <= input.begins_at {
            return Err(coded("a sales session ends after it begins", "BAD_USER_INPUT"));
        }
        let store = store(ctx);
        if store.enterprise(&input.trader_id).await.map_err(store_error)?.is_none() {
            return Err(coded("no such trader enterprise", "NOT_FOUND"));
        }
        let ids: Vec<String> = input.producer_ids.iter().map(|p| p.to_string()).collect();
        let peers = store.peers_by_ids(&ids).await.map_err(store_error)?;
        if let Some(unknown) =
            ids.iter().find(|id| !peers.iter().any(|p| &p.id == *id && p.trader_enterprise_id == *input.trader_id))
        {
            return Err(coded(format!("`{unknown}` is not a producer of this trader"), "BAD_USER_INPUT"));
        }
        let session = store
            .create_sales_session(&input.trader_id, &input.name, input.begins_at, input.ends_at, &ids)
            .await
            .map_err(store_error)?;
        Ok(SaleSession(session))
    }

    /// Closes a session to customers now.
    async fn end_sales_session(&self, ctx: &Context<'_>, id: ID) -> Result<SaleSession> {
        let id = parse_uuid(&id, "sales session")?;
        store(ctx)
            .end_sales_session(id)
            .await
            .map_err(store_error)?
            .map(SaleSession)
            .ok_or_else(|| coded("no such sales session", "NOT_FOUND"))
    }

    /// Places one customer order across producers and reserves stock at each of them.
    async fn checkout(&self, ctx: &Context<'_>, input: CheckoutInput) -> Result<Order> {
        let session_id = parse_uuid(&input.sales_session_id, "sales session")?;
        let contact = input.contact.unwrap_or_default();
        let request = CheckoutRequest {
            idempotency_key: input.idempotency_key,
            session_id,
            customer_id: input.customer_id.to_string(),
            contact: Contact { name: contact.name, email: contact.email, address: contact.address },
            lines: input
                .lines
                .into_iter()
                .map(|l| CheckoutLineRequest { offer: l.offer_id.to_string(), quantity: i64::from(l.quantity) })
                .collect(),
        };
        trader(ctx).checkout(request).await.map(Order::checked_out).map_err(checkout_error)
    }

    /// Changes the lines of an order (a full replacement): the producers' orders are recomputed
    /// and sent at once; if a producer refuses, the order keeps its previous lines.
    async fn amend_order(&self, ctx: &Context<'_>, order_id: ID, lines: Vec<CheckoutLineInput>) -> Result<Order> {
        let id = parse_uuid(&order_id, "order")?;
        let lines = lines
            .into_iter()
            .map(|l| CheckoutLineRequest { offer: l.offer_id.to_string(), quantity: i64::from(l.quantity) })
            .collect();
        trader(ctx).amend_order(id, lines).await.map(Order::checked_out).map_err(checkout_error)
    }

    /// Closes a session now, without waiting for its end and grace period: every producer order
    /// is sent one last time, Complete.
    async fn close_sales_session(&self, ctx: &Context<'_>, id: ID) -> Result<SaleSession> {
        let id = parse_uuid(&id, "sales session")?;
        store(ctx)
            .end_sales_session(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| coded("no such sales session", "NOT_FOUND"))?;
        trader(ctx).close_session(id).await.map_err(store_error)?;
        store(ctx)
            .sales_session(id)
            .await
            .map_err(store_error)?
            .map(SaleSession)
            .ok_or_else(|| coded("no such sales session", "NOT_FOUND"))
    }

    /// Cancels a customer order (the customer before the session closes, or trader staff): the
    /// producers' orders are recomputed and sent at once, releasing stock.
    async fn cancel_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<Order> {
        let id = parse_uuid(&order_id, "order")?;
        match trader(ctx).cancel_order(id).await {
            Ok(order) => Ok(Order::from(order)),
            Err(CancelError::NotFound) => Err(coded("no such order", "NOT_FOUND")),
            Err(e @ CancelError::TooLate) => Err(coded(e.to_string(), "ORDER_COMPLETE")),
            Err(CancelError::Store(e)) => Err(store_error(e)),
        }
    }

    /// Sends a producer order again now (after a FAILED one's cause was dealt with).
    async fn retry_producer_order(&self, ctx: &Context<'_>, id: ID) -> Result<ProducerOrder> {
        let id = parse_uuid(&id, "producer order")?;
        trader(ctx)
            .retry_producer_order(id)
            .await
            .map_err(store_error)?
            .map(ProducerOrder)
            .ok_or_else(|| coded("no such producer order", "NOT_FOUND"))
    }

    /// Records the customer's payment to the trader.
    async fn mark_order_paid(&self, ctx: &Context<'_>, order_id: ID) -> Result<Order> {
        let id = parse_uuid(&order_id, "order")?;
        store(ctx)
            .mark_paid(id)
            .await
            .map_err(store_error)?
            .map(Order::from)
            .ok_or_else(|| coded("no such order", "NOT_FOUND"))
    }
}

fn checkout_error(err: CheckoutError) -> async_graphql::Error {
    match err {
        CheckoutError::SessionNotFound => coded(err.to_string(), "NOT_FOUND"),
        CheckoutError::SessionClosed => coded(err.to_string(), "SESSION_CLOSED"),
        CheckoutError::InvalidInput(_) => coded(err.to_string(), "BAD_USER_INPUT"),
        CheckoutError::UnknownOffer { .. } => coded(err.to_string(), "UNKNOWN_OFFER"),
        CheckoutError::IdempotencyKeyReused => coded(err.to_string(), "IDEMPOTENCY_KEY_REUSED"),
        CheckoutError::OrderNotFound => coded(err.to_string(), "NOT_FOUND"),
        CheckoutError::OrderNotActive => coded(err.to_string(), "ORDER_CANCELLED"),
        CheckoutError::OrderComplete => coded(err.to_string(), "ORDER_COMPLETE"),
        CheckoutError::OutOfStock(shortages) => {
            let message = shortages
                .iter()
                .map(|s| format!("line {} ({}): {} requested, {} available", s.line, s.name, s.requested, s.available))
                .collect::<Vec<_>>()
                .join("; ");
            async_graphql::Error::new(format!("not enough stock: {message}")).extend_with(|_, e| {
                e.set("code", "OUT_OF_STOCK");
                let items: Vec<async_graphql::Value> = shortages
                    .iter()
                    .map(|s| {
                        let mut m = async_graphql::indexmap::IndexMap::new();
                        m.insert(async_graphql::Name::new("line"), async_graphql::Value::from(s.line as i64));
                        m.insert(async_graphql::Name::new("offerId"), async_graphql::Value::from(s.offer.clone()));
                        m.insert(async_graphql::Name::new("name"), async_graphql::Value::from(s.name.clone()));
                        m.insert(async_graphql::Name::new("requested"), async_graphql::Value::from(s.requested));
                        m.insert(
                            async_graphql::Name::new("available"),
                            async_graphql::Value::from(s.available.to_string()),
                        );
                        async_graphql::Value::Object(m)
                    })
                    .collect();
                e.set("shortages", async_graphql::Value::List(items));
            })
        }
        CheckoutError::ProducerRefused { reason } => {
            tracing::warn!(%reason, "producer refused a checkout");
            coded("a producer refused the order", "PEER_REJECTED")
        }
        CheckoutError::ProducerUnconfirmed { .. } => coded(err.to_string(), "PEER_UNAVAILABLE"),
        CheckoutError::Store(e) => store_error(e),
    }
}

/// Payment states of the DFC vocabulary.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum PaymentStatus {
    Unpaid,
    Paid,
    Cancelled,
}

impl PaymentStatus {
    fn dfc_name(self) -> &'static str {
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

/// Whether a producer has what its order should say.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DeliveryState {
    /// A send is queued (the producer was unreachable, or a change is on its way).
    Pending,
    Delivered,
    /// Retries are exhausted or the producer refused: a person must act.
    Failed,
}

/// A sales session (Open Food Network's order cycle).
pub struct SaleSession(sales_session::Model);

#[Object]
impl SaleSession {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn trader_id(&self) -> &str {
        &self.0.enterprise_id
    }

    async fn begins_at(&self) -> DateTime<Utc> {
        self.0.begins_at
    }

    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }

    /// When the session's producer orders were completed; null while it is open or in its grace.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }

    /// Whether customers can check out now.
    async fn open(&self) -> bool {
        let now = Utc::now();
        self.0.begins_at <= now && now < self.0.ends_at && self.0.closed_at.is_none()
    }

    async fn producers(&self, ctx: &Context<'_>) -> Result<Vec<Producer>> {
        Ok(store(ctx).session_peers(self.0.id).await.map_err(store_error)?.into_iter().map(Producer).collect())
    }

    /// Every producer's offers, asked in parallel; a producer that cannot answer in time shows
    /// up in `errors`, never failing the query.
    async fn catalogue(&self, ctx: &Context<'_>) -> Result<SessionCatalogue> {
        let parts = trader(ctx).session_catalogue(self.0.id).await.map_err(store_error)?;
        let mut offers = Vec::new();
        let mut errors = Vec::new();
        for part in parts {
            match part.result {
                Ok(list) => offers.extend(list.into_iter().map(|o| SessionOffer { offer: o, peer: part.peer.clone() })),
                Err(e) => errors.push(PlatformError {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                    producer: Producer(part.peer),
                }),
            }
        }
        Ok(SessionCatalogue { offers, errors })
    }

    /// The orders the trader keeps with each producer for this session.
    async fn producer_orders(&self, ctx: &Context<'_>) -> Result<Vec<ProducerOrder>> {
        let loader = ctx.data_unchecked::<DataLoader<TraderLoader>>();
        let orders = loader.load_one(SessionProducerOrdersKey(self.0.id)).await?.unwrap_or_default();
        Ok(orders.into_iter().map(ProducerOrder).collect())
    }
}

/// A producer platform the trader buys from.
#[derive(Clone)]
pub struct Producer(pub(super) peer::Model);

#[Object]
impl Producer {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The producer's enterprise on its platform.
    async fn enterprise(&self) -> &str {
        &self.0.enterprise
    }

    async fn platform_url(&self) -> &str {
        &self.0.base_url
    }
}

#[derive(SimpleObject)]
pub struct SessionCatalogue {
    pub offers: Vec<SessionOffer>,
    /// One entry per producer whose catalogue could not be read.
    pub errors: Vec<PlatformError>,
}

#[derive(SimpleObject)]
pub struct PlatformError {
    pub producer: Producer,
    /// PEER_TIMEOUT, PEER_UNAVAILABLE, PEER_REJECTED, PEER_FAILED or PEER_BAD_PAYLOAD.
    pub code: String,
    pub message: String,
}

/// A producer's offer, as listed in a sales session.
pub struct SessionOffer {
    offer: peer_offer::Model,
    peer: peer::Model,
}

#[Object]
impl SessionOffer {
    /// The offer's IRI at the producer: what checkout lines name.
    async fn id(&self) -> ID {
        ID(self.offer.offer_iri.clone())
    }

    async fn product_id(&self) -> &str {
        &self.offer.product_iri
    }

    async fn producer(&self) -> Producer {
        Producer(self.peer.clone())
    }

    async fn name(&self) -> &str {
        &self.offer.name
    }

    async fn sku(&self) -> Option<&str> {
        self.offer.sku.as_deref()
    }

    /// Unit price, VAT excluded.
    async fn price(&self) -> Money {
        Money { amount: decimal(&self.offer.price), currency: self.offer.currency.clone() }
    }

    async fn vat_rate(&self) -> Decimal {
        decimal(&self.offer.vat_rate)
    }

    /// Size or weight of one unit, in `unit`.
    async fn unit_value(&self) -> Option<Decimal> {
        self.offer.unit_value.as_deref().map(decimal)
    }

    async fn unit(&self) -> Option<&str> {
        self.offer.unit_code.as_deref()
    }

    /// False when the producer publishes no stock: any quantity can be ordered.
    async fn stock_managed(&self) -> bool {
        self.offer.available.is_some()
    }

    /// Units available; null when stock is not managed.
    async fn available(&self) -> Option<Decimal> {
        self.offer.available.as_deref().map(decimal)
    }
}

/// A customer order: products of several producers, paid to the trader.
pub struct Order {
    order: customer_order::Model,
    /// Read with the order when the answer must be whole (a checkout's).
    preloaded: Option<(Vec<customer_order_line::Model>, Vec<order_part::Model>)>,
}

impl From<customer_order::Model> for Order {
    fn from(order: customer_order::Model) -> Order {
        Order { order, preloaded: None }
    }
}

impl Order {
    fn checked_out(answer: CheckedOut) -> Order {
        Order { order: answer.order, preloaded: Some((answer.lines, answer.parts)) }
    }
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

    /// VAT included, rounded once to the cent (half away from zero).
    async fn total(&self) -> Money {
        Money { amount: decimal(&self.order.total), currency: self.order.currency.clone() }
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.order.created_at
    }

    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<OrderLine>> {
        let lines = match &self.preloaded {
            Some((lines, _)) => lines.clone(),
            None => ctx
                .data_unchecked::<DataLoader<TraderLoader>>()
                .load_one(LinesKey(self.order.id))
                .await?
                .unwrap_or_default(),
        };
        Ok(lines.into_iter().map(|line| OrderLine { line, session: self.order.sales_session_id }).collect())
    }

    /// Whether each producer holds its part of the order: RESERVED, PENDING (a send is on its
    /// way), UNCONFIRMED (the producer could not be reached in time; the send stays queued),
    /// REFUSED, or RELEASED (the order was cancelled or refused).
    async fn reservations(&self, ctx: &Context<'_>) -> Result<Vec<Reservation>> {
        let parts = match &self.preloaded {
            Some((_, parts)) => parts.clone(),
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
    session: Uuid,
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

    async fn name(&self) -> &str {
        &self.line.name
    }

    async fn quantity(&self) -> i64 {
        self.line.quantity
    }

    /// Unit price VAT excluded, as offered at checkout.
    async fn unit_price(&self) -> Money {
        Money { amount: decimal(&self.line.unit_price), currency: self.line.currency.clone() }
    }

    async fn vat_rate(&self) -> Decimal {
        decimal(&self.line.vat_rate)
    }

    /// The producer order this line is part of: the order's own (PER_CUSTOMER_ORDER) or the
    /// session's.
    async fn producer_order(&self, ctx: &Context<'_>) -> Result<Option<ProducerOrder>> {
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
        Ok(lines.into_iter().map(ProducerOrderLine).collect())
    }

    /// The consolidation mode that applies to its producer now.
    async fn consolidation_mode(&self, ctx: &Context<'_>) -> Result<super::consolidation::ConsolidationModeValue> {
        let store = store(ctx);
        let mode = store.consolidation_mode_of(&self.0.trader_enterprise_id, &self.0.peer_id).await;
        Ok(mode.map_err(store_error)?.into())
    }
}

/// One line of a producer order and how it was derived from what customers need.
pub struct ProducerOrderLine(PlannedLine);

#[Object]
impl ProducerOrderLine {
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

/// A customer, owned by another subgraph; this one knows their orders.
pub struct Customer {
    id: ID,
}

#[Object]
impl Customer {
    async fn id(&self) -> &ID {
        &self.id
    }

    /// This customer's orders, newest first.
    async fn orders(&self, ctx: &Context<'_>, #[graphql(default = 20)] first: i32) -> Result<Vec<Order>> {
        let filter = CustomerOrderFilter { customer_id: Some(self.id.to_string()), ..Default::default() };
        let limit = u64::try_from(first.clamp(1, 100)).unwrap_or(20);
        let (orders, _) = store(ctx).customer_orders(filter, 0, limit).await.map_err(store_error)?;
        Ok(orders.into_iter().map(Order::from).collect())
    }
}

/// Batches the trader side's entity loads: one query per kind per batch, never one per row.
pub struct TraderLoader(pub Store);

#[derive(Clone, Hash, PartialEq, Eq)]
pub struct OrderKey(Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct SessionKey(Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct LinesKey(Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct PartsKey(Uuid);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct PeerKey(pub(super) String);
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct SessionProducerOrdersKey(Uuid);

fn loader_error(err: StoreError) -> async_graphql::Error {
    store_error(err)
}

impl Loader<OrderKey> for TraderLoader {
    type Value = customer_order::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[OrderKey]) -> Result<HashMap<OrderKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.0.customer_orders_by_ids(&ids).await.map_err(loader_error)?;
        Ok(rows.into_iter().map(|o| (OrderKey(o.id), o)).collect())
    }
}

impl Loader<SessionKey> for TraderLoader {
    type Value = sales_session::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[SessionKey]) -> Result<HashMap<SessionKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.0.sales_sessions_by_ids(&ids).await.map_err(loader_error)?;
        Ok(rows.into_iter().map(|s| (SessionKey(s.id), s)).collect())
    }
}

impl Loader<LinesKey> for TraderLoader {
    type Value = Vec<customer_order_line::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[LinesKey]) -> Result<HashMap<LinesKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<LinesKey, Self::Value> = HashMap::new();
        for line in self.0.customer_order_lines(&ids).await.map_err(loader_error)? {
            out.entry(LinesKey(line.order_id)).or_default().push(line);
        }
        Ok(out)
    }
}

impl Loader<PartsKey> for TraderLoader {
    type Value = Vec<order_part::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PartsKey]) -> Result<HashMap<PartsKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<PartsKey, Self::Value> = HashMap::new();
        for part in self.0.order_parts(&ids).await.map_err(loader_error)? {
            out.entry(PartsKey(part.order_id)).or_default().push(part);
        }
        Ok(out)
    }
}

impl Loader<PeerKey> for TraderLoader {
    type Value = peer::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PeerKey]) -> Result<HashMap<PeerKey, Self::Value>, Self::Error> {
        let ids: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = self.0.peers_by_ids(&ids).await.map_err(loader_error)?;
        Ok(rows.into_iter().map(|p| (PeerKey(p.id.clone()), p)).collect())
    }
}

impl Loader<SessionProducerOrdersKey> for TraderLoader {
    type Value = Vec<producer_order::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[SessionProducerOrdersKey],
    ) -> Result<HashMap<SessionProducerOrdersKey, Self::Value>, Self::Error> {
        let sessions: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut out: HashMap<SessionProducerOrdersKey, Self::Value> = HashMap::new();
        for po in self.0.producer_orders_of_sessions(&sessions).await.map_err(loader_error)? {
            out.entry(SessionProducerOrdersKey(po.sales_session_id)).or_default().push(po);
        }
        Ok(out)
    }
}
