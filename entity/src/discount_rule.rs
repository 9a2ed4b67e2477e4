//! A trader's sales-based discount rule (use case 9). What it looks at, its tiers and its effects
//! are one JSON definition (see `store::discounts`): a rule is read whole, never queried by parts.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "discount_rule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub trader_enterprise_id: String,
    /// Shown to customers.
    pub name: String,
    /// ACTIVE, PAUSED or ARCHIVED.
    pub status: String,
    /// ISO code.
    pub currency: String,
    pub priority: i32,
    /// Schedule, scope, metric, tiers, cap and combination, as JSON.
    pub definition: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
