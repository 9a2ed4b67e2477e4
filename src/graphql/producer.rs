//! The producer's view: its products and stock, and its incoming orders with lines and states.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Enum, ErrorExtensions, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{access, store_error};
use crate::domain;
use crate::store::{self, Store};

#[derive(Default)]
pub struct ProducerQuery;

fn store<'c>(ctx: &Context<'c>) -> &'c Store {
    ctx.data_unchecked::<Store>()
}

#[Object]
impl ProducerQuery {
    /// Enterprises hosted on this platform.
    async fn enterprises(&self, ctx: &Context<'_>) -> Result<Vec<Enterprise>> {
        let all = store(ctx).enterprises().await.map_err(store_error)?;
        Ok(all.into_iter().map(Enterprise).collect())
    }

    async fn enterprise(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Enterprise>> {
        Ok(store(ctx).enterprise(&id).await.map_err(store_error)?.map(Enterprise))
    }

    #[graphql(entity)]
    async fn find_product_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Product>> {
        let product_id = id.parse::<i64>().map_err(|_| bad_id("Product", &id))?;
        let found = ctx.data_unchecked::<DataLoader<ProductLoader>>().load_one(product_id).await?;
        let found = access::entity(ctx, found, |identity, product| {
            access::staff_of(identity, access::PRODUCER_STAFF, &product.enterprise_id)
        })?;
        Ok(found.map(Product))
    }

    #[graphql(entity)]
    async fn find_incoming_order_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<IncomingOrder>> {
        let (enterprise, order_id) = id
            .split_once(':')
            .and_then(|(e, n)| n.parse::<i64>().ok().map(|n| (e, n)))
            .ok_or_else(|| bad_id("IncomingOrder", &id))?;
        let key = (enterprise.to_owned(), order_id);
        let order = ctx.data_unchecked::<DataLoader<IncomingOrderLoader>>().load_one(key).await?;
        let order = access::entity(ctx, order, |identity, order| {
            access::staff_of(identity, access::PRODUCER_STAFF, &order.enterprise_id)
        })?;
        Ok(order.map(IncomingOrder))
    }
}

fn bad_id(kind: &str, id: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!("`{}` is not a {kind} id", id.chars().take(64).collect::<String>()))
        .extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

/// Loads products by id in one query per batch.
pub struct ProductLoader(pub Store);

impl Loader<i64> for ProductLoader {
    type Value = store::Product;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let products = self.0.products_by_ids(keys).await.map_err(store_error)?;
        Ok(products.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// Loads incoming orders by (enterprise, id), with their lines, in three queries per batch.
pub struct IncomingOrderLoader(pub Store);

impl Loader<(String, i64)> for IncomingOrderLoader {
    type Value = store::IncomingOrder;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(String, i64)]) -> Result<HashMap<(String, i64), Self::Value>, Self::Error> {
        self.0.incoming_orders_by_ids(keys).await.map_err(store_error)
    }
}

pub struct Enterprise(entity::enterprise::Model);

#[Object]
impl Enterprise {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The products this enterprise supplies, with their stock.
    #[graphql(requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn products(&self, ctx: &Context<'_>) -> Result<Vec<Product>> {
        access::producer_staff(ctx, &self.0.id)?;
        let products = store(ctx).products(&self.0.id).await.map_err(store_error)?;
        Ok(products.into_iter().map(Product).collect())
    }

    /// Orders trader platforms placed with this enterprise, newest first.
    #[graphql(requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn incoming_orders(&self, ctx: &Context<'_>, status: Option<OrderStatus>) -> Result<Vec<IncomingOrder>> {
        access::producer_staff(ctx, &self.0.id)?;
        let orders = store(ctx)
            .incoming_orders(&self.0.id, None, status.map(domain::OrderStatus::from), crate::store::Oldest::Last)
            .await
            .map_err(store_error)?;
        Ok(orders.into_iter().map(IncomingOrder).collect())
    }

    /// What to prepare: the orders that are not cancelled, grouped by trader platform, buyer and
    /// sales session, with totals per product in units and, where the unit is a weight, in kg.
    #[graphql(requires_scopes = "producer_staff", requires_scopes = "operator")]
    async fn incoming_order_groups(&self, ctx: &Context<'_>) -> Result<Vec<IncomingOrderGroup>> {
        access::producer_staff(ctx, &self.0.id)?;
        let orders = store(ctx)
            .incoming_orders(&self.0.id, None, None, crate::store::Oldest::Last)
            .await
            .map_err(store_error)?;
        let products: HashMap<i64, store::Product> =
            store(ctx).products(&self.0.id).await.map_err(store_error)?.into_iter().map(|p| (p.id, p)).collect();
        let mut groups: Vec<IncomingOrderGroup> = Vec::new();
        for order in orders.into_iter().filter(|o| o.status != domain::OrderStatus::Cancelled) {
            let key = (order.client_platform_id.clone(), order.buyer.clone(), order.sale_session_ref.clone());
            let position = match groups
                .iter()
                .position(|g| (g.client_platform.clone(), g.buyer.clone(), g.sale_session.clone()) == key)
            {
                Some(i) => i,
                None => {
                    groups.push(IncomingOrderGroup {
                        client_platform: key.0,
                        buyer: key.1,
                        sale_session: key.2,
                        orders: Vec::new(),
                        totals: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let group = &mut groups[position];
            for line in &order.lines {
                match group.totals.iter_mut().find(|t| t.product_id == line.product_id) {
                    Some(total) => total.quantity += line.quantity,
                    None => group.totals.push(ProductTotal {
                        product_id: line.product_id,
                        name: line.product_name.clone(),
                        quantity: line.quantity,
                        weight_kg: None,
                    }),
                }
            }
            group.orders.push(IncomingOrder(order));
        }
        for total in groups.iter_mut().flat_map(|g| g.totals.iter_mut()) {
            total.weight_kg = products.get(&total.product_id).and_then(|p| {
                let weight = p.unit_value.checked_mul(Decimal::from(total.quantity))?;
                p.unit.convert(weight, &domain::Unit::Kilogram)
            });
        }
        Ok(groups)
    }
}

/// Orders of one trader platform, buyer and sales session, and what they add up to.
#[derive(SimpleObject)]
pub struct IncomingOrderGroup {
    pub client_platform: String,
    pub buyer: Option<String>,
    pub sale_session: Option<String>,
    pub orders: Vec<IncomingOrder>,
    pub totals: Vec<ProductTotal>,
}

/// One product's total in a group of orders.
#[derive(SimpleObject)]
pub struct ProductTotal {
    #[graphql(skip)]
    pub product_id: i64,
    pub name: String,
    /// Offer units.
    pub quantity: i64,
    /// Total weight, when the product's unit is a weight (exact).
    pub weight_kg: Option<Decimal>,
}

/// An amount of money in one currency, at the currency's scale at least (`1.80`, not `1.8`).
/// Shareable: other subgraphs (a catalogue, reviews, payments) return money too.
#[derive(SimpleObject)]
#[graphql(shareable)]
pub struct Money {
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
}

impl Money {
    /// Shown with the currency's two decimals, or more where the amount has them (a unit price of
    /// 0.125 stays exact).
    pub fn of(amount: Decimal, currency: &str) -> Money {
        let mut amount = amount;
        if amount.scale() < 2 {
            amount.rescale(2);
        }
        Money { amount, currency: currency.to_owned() }
    }
}

/// A product a producer supplies, as its DFC catalogue publishes it.
pub struct Product(store::Product);

#[Object]
impl Product {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn enterprise_id(&self) -> &str {
        &self.0.enterprise_id
    }

    async fn sku(&self) -> &str {
        &self.0.sku
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Size or weight of one unit, in `unit`.
    async fn unit_value(&self) -> Decimal {
        self.0.unit_value
    }

    /// DFC measure of `unitValue` (Kilogram, Litre, Piece, ...).
    async fn unit(&self) -> &str {
        self.0.unit.dfc_name()
    }

    /// Price of one unit, VAT excluded.
    async fn price(&self) -> Money {
        Money::of(self.0.price.amount, self.0.price.currency.iso_code())
    }

    /// VAT rate in percent.
    async fn vat_rate(&self) -> Decimal {
        self.0.price.vat_rate
    }

    /// False when the producer does not count this product's stock (orders never wait for it).
    async fn stock_managed(&self) -> bool {
        matches!(self.0.stock, store::Stock::Managed { .. })
    }

    /// Units on hand; null when stock is not managed.
    async fn on_hand(&self) -> Option<i64> {
        match self.0.stock {
            store::Stock::Managed { on_hand, .. } => Some(on_hand),
            store::Stock::NotManaged => None,
        }
    }

    /// Units reserved by Held orders; null when stock is not managed.
    async fn reserved(&self) -> Option<i64> {
        match self.0.stock {
            store::Stock::Managed { reserved, .. } => Some(reserved),
            store::Stock::NotManaged => None,
        }
    }

    /// Units that can still be ordered; null means unlimited.
    async fn available(&self) -> Option<i64> {
        self.0.stock.available()
    }
}

/// Order states of the DFC vocabulary.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum OrderStatus {
    Draft,
    Held,
    Complete,
    Cancelled,
}

impl From<OrderStatus> for domain::OrderStatus {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Draft => domain::OrderStatus::Draft,
            OrderStatus::Held => domain::OrderStatus::Held,
            OrderStatus::Complete => domain::OrderStatus::Complete,
            OrderStatus::Cancelled => domain::OrderStatus::Cancelled,
        }
    }
}

impl From<domain::OrderStatus> for OrderStatus {
    fn from(s: domain::OrderStatus) -> Self {
        match s {
            domain::OrderStatus::Draft => OrderStatus::Draft,
            domain::OrderStatus::Held => OrderStatus::Held,
            domain::OrderStatus::Complete => OrderStatus::Complete,
            domain::OrderStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}

/// Fulfilment states of the DFC vocabulary.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum FulfilmentStatus {
    Held,
    Unfulfilled,
    Fulfilled,
    Cancelled,
}

impl From<domain::FulfilmentStatus> for FulfilmentStatus {
    fn from(s: domain::FulfilmentStatus) -> Self {
        match s {
            domain::FulfilmentStatus::Held => FulfilmentStatus::Held,
            domain::FulfilmentStatus::Unfulfilled => FulfilmentStatus::Unfulfilled,
            domain::FulfilmentStatus::Fulfilled => FulfilmentStatus::Fulfilled,
            domain::FulfilmentStatus::Cancelled => FulfilmentStatus::Cancelled,
        }
    }
}

/// An order a trader platform placed with one of our producers.
pub struct IncomingOrder(store::IncomingOrder);

#[Object]
impl IncomingOrder {
    /// `{enterprise}:{number}`.
    async fn id(&self) -> ID {
        ID(format!("{}:{}", self.0.enterprise_id, self.0.id))
    }

    /// The producer's order number, as it appears in DFC URLs.
    async fn number(&self) -> i64 {
        self.0.id
    }

    async fn enterprise_id(&self) -> &str {
        &self.0.enterprise_id
    }

    /// The platform that placed the order.
    async fn client_platform(&self) -> &str {
        &self.0.client_platform_id
    }

    /// The buying enterprise, as the trader named it (`dfc-b:orderedBy`).
    async fn buyer(&self) -> Option<&str> {
        self.0.buyer.as_deref()
    }

    async fn order_number(&self) -> Option<&str> {
        self.0.order_number.as_deref()
    }

    async fn sale_session(&self) -> Option<&str> {
        self.0.sale_session_ref.as_deref()
    }

    async fn sale_session_end(&self) -> Option<DateTime<Utc>> {
        self.0.sale_session_end
    }

    async fn status(&self) -> OrderStatus {
        self.0.status.into()
    }

    async fn fulfilment_status(&self) -> FulfilmentStatus {
        self.0.fulfilment.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    async fn lines(&self) -> Vec<IncomingOrderLine> {
        self.0.lines.iter().cloned().map(|l| IncomingOrderLine(Arc::new(l))).collect()
    }
}

pub struct IncomingOrderLine(Arc<store::IncomingLine>);

#[Object]
impl IncomingOrderLine {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn product(&self, ctx: &Context<'_>) -> Result<Option<Product>> {
        let loader = ctx.data_unchecked::<DataLoader<ProductLoader>>();
        Ok(loader.load_one(self.0.product_id).await?.map(Product))
    }

    async fn product_name(&self) -> &str {
        &self.0.product_name
    }

    async fn quantity(&self) -> i64 {
        self.0.quantity
    }

    /// Units of `quantity` currently reserved in stock.
    async fn reserved(&self) -> i64 {
        self.0.reserved
    }

    async fn unit_price(&self) -> Money {
        Money::of(self.0.unit_price, self.0.currency.iso_code())
    }

    async fn vat_rate(&self) -> Decimal {
        self.0.vat_rate
    }
}
