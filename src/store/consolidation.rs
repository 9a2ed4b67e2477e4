//! Consolidation on the trader side: the mode a trader chose (overridable per producer), what a
//! producer order must say now under it, and the stock that whole packs carry over.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use entity::{peer, peer_offer, producer_order, producer_order_line, sales_session, trader_setting};
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::held::HeldSum;
use super::trader::{ProducerOrderPlan, active_lines};
use super::{Store, StoreError, WriteTxn};
use crate::domain::consolidation::{self, Basis, ConsolidationMode, Demand, Pack, PlannedLine};
use crate::domain::reservation::UnconfirmedPolicy;
use crate::domain::{PartState, Unit};

/// A producer order with its producer, its session and the consolidation mode it is planned in.
pub struct PlanContext {
    pub order: producer_order::Model,
    pub peer: peer::Model,
    pub session: sales_session::Model,
    pub mode: ConsolidationMode,
}

/// A trader's consolidation settings: its default and each producer's override.
#[derive(Clone, Debug)]
pub struct ConsolidationSettings {
    pub default: ConsolidationMode,
    pub overrides: Vec<(String, ConsolidationMode)>,
}

/// Stock a trader holds from whole packs, per producer and product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedStock {
    pub peer_id: String,
    pub product_iri: String,
    pub name: String,
    /// Grams on hand: pack excess of settled producer orders minus what they used.
    pub grams: Decimal,
    /// Of those, grams that open producer orders plan to use.
    pub planned_use_grams: Decimal,
}

/// The group key of a producer order that gathers a whole session.
pub const WHOLE_SESSION: &str = "";

impl Store {
    pub async fn consolidation_settings(&self, trader: &str) -> Result<ConsolidationSettings, StoreError> {
        let default = trader_default(&self.db, trader).await?;
        let overrides: Vec<(String, ConsolidationMode)> = peer::Entity::find()
            .filter(peer::Column::TraderEnterpriseId.eq(trader))
            .filter(peer::Column::ConsolidationMode.is_not_null())
            .order_by_asc(peer::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|p| Some((p.id, p.consolidation_mode.as_deref().and_then(ConsolidationMode::parse)?)))
            .collect();
        Ok(ConsolidationSettings { default, overrides })
    }

    /// The trader's own choice of what checkout does with parts not confirmed in time.
    pub async fn unconfirmed_policy(&self, trader: &str) -> Result<Option<UnconfirmedPolicy>, StoreError> {
        Ok(trader_setting::Entity::find_by_id(trader.to_owned())
            .one(&self.db)
            .await?
            .and_then(|s| s.unconfirmed_orders.as_deref().and_then(UnconfirmedPolicy::parse)))
    }

    /// Sets (or with None clears) the trader's choice of what checkout does with parts not
    /// confirmed in time.
    pub async fn set_unconfirmed_policy(
        &self,
        trader: &str,
        policy: Option<UnconfirmedPolicy>,
    ) -> Result<(), StoreError> {
        let write = self.begin_write().await?;
        let setting = trader_setting::ActiveModel {
            enterprise_id: Set(trader.to_owned()),
            // A trader with no setting row consolidates by the default: the same as no row.
            consolidation_mode: Set(ConsolidationMode::default().as_str().to_owned()),
            unconfirmed_orders: Set(policy.map(|p| p.as_str().to_owned())),
            updated_at: Set(Utc::now()),
        };
        trader_setting::Entity::insert(setting)
            .on_conflict(
                OnConflict::column(trader_setting::Column::EnterpriseId)
                    .update_columns([trader_setting::Column::UnconfirmedOrders, trader_setting::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&write.txn)
            .await?;
        write.commit().await
    }

    /// The mode that applies to a producer of a trader now.
    pub async fn consolidation_mode_of(&self, trader: &str, peer_id: &str) -> Result<ConsolidationMode, StoreError> {
        match peer::Entity::find_by_id(peer_id.to_owned()).one(&self.db).await? {
            Some(peer) => mode_of(&self.db, trader, &peer).await,
            None => trader_default(&self.db, trader).await,
        }
    }

    /// Sets the trader's mode, or one producer's override (None clears it), and queues every open
    /// producer order that the change regroups or recomputes, in the same transaction. Returns
    /// the queued producer orders: those of groups the new mode no longer gathers (to be sent
    /// first, releasing their stock), then the others. None when the producer is unknown.
    pub async fn set_consolidation_mode(
        &self,
        trader: &str,
        producer: Option<&str>,
        mode: Option<ConsolidationMode>,
        hold_sends_until: DateTime<Utc>,
    ) -> Result<Option<(Vec<Uuid>, Vec<Uuid>)>, StoreError> {
        let write = self.begin_write().await?;
        let peers: Vec<peer::Model> = match producer {
            Some(id) => {
                let Some(peer) = peer::Entity::find_by_id(id.to_owned())
                    .filter(peer::Column::TraderEnterpriseId.eq(trader))
                    .one(&write.txn)
                    .await?
                else {
                    return Ok(None);
                };
                let mut active: peer::ActiveModel = peer.clone().into();
                active.consolidation_mode = Set(mode.map(|m| m.as_str().to_owned()));
                sea_orm::ActiveModelTrait::update(active, &write.txn).await?;
                vec![peer]
            }
            None => {
                let mode = mode.unwrap_or_default();
                let setting = trader_setting::ActiveModel {
                    enterprise_id: Set(trader.to_owned()),
                    consolidation_mode: Set(mode.as_str().to_owned()),
                    unconfirmed_orders: Set(None),
                    updated_at: Set(Utc::now()),
                };
                trader_setting::Entity::insert(setting)
                    .on_conflict(
                        OnConflict::column(trader_setting::Column::EnterpriseId)
                            .update_columns([
                                trader_setting::Column::ConsolidationMode,
                                trader_setting::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&write.txn)
                    .await?;
                peer::Entity::find().filter(peer::Column::TraderEnterpriseId.eq(trader)).all(&write.txn).await?
            }
        };
        let open_sessions: Vec<Uuid> = sales_session::Entity::find()
            .filter(sales_session::Column::EnterpriseId.eq(trader))
            .filter(sales_session::Column::ClosedAt.is_null())
            .all(&write.txn)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect();
        let (mut emptied, mut filled) = (Vec::new(), Vec::new());
        for session in open_sessions {
            for peer in &peers {
                let mut orders: Vec<Uuid> =
                    active_lines(&write.txn, session, &peer.id, None).await?.into_iter().map(|l| l.order_id).collect();
                orders.sort();
                orders.dedup();
                let queued = queue_groups(
                    &write,
                    &mut QueueMemo::default(),
                    trader,
                    session,
                    &peer.id,
                    &orders,
                    hold_sends_until,
                )
                .await?;
                emptied.extend(queued.stale.into_iter().map(|(po, _)| po));
                filled.extend(queued.current.into_iter().map(|(po, _)| po));
            }
        }
        write.commit().await?;
        Ok(Some((emptied, filled)))
    }

    /// What a producer order must say now: recomputed from the active customer orders it gathers,
    /// under the producer's consolidation mode.
    pub async fn producer_order_plan(&self, id: Uuid) -> Result<Option<ProducerOrderPlan>, StoreError> {
        let Some(context) = self.producer_order_with_mode(id).await? else { return Ok(None) };
        self.plan_producer_order(context).await.map(Some)
    }

    /// A producer order with what planning it needs besides its lines: its producer, its sales
    /// session and the consolidation mode that applies to it now, in one statement.
    pub async fn producer_order_with_mode(&self, id: Uuid) -> Result<Option<PlanContext>, StoreError> {
        use sea_orm::FromQueryResult;
        use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query};
        let mut query = Query::select();
        prefixed(&mut query, producer_order::Entity, "po_");
        prefixed(&mut query, peer::Entity, "peer_");
        prefixed(&mut query, sales_session::Entity, "session_");
        query
            .expr_as(
                Expr::col((trader_setting::Entity, trader_setting::Column::ConsolidationMode)),
                Alias::new("trader_mode"),
            )
            .from(producer_order::Entity)
            .join(
                JoinType::LeftJoin,
                peer::Entity,
                Expr::col((peer::Entity, peer::Column::Id))
                    .equals((producer_order::Entity, producer_order::Column::PeerId)),
            )
            .join(
                JoinType::LeftJoin,
                sales_session::Entity,
                Expr::col((sales_session::Entity, sales_session::Column::Id))
                    .equals((producer_order::Entity, producer_order::Column::SalesSessionId)),
            )
            .join(
                JoinType::LeftJoin,
                trader_setting::Entity,
                Expr::col((trader_setting::Entity, trader_setting::Column::EnterpriseId))
                    .equals((producer_order::Entity, producer_order::Column::TraderEnterpriseId)),
            )
            .and_where(Expr::col((producer_order::Entity, producer_order::Column::Id)).eq(id));
        let backend = self.db.get_database_backend();
        let Some(row) = self.db.query_one_raw(backend.build(&query)).await? else { return Ok(None) };
        let order = producer_order::Model::from_query_result(&row, "po_")?;
        let peer = peer::Model::from_query_result(&row, "peer_")
            .map_err(|_| super::corrupt("producer order of a missing peer"))?;
        let session = sales_session::Model::from_query_result(&row, "session_")
            .map_err(|_| super::corrupt("producer order of a missing session"))?;
        let trader_mode: Option<String> = row.try_get("", "trader_mode")?;
        let mode = peer
            .consolidation_mode
            .as_deref()
            .and_then(ConsolidationMode::parse)
            .unwrap_or_else(|| trader_mode.as_deref().and_then(ConsolidationMode::parse).unwrap_or_default());
        Ok(Some(PlanContext { order, peer, session, mode }))
    }

    /// What a producer order must say under `mode`, with every waiting part admitted. A mode
    /// changed meanwhile does no harm: the change queued the order again, and the next send uses
    /// the new mode.
    pub async fn plan_producer_order(&self, context: PlanContext) -> Result<ProducerOrderPlan, StoreError> {
        let PlanContext { order, peer, session, mode } = context;
        let gathered = match (mode, order.group_key.as_str()) {
            (ConsolidationMode::PerCustomerOrder, WHOLE_SESSION) => None,
            (ConsolidationMode::PerCustomerOrder, key) => Uuid::parse_str(key).ok().map(Some),
            (_, WHOLE_SESSION) => Some(None),
            // A group left over from an earlier mode: it gathers nothing now.
            (_, _) => None,
        };
        // What the producer holds read from its kept sum (or summed over the one order a group
        // gathers), waiting parts line by line: what a plan reads grows with the changes
        // waiting, not with the session.
        let (session_id, peer_id) = (order.sales_session_id, order.peer_id.as_str());
        let (held, (lines, parts)) = match gathered {
            Some(None) => (
                super::held::held_in_session(&self.db, session_id, peer_id).await?,
                waiting_lines(&self.db, session_id, peer_id, None).await?,
            ),
            Some(Some(only)) => (
                held_of_order(&self.db, session_id, peer_id, only).await?,
                waiting_lines(&self.db, session_id, peer_id, Some(only)).await?,
            ),
            None => (Vec::new(), (Vec::new(), HashMap::new())),
        };
        let fallbacks: HashMap<Uuid, Vec<FallbackLine>> = parts
            .values()
            .filter_map(|p| Some((p.order_id, serde_json::from_str(p.fallback_lines.as_deref()?).ok()?)))
            .collect();
        // The offers of the products needed and of their packs, not the whole catalogue.
        let mut products: Vec<String> = lines.iter().map(|l| l.product_iri.clone()).collect();
        products.extend(held.iter().map(|l| l.product_iri.clone()));
        products.extend(fallbacks.values().flatten().map(|l| l.product.clone()));
        products.sort();
        products.dedup();
        let offers: HashMap<String, peer_offer::Model> = peer_offer::Entity::find()
            .filter(peer_offer::Column::PeerId.eq(order.peer_id.as_str()))
            .filter(
                sea_orm::Condition::any()
                    .add(peer_offer::Column::ProductIri.is_in(products.iter().cloned()))
                    .add(peer_offer::Column::PackOf.is_in(products)),
            )
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| (o.product_iri.clone(), o))
            .collect();
        let (packs, carry) = if mode == ConsolidationMode::ByWeight {
            (packs_of(offers.values()), self.carry_available(&order).await?)
        } else {
            (BTreeMap::new(), BTreeMap::new())
        };
        let inputs = PlanInputs { held, demand: lines, parts, fallbacks, offers, packs, carry };
        let waiting = inputs.waiting();
        let lines = inputs.plan(mode, &waiting.iter().copied().collect());
        Ok(ProducerOrderPlan { order, session, peer, mode, lines, admitted: waiting, inputs })
    }

    /// The lines a producer order last said (acknowledged by the producer).
    pub async fn producer_order_lines(&self, id: Uuid) -> Result<Vec<PlannedLine>, StoreError> {
        Ok(producer_order_line::Entity::find()
            .filter(producer_order_line::Column::ProducerOrderId.eq(id))
            .order_by_asc(producer_order_line::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(planned_line)
            .collect())
    }

    /// Stock carried over from whole packs, per producer and product, with what open producer
    /// orders plan to use of it.
    pub async fn carried_stock(&self, trader: &str) -> Result<Vec<CarriedStock>, StoreError> {
        let mut stock: BTreeMap<(String, String), CarriedStock> = BTreeMap::new();
        for (line, order) in carrying_lines(&self.db, trader, None).await? {
            let entry =
                stock.entry((order.peer_id.clone(), line.product_iri.clone())).or_insert_with(|| CarriedStock {
                    peer_id: order.peer_id.clone(),
                    product_iri: line.product_iri.clone(),
                    name: line.name.clone(),
                    grams: Decimal::ZERO,
                    planned_use_grams: Decimal::ZERO,
                });
            let (used, added) = (grams(&line.carry_used_grams), grams(&line.carry_added_grams));
            if order.settled_at.is_some() {
                entry.grams += added - used;
            } else {
                entry.planned_use_grams += used;
            }
        }
        // A pack line names the pack; the stock is of the product in it.
        let products: Vec<String> = stock.keys().map(|(_, product)| product.clone()).collect();
        for offer in
            peer_offer::Entity::find().filter(peer_offer::Column::ProductIri.is_in(products)).all(&self.db).await?
        {
            if let Some(entry) = stock.get_mut(&(offer.peer_id, offer.product_iri)) {
                entry.name = offer.name;
            }
        }
        Ok(stock
            .into_values()
            .filter(|s| !s.grams.is_zero() || !s.planned_use_grams.is_zero())
            .map(|s| CarriedStock {
                grams: s.grams.normalize(),
                planned_use_grams: s.planned_use_grams.normalize(),
                ..s
            })
            .collect())
    }

    /// Grams of each product this producer order may take from carried-over stock: what settled
    /// orders left, less what the trader's other open orders with the producer already use.
    async fn carry_available(&self, order: &producer_order::Model) -> Result<BTreeMap<String, Decimal>, StoreError> {
        let mut available: BTreeMap<String, Decimal> = BTreeMap::new();
        let trader = &order.trader_enterprise_id;
        for (line, other) in carrying_lines(&self.db, trader, Some(&order.peer_id)).await? {
            if other.id == order.id {
                continue;
            }
            let entry = available.entry(line.product_iri.clone()).or_default();
            *entry -= grams(&line.carry_used_grams);
            if other.settled_at.is_some() {
                *entry += grams(&line.carry_added_grams);
            }
        }
        Ok(available.into_iter().map(|(product, g)| (product, g.max(Decimal::ZERO))).collect())
    }
}

/// The lines of a trader's producer orders (with one producer, or all) that use or add carried
/// stock, each with its producer order. Few lines carry stock, so this stays small however many
/// orders a trader has placed.
async fn carrying_lines(
    db: &impl ConnectionTrait,
    trader: &str,
    peer_id: Option<&str>,
) -> Result<Vec<(producer_order_line::Model, producer_order::Model)>, StoreError> {
    let mut orders_of_trader = sea_orm::sea_query::Query::select();
    orders_of_trader
        .column(producer_order::Column::Id)
        .from(producer_order::Entity)
        .and_where(producer_order::Column::TraderEnterpriseId.eq(trader));
    if let Some(peer_id) = peer_id {
        orders_of_trader.and_where(producer_order::Column::PeerId.eq(peer_id));
    }
    let lines = producer_order_line::Entity::find()
        .filter(producer_order_line::Column::ProducerOrderId.in_subquery(orders_of_trader))
        .filter(
            sea_orm::Condition::any()
                .add(producer_order_line::Column::CarryUsedGrams.ne("0"))
                .add(producer_order_line::Column::CarryAddedGrams.ne("0")),
        )
        .order_by_asc(producer_order_line::Column::Id)
        .all(db)
        .await?;
    let mut ids: Vec<Uuid> = lines.iter().map(|l| l.producer_order_id).collect();
    ids.sort();
    ids.dedup();
    let mut orders: HashMap<Uuid, producer_order::Model> = HashMap::new();
    for chunk in ids.chunks(500) {
        for order in producer_order::Entity::find()
            .filter(producer_order::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            orders.insert(order.id, order);
        }
    }
    Ok(lines
        .into_iter()
        .filter_map(|line| {
            let order = orders.get(&line.producer_order_id)?.clone();
            Some((line, order))
        })
        .collect())
}

/// Replaces the lines a producer order says by those the producer just acknowledged.
pub(super) async fn record_lines(write: &WriteTxn<'_>, id: Uuid, lines: &[PlannedLine]) -> Result<(), StoreError> {
    producer_order_line::Entity::delete_many()
        .filter(producer_order_line::Column::ProducerOrderId.eq(id))
        .exec(&write.txn)
        .await?;
    let rows = lines.iter().map(|line| producer_order_line::ActiveModel {
        producer_order_id: Set(id),
        product_iri: Set(line.product_iri.clone()),
        ordered_product_iri: Set(line.ordered_product_iri.clone()),
        offer_iri: Set(line.offer_iri.clone()),
        name: Set(line.name.clone()),
        quantity: Set(line.quantity),
        needed_units: Set(line.needed_units),
        needed_grams: Set(line.needed_grams.map(|g| g.to_string())),
        carry_used_grams: Set(line.carry_used_grams.to_string()),
        carry_added_grams: Set(line.carry_added_grams.to_string()),
        basis: Set(line.basis.as_str().to_owned()),
        note: Set(line.note.clone()),
        ..Default::default()
    });
    // In batches: one statement per 200 lines (under SQLite's 32,766 parameters), in their order.
    let rows: Vec<producer_order_line::ActiveModel> = rows.collect();
    for chunk in rows.chunks(200) {
        producer_order_line::Entity::insert_many(chunk.to_vec()).exec_without_returning(&write.txn).await?;
    }
    Ok(())
}

/// The lines from `peer_id` of one of a session's active customer orders, if its part there is
/// held (or older than parts, when every order was held), summed by the database.
async fn held_of_order(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    peer_id: &str,
    order_id: Uuid,
) -> Result<Vec<HeldSum>, StoreError> {
    use entity::{customer_order, customer_order_line as line, order_part as part};
    use sea_orm::sea_query::{Expr, ExprTrait, JoinType};
    let mut query = super::held::line_sums(false);
    query
        .join(
            JoinType::LeftJoin,
            part::Entity,
            sea_orm::Condition::all()
                .add(Expr::col((part::Entity, part::Column::OrderId)).equals((line::Entity, line::Column::OrderId)))
                .add(Expr::col((part::Entity, part::Column::PeerId)).equals((line::Entity, line::Column::PeerId))),
        )
        .and_where(Expr::col((customer_order::Entity, customer_order::Column::Id)).eq(order_id))
        .and_where(Expr::col((customer_order::Entity, customer_order::Column::SalesSessionId)).eq(session_id))
        .and_where(Expr::col((customer_order::Entity, customer_order::Column::Status)).eq(super::trader::ORDER_ACTIVE))
        .and_where(Expr::col((line::Entity, line::Column::PeerId)).eq(peer_id))
        .cond_where(
            sea_orm::Condition::any()
                .add(Expr::col((part::Entity, part::Column::State)).is_null())
                .add(Expr::col((part::Entity, part::Column::State)).eq(PartState::Reserved.as_str())),
        )
        .order_by((line::Entity, line::Column::ProductIri), sea_orm::Order::Asc)
        .order_by((line::Entity, line::Column::OfferIri), sea_orm::Order::Asc);
    let statement = db.get_database_backend().build(&query);
    Ok(<HeldSum as sea_orm::FromQueryResult>::find_by_statement(statement).all(db).await?)
}

/// Selects every column of `entity`, each named with `prefix` (for `from_query_result(row,
/// prefix)` of rows that join several entities).
fn prefixed<E: EntityTrait>(query: &mut sea_orm::sea_query::SelectStatement, entity: E, prefix: &str) {
    prefixed_as::<E>(query, entity, prefix);
}

/// [`prefixed`], the columns read from `table` (a name the query gives the entity's rows).
fn prefixed_as<E: EntityTrait>(
    query: &mut sea_orm::sea_query::SelectStatement,
    table: impl sea_orm::sea_query::IntoIden + Clone,
    prefix: &str,
) {
    use sea_orm::Iterable;
    use sea_orm::sea_query::{Alias, Expr};
    for column in E::Column::iter() {
        query.expr_as(
            Expr::col((table.clone(), column)),
            Alias::new(format!("{prefix}{}", sea_orm::IdenStatic::as_str(&column))),
        );
    }
}

/// The lines from `peer_id` of a session's active customer orders (or of one of them) whose part
/// there waits for a send to decide it, with those parts (by customer order), in one statement.
async fn waiting_lines(
    db: &impl ConnectionTrait,
    session_id: Uuid,
    peer_id: &str,
    only: Option<Uuid>,
) -> Result<(Vec<entity::customer_order_line::Model>, HashMap<Uuid, entity::order_part::Model>), StoreError> {
    use entity::{customer_order, customer_order_line as line, order_part as part};
    use sea_orm::sea_query::{Alias, CommonTableExpression, Expr, ExprTrait, Query, WithClause};
    use sea_orm::{FromQueryResult, Iterable};
    // The producer's waiting parts first, on their own (materialised, index `order_part_by_state`):
    // the rest is one look-up per waiting part, whatever the planner believes of the session's
    // size (PostgreSQL's statistics lag behind a session that grows by thousands in minutes).
    let waiting = Alias::new("waiting");
    let mut parts = Query::select();
    parts
        .columns(part::Column::iter())
        .from(part::Entity)
        .and_where(Expr::col(part::Column::PeerId).eq(peer_id))
        .and_where(
            Expr::col(part::Column::State).is_in([PartState::Pending.as_str(), PartState::Unconfirmed.as_str()]),
        );
    if let Some(id) = only {
        parts.and_where(Expr::col(part::Column::OrderId).eq(id));
    }
    let waiting_parts =
        CommonTableExpression::new().query(parts).table_name(waiting.clone()).materialized(true).to_owned();
    let mut query = Query::select();
    prefixed(&mut query, line::Entity, "line_");
    prefixed_as::<part::Entity>(&mut query, waiting.clone(), "part_");
    query
        .from(waiting.clone())
        .inner_join(
            line::Entity,
            sea_orm::Condition::all()
                .add(Expr::col((line::Entity, line::Column::OrderId)).equals((waiting.clone(), part::Column::OrderId)))
                .add(Expr::col((line::Entity, line::Column::PeerId)).equals((waiting.clone(), part::Column::PeerId))),
        )
        .inner_join(
            customer_order::Entity,
            Expr::col((customer_order::Entity, customer_order::Column::Id))
                .equals((waiting.clone(), part::Column::OrderId)),
        )
        .and_where(Expr::col((customer_order::Entity, customer_order::Column::SalesSessionId)).eq(session_id))
        .and_where(Expr::col((customer_order::Entity, customer_order::Column::Status)).eq(super::trader::ORDER_ACTIVE))
        .order_by((line::Entity, line::Column::Id), sea_orm::Order::Asc);
    let statement = db.get_database_backend().build(&query.with(WithClause::new().cte(waiting_parts).to_owned()));
    let rows = db.query_all_raw(statement).await?;
    let (mut lines, mut parts) = (Vec::with_capacity(rows.len()), HashMap::new());
    for row in rows {
        let line = line::Model::from_query_result(&row, "line_")?;
        parts.entry(line.order_id).or_insert(part::Model::from_query_result(&row, "part_")?);
        lines.push(line);
    }
    Ok((lines, parts))
}

fn planned_line(row: producer_order_line::Model) -> PlannedLine {
    PlannedLine {
        product_iri: row.product_iri,
        ordered_product_iri: row.ordered_product_iri,
        offer_iri: row.offer_iri,
        name: row.name,
        quantity: row.quantity,
        needed_units: row.needed_units,
        needed_grams: row.needed_grams.as_deref().map(grams),
        carry_used_grams: grams(&row.carry_used_grams),
        carry_added_grams: grams(&row.carry_added_grams),
        basis: Basis::parse(&row.basis),
        note: row.note,
    }
}

/// Stored grams are written by us as decimal text; anything else is no stock.
fn grams(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_default()
}

async fn trader_default(db: &impl ConnectionTrait, trader: &str) -> Result<ConsolidationMode, StoreError> {
    Ok(trader_setting::Entity::find_by_id(trader.to_owned())
        .one(db)
        .await?
        .and_then(|s| ConsolidationMode::parse(&s.consolidation_mode))
        .unwrap_or_default())
}

/// The mode that applies to a producer: its override, else the trader's default.
pub(super) async fn mode_of(
    db: &impl ConnectionTrait,
    trader: &str,
    peer: &peer::Model,
) -> Result<ConsolidationMode, StoreError> {
    match peer.consolidation_mode.as_deref().and_then(ConsolidationMode::parse) {
        Some(mode) => Ok(mode),
        None => trader_default(db, trader).await,
    }
}

/// Grams in one unit of an offer's product, or why that is not known.
fn unit_grams(offer: Option<&peer_offer::Model>) -> Result<Decimal, String> {
    let offer = offer.ok_or("the producer no longer lists it")?;
    let (Some(value), Some(code)) = (offer.unit_value.as_deref(), offer.unit_code.as_deref()) else {
        return Err("the producer publishes no quantity for it".to_owned());
    };
    let value = Decimal::from_str(value).map_err(|_| format!("its quantity `{value}` is not a number"))?;
    let unit = Unit::from_name(code);
    match unit.grams(value) {
        Some(grams) => Ok(grams),
        None if unit.dimension() == crate::domain::units::Dimension::Weight => {
            Err(format!("its published weight ({value} {code}) is out of range"))
        }
        None => Err(format!("it is sold by {code}, not by weight")),
    }
}

/// Packs by the product they hold.
fn packs_of<'o>(offers: impl Iterator<Item = &'o peer_offer::Model>) -> BTreeMap<String, Vec<Pack>> {
    let mut packs: BTreeMap<String, Vec<Pack>> = BTreeMap::new();
    for offer in offers {
        if let (Some(retail), Some(units)) = (&offer.pack_of, offer.pack_units) {
            packs.entry(retail.clone()).or_default().push(Pack {
                product_iri: offer.product_iri.clone(),
                offer_iri: offer.offer_iri.clone(),
                name: offer.name.clone(),
                units,
            });
        }
    }
    packs
}

/// A line of a customer order's part as it was before an amendment (kept while the amendment
/// waits: the producer holds it, and keeps it if the amendment does not fit).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FallbackLine {
    pub product: String,
    pub offer: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub currency: String,
    pub vat_rate: String,
}

impl FallbackLine {
    pub fn from_line(line: &super::trader::NewLine) -> FallbackLine {
        FallbackLine {
            product: line.product_iri.clone(),
            offer: line.offer_iri.clone(),
            name: line.name.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price.clone(),
            currency: line.currency.clone(),
            vat_rate: line.vat_rate.clone(),
        }
    }

    pub fn to_line(&self, peer_id: &str) -> super::trader::NewLine {
        super::trader::NewLine {
            peer_id: peer_id.to_owned(),
            product_iri: self.product.clone(),
            offer_iri: self.offer.clone(),
            name: self.name.clone(),
            quantity: self.quantity,
            unit_price: self.unit_price.clone(),
            currency: self.currency.clone(),
            vat_rate: self.vat_rate.clone(),
            // What a producer is sent never depends on the trader's customer discounts.
            discount: None,
        }
    }
}

/// Everything a producer order's plan is computed from, so that it can be computed again for any
/// set of admitted waiting parts without touching the database.
#[derive(Clone, Debug, Default)]
pub struct PlanInputs {
    /// The lines of the orders the producer holds, summed per product and offer.
    held: Vec<HeldSum>,
    /// The lines of the orders waiting for a send to decide them.
    demand: Vec<entity::customer_order_line::Model>,
    parts: HashMap<Uuid, entity::order_part::Model>,
    fallbacks: HashMap<Uuid, Vec<FallbackLine>>,
    offers: HashMap<String, peer_offer::Model>,
    packs: BTreeMap<String, Vec<Pack>>,
    carry: BTreeMap<String, Decimal>,
}

impl PlanInputs {
    pub fn offer(&self, product: &str) -> Option<&peer_offer::Model> {
        self.offers.get(product)
    }

    fn state(&self, order: Uuid) -> PartState {
        // Orders placed before parts existed were all held by their producers.
        self.parts.get(&order).and_then(|p| PartState::parse(&p.state)).unwrap_or(PartState::Reserved)
    }

    /// The customer orders whose part waits for a send to decide it, in the order their
    /// changes committed.
    pub fn waiting(&self) -> Vec<Uuid> {
        let mut waiting: Vec<(i64, Uuid)> = self
            .parts
            .values()
            .filter(|p| PartState::parse(&p.state).is_some_and(PartState::is_open))
            .map(|p| (p.queued_version, p.order_id))
            .collect();
        waiting.sort();
        waiting.dedup();
        waiting.into_iter().map(|(_, id)| id).collect()
    }

    /// The plan with the held parts, the `admitted` waiting ones, and the previous lines of
    /// waiting amendments not admitted.
    pub fn plan(&self, mode: ConsolidationMode, admitted: &BTreeSet<Uuid>) -> Vec<PlannedLine> {
        self.plan_with(mode, admitted, None)
    }

    /// The plan, one order (`only`) asking for so many units of one of its products and nothing
    /// else: how much of a product an order could still have.
    pub fn plan_with(
        &self,
        mode: ConsolidationMode,
        admitted: &BTreeSet<Uuid>,
        only: Option<(Uuid, &str, i64)>,
    ) -> Vec<PlannedLine> {
        let mut needed: BTreeMap<(String, String), (String, i64)> = BTreeMap::new();
        let mut add = |product: &str, offer: &str, name: &str, quantity: i64| {
            needed.entry((product.to_owned(), offer.to_owned())).or_insert((name.to_owned(), 0)).1 += quantity;
        };
        for held in &self.held {
            add(&held.product_iri, &held.offer_iri, &held.name, held.quantity);
        }
        let mut overridden = false;
        for line in &self.demand {
            let state = self.state(line.order_id);
            if !(state == PartState::Reserved || (state.is_open() && admitted.contains(&line.order_id))) {
                continue;
            }
            match only {
                Some((order, product, units)) if order == line.order_id => {
                    if line.product_iri == product && !overridden {
                        overridden = true;
                        add(&line.product_iri, &line.offer_iri, &line.name, units);
                    }
                }
                _ => add(&line.product_iri, &line.offer_iri, &line.name, line.quantity),
            }
        }
        for (order, lines) in &self.fallbacks {
            if self.state(*order).is_open() && !admitted.contains(order) {
                for line in lines {
                    add(&line.product, &line.offer, &line.name, line.quantity);
                }
            }
        }
        let demands = needed
            .into_iter()
            .map(|((product_iri, offer_iri), (name, units))| Demand {
                unit_grams: unit_grams(self.offers.get(&product_iri)),
                product_iri,
                offer_iri,
                name,
                units,
            })
            .collect();
        consolidation::plan(mode, demands, &self.packs, &self.carry)
    }

    /// The name of the pack `product` is ordered in under `mode`, if it is.
    pub fn pack_name_for(&self, mode: ConsolidationMode, product: &str) -> Option<String> {
        if mode != ConsolidationMode::ByWeight {
            return None;
        }
        let pack = self.packs.get(product)?.first()?;
        Some(pack.name.clone())
    }

    /// What one waiting order asks of each product at this producer (its own lines).
    pub fn own_units(&self, order: Uuid) -> BTreeMap<String, i64> {
        let mut units = BTreeMap::new();
        for line in self.demand.iter().filter(|l| l.order_id == order) {
            *units.entry(line.product_iri.clone()).or_default() += line.quantity;
        }
        units
    }
}

/// Producer orders a change queued: those of the groups the mode gathers now, and those of
/// groups an earlier mode left behind (which now lose their lines).
pub(super) struct Queued {
    pub current: Vec<(Uuid, i64)>,
    pub stale: Vec<(Uuid, i64)>,
}

/// What queueing needs to know of a producer, read once per transaction: a batch of checkouts
/// queues the same producer orders again and again, and neither the consolidation mode nor which
/// groups of the other mode are still at the producer changes inside the transaction (queueing
/// bumps them; it does not move them in or out of that set).
#[derive(Default)]
pub(super) struct QueueMemo {
    modes: HashMap<(String, String), ConsolidationMode>,
    stale_groups: HashMap<(Uuid, String), Vec<String>>,
}

impl QueueMemo {
    /// Reads at once what queueing for these producers of sessions will ask: their modes (one
    /// statement for the producers, one for the traders' defaults) and the groups of another
    /// mode they may still hold (one statement), instead of three statements per producer.
    pub(super) async fn prefetch(
        &mut self,
        db: &impl ConnectionTrait,
        producers: &[(&str, Uuid, &str)],
    ) -> Result<(), StoreError> {
        let distinct = |values: Vec<String>| -> Vec<String> {
            let mut values = values;
            values.sort();
            values.dedup();
            values
        };
        let peer_ids = distinct(producers.iter().map(|(_, _, peer)| (*peer).to_owned()).collect());
        let traders = distinct(producers.iter().map(|(trader, _, _)| (*trader).to_owned()).collect());
        let peers: HashMap<String, peer::Model> = peer::Entity::find()
            .filter(peer::Column::Id.is_in(peer_ids.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let needs_default =
            peers.values().any(|p| p.consolidation_mode.as_deref().and_then(ConsolidationMode::parse).is_none());
        let defaults: HashMap<String, ConsolidationMode> = if needs_default {
            trader_setting::Entity::find()
                .filter(trader_setting::Column::EnterpriseId.is_in(traders.clone()))
                .all(db)
                .await?
                .into_iter()
                .map(|s| (s.enterprise_id.clone(), ConsolidationMode::parse(&s.consolidation_mode).unwrap_or_default()))
                .collect()
        } else {
            HashMap::new()
        };
        for (trader, _, peer_id) in producers {
            let peer = peers.get(*peer_id).ok_or_else(|| super::corrupt("an order line of an unknown producer"))?;
            let mode = peer
                .consolidation_mode
                .as_deref()
                .and_then(ConsolidationMode::parse)
                .unwrap_or_else(|| defaults.get(*trader).copied().unwrap_or_default());
            self.modes.insert(((*trader).to_owned(), (*peer_id).to_owned()), mode);
        }
        let mut sessions: Vec<Uuid> = producers.iter().map(|(_, session, _)| *session).collect();
        sessions.sort();
        sessions.dedup();
        let mut held: HashMap<(String, Uuid, String), Vec<producer_order::Model>> = HashMap::new();
        for po in stale_candidates()
            .filter(producer_order::Column::TraderEnterpriseId.is_in(traders))
            .filter(producer_order::Column::SalesSessionId.is_in(sessions))
            .filter(producer_order::Column::PeerId.is_in(peer_ids))
            .all(db)
            .await?
        {
            held.entry((po.trader_enterprise_id.clone(), po.sales_session_id, po.peer_id.clone()))
                .or_default()
                .push(po);
        }
        for (trader, session, peer_id) in producers {
            let mode = self.modes[&((*trader).to_owned(), (*peer_id).to_owned())];
            let orders = held.remove(&((*trader).to_owned(), *session, (*peer_id).to_owned())).unwrap_or_default();
            self.stale_groups.insert((*session, (*peer_id).to_owned()), stale_of(orders, mode));
        }
        Ok(())
    }

    async fn mode(
        &mut self,
        db: &impl ConnectionTrait,
        trader: &str,
        peer_id: &str,
    ) -> Result<ConsolidationMode, StoreError> {
        let key = (trader.to_owned(), peer_id.to_owned());
        if let Some(mode) = self.modes.get(&key) {
            return Ok(*mode);
        }
        let peer = peer::Entity::find_by_id(peer_id.to_owned())
            .one(db)
            .await?
            .ok_or_else(|| super::corrupt("an order line of an unknown producer"))?;
        let mode = mode_of(db, trader, &peer).await?;
        self.modes.insert(key, mode);
        Ok(mode)
    }

    /// The groups of a producer's orders in a session that another mode made and that the
    /// producer may still hold: each change empties them.
    async fn stale_groups(
        &mut self,
        db: &impl ConnectionTrait,
        trader: &str,
        session_id: Uuid,
        peer_id: &str,
        mode: ConsolidationMode,
    ) -> Result<&[String], StoreError> {
        let key = (session_id, peer_id.to_owned());
        if !self.stale_groups.contains_key(&key) {
            let orders = stale_candidates()
                .filter(producer_order::Column::TraderEnterpriseId.eq(trader))
                .filter(producer_order::Column::SalesSessionId.eq(session_id))
                .filter(producer_order::Column::PeerId.eq(peer_id))
                .all(db)
                .await?;
            let groups = stale_of(orders, mode);
            self.stale_groups.insert(key.clone(), groups);
        }
        Ok(self.stale_groups.get(&key).map(Vec::as_slice).unwrap_or_default())
    }
}

/// Held producer orders that may still be at the producer: with a remote order, or a send on its
/// way (one on its way may be placing the old grouping right now; bumped, it is sent again,
/// emptied). Nothing at the producer and no send on its way: nothing to empty.
fn stale_candidates() -> sea_orm::Select<producer_order::Entity> {
    producer_order::Entity::find()
        .filter(producer_order::Column::Status.eq(crate::domain::OrderStatus::Held.dfc_name()))
        .filter(
            sea_orm::Condition::any()
                .add(producer_order::Column::RemoteIri.is_not_null())
                .add(producer_order::Column::DeliveryState.ne(super::trader::DELIVERY_DELIVERED)),
        )
        .filter(producer_order::Column::SettledAt.is_null())
        .order_by_asc(producer_order::Column::GroupKey)
}

/// The groups among `orders` that another mode than `mode` made.
fn stale_of(orders: Vec<producer_order::Model>, mode: ConsolidationMode) -> Vec<String> {
    orders
        .into_iter()
        .filter(|po| (mode == ConsolidationMode::PerCustomerOrder) == (po.group_key == WHOLE_SESSION))
        .map(|po| po.group_key)
        .collect()
}

/// Queues the producer orders of (trader, session, peer) that a change of `customer_orders`
/// affects, under the producer's mode now.
pub(super) async fn queue_groups(
    write: &WriteTxn<'_>,
    memo: &mut QueueMemo,
    trader: &str,
    session_id: Uuid,
    peer_id: &str,
    customer_orders: &[Uuid],
    hold_sends_until: DateTime<Utc>,
) -> Result<Queued, StoreError> {
    let mode = memo.mode(&write.txn, trader, peer_id).await?;
    let groups: Vec<String> = if mode == ConsolidationMode::PerCustomerOrder {
        customer_orders.iter().map(Uuid::to_string).collect()
    } else if customer_orders.is_empty() {
        // A regrouping of a session without orders from this producer: nothing to create.
        Vec::new()
    } else {
        vec![WHOLE_SESSION.to_owned()]
    };
    let mut current = Vec::with_capacity(groups.len());
    for group in &groups {
        current.push(
            super::trader::queue_producer_order(write, trader, session_id, peer_id, group, hold_sends_until).await?,
        );
    }
    let stale_groups = memo.stale_groups(&write.txn, trader, session_id, peer_id, mode).await?;
    let mut stale = Vec::with_capacity(stale_groups.len());
    for group in stale_groups {
        stale.push(
            super::trader::queue_producer_order(write, trader, session_id, peer_id, group, hold_sends_until).await?,
        );
    }
    Ok(Queued { current, stale })
}

/// Queues the producer orders of (trader, session, peer) for new customer orders (a batch of
/// checkouts, in the order they were recorded), each producer order once. Returns, for each
/// customer order, the producer orders that carry it with the version that does: emptied ones
/// (another mode's, which the producer may hold) first, so that the stock they release is free
/// for the others.
pub(super) async fn queue_new_orders(
    write: &WriteTxn<'_>,
    memo: &mut QueueMemo,
    trader: &str,
    session_id: Uuid,
    peer_id: &str,
    customer_orders: &[Uuid],
    hold_sends_until: DateTime<Utc>,
) -> Result<Vec<Vec<(Uuid, i64)>>, StoreError> {
    use super::trader::queue_producer_order_for;
    let mode = memo.mode(&write.txn, trader, peer_id).await?;
    let mut stale = Vec::new();
    for group in memo.stale_groups(&write.txn, trader, session_id, peer_id, mode).await?.to_vec() {
        stale.push(queue_producer_order_for(write, trader, session_id, peer_id, &group, 1, hold_sends_until).await?);
    }
    let mut carried = Vec::with_capacity(customer_orders.len());
    if mode == ConsolidationMode::PerCustomerOrder {
        for order in customer_orders {
            let own =
                queue_producer_order_for(write, trader, session_id, peer_id, &order.to_string(), 1, hold_sends_until)
                    .await?;
            carried.push(stale.iter().copied().chain([own]).collect());
        }
    } else if !customer_orders.is_empty() {
        let changes = i64::try_from(customer_orders.len()).map_err(super::corrupt)?;
        let (whole, last) =
            queue_producer_order_for(write, trader, session_id, peer_id, WHOLE_SESSION, changes, hold_sends_until)
                .await?;
        for position in 0..changes {
            carried.push(stale.iter().copied().chain([(whole, last - changes + 1 + position)]).collect());
        }
    }
    Ok(carried)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(value: Option<&str>, unit: Option<&str>) -> peer_offer::Model {
        peer_offer::Model {
            peer_id: "mill".into(),
            product_iri: "flour".into(),
            offer_iri: "flour-offer".into(),
            name: "Flour".into(),
            sku: None,
            price: "1".into(),
            currency: "EUR".into(),
            vat_rate: "0".into(),
            unit_value: value.map(str::to_owned),
            unit_code: unit.map(str::to_owned),
            available: None,
            pack_of: None,
            pack_units: None,
            fetched_at: Utc::now(),
        }
    }

    #[test]
    fn a_unit_weight_or_why_there_is_none() {
        assert_eq!(unit_grams(Some(&offer(Some("0.5"), Some("Kilogram")))), Ok(Decimal::new(500, 0)));
        assert_eq!(unit_grams(Some(&offer(Some("1"), Some("PoundMass")))), Ok(Decimal::new(45_359_237, 5)));
        let why = |o: Option<&peer_offer::Model>| unit_grams(o).expect_err("no weight");
        assert_eq!(why(None), "the producer no longer lists it");
        assert_eq!(why(Some(&offer(None, None))), "the producer publishes no quantity for it");
        assert_eq!(why(Some(&offer(Some("1"), Some("HalfDozen")))), "it is sold by HalfDozen, not by weight");
        assert_eq!(why(Some(&offer(Some("x"), Some("Gram")))), "its quantity `x` is not a number");
        let huge = "79228162514264337593543950335";
        assert_eq!(
            why(Some(&offer(Some(huge), Some("Tonne")))),
            format!("its published weight ({huge} Tonne) is out of range")
        );
    }
}
