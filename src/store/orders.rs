//! Orders that trader platforms place with our producers, and the stock they hold.
//!
//! Every change runs in one write transaction: reservations are taken with conditional updates
//! (`reserved + n <= on_hand`), so two orders can never both get the last units, and a refused
//! request rolls back whole.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use entity::{incoming_order, incoming_order_line, product};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::catalogue::{Product, Stock};
use super::{Store, StoreError, corrupt};
use crate::domain::order::StatusChangeError;
use crate::domain::{Currency, FulfilmentStatus, OrderStatus, Quantity, StatusChange};

/// The trader's sales session an order belongs to, as the trader describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SaleSessionInfo {
    pub reference: Option<String>,
    pub begin: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LineRequest {
    pub product_id: i64,
    pub quantity: Quantity,
    pub discount: Option<Decimal>,
    pub description: Option<String>,
}

/// What a trader asks for: the whole order, lines included (a full replacement on update).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrderRequest {
    pub buyer: Option<String>,
    pub order_number: Option<String>,
    pub sale_session: SaleSessionInfo,
    pub discount: Option<Decimal>,
    pub lines: Vec<LineRequest>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shortage {
    pub product_id: i64,
    pub product_name: String,
    pub requested: i64,
    /// The most this order could have of the product right now.
    pub available: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("no such order")]
    NotFound,
    #[error("products not sold by this enterprise: {0:?}")]
    UnknownProducts(Vec<i64>),
    #[error("product {0} appears on more than one line")]
    DuplicateProduct(i64),
    #[error("not enough stock")]
    InsufficientStock(Vec<Shortage>),
    #[error("this Idempotency-Key was used for another request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    StatusChange(#[from] StatusChangeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for OrderError {
    fn from(err: sea_orm::DbErr) -> Self {
        OrderError::Store(err.into())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct IncomingLine {
    pub id: i64,
    pub product_id: i64,
    pub product_name: String,
    /// The size of one unit of the product (0.4 Kilogram), as the catalogue publishes it.
    pub product_size: Option<(Decimal, crate::domain::Unit)>,
    pub quantity: i64,
    pub reserved: i64,
    pub unit_price: Decimal,
    pub currency: Currency,
    pub vat_rate: Decimal,
    pub discount: Option<Decimal>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IncomingOrder {
    pub id: i64,
    pub enterprise_id: String,
    pub client_platform_id: String,
    pub buyer: Option<String>,
    pub order_number: Option<String>,
    pub sale_session_ref: Option<String>,
    pub sale_session_begin: Option<DateTime<Utc>>,
    pub sale_session_end: Option<DateTime<Utc>>,
    pub status: OrderStatus,
    pub fulfilment: FulfilmentStatus,
    pub discount: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<IncomingLine>,
}

fn decimal(text: &str, what: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text).map_err(|e| corrupt(format!("{what} `{text}`: {e}")))
}

fn opt_decimal(text: Option<&str>, what: &str) -> Result<Option<Decimal>, StoreError> {
    text.map(|t| decimal(t, what)).transpose()
}

/// Where a list puts the oldest order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oldest {
    First,
    Last,
}

impl Store {
    /// Creates a Held order and reserves its stock, or changes nothing. With an idempotency key
    /// (the client's, and a digest of its request), a repeat gets the order the key created.
    pub async fn place_order(
        &self,
        enterprise: &str,
        client: &str,
        request: OrderRequest,
        idempotency: Option<(&str, &str)>,
    ) -> Result<IncomingOrder, OrderError> {
        if let Some(existing) = self.order_by_idempotency_key(enterprise, client, idempotency).await? {
            return Ok(existing);
        }
        let write = self.begin_write().await?;
        // Under the write gate (SQLite) a concurrent repeat has committed by now: look again.
        if let Some((key, digest)) = idempotency
            && let Some(order) = find_by_key(&write.txn, enterprise, client, key).await?
        {
            if order.request_digest.as_deref() != Some(digest) {
                return Err(OrderError::IdempotencyKeyReused);
            }
            return Ok(load_order(&write.txn, order).await?);
        }
        let now = Utc::now();
        let order = incoming_order::ActiveModel {
            enterprise_id: Set(enterprise.to_owned()),
            client_platform_id: Set(client.to_owned()),
            buyer: Set(request.buyer.clone()),
            order_number: Set(request.order_number.clone()),
            sale_session_ref: Set(request.sale_session.reference.clone()),
            sale_session_begin: Set(request.sale_session.begin),
            sale_session_end: Set(request.sale_session.end),
            order_status: Set(OrderStatus::Held.dfc_name().to_owned()),
            fulfilment_status: Set(FulfilmentStatus::Held.dfc_name().to_owned()),
            discount: Set(request.discount.map(|d| d.to_string())),
            idempotency_key: Set(idempotency.map(|(key, _)| key.to_owned())),
            request_digest: Set(idempotency.map(|(_, digest)| digest.to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&write.txn)
        .await;
        let order = match order {
            Ok(order) => order,
            // The same key committed by a concurrent request (PostgreSQL): that one answers.
            Err(err) if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
                drop(write);
                return self.order_by_idempotency_key(enterprise, client, idempotency).await?.ok_or(err.into());
            }
            Err(err) => return Err(err.into()),
        };
        replace_lines(&write.txn, enterprise, order.id, &[], &request.lines).await?;
        let result = load_order(&write.txn, order).await?;
        write.commit().await?;
        Ok(result)
    }

    /// The order an idempotency key created, or a refusal if it came with another request.
    async fn order_by_idempotency_key(
        &self,
        enterprise: &str,
        client: &str,
        idempotency: Option<(&str, &str)>,
    ) -> Result<Option<IncomingOrder>, OrderError> {
        let Some((key, digest)) = idempotency else { return Ok(None) };
        let Some(order) = find_by_key(&self.db, enterprise, client, key).await? else { return Ok(None) };
        if order.request_digest.as_deref() != Some(digest) {
            return Err(OrderError::IdempotencyKeyReused);
        }
        Ok(Some(load_order(&self.db, order).await?))
    }

    /// Applies a trader's full replacement: `lines` None keeps the current lines (a PUT that only
    /// changes the state); otherwise they replace the current ones, stock following.
    pub async fn update_order(
        &self,
        enterprise: &str,
        client: &str,
        id: i64,
        requested: OrderStatus,
        request: Option<OrderRequest>,
    ) -> Result<IncomingOrder, OrderError> {
        let write = self.begin_write().await?;
        let order = find_for_update(&write.txn, enterprise, client, id).await?;
        let current_status = parse_status(&order.order_status)?;
        let existing = lines_of(&write.txn, order.id).await?;
        let change = current_status.change_to(requested)?;

        if change == StatusChange::Repeat {
            // Asking again for the final state an order is in is a retry: fine, unless it also
            // asks for different lines, which a final order can no longer take.
            if let Some(request) = &request
                && !same_lines(&existing, &request.lines)
            {
                return Err(match current_status {
                    OrderStatus::Cancelled => StatusChangeError::AlreadyCancelled,
                    _ => StatusChangeError::AlreadyComplete,
                }
                .into());
            }
            return Ok(load_order(&write.txn, order).await?);
        }

        let mut active: incoming_order::ActiveModel = order.clone().into();
        if let Some(request) = &request {
            if change != StatusChange::Cancel {
                replace_lines(&write.txn, enterprise, order.id, &existing, &request.lines).await?;
            }
            active.buyer = Set(request.buyer.clone().or(order.buyer.clone()));
            active.order_number = Set(request.order_number.clone().or(order.order_number.clone()));
            if request.sale_session != SaleSessionInfo::default() {
                active.sale_session_ref = Set(request.sale_session.reference.clone());
                active.sale_session_begin = Set(request.sale_session.begin);
                active.sale_session_end = Set(request.sale_session.end);
            }
            active.discount = Set(request.discount.map(|d| d.to_string()));
        }
        let new_status = match change {
            StatusChange::Amend | StatusChange::Repeat => current_status,
            StatusChange::Complete => {
                sell_reserved(&write.txn, order.id).await?;
                OrderStatus::Complete
            }
            StatusChange::Cancel => {
                release_all(&write.txn, order.id).await?;
                OrderStatus::Cancelled
            }
        };
        active.order_status = Set(new_status.dfc_name().to_owned());
        active.fulfilment_status = Set(new_status.fulfilment().dfc_name().to_owned());
        active.updated_at = Set(Utc::now());
        let order = active.update(&write.txn).await?;
        let result = load_order(&write.txn, order).await?;
        write.commit().await?;
        Ok(result)
    }

    /// Records what the producer's own discount rules take off an order and its lines.
    pub async fn set_incoming_discounts(
        &self,
        order: i64,
        total: Option<Decimal>,
        lines: &[(i64, Option<Decimal>)],
    ) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        incoming_order::Entity::update_many()
            .col_expr(incoming_order::Column::Discount, Expr::value(total.map(|d| d.to_string())))
            .filter(incoming_order::Column::Id.eq(order))
            .exec(&write.txn)
            .await?;
        for (line, discount) in lines {
            incoming_order_line::Entity::update_many()
                .col_expr(incoming_order_line::Column::Discount, Expr::value(discount.map(|d| d.to_string())))
                .filter(incoming_order_line::Column::Id.eq(*line))
                .filter(incoming_order_line::Column::OrderId.eq(order))
                .exec(&write.txn)
                .await?;
        }
        write.commit().await
    }

    /// Cancels an order, releasing all its stock (DELETE).
    pub async fn cancel_order(&self, enterprise: &str, client: &str, id: i64) -> Result<IncomingOrder, OrderError> {
        self.update_order(enterprise, client, id, OrderStatus::Cancelled, None).await
    }

    /// One order of `enterprise`; with `client`, only if that platform placed it.
    pub async fn incoming_order(
        &self,
        enterprise: &str,
        client: Option<&str>,
        id: i64,
    ) -> Result<Option<IncomingOrder>, StoreError> {
        let mut query =
            incoming_order::Entity::find_by_id(id).filter(incoming_order::Column::EnterpriseId.eq(enterprise));
        if let Some(client) = client {
            query = query.filter(incoming_order::Column::ClientPlatformId.eq(client));
        }
        match query.one(&self.db).await? {
            Some(order) => Ok(Some(load_order(&self.db, order).await?)),
            None => Ok(None),
        }
    }

    /// Orders by id, with their lines, in three queries whatever the count: those that exist
    /// and belong to the enterprise each key names.
    pub async fn incoming_orders_by_ids(
        &self,
        keys: &[(String, i64)],
    ) -> Result<HashMap<(String, i64), IncomingOrder>, StoreError> {
        let ids: Vec<i64> = keys.iter().map(|(_, id)| *id).collect();
        let wanted: std::collections::HashSet<&(String, i64)> = keys.iter().collect();
        let found = incoming_order::Entity::find().filter(incoming_order::Column::Id.is_in(ids)).all(&self.db).await?;
        let found: Vec<incoming_order::Model> =
            found.into_iter().filter(|o| wanted.contains(&(o.enterprise_id.clone(), o.id))).collect();
        Ok(load_orders(&self.db, found).await?.into_iter().map(|o| ((o.enterprise_id.clone(), o.id), o)).collect())
    }

    /// The orders of `enterprise`; with `client`, only those that platform placed.
    pub async fn incoming_orders(
        &self,
        enterprise: &str,
        client: Option<&str>,
        status: Option<OrderStatus>,
        oldest: Oldest,
    ) -> Result<Vec<IncomingOrder>, StoreError> {
        let mut query = incoming_order::Entity::find().filter(incoming_order::Column::EnterpriseId.eq(enterprise));
        if let Some(client) = client {
            query = query.filter(incoming_order::Column::ClientPlatformId.eq(client));
        }
        if let Some(status) = status {
            query = query.filter(incoming_order::Column::OrderStatus.eq(status.dfc_name()));
        }
        let query = match oldest {
            Oldest::First => query.order_by_asc(incoming_order::Column::Id),
            Oldest::Last => query.order_by_desc(incoming_order::Column::Id),
        };
        load_orders(&self.db, query.all(&self.db).await?).await
    }
}

async fn find_by_key(
    db: &impl ConnectionTrait,
    enterprise: &str,
    client: &str,
    key: &str,
) -> Result<Option<incoming_order::Model>, StoreError> {
    Ok(incoming_order::Entity::find()
        .filter(incoming_order::Column::EnterpriseId.eq(enterprise))
        .filter(incoming_order::Column::ClientPlatformId.eq(client))
        .filter(incoming_order::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

async fn find_for_update(
    txn: &DatabaseTransaction,
    enterprise: &str,
    client: &str,
    id: i64,
) -> Result<incoming_order::Model, OrderError> {
    incoming_order::Entity::find_by_id(id)
        .filter(incoming_order::Column::EnterpriseId.eq(enterprise))
        .filter(incoming_order::Column::ClientPlatformId.eq(client))
        // One writer per order on PostgreSQL; on SQLite the write gate already serialises.
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(OrderError::NotFound)
}

fn parse_status(text: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::from_name(text).ok_or_else(|| corrupt(format!("order state `{text}`")))
}

fn same_lines(existing: &[incoming_order_line::Model], requested: &[LineRequest]) -> bool {
    let wanted: BTreeMap<i64, i64> =
        requested.iter().filter(|l| !l.quantity.is_zero()).map(|l| (l.product_id, l.quantity.get())).collect();
    let have: BTreeMap<i64, i64> = existing.iter().map(|l| (l.product_id, l.quantity)).collect();
    wanted == have
}

async fn lines_of(db: &impl ConnectionTrait, order_id: i64) -> Result<Vec<incoming_order_line::Model>, StoreError> {
    Ok(incoming_order_line::Entity::find()
        .filter(incoming_order_line::Column::OrderId.eq(order_id))
        .order_by_asc(incoming_order_line::Column::Id)
        .all(db)
        .await?)
}

/// Makes the order's lines exactly `wanted` (zero quantities dropped), moving reservations by the
/// difference. Every product short is reported, not just the first.
async fn replace_lines(
    txn: &DatabaseTransaction,
    enterprise: &str,
    order_id: i64,
    existing: &[incoming_order_line::Model],
    wanted: &[LineRequest],
) -> Result<(), OrderError> {
    let mut wanted_by_product: BTreeMap<i64, &LineRequest> = BTreeMap::new();
    for line in wanted {
        if wanted_by_product.insert(line.product_id, line).is_some() {
            return Err(OrderError::DuplicateProduct(line.product_id));
        }
    }
    wanted_by_product.retain(|_, line| !line.quantity.is_zero());

    let ids: Vec<i64> = wanted_by_product.keys().copied().collect();
    let products: HashMap<i64, Product> = product::Entity::find()
        .filter(product::Column::EnterpriseId.eq(enterprise))
        .filter(product::Column::Id.is_in(ids.iter().copied()))
        .all(txn)
        .await?
        .into_iter()
        .map(|m| Product::try_from(m).map(|p| (p.id, p)))
        .collect::<Result<_, _>>()?;
    let unknown: Vec<i64> = ids.iter().copied().filter(|id| !products.contains_key(id)).collect();
    if !unknown.is_empty() {
        return Err(OrderError::UnknownProducts(unknown));
    }

    let existing_by_product: HashMap<i64, &incoming_order_line::Model> =
        existing.iter().map(|l| (l.product_id, l)).collect();

    // Releases first, so that moving units between lines of one order never looks like a shortage.
    for line in existing {
        let keep = wanted_by_product.get(&line.product_id).map_or(0, |w| reservation_for(&products[&w.product_id], w));
        if keep < line.reserved {
            adjust_reserved(txn, line.product_id, keep - line.reserved).await?;
        }
    }
    let mut shortages = Vec::new();
    for (product_id, line) in &wanted_by_product {
        let product = &products[product_id];
        let held = existing_by_product.get(product_id).map_or(0, |l| l.reserved);
        let needed = reservation_for(product, line);
        if needed > held && !try_reserve(txn, *product_id, needed - held).await? {
            let now = product::Entity::find_by_id(*product_id).one(txn).await?;
            let available = now.map_or(0, |p| p.on_hand - p.reserved) + std::cmp::min(held, needed);
            shortages.push(Shortage {
                product_id: *product_id,
                product_name: product.name.clone(),
                requested: line.quantity.get(),
                available: std::cmp::max(available, 0),
            });
        }
    }
    if !shortages.is_empty() {
        return Err(OrderError::InsufficientStock(shortages));
    }

    for line in existing {
        match wanted_by_product.get(&line.product_id) {
            None => {
                incoming_order_line::Entity::delete_by_id(line.id).exec(txn).await?;
            }
            Some(w) => {
                let mut active: incoming_order_line::ActiveModel = line.clone().into();
                active.quantity = Set(w.quantity.get());
                active.reserved = Set(reservation_for(&products[&w.product_id], w));
                active.discount = Set(w.discount.map(|d| d.to_string()));
                if w.description.is_some() {
                    active.description = Set(w.description.clone());
                }
                active.update(txn).await?;
            }
        }
    }
    for (product_id, w) in &wanted_by_product {
        if existing_by_product.contains_key(product_id) {
            continue;
        }
        let product = &products[product_id];
        // The producer's current price, at the time the product enters the order.
        incoming_order_line::ActiveModel {
            order_id: Set(order_id),
            product_id: Set(*product_id),
            quantity: Set(w.quantity.get()),
            reserved: Set(reservation_for(product, w)),
            unit_price: Set(product.price.amount.to_string()),
            currency: Set(product.price.currency.iso_code().to_owned()),
            vat_rate: Set(product.price.vat_rate.to_string()),
            discount: Set(w.discount.map(|d| d.to_string())),
            description: Set(w.description.clone()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

fn reservation_for(product: &Product, line: &LineRequest) -> i64 {
    match product.stock {
        Stock::Managed { .. } => line.quantity.get(),
        Stock::NotManaged => 0,
    }
}

/// Reserves `units` if that many are free; false (and nothing changed) otherwise.
async fn try_reserve(txn: &DatabaseTransaction, product_id: i64, units: i64) -> Result<bool, StoreError> {
    let result = product::Entity::update_many()
        .col_expr(product::Column::Reserved, Expr::col(product::Column::Reserved).add(units))
        .col_expr(product::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(product::Column::Id.eq(product_id))
        .filter(Expr::col(product::Column::OnHand).sub(Expr::col(product::Column::Reserved)).gte(units))
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

async fn adjust_reserved(txn: &DatabaseTransaction, product_id: i64, delta: i64) -> Result<(), StoreError> {
    product::Entity::update_many()
        .col_expr(product::Column::Reserved, Expr::col(product::Column::Reserved).add(delta))
        .col_expr(product::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(product::Column::Id.eq(product_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Complete: what was reserved leaves the shelf.
async fn sell_reserved(txn: &DatabaseTransaction, order_id: i64) -> Result<(), StoreError> {
    for line in lines_of(txn, order_id).await? {
        if line.reserved > 0 {
            product::Entity::update_many()
                .col_expr(product::Column::Reserved, Expr::col(product::Column::Reserved).sub(line.reserved))
                .col_expr(product::Column::OnHand, Expr::col(product::Column::OnHand).sub(line.reserved))
                .col_expr(product::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(product::Column::Id.eq(line.product_id))
                .exec(txn)
                .await?;
            let mut active: incoming_order_line::ActiveModel = line.into();
            active.reserved = Set(0);
            active.update(txn).await?;
        }
    }
    Ok(())
}

/// Cancel: every reservation goes back.
async fn release_all(txn: &DatabaseTransaction, order_id: i64) -> Result<(), StoreError> {
    for line in lines_of(txn, order_id).await? {
        if line.reserved > 0 {
            adjust_reserved(txn, line.product_id, -line.reserved).await?;
            let mut active: incoming_order_line::ActiveModel = line.into();
            active.reserved = Set(0);
            active.update(txn).await?;
        }
    }
    Ok(())
}

async fn load_order(db: &impl ConnectionTrait, order: incoming_order::Model) -> Result<IncomingOrder, StoreError> {
    load_orders(db, vec![order]).await?.into_iter().next().ok_or_else(|| corrupt("order vanished"))
}

/// Orders with their lines and product names, in three queries whatever the count.
async fn load_orders(
    db: &impl ConnectionTrait,
    orders: Vec<incoming_order::Model>,
) -> Result<Vec<IncomingOrder>, StoreError> {
    let order_ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let lines = incoming_order_line::Entity::find()
        .filter(incoming_order_line::Column::OrderId.is_in(order_ids))
        .order_by_asc(incoming_order_line::Column::Id)
        .all(db)
        .await?;
    let product_ids: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
    let products: HashMap<i64, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut lines_by_order: HashMap<i64, Vec<IncomingLine>> = HashMap::new();
    for l in lines {
        let line = IncomingLine {
            id: l.id,
            product_id: l.product_id,
            product_name: products.get(&l.product_id).map(|p| p.name.clone()).unwrap_or_default(),
            product_size: products
                .get(&l.product_id)
                .and_then(|p| Some((p.unit_value.parse().ok()?, crate::domain::Unit::from_name(&p.unit_code)))),
            quantity: l.quantity,
            reserved: l.reserved,
            unit_price: decimal(&l.unit_price, "line price")?,
            currency: Currency::from_name(&l.currency)
                .ok_or_else(|| corrupt(format!("line currency {}", l.currency)))?,
            vat_rate: decimal(&l.vat_rate, "line VAT rate")?,
            discount: opt_decimal(l.discount.as_deref(), "line discount")?,
            description: l.description,
        };
        lines_by_order.entry(l.order_id).or_default().push(line);
    }
    orders
        .into_iter()
        .map(|o| {
            let status = parse_status(&o.order_status)?;
            Ok(IncomingOrder {
                lines: lines_by_order.remove(&o.id).unwrap_or_default(),
                fulfilment: FulfilmentStatus::from_name(&o.fulfilment_status)
                    .ok_or_else(|| corrupt(format!("fulfilment state `{}`", o.fulfilment_status)))?,
                discount: opt_decimal(o.discount.as_deref(), "order discount")?,
                id: o.id,
                enterprise_id: o.enterprise_id,
                client_platform_id: o.client_platform_id,
                buyer: o.buyer,
                order_number: o.order_number,
                sale_session_ref: o.sale_session_ref,
                sale_session_begin: o.sale_session_begin,
                sale_session_end: o.sale_session_end,
                status,
                created_at: o.created_at,
                updated_at: o.updated_at,
            })
        })
        .collect()
}
