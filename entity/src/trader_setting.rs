//! A trader enterprise's settings: how its customer orders are consolidated into producer orders
//! (overridable per producer on `peer`), and whether orders a producer has not confirmed in time
//! are acknowledged.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trader_setting")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub enterprise_id: String,
    /// PER_CUSTOMER_ORDER, PER_SESSION or BY_WEIGHT.
    pub consolidation_mode: String,
    /// What checkout does with a part not confirmed in time (`acknowledge_uncounted`,
    /// `acknowledge`, `withdraw`); none: the deployment's `unconfirmed_orders`.
    pub unconfirmed_orders: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
