//! Customer orders' parts at their producers: whether each producer holds its part. The
//! delivery engine decides parts (reserved, refused); checkout reads them to answer the customer,
//! and withdraws an order whose part could not be confirmed in time when the trader wants that.
use chrono::{DateTime, Utc};
use entity::{customer_order, customer_order_line, order_part};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use uuid::Uuid;

use super::consolidation::FallbackLine;
use super::trader::{NewLine, ORDER_ACTIVE, ORDER_REFUSED};
use super::{Store, StoreError, WriteTxn};
use crate::domain::PartState;

/// A product of a refused part: what the part asked for and the most of it that would still fit.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartShortage {
    /// The product as the customer ordered it.
    pub product: String,
    /// The pack it is ordered from the producer in, when ordered by weight in packs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered_as: Option<String>,
    pub requested: i64,
    #[serde(with = "rust_decimal::serde::str")]
    pub available: Decimal,
}

/// A waiting part that a send could not carry.
#[derive(Clone, Debug)]
pub struct PartRefusal {
    pub order: Uuid,
    pub shortages: Vec<PartShortage>,
    /// Stable code, then detail (`OUT_OF_STOCK`, `PEER_REJECTED: ...`).
    pub reason: String,
}

/// Sets a part's state (creating it), as of the producer order version that carries it.
pub(super) async fn set_part(
    write: &WriteTxn<'_>,
    order: Uuid,
    peer_id: &str,
    state: PartState,
    queued_version: i64,
    fallback: Option<&[FallbackLine]>,
) -> Result<(), StoreError> {
    let fallback = fallback.map(serde_json::to_string).transpose().map_err(super::corrupt)?;
    let row = order_part::ActiveModel {
        order_id: Set(order),
        peer_id: Set(peer_id.to_owned()),
        state: Set(state.as_str().to_owned()),
        queued_version: Set(queued_version),
        shortages: Set(None),
        fallback_lines: Set(fallback),
        reason: Set(None),
        updated_at: Set(Utc::now()),
    };
    order_part::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([order_part::Column::OrderId, order_part::Column::PeerId])
                .update_columns([
                    order_part::Column::State,
                    order_part::Column::QueuedVersion,
                    order_part::Column::Shortages,
                    order_part::Column::FallbackLines,
                    order_part::Column::Reason,
                    order_part::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&write.txn)
        .await?;
    Ok(())
}

/// Every part of an order is released (the order is cancelled, refused or withdrawn).
pub(super) async fn release_parts(write: &WriteTxn<'_>, order: Uuid) -> Result<(), StoreError> {
    let held = super::held::holders(&super::held::lock_parts(write, order).await?);
    order_part::Entity::update_many()
        .col_expr(order_part::Column::State, Expr::value(PartState::Released.as_str()))
        .col_expr(order_part::Column::FallbackLines, Expr::value(Option::<String>::None))
        .col_expr(order_part::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order_part::Column::OrderId.eq(order))
        .filter(order_part::Column::State.ne(PartState::Refused.as_str()))
        .exec(&write.txn)
        .await?;
    super::held::unhold(write, order, &held).await
}

/// The waiting parts a send carried, now held by the producer (unless something newer about
/// them was queued after that send was computed).
pub(super) async fn mark_reserved(
    write: &WriteTxn<'_>,
    peer_id: &str,
    orders: &[Uuid],
    version: i64,
) -> Result<(), StoreError> {
    let now = Utc::now();
    super::held::reserve(write, peer_id, orders, |chunk| {
        order_part::Entity::update_many()
            .col_expr(order_part::Column::State, Expr::value(PartState::Reserved.as_str()))
            .col_expr(order_part::Column::FallbackLines, Expr::value(Option::<String>::None))
            .col_expr(order_part::Column::Reason, Expr::value(Option::<String>::None))
            .col_expr(order_part::Column::Shortages, Expr::value(Option::<String>::None))
            .col_expr(order_part::Column::UpdatedAt, Expr::value(now))
            .filter(order_part::Column::PeerId.eq(peer_id))
            .filter(order_part::Column::OrderId.is_in(chunk.iter().copied()))
            .filter(order_part::Column::State.is_in([PartState::Pending.as_str(), PartState::Unconfirmed.as_str()]))
            .filter(order_part::Column::QueuedVersion.lte(version))
            .into_query()
    })
    .await
}

impl Store {
    /// The parts of some orders, at every producer.
    pub async fn order_parts(&self, orders: &[Uuid]) -> Result<Vec<order_part::Model>, StoreError> {
        let mut parts = Vec::new();
        for chunk in orders.chunks(500) {
            parts.extend(
                order_part::Entity::find()
                    .filter(order_part::Column::OrderId.is_in(chunk.iter().copied()))
                    .all(&self.db)
                    .await?,
            );
        }
        parts.sort_by(|a, b| (a.order_id, &a.peer_id).cmp(&(b.order_id, &b.peer_id)));
        Ok(parts)
    }

    /// Parts a send could not carry. A waiting amendment keeps the lines it had (the producer
    /// still holds them): the part is held again and says why the amendment was refused. Any
    /// other refused part refuses its order: every part of it is released and the orders of its
    /// other producers are queued again without it. Returns those producer orders.
    pub async fn refuse_parts(
        &self,
        peer_id: &str,
        refusals: &[PartRefusal],
        hold_sends_until: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let write = self.begin_write().await?;
        let mut requeued = Vec::new();
        for refusal in refusals {
            // Locked: a cancellation committing meanwhile is seen, not overwritten.
            let Some(part) = order_part::Entity::find_by_id((refusal.order, peer_id.to_owned()))
                .lock_exclusive()
                .one(&write.txn)
                .await?
            else {
                continue;
            };
            if !PartState::parse(&part.state).is_some_and(PartState::is_open) {
                continue;
            }
            let shortages = serde_json::to_string(&refusal.shortages).map_err(super::corrupt)?;
            let fallback: Option<Vec<FallbackLine>> =
                part.fallback_lines.as_deref().and_then(|f| serde_json::from_str(f).ok());
            let mut active: order_part::ActiveModel = part.into();
            active.shortages = Set(Some(shortages));
            active.reason = Set(Some(refusal.reason.clone()));
            active.fallback_lines = Set(None);
            active.updated_at = Set(Utc::now());
            if let Some(previous) = fallback {
                restore_lines(&write, refusal.order, peer_id, &previous).await?;
                active.state = Set(PartState::Reserved.as_str().to_owned());
                sea_orm::ActiveModelTrait::update(active, &write.txn).await?;
                super::held::hold(&write, peer_id, refusal.order).await?;
                continue;
            }
            active.state = Set(PartState::Refused.as_str().to_owned());
            sea_orm::ActiveModelTrait::update(active, &write.txn).await?;
            requeued.extend(refuse_order(&write, refusal.order, Some(peer_id), hold_sends_until).await?);
        }
        write.commit().await?;
        Ok(requeued)
    }

    /// A part still waiting when its checkout's deadline passed, acknowledged all the same:
    /// UNCONFIRMED until a send decides it. False when a send decided it meanwhile.
    pub async fn mark_unconfirmed(&self, order: Uuid, peer_id: &str, why: &str) -> Result<bool, StoreError> {
        let write = self.begin_write().await?;
        let updated = move_pending_part(&write, order, peer_id, PartState::Unconfirmed, why).await?;
        write.commit().await?;
        Ok(updated)
    }

    /// Withdraws an order whose part at `peer_id` is still waiting (not confirmed in time, and
    /// the trader does not acknowledge such orders): refused, nothing of it asked of anyone.
    /// None when a send decided that part meanwhile; else the producer orders to send again.
    pub async fn withdraw_order(
        &self,
        order: Uuid,
        peer_id: &str,
        why: &str,
        hold_sends_until: DateTime<Utc>,
    ) -> Result<Option<Vec<Uuid>>, StoreError> {
        let write = self.begin_write().await?;
        if !move_pending_part(&write, order, peer_id, PartState::Refused, why).await? {
            return Ok(None);
        }
        let requeued = refuse_order(&write, order, None, hold_sends_until).await?;
        write.commit().await?;
        Ok(Some(requeued))
    }

    /// Deletes a refused order (its customer was told): its idempotency key may be used again.
    pub async fn remove_refused_order(&self, id: Uuid) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        remove_if_refused(&write, id).await?;
        write.commit().await
    }
}

/// Moves a part that is still PENDING to `state`; false when a send decided it meanwhile.
async fn move_pending_part(
    write: &WriteTxn<'_>,
    order: Uuid,
    peer_id: &str,
    state: PartState,
    why: &str,
) -> Result<bool, StoreError> {
    let moved = order_part::Entity::update_many()
        .col_expr(order_part::Column::State, Expr::value(state.as_str()))
        .col_expr(order_part::Column::Reason, Expr::value(Some(why.to_owned())))
        .col_expr(order_part::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order_part::Column::OrderId.eq(order))
        .filter(order_part::Column::PeerId.eq(peer_id))
        .filter(order_part::Column::State.eq(PartState::Pending.as_str()))
        .exec(&write.txn)
        .await?
        .rows_affected;
    Ok(moved == 1)
}

/// Deletes an order if it is refused, with its lines and parts.
pub(super) async fn remove_if_refused(write: &WriteTxn<'_>, id: Uuid) -> Result<bool, StoreError> {
    let Some(order) = customer_order::Entity::find_by_id(id).one(&write.txn).await? else { return Ok(false) };
    if order.status != ORDER_REFUSED {
        return Ok(false);
    }
    order_part::Entity::delete_many().filter(order_part::Column::OrderId.eq(id)).exec(&write.txn).await?;
    customer_order_line::Entity::delete_many()
        .filter(customer_order_line::Column::OrderId.eq(id))
        .exec(&write.txn)
        .await?;
    customer_order::Entity::delete_by_id(id).exec(&write.txn).await?;
    Ok(true)
}

/// Refuses an active order: released everywhere, and the producer orders of its producers
/// (other than `except`, whose send is being computed right now) queued again without it.
async fn refuse_order(
    write: &WriteTxn<'_>,
    order_id: Uuid,
    except: Option<&str>,
    hold_sends_until: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let Some(order) = customer_order::Entity::find_by_id(order_id).one(&write.txn).await? else {
        return Ok(Vec::new());
    };
    if order.status != ORDER_ACTIVE {
        return Ok(Vec::new());
    }
    customer_order::Entity::update_many()
        .col_expr(customer_order::Column::Status, Expr::value(ORDER_REFUSED))
        .col_expr(customer_order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(customer_order::Column::Id.eq(order_id))
        .exec(&write.txn)
        .await?;
    release_parts(write, order_id).await?;
    let peers: Vec<String> = super::trader::peers_of_order(write, order_id)
        .await?
        .into_iter()
        .filter(|p| Some(p.as_str()) != except)
        .collect();
    let queued = super::trader::queue_producer_orders(
        write,
        &mut super::consolidation::QueueMemo::default(),
        &order,
        &peers,
        hold_sends_until,
    )
    .await?;
    Ok(queued.into_iter().map(|(_, po, _)| po).collect())
}

/// Puts back the lines a part had before an amendment.
async fn restore_lines(
    write: &WriteTxn<'_>,
    order: Uuid,
    peer_id: &str,
    previous: &[FallbackLine],
) -> Result<(), StoreError> {
    customer_order_line::Entity::delete_many()
        .filter(customer_order_line::Column::OrderId.eq(order))
        .filter(customer_order_line::Column::PeerId.eq(peer_id))
        .exec(&write.txn)
        .await?;
    let lines: Vec<NewLine> = previous.iter().map(|l| l.to_line(peer_id)).collect();
    super::trader::insert_lines(write, order, lines).await
}
