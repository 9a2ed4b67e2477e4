//! A producer platform a trader buys from: where its DFC API is, which enterprise there, and the
//! token and deadline our calls use. Loaded from configuration at start.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "peer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The local trader enterprise that buys from this producer.
    pub trader_enterprise_id: String,
    pub name: String,
    /// Base URL of the producer's platform (`{base}/api/dfc/enterprises/{enterprise}/...`).
    pub base_url: String,
    /// The producer's enterprise id on that platform.
    pub enterprise: String,
    /// Deadline of every call to this peer, in milliseconds.
    pub timeout_ms: i64,
    /// Overrides the trader's consolidation mode for this producer.
    pub consolidation_mode: Option<String>,
    /// How its platform names DFC resources (`ofn` or `shopify`); none: detected on first contact.
    pub url_scheme: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
