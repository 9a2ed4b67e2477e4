//! An order that another platform (a trader) placed with one of our producers over the DFC API.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incoming_order")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The producer that receives the order.
    pub enterprise_id: String,
    /// The calling platform that placed it; only that platform may read or change it.
    pub client_platform_id: String,
    /// `dfc-b:orderedBy` as sent: the buyer enterprise's IRI (never a person).
    pub buyer: Option<String>,
    pub order_number: Option<String>,
    /// The trader's sales session the order belongs to, as the trader named it.
    pub sale_session_ref: Option<String>,
    pub sale_session_begin: Option<DateTimeUtc>,
    pub sale_session_end: Option<DateTimeUtc>,
    /// `dfc-v` order state local name: Held, Complete or Cancelled.
    pub order_status: String,
    /// `dfc-v` fulfilment state local name: Held, Unfulfilled, Fulfilled or Cancelled.
    pub fulfilment_status: String,
    /// Order-level discount as sent, decimal text.
    pub discount: Option<String>,
    /// The client's `Idempotency-Key` on POST: the same key and body give the same order.
    pub idempotency_key: Option<String>,
    /// Digest of the POST body the key came with, to refuse the key with another body.
    pub request_digest: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
