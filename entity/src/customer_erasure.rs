//! A customer's personal data erased (GDPR): who asked, when, how many orders it touched. It
//! holds none of the data it removed.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_erasure")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The customer whose contact details were removed; none for a retention sweep.
    pub customer_id: Option<String>,
    /// The trader whose orders it touched; none: every trader's.
    pub trader_enterprise_id: Option<String>,
    /// `request` (the customer's or on their behalf) or `retention`.
    pub reason: String,
    /// Who asked: the token's issuer and subject, or `retention`.
    pub requested_by: String,
    pub orders: i64,
    pub erased_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
