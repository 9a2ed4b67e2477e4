//! A producer's product as published in its DFC catalogue: one row is a SuppliedProduct, its
//! CatalogItem and its Offer, which share the row's id in their URLs (as Open Food Network does).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub enterprise_id: String,
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    /// Size or weight of one offer unit, decimal text (e.g. "0.4").
    pub unit_value: String,
    /// DFC measure local name of `unit_value` (e.g. "Kilogram", "Piece").
    pub unit_code: String,
    /// Price of one offer unit, decimal text, VAT excluded.
    pub price: String,
    /// ISO 4217 code (EUR, GBP, USD, CAD, AUD).
    pub currency: String,
    /// VAT rate in percent, decimal text.
    pub vat_rate: String,
    /// False: the producer does not count this product's stock; orders are never refused for it.
    pub stock_managed: bool,
    /// Units physically on hand (sales on Complete are taken from it).
    pub on_hand: i64,
    /// Units promised to Held orders and not yet sold.
    pub reserved: i64,
    /// When this product is a wholesale pack of another product of the same enterprise, that product.
    pub pack_of_product_id: Option<i64>,
    /// How many units of `pack_of_product_id` one pack holds.
    pub units_per_pack: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
