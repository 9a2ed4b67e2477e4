//! A customer order's part at one producer: whether that producer holds it. The reservation
//! engine moves it from PENDING to RESERVED or REFUSED (or UNCONFIRMED while the producer cannot
//! be reached); the customer is told each part's state.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_part")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub peer_id: String,
    /// PENDING, RESERVED, REFUSED, UNCONFIRMED or RELEASED.
    pub state: String,
    /// The producer order's version that first carried this state of the part: a send of that
    /// version or a later one decides it.
    pub queued_version: i64,
    /// When refused for stock: JSON `[{"product", "requested", "available"}]`, per product of
    /// this part, `available` being what was really left for it.
    pub shortages: Option<String>,
    /// While an amendment is pending: the part's lines before it (JSON), which the producer holds
    /// and keeps if the amendment does not fit.
    pub fallback_lines: Option<String>,
    /// Why a part was refused or is unconfirmed (stable code, then detail), for the trader.
    pub reason: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
