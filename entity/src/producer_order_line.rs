//! A line a producer order last said (what the producer acknowledged), with how it was derived
//! from the customers' needs: by count, by weight, or rounded up to whole packs.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "producer_order_line")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub producer_order_id: Uuid,
    /// The product customers ordered.
    pub product_iri: String,
    /// The product ordered from the producer: the same one, or a pack of it.
    pub ordered_product_iri: String,
    pub offer_iri: String,
    pub name: String,
    /// Units of the ordered offer; 0 when carried-over stock covers the need.
    pub quantity: i64,
    /// Units of `product_iri` the customers need.
    pub needed_units: i64,
    /// Their weight in grams (decimal text), when the product's weight is known.
    pub needed_grams: Option<String>,
    /// Grams taken from the trader's carried-over stock, and grams of pack excess added to it.
    pub carry_used_grams: String,
    pub carry_added_grams: String,
    /// COUNT, WEIGHT or PACK.
    pub basis: String,
    /// Why a line is not by weight or pack when the mode asked for it.
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
