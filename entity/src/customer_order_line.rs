//! One product of a customer order, from one producer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_order_line")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: Uuid,
    pub peer_id: String,
    pub product_iri: String,
    pub offer_iri: String,
    pub name: String,
    pub quantity: i64,
    /// Unit price VAT excluded, decimal text, as the producer offered it at checkout.
    pub unit_price: String,
    pub currency: String,
    pub vat_rate: String,
    /// What the order's discounts took off this line (decimal text); none: nothing.
    pub discount: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
