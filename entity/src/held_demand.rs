//! What the producers hold of a session, per producer, product and offer: the lines of the
//! session's active customer orders whose part there is RESERVED, summed. Kept in the same
//! transaction as every change of those parts, so that a producer order's plan reads a few rows
//! instead of the whole session. The full sum over the orders stays the truth:
//! `Store::held_demand_drift` compares the two.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "held_demand")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sales_session_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub peer_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_iri: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_iri: String,
    /// The product's name when it was first held in the session.
    pub name: String,
    /// Units held (0 once every holding order is released).
    pub quantity: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
