//! The trader side's customer orders and the producer orders derived from them (sessions and
//! peers are in `sessions`, delivery state in `delivery`, parts in `parts`). A producer order's
//! delivery columns are the outbox: every change of customer orders marks the affected producer
//! orders PENDING in the same transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{customer_order, customer_order_line, peer, producer_order, sales_session};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::consolidation::QueueMemo;
use super::{Store, StoreError, WriteTxn};
use crate::domain::consolidation::{ConsolidationMode, PlannedLine};
use crate::domain::{OrderStatus, PartState};

pub const ORDER_ACTIVE: &str = "ACTIVE";
pub const ORDER_CANCELLED: &str = "CANCELLED";
/// A producer could not hold it (or it was withdrawn, unconfirmed): nothing of it is asked for.
pub const ORDER_REFUSED: &str = "REFUSED";
pub const DELIVERY_PENDING: &str = "PENDING";
pub const DELIVERY_DELIVERED: &str = "DELIVERED";
pub const DELIVERY_FAILED: &str = "FAILED";

/// A line of a checkout, priced from the producer's published offer.
#[derive(Clone, Debug)]
pub struct NewLine {
    pub peer_id: String,
    pub product_iri: String,
    pub offer_iri: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub currency: String,
    pub vat_rate: String,
    /// What the order's discounts take off the line (decimal text); None: nothing.
    pub discount: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewCustomerOrder {
    pub trader: String,
    pub session_id: Uuid,
    pub customer_id: String,
    pub idempotency_key: String,
    pub request_digest: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub delivery_address: Option<String>,
    pub total: String,
    pub currency: String,
    /// The discounts applied (JSON, see `trader::checkout::StoredDiscount`).
    pub discounts: Option<String>,
    pub lines: Vec<NewLine>,
}

/// What checkout recorded: a new order, or the one an earlier request with the key created.
#[derive(Debug)]
pub enum Recorded {
    /// With the producer orders to send: `(producer, producer order, version carrying it)`.
    New {
        order: customer_order::Model,
        producer_orders: Vec<(String, Uuid, i64)>,
    },
    Existing(customer_order::Model),
}

/// What a producer order must say now, recomputed from the active customer orders it gathers.
#[derive(Clone, Debug)]
pub struct ProducerOrderPlan {
    pub order: producer_order::Model,
    pub session: sales_session::Model,
    pub peer: peer::Model,
    pub mode: ConsolidationMode,
    /// The lines for the held parts and the `admitted` waiting ones.
    pub lines: Vec<PlannedLine>,
    /// The waiting parts this plan carries (by customer order), in checkout order.
    pub admitted: Vec<Uuid>,
    pub inputs: super::consolidation::PlanInputs,
}

impl ProducerOrderPlan {
    /// The offer of a product (or pack) as the producer's catalogue last published it.
    pub fn offer_for(&self, product: &str) -> Option<&entity::peer_offer::Model> {
        self.inputs.offer(product)
    }

    /// The name of the pack a product is ordered in from the producer, if it is.
    pub fn pack_name_for(&self, product: &str) -> Option<String> {
        self.inputs.pack_name_for(self.mode, product)
    }

    /// The same plan with only `admitted` of the waiting parts.
    pub fn admit_only(&mut self, admitted: Vec<Uuid>) {
        self.lines = self.inputs.plan(self.mode, &admitted.iter().copied().collect());
        self.admitted = admitted;
    }

    /// What the plan sends per ordered product, for a set of admitted waiting parts.
    pub fn sent_units(&self, admitted: &std::collections::BTreeSet<Uuid>) -> BTreeMap<String, i64> {
        self.sent_units_with(admitted, None)
    }

    /// The same, one order asking for `units` of one of its products and nothing else.
    pub fn sent_units_with(
        &self,
        admitted: &std::collections::BTreeSet<Uuid>,
        only: Option<(Uuid, &str, i64)>,
    ) -> BTreeMap<String, i64> {
        let mut sent = BTreeMap::new();
        for line in self.inputs.plan_with(self.mode, admitted, only).into_iter().filter(|l| l.quantity > 0) {
            *sent.entry(line.ordered_product_iri).or_insert(0) += line.quantity;
        }
        sent
    }

    /// What goes on the wire: `(product IRI, offer IRI) -> units`, lines that stock covers left
    /// out, two lines for the same offer (a pack ordered directly and as a rounding) as one.
    pub fn sent_lines(&self) -> BTreeMap<(String, String), i64> {
        let mut sent = BTreeMap::new();
        for line in self.lines.iter().filter(|l| l.quantity > 0) {
            *sent.entry((line.ordered_product_iri.clone(), line.offer_iri.clone())).or_insert(0) += line.quantity;
        }
        sent
    }
}

/// Held while one replica sends a producer order; dropping it lets the next one in.
pub struct SendLock {
    txn: Option<sea_orm::DatabaseTransaction>,
}

impl SendLock {
    /// Whether other replicas take turns with this one (PostgreSQL); on SQLite there is one
    /// process, whose in-process lock is the whole story.
    pub fn shared_with_replicas(&self) -> bool {
        self.txn.is_some()
    }
}

impl Store {
    /// One sender per producer order across replicas, or None when another replica is sending
    /// it right now. The lock is not a row lock, so the sender can still update the row.
    pub async fn try_lock_producer_order_send(&self, id: Uuid) -> Result<Option<SendLock>, StoreError> {
        self.advisory_lock("SELECT pg_try_advisory_xact_lock($1) AS locked", send_lock_key(id)).await
    }

    /// Waits until no other replica sends this producer order, then holds that until the guard
    /// drops: the send that follows is computed after the other one was recorded.
    pub async fn lock_producer_order_send(&self, id: Uuid) -> Result<SendLock, StoreError> {
        self.advisory_lock("SELECT true AS locked FROM pg_advisory_xact_lock($1)", send_lock_key(id))
            .await?
            .ok_or_else(|| super::corrupt("PostgreSQL answered a waited-for advisory lock as not taken"))
    }

    /// Waits until no other replica plans a BY_WEIGHT order of this trader with this producer
    /// (they share the carried-over stock), then holds that until the guard drops.
    pub async fn lock_carried_stock(&self, trader: &str, peer_id: &str) -> Result<SendLock, StoreError> {
        let key = stable_key(&["carried-stock", trader, peer_id]);
        self.advisory_lock("SELECT true AS locked FROM pg_advisory_xact_lock($1)", key)
            .await?
            .ok_or_else(|| super::corrupt("PostgreSQL answered a waited-for advisory lock as not taken"))
    }

    /// A PostgreSQL advisory lock held by an open transaction until the guard drops, if `sql`
    /// (given `key`) answers `locked`. SQLite has one process, where the caller's in-process
    /// lock is enough.
    async fn advisory_lock(&self, sql: &str, key: i64) -> Result<Option<SendLock>, StoreError> {
        if self.backend() != sea_orm::DbBackend::Postgres {
            return Ok(Some(SendLock { txn: None }));
        }
        let txn = sea_orm::TransactionTrait::begin(&self.db).await?;
        let statement = sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, [key.into()]);
        let row = sea_orm::ConnectionTrait::query_one_raw(&txn, statement).await?;
        let locked = row.map(|r| r.try_get::<bool>("", "locked")).transpose()?.unwrap_or(false);
        Ok(locked.then_some(SendLock { txn: Some(txn) }))
    }
}

impl Store {
    /// Cancels an active customer order and queues its producers' orders for recomputation, in
    /// one transaction. Refused once any of those producer orders is complete.
    pub async fn cancel_customer_order(
        &self,
        id: Uuid,
        hold_sends_until: DateTime<Utc>,
    ) -> Result<CancelOutcome, StoreError> {
        let write = self.begin_write().await?;
        let Some(order) = customer_order::Entity::find_by_id(id).lock_exclusive().one(&write.txn).await? else {
            return Ok(CancelOutcome::NotFound);
        };
        if order.status != ORDER_ACTIVE {
            return Ok(CancelOutcome::Cancelled { order: Box::new(order), producer_orders: vec![] });
        }
        let peers = peers_of_order(&write, id).await?;
        if any_completed(&write, &order, &peers).await? {
            return Ok(CancelOutcome::TooLate);
        }
        let mut active: customer_order::ActiveModel = order.clone().into();
        active.status = Set(ORDER_CANCELLED.to_owned());
        if order.payment_status == "Unpaid" {
            active.payment_status = Set("Cancelled".to_owned());
        }
        active.updated_at = Set(Utc::now());
        let order = active.update(&write.txn).await?;
        super::parts::release_parts(&write, id).await?;
        let producer_orders =
            queue_producer_orders(&write, &mut QueueMemo::default(), &order, &peers, hold_sends_until).await?;
        write.commit().await?;
        let producer_orders = producer_orders.into_iter().map(|(_, po, _)| po).collect();
        Ok(CancelOutcome::Cancelled { order: Box::new(order), producer_orders })
    }

    /// Replaces the lines of an active customer order and queues the orders of every producer it
    /// involved or now involves, in one transaction. Refused once any of those is complete.
    /// `priced` is the new total and the discounts applied (JSON).
    pub async fn replace_customer_order_lines(
        &self,
        id: Uuid,
        lines: Vec<NewLine>,
        priced: (String, Option<String>),
        hold_sends_until: DateTime<Utc>,
    ) -> Result<AmendOutcome, StoreError> {
        let write = self.begin_write().await?;
        let Some(order) = customer_order::Entity::find_by_id(id).lock_exclusive().one(&write.txn).await? else {
            return Ok(AmendOutcome::NotFound);
        };
        if order.status != ORDER_ACTIVE {
            return Ok(AmendOutcome::NotActive);
        }
        let previous: Vec<NewLine> = customer_order_line::Entity::find()
            .filter(customer_order_line::Column::OrderId.eq(id))
            .order_by_asc(customer_order_line::Column::Id)
            .all(&write.txn)
            .await?
            .into_iter()
            .map(|l| NewLine {
                peer_id: l.peer_id,
                product_iri: l.product_iri,
                offer_iri: l.offer_iri,
                name: l.name,
                quantity: l.quantity,
                unit_price: l.unit_price,
                currency: l.currency,
                vat_rate: l.vat_rate,
                discount: l.discount,
            })
            .collect();
        let peers = distinct_peers(previous.iter().chain(&lines));
        if any_completed(&write, &order, &peers).await? {
            return Ok(AmendOutcome::TooLate);
        }
        // Locked, so that a send deciding one of them meanwhile is seen: what its producers hold
        // of it now waits for the amendment's send.
        let parts = super::held::lock_parts(&write, id).await?;
        super::held::unhold(&write, id, &super::held::holders(&parts)).await?;
        let parts: HashMap<String, entity::order_part::Model> =
            parts.into_iter().map(|p| (p.peer_id.clone(), p)).collect();
        customer_order_line::Entity::delete_many()
            .filter(customer_order_line::Column::OrderId.eq(id))
            .exec(&write.txn)
            .await?;
        let new_peers = distinct_peers(lines.iter());
        insert_lines(&write, id, lines).await?;
        let previous_pricing = (order.total.clone(), order.discounts.clone());
        let mut active: customer_order::ActiveModel = order.into();
        let (total, discounts) = priced;
        active.total = Set(total);
        active.discounts = Set(discounts);
        active.updated_at = Set(Utc::now());
        let order = active.update(&write.txn).await?;
        let queued = queue_producer_orders(&write, &mut QueueMemo::default(), &order, &peers, hold_sends_until).await?;
        for peer_id in &peers {
            let version = carried_version(&queued, peer_id);
            if !new_peers.contains(peer_id) {
                super::parts::set_part(&write, id, peer_id, PartState::Released, version, None).await?;
                continue;
            }
            // What the producer holds now stays held if the amendment does not fit.
            let held = parts.get(peer_id).is_none_or(|p| p.state == PartState::Reserved.as_str());
            let fallback: Vec<super::consolidation::FallbackLine> = previous
                .iter()
                .filter(|l| &l.peer_id == peer_id)
                .map(super::consolidation::FallbackLine::from_line)
                .collect();
            let fallback = (held && !fallback.is_empty()).then_some(fallback.as_slice());
            super::parts::set_part(&write, id, peer_id, PartState::Pending, version, fallback).await?;
        }
        write.commit().await?;
        let producer_orders = queued;
        Ok(AmendOutcome::Amended { order: Box::new(order), previous, previous_pricing, producer_orders })
    }

    /// Queues a producer order for an immediate send again, its failure count reset (after a
    /// person has dealt with the cause).
    pub async fn requeue_producer_order(&self, id: Uuid) -> Result<Option<producer_order::Model>, StoreError> {
        let Some(order) = producer_order::Entity::find_by_id(id).one(&self.db).await? else { return Ok(None) };
        let mut active: producer_order::ActiveModel = order.into();
        active.delivery_state = Set(DELIVERY_PENDING.to_owned());
        active.attempts = Set(0);
        active.failing_since = Set(None);
        active.next_attempt_at = Set(Some(Utc::now()));
        active.updated_at = Set(Utc::now());
        Ok(Some(active.update(&self.db).await?))
    }

    pub async fn producer_order(&self, id: Uuid) -> Result<Option<producer_order::Model>, StoreError> {
        Ok(producer_order::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn producer_orders_by_ids(&self, ids: &[Uuid]) -> Result<Vec<producer_order::Model>, StoreError> {
        Ok(producer_order::Entity::find()
            .filter(producer_order::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?)
    }

    pub async fn customer_order(&self, id: Uuid) -> Result<Option<customer_order::Model>, StoreError> {
        Ok(customer_order::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn customer_orders_by_ids(&self, ids: &[Uuid]) -> Result<Vec<customer_order::Model>, StoreError> {
        Ok(customer_order::Entity::find()
            .filter(customer_order::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?)
    }

    /// The newest `limit` orders of each of `customers` (of `traders` only, when named), newest
    /// first, in one statement whatever the number of customers.
    pub async fn newest_orders_of(
        &self,
        customers: &[String],
        traders: Option<&[String]>,
        limit: u64,
    ) -> Result<HashMap<String, Vec<customer_order::Model>>, StoreError> {
        use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, Order, Query, WindowStatement};
        let place = Alias::new("place_for_customer");
        let mut ranked = Query::select();
        ranked
            .column(Asterisk)
            .expr_window_as(
                Func::cust(Alias::new("ROW_NUMBER")),
                WindowStatement::partition_by(customer_order::Column::CustomerId)
                    .order_by(customer_order::Column::CreatedAt, Order::Desc)
                    .order_by(customer_order::Column::Id, Order::Desc)
                    .to_owned(),
                place.clone(),
            )
            .from(customer_order::Entity)
            .and_where(Expr::col(customer_order::Column::CustomerId).is_in(customers.iter().cloned()));
        if let Some(traders) = traders {
            ranked.and_where(Expr::col(customer_order::Column::TraderEnterpriseId).is_in(traders.iter().cloned()));
        }
        let mut newest = Query::select();
        newest
            .column(Asterisk)
            .from_subquery(ranked, Alias::new("ranked"))
            .and_where(Expr::col(place.clone()).lte(limit))
            .order_by(place, Order::Asc);
        let rows = customer_order::Entity::find().from_raw_sql(self.backend().build(&newest)).all(&self.db).await?;
        let mut by_customer: HashMap<String, Vec<customer_order::Model>> = HashMap::new();
        for order in rows {
            by_customer.entry(order.customer_id.clone()).or_default().push(order);
        }
        Ok(by_customer)
    }

    /// A page of customer orders, newest first, and whether more follow.
    /// A page of customer orders, newest first: `limit` of them after `after` (the last of the
    /// previous page), whether more follow, and how many match in all when `count` asks.
    /// Keyset pagination: each page is a range of an index of `(…, created_at, id)`, so the last
    /// page costs what the first does.
    pub async fn customer_orders(
        &self,
        filter: CustomerOrderFilter,
        after: Option<OrderPosition>,
        limit: u64,
        count: bool,
    ) -> Result<OrderPage, StoreError> {
        let mut query = customer_order::Entity::find();
        match (filter.traders, filter.session_id) {
            // A session is one trader's: its index is the one to read, and SQLite (without
            // statistics) would take the trader's, scanning their older sessions too. The
            // expression keeps the trader's condition off any index.
            (Some(traders), Some(_)) => {
                query = query.filter(Expr::cust(r#""trader_enterprise_id" || ''"#).is_in(traders));
            }
            (Some(traders), None) => query = query.filter(customer_order::Column::TraderEnterpriseId.is_in(traders)),
            (None, _) => {}
        }
        if let Some(session) = filter.session_id {
            query = query.filter(customer_order::Column::SalesSessionId.eq(session));
        }
        if let Some(customer) = filter.customer_id {
            query = query.filter(customer_order::Column::CustomerId.eq(customer));
        }
        if let Some(payment) = filter.payment_status {
            query = query.filter(customer_order::Column::PaymentStatus.eq(payment));
        }
        let total = if count { Some(query.clone().count(&self.db).await?) } else { None };
        if let Some(after) = after {
            // A row value, which both databases compare in the index's order.
            query = query.filter(
                Expr::tuple([Expr::col(customer_order::Column::CreatedAt), Expr::col(customer_order::Column::Id)])
                    .lt(Expr::tuple([Expr::val(after.created_at), Expr::val(after.id)])),
            );
        }
        let mut orders = query
            .order_by_desc(customer_order::Column::CreatedAt)
            .order_by_desc(customer_order::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let more = orders.len() as u64 > limit;
        orders.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(OrderPage { orders, more, total })
    }

    pub async fn customer_order_lines(
        &self,
        order_ids: &[Uuid],
    ) -> Result<Vec<customer_order_line::Model>, StoreError> {
        Ok(customer_order_line::Entity::find()
            .filter(customer_order_line::Column::OrderId.is_in(order_ids.iter().copied()))
            .order_by_asc(customer_order_line::Column::Id)
            .all(&self.db)
            .await?)
    }

    pub async fn mark_paid(&self, id: Uuid) -> Result<Option<customer_order::Model>, StoreError> {
        let Some(order) = self.customer_order(id).await? else { return Ok(None) };
        let mut active: customer_order::ActiveModel = order.into();
        active.payment_status = Set("Paid".to_owned());
        active.updated_at = Set(Utc::now());
        Ok(Some(active.update(&self.db).await?))
    }

    pub async fn producer_orders_of_session(&self, session_id: Uuid) -> Result<Vec<producer_order::Model>, StoreError> {
        self.producer_orders_of_sessions(&[session_id]).await
    }

    /// The producer orders of some sessions, by producer, then group.
    pub async fn producer_orders_of_sessions(
        &self,
        sessions: &[Uuid],
    ) -> Result<Vec<producer_order::Model>, StoreError> {
        Ok(producer_order::Entity::find()
            .filter(producer_order::Column::SalesSessionId.is_in(sessions.iter().copied()))
            .order_by_asc(producer_order::Column::PeerId)
            .order_by_asc(producer_order::Column::GroupKey)
            .all(&self.db)
            .await?)
    }
}

#[derive(Debug)]
pub enum AmendOutcome {
    NotFound,
    NotActive,
    TooLate,
    Amended {
        order: Box<customer_order::Model>,
        previous: Vec<NewLine>,
        /// The total and discounts the order had.
        previous_pricing: (String, Option<String>),
        producer_orders: Vec<(String, Uuid, i64)>,
    },
}

#[derive(Debug)]
pub enum CancelOutcome {
    NotFound,
    /// A producer already completed its order: the goods are being prepared.
    TooLate,
    /// Cancelled now (with the producer orders to send again), or already before (none).
    Cancelled {
        order: Box<customer_order::Model>,
        producer_orders: Vec<Uuid>,
    },
}

/// Where a page of orders ends: the last order it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderPosition {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl OrderPosition {
    pub fn of(order: &customer_order::Model) -> OrderPosition {
        OrderPosition { created_at: order.created_at, id: order.id }
    }
}

pub struct OrderPage {
    pub orders: Vec<customer_order::Model>,
    /// Whether orders follow the last of this page.
    pub more: bool,
    /// How many orders match in all, when asked.
    pub total: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct CustomerOrderFilter {
    /// Orders of these traders; none: of any.
    pub traders: Option<Vec<String>>,
    pub session_id: Option<Uuid>,
    pub customer_id: Option<String>,
    pub payment_status: Option<String>,
}

pub(super) async fn find_by_key(
    db: &impl ConnectionTrait,
    trader: &str,
    key: &str,
) -> Result<Option<customer_order::Model>, StoreError> {
    Ok(customer_order::Entity::find()
        .filter(customer_order::Column::TraderEnterpriseId.eq(trader))
        .filter(customer_order::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

pub(super) async fn insert_lines(write: &WriteTxn<'_>, order_id: Uuid, lines: Vec<NewLine>) -> Result<(), StoreError> {
    insert_order_lines(write, lines.into_iter().map(|line| (order_id, line))).await
}

/// Inserts the lines of some orders, a hundred to a statement (bound parameters stay far below
/// every backend's limit).
pub(super) async fn insert_order_lines(
    write: &WriteTxn<'_>,
    lines: impl IntoIterator<Item = (Uuid, NewLine)>,
) -> Result<(), StoreError> {
    let rows: Vec<customer_order_line::ActiveModel> = lines
        .into_iter()
        .map(|(order_id, line)| customer_order_line::ActiveModel {
            order_id: Set(order_id),
            peer_id: Set(line.peer_id),
            product_iri: Set(line.product_iri),
            offer_iri: Set(line.offer_iri),
            name: Set(line.name),
            quantity: Set(line.quantity),
            unit_price: Set(line.unit_price),
            currency: Set(line.currency),
            vat_rate: Set(line.vat_rate),
            discount: Set(line.discount),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(100) {
        customer_order_line::Entity::insert_many(chunk.to_vec()).exec_without_returning(&write.txn).await?;
    }
    Ok(())
}

/// The producers some lines come from, each once.
pub(super) fn distinct_peers<'a>(lines: impl Iterator<Item = &'a NewLine>) -> Vec<String> {
    let mut peers: Vec<String> = lines.map(|l| l.peer_id.clone()).collect();
    peers.sort();
    peers.dedup();
    peers
}

/// The ids of a session's active customer orders (or of one of them), as a subquery.
pub(super) fn active_orders(session_id: Uuid, only: Option<Uuid>) -> sea_orm::sea_query::SelectStatement {
    let mut active = sea_orm::sea_query::Query::select();
    active
        .column(customer_order::Column::Id)
        .from(customer_order::Entity)
        .and_where(customer_order::Column::SalesSessionId.eq(session_id))
        .and_where(customer_order::Column::Status.eq(ORDER_ACTIVE));
    if let Some(id) = only {
        active.and_where(customer_order::Column::Id.eq(id));
    }
    active
}

/// The lines from `peer_id` of a session's active customer orders, or of one of them.
pub(super) async fn active_lines(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    peer_id: &str,
    only: Option<Uuid>,
) -> Result<Vec<customer_order_line::Model>, StoreError> {
    Ok(customer_order_line::Entity::find()
        .filter(customer_order_line::Column::OrderId.in_subquery(active_orders(session_id, only)))
        .filter(customer_order_line::Column::PeerId.eq(peer_id))
        .all(db)
        .await?)
}

/// The producers an order's lines come from, each once.
pub(super) async fn peers_of_order(write: &WriteTxn<'_>, order_id: Uuid) -> Result<Vec<String>, StoreError> {
    let mut peers: Vec<String> = customer_order_line::Entity::find()
        .filter(customer_order_line::Column::OrderId.eq(order_id))
        .all(&write.txn)
        .await?
        .into_iter()
        .map(|l| l.peer_id)
        .collect();
    peers.sort();
    peers.dedup();
    Ok(peers)
}

/// Whether a producer already completed the order of any of `peers` in `order`'s session: then
/// the goods are being prepared and the customer order can no longer change.
async fn any_completed(
    write: &WriteTxn<'_>,
    order: &customer_order::Model,
    peers: &[String],
) -> Result<bool, StoreError> {
    let completed = producer_order::Entity::find()
        .filter(producer_order::Column::TraderEnterpriseId.eq(order.trader_enterprise_id.as_str()))
        .filter(producer_order::Column::SalesSessionId.eq(order.sales_session_id))
        .filter(producer_order::Column::PeerId.is_in(peers.iter().cloned()))
        .filter(
            Condition::any()
                .add(producer_order::Column::Status.eq(OrderStatus::Complete.dfc_name()))
                .add(producer_order::Column::SettledAt.is_not_null()),
        )
        .count(&write.txn)
        .await?;
    Ok(completed > 0)
}

/// The version a change's queued producer orders at a producer carry it from.
fn carried_version(queued: &[(String, Uuid, i64)], peer_id: &str) -> i64 {
    queued.iter().filter(|(peer, _, _)| peer == peer_id).map(|(_, _, v)| *v).max().unwrap_or(0)
}

/// Queues the producer orders that a change of `order` affects: `(producer, producer order,
/// its version now)`.
pub(super) async fn queue_producer_orders(
    write: &WriteTxn<'_>,
    memo: &mut super::consolidation::QueueMemo,
    order: &customer_order::Model,
    peers: &[String],
    hold_sends_until: DateTime<Utc>,
) -> Result<Vec<(String, Uuid, i64)>, StoreError> {
    let (mut emptied, mut filled) = (Vec::new(), Vec::new());
    for peer_id in peers {
        let trader = &order.trader_enterprise_id;
        let queued = super::consolidation::queue_groups(
            write,
            memo,
            trader,
            order.sales_session_id,
            peer_id,
            &[order.id],
            hold_sends_until,
        )
        .await?;
        emptied.extend(queued.stale.into_iter().map(|(po, v)| (peer_id.clone(), po, v)));
        filled.extend(queued.current.into_iter().map(|(po, v)| (peer_id.clone(), po, v)));
    }
    // Orders that lose lines go first, so that the stock they release is free for the others.
    emptied.extend(filled);
    Ok(emptied)
}

/// Marks the producer order of (trader, session, peer, group) as needing a send, creating it if
/// needed; returns it with its version now.
pub(super) async fn queue_producer_order(
    write: &WriteTxn<'_>,
    trader: &str,
    session_id: Uuid,
    peer_id: &str,
    group_key: &str,
    hold_sends_until: DateTime<Utc>,
) -> Result<(Uuid, i64), StoreError> {
    queue_producer_order_for(write, trader, session_id, peer_id, group_key, 1, hold_sends_until).await
}

/// Queues a producer order for `changes` changes at once (a batch of checkouts): its version
/// goes up by that many, so that each change has a version of its own (the order in which
/// they committed) and a send that carries the last carries them all.
pub(super) async fn queue_producer_order_for(
    write: &WriteTxn<'_>,
    trader: &str,
    session_id: Uuid,
    peer_id: &str,
    group_key: &str,
    changes: i64,
    hold_sends_until: DateTime<Utc>,
) -> Result<(Uuid, i64), StoreError> {
    let now = Utc::now();
    let fresh = producer_order::ActiveModel {
        id: Set(Uuid::new_v4()),
        trader_enterprise_id: Set(trader.to_owned()),
        sales_session_id: Set(session_id),
        peer_id: Set(peer_id.to_owned()),
        group_key: Set(group_key.to_owned()),
        remote_iri: Set(None),
        status: Set(OrderStatus::Held.dfc_name().to_owned()),
        version: Set(changes),
        delivered_version: Set(0),
        delivery_state: Set(DELIVERY_PENDING.to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_at: Set(Some(hold_sends_until)),
        updated_at: Set(now),
        settled_at: Set(None),
        fulfilment_status: Set(None),
        attempted_version: Set(0),
        post_started_at: Set(None),
        failing_since: Set(None),
        remote_lines: Set(None),
        remote_discounts: Set(None),
    };
    // One statement: created, or bumped; the row it returns is the one this
    // transaction now holds, so its version is the one this change is carried from (a
    // concurrent change's bump waits on the row lock and comes after, PostgreSQL and SQLite alike).
    let queued = producer_order::Entity::insert(fresh)
        .on_conflict(
            OnConflict::columns([
                producer_order::Column::TraderEnterpriseId,
                producer_order::Column::SalesSessionId,
                producer_order::Column::PeerId,
                producer_order::Column::GroupKey,
            ])
            .value(
                producer_order::Column::Version,
                Expr::col((producer_order::Entity, producer_order::Column::Version)).add(changes),
            )
            .value(producer_order::Column::DeliveryState, Expr::value(DELIVERY_PENDING))
            .value(producer_order::Column::NextAttemptAt, Expr::value(Some(hold_sends_until)))
            .value(producer_order::Column::UpdatedAt, Expr::value(now))
            .to_owned(),
        )
        .exec_with_returning(&write.txn)
        .await?;
    Ok((queued.id, queued.version))
}

/// A lock key every replica computes alike, whatever its architecture (FNV-1a, big-endian: std's
/// hasher may change between releases).
fn stable_key(parts: &[&str]) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.join("\u{1f}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_be_bytes(hash.to_be_bytes())
}

fn send_lock_key(id: Uuid) -> i64 {
    i64::from_be_bytes(id.as_bytes()[..8].try_into().unwrap_or_default())
}
