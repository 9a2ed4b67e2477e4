//! The trader's view: sales sessions and their multi-producer catalogue, checkout, customer
//! orders with their producer orders, and the `Customer` entity other subgraphs own, extended
//! with its orders. Entity loads are batched with data loaders.

use std::str::FromStr;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{peer, peer_offer, sales_session};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::access::{self, TRADER_STAFF};
use super::loaders::*;
use super::orders::{Customer, Order, PaymentStatus};
use super::producer::Money;
use super::producer_orders::ProducerOrder;
use super::{CATALOGUE_COST, page_cost, store_error};
use crate::store::Store;
use crate::store::trader::{CustomerOrderFilter, OrderPosition};
use crate::trader::{CancelError, CatalogueMemo, CheckoutError, CheckoutLineRequest, CheckoutRequest, Contact, Trader};

pub(super) fn trader<'c>(ctx: &Context<'c>) -> &'c Trader {
    ctx.data_unchecked::<Trader>()
}

pub(super) fn store<'c>(ctx: &Context<'c>) -> &'c Store {
    ctx.data_unchecked::<Store>()
}

pub(super) fn coded(message: impl Into<String>, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub(super) fn parse_uuid(id: &ID, what: &str) -> Result<Uuid> {
    Uuid::from_str(id).map_err(|_| {
        coded(format!("`{}` is not a {what} id", id.chars().take(64).collect::<String>()), "BAD_USER_INPUT")
    })
}

pub(super) fn decimal(text: &str) -> Decimal {
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
    #[graphql(
        requires_scopes = "customer",
        requires_scopes = "trader_staff",
        requires_scopes = "producer_staff",
        requires_scopes = "operator"
    )]
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>> {
        let id = parse_uuid(&id, "order")?;
        // One order has nothing to batch with: what it shows is read at once, beside the order
        // rather than after it (and dropped unread if the caller may not see the order).
        let store = store(ctx);
        let wants_lines = asks_for(ctx, ORDER_FIELDS_OF_LINES);
        let wants_parts = asks_for(ctx, &["reservations"]);
        let (order, lines, parts) = tokio::join!(
            store.customer_order(id),
            async { if wants_lines { store.customer_order_lines(&[id]).await.map(Some) } else { Ok(None) } },
            async { if wants_parts { store.order_parts(&[id]).await.map(Some) } else { Ok(None) } },
        );
        let order = order.map_err(store_error)?;
        let identity = access::caller(ctx)?;
        match order {
            Some(order) if access::may_see_order(identity, &order) => {
                Ok(Some(Order::read_with(order, lines.map_err(store_error)?, parts.map_err(store_error)?)))
            }
            None if access::operator(ctx) => Ok(None),
            _ => Err(access::forbidden()),
        }
    }

    /// Customer orders, newest first, `first` at a time (at most 100) after the cursor `after`.
    /// Staff name the trader they work for (`traderId`), customers themselves (`customerId`).
    #[graphql(
        complexity = "page_cost(first, child_complexity)",
        requires_scopes = "customer",
        requires_scopes = "trader_staff",
        requires_scopes = "producer_staff",
        requires_scopes = "operator"
    )]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<OrderPage> {
        let limit = u64::try_from(first.clamp(1, 100)).unwrap_or(20);
        let after = after.as_deref().map(decode_cursor).transpose()?;
        let filter = filter.unwrap_or_default();
        let identity = access::caller(ctx)?;
        let staff = filter.trader_id.as_ref().is_some_and(|t| access::staff_of(identity, TRADER_STAFF, t));
        let own = filter.customer_id.as_ref().is_some_and(|c| access::is_customer(identity, c));
        if !(access::operator(ctx) || staff || own) {
            return Err(access::forbidden());
        }
        let filter = CustomerOrderFilter {
            traders: filter.trader_id.map(|t| vec![t.to_string()]),
            session_id: filter.sales_session_id.as_ref().map(|s| parse_uuid(s, "sales session")).transpose()?,
            customer_id: filter.customer_id.map(|c| c.to_string()),
            payment_status: filter.payment_status.map(|p| p.dfc_name().to_owned()),
        };
        // Counting every match costs a scan of them all: only when the client asks.
        let count = ctx.look_ahead().field("totalCount").exists();
        let page = store(ctx).customer_orders(filter, after, limit, count).await.map_err(store_error)?;
        Ok(OrderPage {
            next_cursor: page.orders.last().filter(|_| page.more).map(|last| encode_cursor(OrderPosition::of(last))),
            total_count: page.total.map_or(0, |total| i64::try_from(total).unwrap_or(i64::MAX)),
            items: page.orders.into_iter().map(Order::from).collect(),
        })
    }

    #[graphql(entity)]
    async fn find_order_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>> {
        // The lines asked for come in the orders' batch, not in a second one after it.
        if asks_for(ctx, ORDER_FIELDS_OF_LINES) {
            let found = load_entity(ctx, &id, "order", OrderWithLinesKey).await?;
            let visible = access::entity(ctx, found, |identity, (order, _)| access::may_see_order(identity, order))?;
            return Ok(visible.map(|(order, lines)| Order::read_with(order, Some(lines), None)));
        }
        let found = load_entity(ctx, &id, "order", OrderKey).await?;
        Ok(access::entity(ctx, found, access::may_see_order)?.map(Order::from))
    }

    #[graphql(entity)]
    async fn find_sale_session_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<SaleSession>> {
        if !access::may_browse(ctx) {
            return Err(access::unauthenticated());
        }
        Ok(load_entity(ctx, &id, "sales session", SessionKey).await?.map(SaleSession))
    }

    /// Offers are keyed by their IRI; any IRI resolves (this subgraph adds nothing but the key).
    #[graphql(entity)]
    async fn find_offer_by_id(&self, id: ID) -> super::orders::Offer {
        super::orders::Offer { id }
    }

    /// Customers are owned by another subgraph; this one adds their orders.
    #[graphql(entity)]
    async fn find_customer_by_id(&self, id: ID) -> Customer {
        Customer { id }
    }
}

/// The fields of `Order` that read its lines.
const ORDER_FIELDS_OF_LINES: &[&str] = &["lines", "subtotal", "discounts", "discountTotal", "vat"];

/// Whether the field being resolved selects any of `fields` (through fragments too).
fn asks_for(ctx: &Context<'_>, fields: &[&str]) -> bool {
    let look = ctx.look_ahead();
    fields.iter().any(|f| look.field(f).exists())
}

/// Loads one `_entities` representation through the request's loader (one query per batch).
async fn load_entity<K, V>(ctx: &Context<'_>, id: &ID, what: &str, key: fn(Uuid) -> K) -> Result<Option<V>>
where
    TraderLoader: Loader<K, Value = V, Error = async_graphql::Error>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    let uuid = Uuid::from_str(id).map_err(|_| coded(format!("not a {what} id"), "BAD_USER_INPUT"))?;
    ctx.data_unchecked::<DataLoader<TraderLoader>>().load_one(key(uuid)).await
}

#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub trader_id: Option<ID>,
    pub sales_session_id: Option<ID>,
    pub customer_id: Option<ID>,
    pub payment_status: Option<PaymentStatus>,
}

/// A page's cursor: where it ended, opaque to clients (base64url of the last order's creation
/// time and id).
fn encode_cursor(position: OrderPosition) -> String {
    use base64::Engine;
    let text = format!("{}|{}", position.created_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true), position.id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> Result<OrderPosition> {
    use base64::Engine;
    let invalid = || coded("invalid cursor: pass a page's `nextCursor` as it came", "BAD_USER_INPUT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let (at, id) = text.split_once('|').ok_or_else(invalid)?;
    let created_at = DateTime::parse_from_rfc3339(at).map_err(|_| invalid())?.with_timezone(&Utc);
    let id = Uuid::from_str(id).map_err(|_| invalid())?;
    Ok(OrderPosition { created_at, id })
}

#[derive(SimpleObject)]
pub struct OrderPage {
    pub items: Vec<Order>,
    /// How many orders match the filter in all.
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
    /// Whom the order is for: left out by customers (the token's subject is the customer);
    /// named by the trader's staff checking out for a customer.
    pub customer_id: Option<ID>,
    /// Kept by the trader; never sent to a producer.
    pub contact: Option<ContactInput>,
    pub lines: Vec<CheckoutLineInput>,
}

#[derive(Default)]
pub struct TraderMutation;

#[Object]
impl TraderMutation {
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn create_sales_session(&self, ctx: &Context<'_>, input: CreateSalesSessionInput) -> Result<SaleSession> {
        access::trader_staff(ctx, &input.trader_id)?;
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
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn end_sales_session(&self, ctx: &Context<'_>, id: ID) -> Result<SaleSession> {
        let id = parse_uuid(&id, "sales session")?;
        staff_session(ctx, id).await?;
        store(ctx)
            .end_sales_session(id)
            .await
            .map_err(store_error)?
            .map(SaleSession)
            .ok_or_else(|| coded("no such sales session", "NOT_FOUND"))
    }

    /// Places one customer order across producers and reserves stock at each of them.
    #[graphql(requires_scopes = "customer", requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn checkout(&self, ctx: &Context<'_>, input: CheckoutInput) -> Result<Order> {
        let session_id = parse_uuid(&input.sales_session_id, "sales session")?;
        let (customer_id, session) = checkout_customer(ctx, session_id, input.customer_id.as_ref()).await?;
        let contact = input.contact.unwrap_or_default();
        let request = CheckoutRequest {
            idempotency_key: input.idempotency_key,
            session_id,
            customer_id,
            contact: Contact { name: contact.name, email: contact.email, address: contact.address },
            lines: input
                .lines
                .into_iter()
                .map(|l| CheckoutLineRequest { offer: l.offer_id.to_string(), quantity: i64::from(l.quantity) })
                .collect(),
        };
        trader(ctx).checkout_in(session, request).await.map(Order::checked_out).map_err(checkout_error)
    }

    /// Changes the lines of an order (a full replacement): the producers' orders are recomputed
    /// and sent at once; if a producer refuses, the order keeps its previous lines.
    #[graphql(requires_scopes = "customer", requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn amend_order(&self, ctx: &Context<'_>, order_id: ID, lines: Vec<CheckoutLineInput>) -> Result<Order> {
        let id = parse_uuid(&order_id, "order")?;
        own_order(ctx, id, access::may_see_order).await?;
        let lines = lines
            .into_iter()
            .map(|l| CheckoutLineRequest { offer: l.offer_id.to_string(), quantity: i64::from(l.quantity) })
            .collect();
        trader(ctx).amend_order(id, lines).await.map(Order::checked_out).map_err(checkout_error)
    }

    /// Closes a session now, without waiting for its end and grace period: every producer order
    /// is sent one last time, Complete.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn close_sales_session(&self, ctx: &Context<'_>, id: ID) -> Result<SaleSession> {
        let id = parse_uuid(&id, "sales session")?;
        staff_session(ctx, id).await?;
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
    #[graphql(requires_scopes = "customer", requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn cancel_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<Order> {
        let id = parse_uuid(&order_id, "order")?;
        own_order(ctx, id, access::may_see_order).await?;
        match trader(ctx).cancel_order(id).await {
            Ok(order) => Ok(Order::from(order)),
            Err(CancelError::NotFound) => Err(coded("no such order", "NOT_FOUND")),
            Err(e @ CancelError::TooLate) => Err(coded(e.to_string(), "ORDER_COMPLETE")),
            Err(CancelError::Store(e)) => Err(store_error(e)),
        }
    }

    /// Sends a producer order again now (after a FAILED one's cause was dealt with).
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn retry_producer_order(&self, ctx: &Context<'_>, id: ID) -> Result<ProducerOrder> {
        let id = parse_uuid(&id, "producer order")?;
        let order = store(ctx).producer_order(id).await.map_err(store_error)?;
        access::found(
            ctx,
            order,
            |identity, order| access::staff_of(identity, TRADER_STAFF, &order.trader_enterprise_id),
            || coded("no such producer order", "NOT_FOUND"),
        )?;
        trader(ctx)
            .retry_producer_order(id)
            .await
            .map_err(store_error)?
            .map(ProducerOrder)
            .ok_or_else(|| coded("no such producer order", "NOT_FOUND"))
    }

    /// Records the customer's payment to the trader.
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn mark_order_paid(&self, ctx: &Context<'_>, order_id: ID) -> Result<Order> {
        let id = parse_uuid(&order_id, "order")?;
        own_order(ctx, id, |identity, order| access::staff_of(identity, TRADER_STAFF, &order.trader_enterprise_id))
            .await?;
        store(ctx)
            .mark_paid(id)
            .await
            .map_err(store_error)?
            .map(Order::from)
            .ok_or_else(|| coded("no such order", "NOT_FOUND"))
    }
}

/// The session, if the caller is staff of its trader.
async fn staff_session(ctx: &Context<'_>, id: Uuid) -> Result<sales_session::Model> {
    let session = store(ctx).sales_session(id).await.map_err(store_error)?;
    access::found(
        ctx,
        session,
        |identity, session| access::staff_of(identity, TRADER_STAFF, &session.enterprise_id),
        || coded("no such sales session", "NOT_FOUND"),
    )
}

/// The order, if the caller may act on it as `allowed` says.
async fn own_order(
    ctx: &Context<'_>,
    id: Uuid,
    allowed: impl FnOnce(&crate::auth::Identity, &entity::customer_order::Model) -> bool,
) -> Result<entity::customer_order::Model> {
    let order = store(ctx).customer_order(id).await.map_err(store_error)?;
    access::found(ctx, order, allowed, || coded("no such order", "NOT_FOUND"))
}

/// Whom a checkout is for: a customer checks out as themselves (their token's subject; naming
/// another customer is refused); the trader's staff check out for the customer they name. With
/// it, the session when it had to be read to know whether the caller may.
async fn checkout_customer(
    ctx: &Context<'_>,
    session_id: Uuid,
    named: Option<&ID>,
) -> Result<(String, Option<sales_session::Model>)> {
    let identity = access::caller(ctx)?;
    let customer = identity.roles.contains(access::CUSTOMER);
    match named {
        None if customer => Ok((identity.subject.clone(), None)),
        Some(named) if customer && named.as_str() == identity.subject => Ok((identity.subject.clone(), None)),
        None => Err(coded("staff name the customer they check out for (`customerId`)", "BAD_USER_INPUT")),
        Some(named) => {
            // Sessions are public: an unknown one is left to checkout to report.
            let session = store(ctx).sales_session(session_id).await.map_err(store_error)?;
            let allowed = match &session {
                Some(session) => access::staff_of(identity, TRADER_STAFF, &session.enterprise_id),
                None => identity.roles.contains(TRADER_STAFF) || access::operator(ctx),
            };
            if allowed { Ok((named.to_string(), session)) } else { Err(access::forbidden()) }
        }
    }
}

pub(super) fn checkout_error(err: CheckoutError) -> async_graphql::Error {
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

/// A sales session (Open Food Network's order cycle).
pub struct SaleSession(pub(super) sales_session::Model);

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
    #[graphql(complexity = "CATALOGUE_COST + child_complexity")]
    async fn catalogue(&self, ctx: &Context<'_>) -> Result<SessionCatalogue> {
        let fresh = CatalogueMemo::default();
        let memo = ctx.data_opt::<CatalogueMemo>().unwrap_or(&fresh);
        let parts = trader(ctx).session_catalogue(self.0.id, memo).await.map_err(store_error)?;
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
    #[graphql(requires_scopes = "trader_staff", requires_scopes = "operator")]
    async fn producer_orders(&self, ctx: &Context<'_>) -> Result<Vec<ProducerOrder>> {
        access::trader_staff(ctx, &self.0.enterprise_id)?;
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

    /// This offer as an entity other subgraphs may extend.
    async fn offer(&self) -> super::orders::Offer {
        super::orders::Offer { id: ID(self.offer.offer_iri.clone()) }
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
        Money::of(decimal(&self.offer.price), &self.offer.currency)
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
