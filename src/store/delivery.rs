//! A producer order's delivery: its columns are the outbox. What a send recorded (acknowledged,
//! failed, a POST on its way), which sends are due, and the retry budget, which is a time.

use chrono::{DateTime, Utc};
use entity::producer_order;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::trader::{DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING};
use super::{Store, StoreError};
use crate::domain::OrderStatus;
use crate::domain::consolidation::PlannedLine;

/// What a producer acknowledged.
#[derive(Clone, Debug)]
pub struct Acknowledged {
    pub version: i64,
    pub remote_iri: Option<String>,
    /// Order state at the producer now: Held, Complete or Cancelled.
    pub status: OrderStatus,
    /// The producer's `dfc-b:hasFulfilmentStatus`, when it answered one.
    pub fulfilment: Option<String>,
    /// The send after the session closed: the lines are final, and the pack excess in them
    /// becomes the trader's stock.
    pub last: bool,
    /// The ids the order's lines go by at the producer now (`trader::lines`); None: unchanged.
    pub remote_lines: Option<String>,
    /// The discounts the producer's answer gives (JSON, `trader::lines::RemoteDiscounts`).
    pub remote_discounts: Option<String>,
}

/// A failed send, and what follows from it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The version the failed send carried.
    pub version: i64,
    /// Stable code, then detail.
    pub error: String,
    /// The producer refused what we sent, and sending it again would not help.
    pub permanent: bool,
    /// When to try again, unless the retry budget is spent.
    pub retry_at: DateTime<Utc>,
}

/// How long and how often a producer order may keep failing before a person must act.
#[derive(Clone, Copy, Debug)]
pub struct RetryBudget {
    pub time: chrono::Duration,
    /// None: no limit but the time.
    pub attempts: Option<i32>,
}

/// The outbox as `/metrics` shows it.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutboxFigures {
    pub pending: i64,
    /// Since the oldest pending producer order last changed; 0 with none pending.
    pub oldest_pending_seconds: f64,
    pub failed: i64,
}

impl Store {
    /// How many producer orders wait to be sent and since when, and how many FAILED.
    pub async fn outbox_figures(&self) -> Result<OutboxFigures, StoreError> {
        let count = |state: &'static str| {
            producer_order::Entity::find().filter(producer_order::Column::DeliveryState.eq(state)).count(&self.db)
        };
        let oldest = producer_order::Entity::find()
            .filter(producer_order::Column::DeliveryState.eq(DELIVERY_PENDING))
            .order_by_asc(producer_order::Column::UpdatedAt)
            .one(&self.db)
            .await?;
        let age = oldest.map_or(0.0, |order| (Utc::now() - order.updated_at).num_milliseconds().max(0) as f64 / 1000.0);
        Ok(OutboxFigures {
            pending: i64::try_from(count(DELIVERY_PENDING).await?).unwrap_or(i64::MAX),
            oldest_pending_seconds: age,
            failed: i64::try_from(count(DELIVERY_FAILED).await?).unwrap_or(i64::MAX),
        })
    }

    /// The connection pool: connections open, and of those idle.
    pub fn pool_figures(&self) -> (i64, i64) {
        let figures = |size: u32, idle: usize| (i64::from(size), i64::try_from(idle).unwrap_or(i64::MAX));
        match self.db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                figures(pool.size(), pool.num_idle())
            }
            sea_orm::DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                figures(pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        }
    }

    /// The producer acknowledged a version saying `lines`, carrying the waiting parts of
    /// `admitted` (customer orders): delivered, unless a newer change is already queued.
    pub async fn mark_delivered(
        &self,
        id: Uuid,
        ack: Acknowledged,
        lines: &[PlannedLine],
        admitted: &[Uuid],
    ) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        if let Some(order) = producer_order::Entity::find_by_id(id).lock_exclusive().one(&write.txn).await? {
            let Acknowledged { version, remote_iri, status, fulfilment, last, remote_lines, remote_discounts } = ack;
            let newer_queued = order.version > version;
            super::consolidation::record_lines(&write, id, lines).await?;
            super::parts::mark_reserved(&write, &order.peer_id, admitted, version).await?;
            let settles = last && !newer_queued && order.settled_at.is_none();
            let fulfilment = fulfilment.or_else(|| order.fulfilment_status.clone());
            let mut active: producer_order::ActiveModel = order.into();
            if settles {
                active.settled_at = Set(Some(Utc::now()));
            }
            if remote_iri.is_some() {
                active.post_started_at = Set(None);
            }
            active.remote_iri = Set(remote_iri);
            if remote_lines.is_some() {
                active.remote_lines = Set(remote_lines);
                active.remote_discounts = Set(remote_discounts);
            }
            active.status = Set(status.dfc_name().to_owned());
            active.fulfilment_status = Set(fulfilment);
            active.delivered_version = Set(version);
            active.attempts = Set(0);
            active.last_error = Set(None);
            active.failing_since = Set(None);
            active.delivery_state = Set(if newer_queued { DELIVERY_PENDING } else { DELIVERY_DELIVERED }.to_owned());
            active.next_attempt_at = Set(newer_queued.then(Utc::now));
            active.updated_at = Set(Utc::now());
            active.update(&write.txn).await?;
        }
        write.commit().await
    }

    /// A POST is about to leave: until the producer's id for the order is recorded, a later send
    /// must first look for the order at the producer. Returns when this creation was first
    /// tried: its retries carry the same `Idempotency-Key`, a later creation (after the order was
    /// cancelled at the producer) another.
    pub async fn mark_post_started(&self, id: Uuid) -> Result<DateTime<Utc>, StoreError> {
        let write = self.begin_write().await?;
        producer_order::Entity::update_many()
            .col_expr(producer_order::Column::PostStartedAt, Expr::value(Some(Utc::now())))
            .filter(producer_order::Column::Id.eq(id))
            .filter(producer_order::Column::PostStartedAt.is_null())
            .exec(&write.txn)
            .await?;
        let started = producer_order::Entity::find_by_id(id)
            .one(&write.txn)
            .await?
            .and_then(|po| po.post_started_at)
            .ok_or_else(|| super::corrupt("producer order vanished while posting"))?;
        write.commit().await?;
        Ok(started)
    }

    /// The producer refused a POST outright: nothing was created, and the next creation is a new
    /// one (with a new key, and nothing to look for first).
    pub async fn clear_post_started(&self, id: Uuid) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        producer_order::Entity::update_many()
            .col_expr(producer_order::Column::PostStartedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(producer_order::Column::Id.eq(id))
            .exec(&write.txn)
            .await?;
        write.commit().await
    }

    /// The producer placed the order (Held) under `iri`; its delivery is not settled by this.
    /// The producer's ids of every order our traders keep with a peer: the orders we can
    /// account for in its listing.
    pub async fn remote_orders_of(&self, peer_id: &str) -> Result<std::collections::HashSet<String>, StoreError> {
        let iris: Vec<Option<String>> = producer_order::Entity::find()
            .select_only()
            .column(producer_order::Column::RemoteIri)
            .filter(producer_order::Column::PeerId.eq(peer_id))
            .filter(producer_order::Column::RemoteIri.is_not_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(iris.into_iter().flatten().collect())
    }

    pub async fn record_remote_order(&self, id: Uuid, iri: &str, remote_lines: &str) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        producer_order::Entity::update_many()
            .col_expr(producer_order::Column::RemoteIri, Expr::value(Some(iri.to_owned())))
            .col_expr(producer_order::Column::RemoteLines, Expr::value(Some(remote_lines.to_owned())))
            .col_expr(producer_order::Column::Status, Expr::value(OrderStatus::Held.dfc_name()))
            .col_expr(producer_order::Column::PostStartedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(producer_order::Column::Id.eq(id))
            .exec(&write.txn)
            .await?;
        write.commit().await
    }

    /// The producer says its order for this one is Cancelled (a cancellation whose answer was
    /// lost, or a person at the producer): it cannot take lines again, so the next send places
    /// a new order.
    pub async fn record_cancelled_at_producer(&self, id: Uuid) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        producer_order::Entity::update_many()
            .col_expr(producer_order::Column::Status, Expr::value(OrderStatus::Cancelled.dfc_name()))
            .col_expr(producer_order::Column::PostStartedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(producer_order::Column::Id.eq(id))
            .exec(&write.txn)
            .await?;
        write.commit().await
    }

    /// Nothing more may be sent for a producer order (it is complete or settled): a send queued
    /// for it (a retry asked for, say) is dropped rather than polled for ever.
    pub async fn drop_queued_send(&self, id: Uuid) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        producer_order::Entity::update_many()
            .col_expr(producer_order::Column::DeliveryState, Expr::value(DELIVERY_DELIVERED))
            .col_expr(producer_order::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(producer_order::Column::Id.eq(id))
            .filter(producer_order::Column::DeliveryState.ne(DELIVERY_DELIVERED))
            .exec(&write.txn)
            .await?;
        write.commit().await
    }

    /// A send failed: try again later, or give up (FAILED) when the producer refused what we
    /// send or the retry budget is spent. Returns whether it FAILED.
    pub async fn mark_attempt_failed(
        &self,
        id: Uuid,
        failure: Failure,
        budget: RetryBudget,
    ) -> Result<bool, StoreError> {
        let write = self.begin_write().await?;
        let mut failed = false;
        if let Some(order) = producer_order::Entity::find_by_id(id).lock_exclusive().one(&write.txn).await? {
            let now = Utc::now();
            let attempts = order.attempts + 1;
            let since = order.failing_since.unwrap_or(now);
            failed =
                failure.permanent || now - since >= budget.time || budget.attempts.is_some_and(|most| attempts >= most);
            let mut active: producer_order::ActiveModel = order.into();
            active.attempts = Set(attempts);
            active.attempted_version = Set(failure.version);
            active.failing_since = Set(Some(since));
            active.last_error = Set(Some(failure.error));
            active.delivery_state = Set(if failed { DELIVERY_FAILED } else { DELIVERY_PENDING }.to_owned());
            active.next_attempt_at = Set((!failed).then_some(failure.retry_at));
            active.updated_at = Set(now);
            active.update(&write.txn).await?;
        }
        write.commit().await?;
        Ok(failed)
    }

    /// A send not tried now (its producer's circuit is open): due again at `at`, no attempt
    /// counted.
    pub async fn defer_send(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        producer_order::Entity::update_many()
            .col_expr(producer_order::Column::NextAttemptAt, Expr::value(Some(at)))
            .filter(producer_order::Column::Id.eq(id))
            .filter(producer_order::Column::DeliveryState.eq(DELIVERY_PENDING))
            .exec(&write.txn)
            .await?;
        write.commit().await
    }

    /// A producer answers again: every send waiting for it is due now, instead of at the end of
    /// its backoff.
    pub async fn wake_sends_to(&self, peer_id: &str) -> Result<u64, StoreError> {
        let write = self.begin_write().await?;
        let woken = producer_order::Entity::update_many()
            .col_expr(producer_order::Column::NextAttemptAt, Expr::value(Some(Utc::now())))
            .filter(producer_order::Column::PeerId.eq(peer_id))
            .filter(producer_order::Column::DeliveryState.eq(DELIVERY_PENDING))
            .exec(&write.txn)
            .await?
            .rows_affected;
        write.commit().await?;
        Ok(woken)
    }

    /// Producer orders whose send is due.
    pub async fn due_producer_orders(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<producer_order::Model>, StoreError> {
        Ok(producer_order::Entity::find()
            .filter(producer_order::Column::DeliveryState.eq(DELIVERY_PENDING))
            .filter(producer_order::Column::NextAttemptAt.lte(now))
            .order_by_asc(producer_order::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}
