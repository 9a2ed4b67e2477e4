//! An order a customer placed with a trader: one payment, products of several producers.
//! Contact details stay here; producers only ever see quantities under the trader's name.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_order")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub trader_enterprise_id: String,
    pub sales_session_id: Uuid,
    /// The customer's id in the subgraph that owns customers.
    pub customer_id: String,
    /// Client-chosen key that makes checkout safe to retry (unique per trader).
    pub idempotency_key: String,
    /// Digest of the checkout request, to tell a retry from a different request reusing the key.
    pub request_digest: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub delivery_address: Option<String>,
    /// ACTIVE, CANCELLED, or REFUSED (a producer could not hold it, or could not be reached
    /// and the trader does not acknowledge orders it has not confirmed).
    pub status: String,
    /// `dfc-v` payment state: Unpaid, Paid, Cancelled.
    pub payment_status: String,
    /// Decimal text, VAT included.
    pub total: String,
    pub currency: String,
    /// The discounts applied when the order was last priced (JSON: rule, name, amount, and the
    /// amount taken off each line by its index); none: no discount.
    pub discounts: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
