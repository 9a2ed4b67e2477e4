//! Customers' personal data under the GDPR: what a customer's export holds, and erasure. Orders
//! stay for the accounts (totals, lines, prices); only the contact details go, and each erasure
//! is recorded without them.

use chrono::{DateTime, Utc};
use entity::{customer_erasure, customer_order, sales_session};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{Store, StoreError};

/// Why contact details were erased.
pub const ERASED_ON_REQUEST: &str = "request";
pub const ERASED_FOR_RETENTION: &str = "retention";

fn contact_held() -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(customer_order::Column::ContactName.is_not_null())
        .add(customer_order::Column::ContactEmail.is_not_null())
        .add(customer_order::Column::DeliveryAddress.is_not_null())
}

impl Store {
    /// On SQLite, moves what the write-ahead log holds into the database and empties the log
    /// file, so that earlier versions of erased rows do not stay in it.
    async fn forget_old_versions(&self) {
        if self.backend() != sea_orm::DbBackend::Sqlite {
            return;
        }
        use sea_orm::ConnectionTrait;
        if let Err(e) = self.db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await {
            tracing::warn!(error = %e, "could not empty the write-ahead log after an erasure");
        }
    }

    /// Every order of a customer, oldest first (of one trader when `trader` is given).
    pub async fn orders_of_customer(
        &self,
        customer_id: &str,
        trader: Option<&str>,
    ) -> Result<Vec<customer_order::Model>, StoreError> {
        let mut query = customer_order::Entity::find().filter(customer_order::Column::CustomerId.eq(customer_id));
        if let Some(trader) = trader {
            query = query.filter(customer_order::Column::TraderEnterpriseId.eq(trader));
        }
        Ok(query
            .order_by_asc(customer_order::Column::CreatedAt)
            .order_by_asc(customer_order::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// The erasures recorded for a customer, oldest first.
    pub async fn erasures_of_customer(&self, customer_id: &str) -> Result<Vec<customer_erasure::Model>, StoreError> {
        Ok(customer_erasure::Entity::find()
            .filter(customer_erasure::Column::CustomerId.eq(customer_id))
            .order_by_asc(customer_erasure::Column::ErasedAt)
            .all(&self.db)
            .await?)
    }

    /// Removes the contact details of the orders `which` selects and records that it was done,
    /// in one transaction: the number of orders it touched, and the record.
    async fn erase_recorded(
        &self,
        which: sea_orm::Condition,
        record: customer_erasure::ActiveModel,
    ) -> Result<(u64, customer_erasure::Model), StoreError> {
        let write = self.begin_write().await?;
        let null = || Expr::value(Option::<String>::None);
        let erased = customer_order::Entity::update_many()
            .filter(which)
            .col_expr(customer_order::Column::ContactName, null())
            .col_expr(customer_order::Column::ContactEmail, null())
            .col_expr(customer_order::Column::DeliveryAddress, null())
            .col_expr(customer_order::Column::UpdatedAt, Expr::value(Utc::now()))
            .exec(&write.txn)
            .await?
            .rows_affected;
        let record = customer_erasure::ActiveModel {
            id: Set(Uuid::new_v4()),
            orders: Set(i64::try_from(erased).unwrap_or(i64::MAX)),
            erased_at: Set(Utc::now()),
            ..record
        }
        .insert(&write.txn)
        .await?;
        write.commit().await?;
        Ok((erased, record))
    }

    /// Removes a customer's contact details from their orders (of one trader when `trader` is
    /// given) and records that it was done, by whom, in one transaction.
    pub async fn erase_customer(
        &self,
        customer_id: &str,
        trader: Option<&str>,
        requested_by: &str,
    ) -> Result<customer_erasure::Model, StoreError> {
        let mut which = sea_orm::Condition::all().add(customer_order::Column::CustomerId.eq(customer_id));
        if let Some(trader) = trader {
            which = which.add(customer_order::Column::TraderEnterpriseId.eq(trader));
        }
        let record = customer_erasure::ActiveModel {
            customer_id: Set(Some(customer_id.to_owned())),
            trader_enterprise_id: Set(trader.map(str::to_owned)),
            reason: Set(ERASED_ON_REQUEST.to_owned()),
            requested_by: Set(requested_by.to_owned()),
            ..Default::default()
        };
        let (_, record) = self.erase_recorded(which, record).await?;
        self.forget_old_versions().await;
        Ok(record)
    }

    /// Retention: removes the contact details of orders settled before `cutoff` (their session
    /// closed then), 500 at a time so that other writers are never held up long, and records each
    /// batch. Returns how many orders it touched.
    pub async fn erase_contacts_settled_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        const BATCH: u64 = 500;
        let mut total = 0;
        loop {
            let sessions = sales_session::Entity::find()
                .select_only()
                .column(sales_session::Column::Id)
                .filter(sales_session::Column::ClosedAt.lt(cutoff));
            let ids: Vec<Uuid> = customer_order::Entity::find()
                .select_only()
                .column(customer_order::Column::Id)
                .filter(customer_order::Column::SalesSessionId.in_subquery(sea_orm::QueryTrait::into_query(sessions)))
                .filter(contact_held())
                .limit(BATCH)
                .into_tuple()
                .all(&self.db)
                .await?;
            if ids.is_empty() {
                break;
            }
            let record = customer_erasure::ActiveModel {
                customer_id: Set(None),
                trader_enterprise_id: Set(None),
                reason: Set(ERASED_FOR_RETENTION.to_owned()),
                requested_by: Set(ERASED_FOR_RETENTION.to_owned()),
                ..Default::default()
            };
            let which = sea_orm::Condition::all().add(customer_order::Column::Id.is_in(ids.iter().copied()));
            total += self.erase_recorded(which, record).await?.0;
            if (ids.len() as u64) < BATCH {
                break;
            }
        }
        if total > 0 {
            self.forget_old_versions().await;
        }
        Ok(total)
    }
}
