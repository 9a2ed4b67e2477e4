//! What producers hold of each session, kept as a sum per producer, product and offer
//! (`held_demand`): a producer order's plan reads a few rows instead of summing the session's
//! every order, so a send costs the same in a session of 10 orders and of 10,000.
//!
//! The sum is changed in the same transaction as whatever changes it, and only there: a part
//! becomes RESERVED (a send carried it, or a refused amendment falls back to the lines the
//! producer held) or stops being RESERVED (released by a cancellation or a refusal, or reopened
//! by an amendment). The parts are changed first (`UPDATE ... RETURNING`) or locked (`FOR
//! UPDATE`), and only the rows that statement changed or holds are counted: two replicas on one
//! PostgreSQL never count one change twice (SQLite has one writer). The sum over the orders stays
//! the truth: [`Store::held_demand_drift`] compares the two, in tests and on demand
//! (`orderhub check`).

use std::collections::BTreeMap;

use entity::{customer_order, customer_order_line as line, held_demand, order_part as part};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{Store, StoreError, WriteTxn};
use crate::domain::PartState;

/// Held units of one product and offer at one producer in one session.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, FromQueryResult)]
pub struct HeldSum {
    pub sales_session_id: Uuid,
    pub peer_id: String,
    pub product_iri: String,
    pub offer_iri: String,
    pub name: String,
    pub quantity: i64,
}

/// A product where the kept sum and the orders disagree: `kept` units against `recomputed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldDrift {
    pub sales_session_id: Uuid,
    pub peer_id: String,
    pub product_iri: String,
    pub offer_iri: String,
    pub kept: i64,
    pub recomputed: i64,
}

/// Customer order lines joined to their orders, summed per session, producer, product and offer
/// (columns named as [`HeldSum`]'s; `negate` makes the quantities negative): the callers say
/// which lines.
pub(super) fn line_sums(negate: bool) -> sea_orm::sea_query::SelectStatement {
    let sum = Func::cast_as(Func::sum(Expr::col((line::Entity, line::Column::Quantity))), Alias::new("BIGINT"));
    let mut sums = Query::select();
    sums.column((customer_order::Entity, customer_order::Column::SalesSessionId))
        .column((line::Entity, line::Column::PeerId))
        .column((line::Entity, line::Column::ProductIri))
        .column((line::Entity, line::Column::OfferIri))
        .expr_as(Func::min(Expr::col((line::Entity, line::Column::Name))), Alias::new("name"))
        .expr_as(if negate { sum.mul(-1) } else { sum.into() }, Alias::new("quantity"))
        .from(line::Entity)
        .inner_join(
            customer_order::Entity,
            Expr::col((customer_order::Entity, customer_order::Column::Id))
                .equals((line::Entity, line::Column::OrderId)),
        )
        .group_by_col((customer_order::Entity, customer_order::Column::SalesSessionId))
        .group_by_col((line::Entity, line::Column::PeerId))
        .group_by_col((line::Entity, line::Column::ProductIri))
        .group_by_col((line::Entity, line::Column::OfferIri));
    sums
}

/// Adds the lines of `orders` at `peers` to what is held, summed per session, product and offer
/// by the database (`negate` takes them away): one statement per 500 orders.
async fn add_lines_of(write: &WriteTxn<'_>, orders: &[Uuid], peers: &[String], negate: bool) -> Result<(), StoreError> {
    if orders.is_empty() || peers.is_empty() {
        return Ok(());
    }
    let backend = write.txn.get_database_backend();
    for chunk in orders.chunks(500) {
        let mut sums = line_sums(negate);
        sums.and_where(Expr::col((line::Entity, line::Column::OrderId)).is_in(chunk.iter().copied()))
            .and_where(Expr::col((line::Entity, line::Column::PeerId)).is_in(peers.iter().cloned()));
        let mut insert = Query::insert();
        insert
            .into_table(held_demand::Entity)
            .columns([
                held_demand::Column::SalesSessionId,
                held_demand::Column::PeerId,
                held_demand::Column::ProductIri,
                held_demand::Column::OfferIri,
                held_demand::Column::Name,
                held_demand::Column::Quantity,
            ])
            .select_from(sums)
            .map_err(|e| StoreError::Db(sea_orm::DbErr::Custom(e.to_string())))?
            .on_conflict(
                OnConflict::columns([
                    held_demand::Column::SalesSessionId,
                    held_demand::Column::PeerId,
                    held_demand::Column::ProductIri,
                    held_demand::Column::OfferIri,
                ])
                .value(
                    held_demand::Column::Quantity,
                    Expr::col((held_demand::Entity, held_demand::Column::Quantity))
                        .add(Expr::col((Alias::new("excluded"), held_demand::Column::Quantity))),
                )
                .to_owned(),
            );
        write.txn.execute_raw(backend.build(&insert)).await?;
    }
    Ok(())
}

/// Runs `update` (of order parts), returning `column` of each row it changed: the rows are
/// locked until the transaction ends, so no other transaction counts the same change.
async fn update_returning(
    write: &WriteTxn<'_>,
    mut update: sea_orm::sea_query::UpdateStatement,
    column: part::Column,
) -> Result<Vec<sea_orm::QueryResult>, StoreError> {
    update.returning_col(column);
    let backend = write.txn.get_database_backend();
    Ok(write.txn.query_all_raw(backend.build(&update)).await?)
}

/// Runs `update` (moving parts of `orders` at `peer_id` to RESERVED) on each chunk of them, and
/// counts the lines of the parts it changed as held there.
pub(super) async fn reserve(
    write: &WriteTxn<'_>,
    peer_id: &str,
    orders: &[Uuid],
    update: impl Fn(&[Uuid]) -> sea_orm::sea_query::UpdateStatement,
) -> Result<(), StoreError> {
    let mut reserved = Vec::new();
    for chunk in orders.chunks(500) {
        for row in update_returning(write, update(chunk), part::Column::OrderId).await? {
            reserved.push(row.try_get::<Uuid>("", "order_id")?);
        }
    }
    add_lines_of(write, &reserved, &[peer_id.to_owned()], false).await
}

/// Every part of `order`, locked until the transaction ends (a send deciding one of them waits,
/// or is waited for): what its producers hold of it is then known for sure.
pub(super) async fn lock_parts(write: &WriteTxn<'_>, order: Uuid) -> Result<Vec<part::Model>, StoreError> {
    Ok(part::Entity::find().filter(part::Column::OrderId.eq(order)).lock_exclusive().all(&write.txn).await?)
}

/// The producers of `parts` that hold theirs.
pub(super) fn holders(parts: &[part::Model]) -> Vec<String> {
    parts.iter().filter(|p| p.state == PartState::Reserved.as_str()).map(|p| p.peer_id.clone()).collect()
}

/// `order`'s lines at `peer_id` are now held there.
pub(super) async fn hold(write: &WriteTxn<'_>, peer_id: &str, order: Uuid) -> Result<(), StoreError> {
    add_lines_of(write, &[order], &[peer_id.to_owned()], false).await
}

/// `order`'s lines at each of `peers` are no longer held there (read before they change).
pub(super) async fn unhold(write: &WriteTxn<'_>, order: Uuid, peers: &[String]) -> Result<(), StoreError> {
    add_lines_of(write, &[order], peers, true).await
}

/// What the producer `peer_id` holds of a session, per product and offer.
pub(super) async fn held_in_session(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    peer_id: &str,
) -> Result<Vec<HeldSum>, StoreError> {
    Ok(held_demand::Entity::find()
        .filter(held_demand::Column::SalesSessionId.eq(session_id))
        .filter(held_demand::Column::PeerId.eq(peer_id))
        .filter(held_demand::Column::Quantity.ne(0))
        .order_by_asc(held_demand::Column::ProductIri)
        .order_by_asc(held_demand::Column::OfferIri)
        .into_model::<HeldSum>()
        .all(db)
        .await?)
}

impl Store {
    /// Where the kept sums of what producers hold differ from the sum over the orders (the
    /// truth): empty when they agree, as they must.
    pub async fn held_demand_drift(&self) -> Result<Vec<HeldDrift>, StoreError> {
        // Both reads see one snapshot: a send committing between them is no drift. (SQLite's
        // read transaction is a snapshot already; it takes no isolation level.)
        let isolation =
            (self.backend() == sea_orm::DbBackend::Postgres).then_some(sea_orm::IsolationLevel::RepeatableRead);
        let txn = sea_orm::TransactionTrait::begin_with_config(&self.db, isolation, None).await?;
        let mut query = line_sums(false);
        query
            .inner_join(
                part::Entity,
                sea_orm::Condition::all()
                    .add(Expr::col((part::Entity, part::Column::OrderId)).equals((line::Entity, line::Column::OrderId)))
                    .add(Expr::col((part::Entity, part::Column::PeerId)).equals((line::Entity, line::Column::PeerId))),
            )
            .and_where(
                Expr::col((customer_order::Entity, customer_order::Column::Status)).eq(super::trader::ORDER_ACTIVE),
            )
            .and_where(Expr::col((part::Entity, part::Column::State)).eq(PartState::Reserved.as_str()));
        let statement = self.db.get_database_backend().build(&query);
        let mut recomputed: BTreeMap<(Uuid, String, String, String), i64> = HeldSum::find_by_statement(statement)
            .all(&txn)
            .await?
            .into_iter()
            .map(|s| ((s.sales_session_id, s.peer_id, s.product_iri, s.offer_iri), s.quantity))
            .collect();
        let mut drift = Vec::new();
        let kept = held_demand::Entity::find().all(&txn).await?;
        txn.commit().await?;
        for row in kept {
            let key = (row.sales_session_id, row.peer_id, row.product_iri, row.offer_iri);
            let truth = recomputed.remove(&key).unwrap_or(0);
            if truth != row.quantity {
                drift.push(HeldDrift {
                    sales_session_id: key.0,
                    peer_id: key.1,
                    product_iri: key.2,
                    offer_iri: key.3,
                    kept: row.quantity,
                    recomputed: truth,
                });
            }
        }
        for ((sales_session_id, peer_id, product_iri, offer_iri), truth) in
            recomputed.into_iter().filter(|(_, t)| *t != 0)
        {
            drift.push(HeldDrift { sales_session_id, peer_id, product_iri, offer_iri, kept: 0, recomputed: truth });
        }
        Ok(drift)
    }
}
