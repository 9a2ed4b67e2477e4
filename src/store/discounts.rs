//! A trader's discount rules. A rule's schedule, scope, metric, tiers, cap and combination are
//! kept as one JSON definition: rules are few per trader, read whole, and priced in memory.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{discount_rule, peer, peer_offer};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::Currency;
use crate::domain::discounts::{Combination, Metric, Rule, Schedule, Scope, Tier};

pub const RULE_ACTIVE: &str = "ACTIVE";
pub const RULE_PAUSED: &str = "PAUSED";
pub const RULE_ARCHIVED: &str = "ARCHIVED";

/// Everything of a rule but its name, priority and currency (which have columns).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDefinition {
    pub schedule: Schedule,
    pub scope: Scope,
    pub metric: Metric,
    pub tiers: Vec<Tier>,
    pub cap: Option<Decimal>,
    pub combination: Combination,
}

/// A rule as a trader writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub name: String,
    pub currency: Currency,
    pub priority: i32,
    pub definition: RuleDefinition,
}

impl RuleSpec {
    pub fn rule(&self, id: &str) -> Rule {
        Rule {
            id: id.to_owned(),
            name: self.name.trim().to_owned(),
            currency: self.currency,
            scope: self.definition.scope.clone(),
            metric: self.definition.metric,
            tiers: self.definition.tiers.clone(),
            cap: self.definition.cap,
            priority: self.priority,
            combination: self.definition.combination,
        }
    }
}

/// A stored rule, read back.
pub fn parse_rule(model: &discount_rule::Model) -> Result<(Rule, RuleDefinition), StoreError> {
    let definition: RuleDefinition = serde_json::from_str(&model.definition)
        .map_err(|e| StoreError::Corrupt(format!("discount rule {}: {e}", model.id)))?;
    let currency = Currency::from_name(&model.currency)
        .ok_or_else(|| StoreError::Corrupt(format!("discount rule {}: currency {}", model.id, model.currency)))?;
    let spec = RuleSpec { name: model.name.clone(), currency, priority: model.priority, definition };
    Ok((spec.rule(&model.id.to_string()), spec.definition))
}

impl Store {
    pub async fn create_discount_rule(
        &self,
        trader: &str,
        spec: &RuleSpec,
    ) -> Result<discount_rule::Model, StoreError> {
        let now = Utc::now();
        let model = discount_rule::ActiveModel {
            id: Set(Uuid::new_v4()),
            trader_enterprise_id: Set(trader.to_owned()),
            name: Set(spec.name.trim().to_owned()),
            status: Set(RULE_ACTIVE.to_owned()),
            currency: Set(spec.currency.iso_code().to_owned()),
            priority: Set(spec.priority),
            definition: Set(definition_json(&spec.definition)?),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let write = self.begin_write().await?;
        let created = model.insert(&write.txn).await?;
        write.commit().await?;
        Ok(created)
    }

    /// Replaces a rule's terms; orders already placed keep what they were given.
    pub async fn update_discount_rule(
        &self,
        id: Uuid,
        spec: &RuleSpec,
    ) -> Result<Option<discount_rule::Model>, StoreError> {
        let write = self.begin_write().await?;
        let Some(found) = discount_rule::Entity::find_by_id(id).one(&write.txn).await? else { return Ok(None) };
        let mut active: discount_rule::ActiveModel = found.into();
        active.name = Set(spec.name.trim().to_owned());
        active.currency = Set(spec.currency.iso_code().to_owned());
        active.priority = Set(spec.priority);
        active.definition = Set(definition_json(&spec.definition)?);
        active.updated_at = Set(Utc::now());
        let updated = active.update(&write.txn).await?;
        write.commit().await?;
        Ok(Some(updated))
    }

    pub async fn set_discount_rule_status(
        &self,
        id: Uuid,
        status: &str,
    ) -> Result<Option<discount_rule::Model>, StoreError> {
        let write = self.begin_write().await?;
        let Some(found) = discount_rule::Entity::find_by_id(id).one(&write.txn).await? else { return Ok(None) };
        let mut active: discount_rule::ActiveModel = found.into();
        active.status = Set(status.to_owned());
        active.updated_at = Set(Utc::now());
        let updated = active.update(&write.txn).await?;
        write.commit().await?;
        Ok(Some(updated))
    }

    pub async fn discount_rule(&self, id: Uuid) -> Result<Option<discount_rule::Model>, StoreError> {
        Ok(discount_rule::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// A trader's rules, by priority; archived ones only when asked for.
    pub async fn discount_rules(
        &self,
        trader: &str,
        with_archived: bool,
    ) -> Result<Vec<discount_rule::Model>, StoreError> {
        let mut query = discount_rule::Entity::find().filter(discount_rule::Column::TraderEnterpriseId.eq(trader));
        if !with_archived {
            query = query.filter(discount_rule::Column::Status.ne(RULE_ARCHIVED));
        }
        Ok(query
            .order_by_desc(discount_rule::Column::Priority)
            .order_by_asc(discount_rule::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    /// The active rules of a trader whose schedule holds for `session` at `at`. A rule that cannot
    /// be read is left out (and logged) rather than stopping every checkout.
    pub async fn rules_in_force(
        &self,
        trader: &str,
        session: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Vec<Rule>, StoreError> {
        let models = discount_rule::Entity::find()
            .filter(discount_rule::Column::TraderEnterpriseId.eq(trader))
            .filter(discount_rule::Column::Status.eq(RULE_ACTIVE))
            .all(&self.db)
            .await?;
        let session = session.to_string();
        Ok(models
            .iter()
            .filter_map(|model| match parse_rule(model) {
                Ok((rule, definition)) => definition.schedule.in_force(at, &session).then_some(rule),
                Err(error) => {
                    tracing::error!(rule = %model.id, %error, "unreadable discount rule left out");
                    None
                }
            })
            .collect())
    }

    /// The currencies a trader's producers price in (ISO codes), as their catalogues last said.
    pub async fn trader_currencies(&self, trader: &str) -> Result<BTreeSet<String>, StoreError> {
        let peers: Vec<String> = peer::Entity::find()
            .select_only()
            .column(peer::Column::Id)
            .filter(peer::Column::TraderEnterpriseId.eq(trader))
            .into_tuple()
            .all(&self.db)
            .await?;
        let currencies: Vec<String> = peer_offer::Entity::find()
            .select_only()
            .column(peer_offer::Column::Currency)
            .distinct()
            .filter(peer_offer::Column::PeerId.is_in(peers))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(currencies.into_iter().collect())
    }
}

fn definition_json(definition: &RuleDefinition) -> Result<String, StoreError> {
    serde_json::to_string(definition).map_err(|e| StoreError::Corrupt(e.to_string()))
}
