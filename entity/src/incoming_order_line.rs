//! One product of an incoming order. At most one line per product and order.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incoming_order_line")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub product_id: i64,
    /// Offer units ordered.
    pub quantity: i64,
    /// Units of `quantity` currently reserved in the product's stock (0 when stock is not managed,
    /// or once the order is completed or cancelled). Releasing exactly this keeps stock consistent
    /// even if the product's stock management is switched meanwhile.
    pub reserved: i64,
    /// Unit price at the time of ordering, decimal text.
    pub unit_price: String,
    pub currency: String,
    pub vat_rate: String,
    /// Line discount as sent (an absolute amount), decimal text.
    pub discount: Option<String>,
    pub description: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
