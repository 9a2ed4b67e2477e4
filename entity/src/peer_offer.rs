//! The last catalogue a peer published, one row per offer: what checkout prices and validates
//! against when the peer is slow or down.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "peer_offer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub peer_id: String,
    /// The SuppliedProduct's IRI at the peer: what lines are matched by.
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_iri: String,
    pub offer_iri: String,
    pub name: String,
    pub sku: Option<String>,
    /// Decimal text.
    pub price: String,
    pub currency: String,
    pub vat_rate: String,
    pub unit_value: Option<String>,
    pub unit_code: Option<String>,
    /// Units available as last published; None when the producer does not manage stock.
    pub available: Option<String>,
    /// The product this one is a pack of (linked by an AsPlannedTransformation), and how many
    /// of it the pack holds.
    pub pack_of: Option<String>,
    pub pack_units: Option<i64>,
    pub fetched_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
