//! Sales sessions and the producer platforms a trader buys from: the peers, the offers they last
//! published, the sessions and which producers each lists, and the once-only closing of a
//! session (which queues its producer orders for completion in the same transaction).

use chrono::{DateTime, Utc};
use entity::{peer, peer_offer, producer_order, sales_session, sales_session_peer};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::trader::DELIVERY_PENDING;
use super::{Store, StoreError};
use crate::domain::OrderStatus;

impl Store {
    pub async fn upsert_peer(&self, model: peer::Model) -> Result<(), StoreError> {
        let active = peer::ActiveModel {
            id: Set(model.id),
            trader_enterprise_id: Set(model.trader_enterprise_id),
            name: Set(model.name),
            base_url: Set(model.base_url),
            enterprise: Set(model.enterprise),
            timeout_ms: Set(model.timeout_ms),
            consolidation_mode: Set(model.consolidation_mode),
            url_scheme: Set(model.url_scheme),
            updated_at: Set(Utc::now()),
        };
        peer::Entity::insert(active)
            .on_conflict(
                OnConflict::column(peer::Column::Id)
                    .update_columns([
                        peer::Column::TraderEnterpriseId,
                        peer::Column::Name,
                        peer::Column::BaseUrl,
                        peer::Column::Enterprise,
                        peer::Column::TimeoutMs,
                        peer::Column::UrlScheme,
                        peer::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    pub async fn peers_by_ids(&self, ids: &[String]) -> Result<Vec<peer::Model>, StoreError> {
        Ok(peer::Entity::find().filter(peer::Column::Id.is_in(ids.iter().cloned())).all(&self.db).await?)
    }

    pub async fn create_sales_session(
        &self,
        trader: &str,
        name: &str,
        begins_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        peer_ids: &[String],
    ) -> Result<sales_session::Model, StoreError> {
        let write = self.begin_write().await?;
        let session = sales_session::ActiveModel {
            id: Set(Uuid::new_v4()),
            enterprise_id: Set(trader.to_owned()),
            name: Set(name.to_owned()),
            begins_at: Set(begins_at),
            ends_at: Set(ends_at),
            closed_at: Set(None),
            created_at: Set(Utc::now()),
        }
        .insert(&write.txn)
        .await?;
        for peer_id in peer_ids {
            sales_session_peer::ActiveModel { sales_session_id: Set(session.id), peer_id: Set(peer_id.clone()) }
                .insert(&write.txn)
                .await?;
        }
        write.commit().await?;
        Ok(session)
    }

    /// Ends a session now (customers can no longer check out).
    pub async fn end_sales_session(&self, id: Uuid) -> Result<Option<sales_session::Model>, StoreError> {
        let Some(session) = sales_session::Entity::find_by_id(id).one(&self.db).await? else { return Ok(None) };
        let now = Utc::now();
        let mut active: sales_session::ActiveModel = session.clone().into();
        if session.ends_at > now {
            active.ends_at = Set(now);
        }
        Ok(Some(active.update(&self.db).await?))
    }

    /// Closes a session whose end (plus `grace`) has passed, once: the replica whose update wins
    /// queues the session's producer orders for completion in the same transaction, so a restart
    /// or a second replica neither loses nor repeats it. Returns the producer orders to send.
    pub async fn claim_session_closing(&self, id: Uuid, now: DateTime<Utc>) -> Result<Option<Vec<Uuid>>, StoreError> {
        let write = self.begin_write().await?;
        let claimed = sales_session::Entity::update_many()
            .col_expr(sales_session::Column::ClosedAt, Expr::value(Some(now)))
            .filter(sales_session::Column::Id.eq(id))
            .filter(sales_session::Column::ClosedAt.is_null())
            .exec(&write.txn)
            .await?
            .rows_affected
            == 1;
        if !claimed {
            return Ok(None);
        }
        let orders: Vec<Uuid> = producer_order::Entity::find()
            .filter(producer_order::Column::SalesSessionId.eq(id))
            .all(&write.txn)
            .await?
            .into_iter()
            .map(|po| po.id)
            .collect();
        producer_order::Entity::update_many()
            .col_expr(producer_order::Column::Version, Expr::col(producer_order::Column::Version).add(1))
            .col_expr(producer_order::Column::DeliveryState, Expr::value(DELIVERY_PENDING))
            .col_expr(producer_order::Column::NextAttemptAt, Expr::value(Some(now)))
            .filter(producer_order::Column::SalesSessionId.eq(id))
            .filter(producer_order::Column::Status.ne(OrderStatus::Complete.dfc_name()))
            .exec(&write.txn)
            .await?;
        write.commit().await?;
        Ok(Some(orders))
    }

    /// Sessions past their end plus `grace` that are not closed yet.
    pub async fn sessions_due_for_closing(
        &self,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<Vec<Uuid>, StoreError> {
        Ok(sales_session::Entity::find()
            .filter(sales_session::Column::ClosedAt.is_null())
            .filter(sales_session::Column::EndsAt.lte(now - grace))
            .limit(16)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect())
    }

    pub async fn sales_session(&self, id: Uuid) -> Result<Option<sales_session::Model>, StoreError> {
        Ok(sales_session::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn sales_sessions(&self, trader: &str) -> Result<Vec<sales_session::Model>, StoreError> {
        Ok(sales_session::Entity::find()
            .filter(sales_session::Column::EnterpriseId.eq(trader))
            .order_by_desc(sales_session::Column::BeginsAt)
            .all(&self.db)
            .await?)
    }

    pub async fn sales_sessions_by_ids(&self, ids: &[Uuid]) -> Result<Vec<sales_session::Model>, StoreError> {
        Ok(sales_session::Entity::find()
            .filter(sales_session::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?)
    }

    pub async fn session_peers(&self, session_id: Uuid) -> Result<Vec<peer::Model>, StoreError> {
        let mut listed = sea_orm::sea_query::Query::select();
        listed
            .column(sales_session_peer::Column::PeerId)
            .from(sales_session_peer::Entity)
            .and_where(sales_session_peer::Column::SalesSessionId.eq(session_id));
        Ok(peer::Entity::find()
            .filter(peer::Column::Id.in_subquery(listed))
            .order_by_asc(peer::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Replaces what we know of a peer's catalogue by what it just published.
    pub async fn replace_peer_offers(&self, peer_id: &str, offers: Vec<peer_offer::Model>) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        peer_offer::Entity::delete_many().filter(peer_offer::Column::PeerId.eq(peer_id)).exec(&write.txn).await?;
        for chunk in offers.chunks(200) {
            let rows: Vec<peer_offer::ActiveModel> = chunk.iter().cloned().map(Into::into).collect();
            peer_offer::Entity::insert_many(rows).exec_without_returning(&write.txn).await?;
        }
        write.commit().await
    }

    /// The offer a checkout line names (by product or offer IRI) among the session's producers.
    pub async fn find_peer_offer(
        &self,
        peer_ids: &[String],
        iri: &str,
    ) -> Result<Option<peer_offer::Model>, StoreError> {
        Ok(self.find_peer_offers(peer_ids, &[iri]).await?.remove(iri))
    }

    /// The offers of `peer_ids` that `iris` name (by offer or product IRI), in one statement;
    /// those not found are missing from the answer.
    pub async fn find_peer_offers(
        &self,
        peer_ids: &[String],
        iris: &[&str],
    ) -> Result<std::collections::HashMap<String, peer_offer::Model>, StoreError> {
        let wanted = || iris.iter().map(|iri| (*iri).to_owned());
        let rows = peer_offer::Entity::find()
            .filter(peer_offer::Column::PeerId.is_in(peer_ids.iter().cloned()))
            .filter(
                Condition::any()
                    .add(peer_offer::Column::ProductIri.is_in(wanted()))
                    .add(peer_offer::Column::OfferIri.is_in(wanted())),
            )
            .order_by_asc(peer_offer::Column::PeerId)
            .order_by_asc(peer_offer::Column::OfferIri)
            .all(&self.db)
            .await?;
        let mut found = std::collections::HashMap::new();
        for iri in iris {
            // An offer IRI names one offer; a product IRI, the first offer of it.
            let offer =
                rows.iter().find(|o| o.offer_iri == *iri).or_else(|| rows.iter().find(|o| o.product_iri == *iri));
            if let Some(offer) = offer {
                found.insert((*iri).to_owned(), offer.clone());
            }
        }
        Ok(found)
    }
}
