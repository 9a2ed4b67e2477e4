//! An order a trader keeps with a producer for a sales session: derived from the active customer
//! orders of (trader, session, producer), all of them or one (see `group_key`), and delivered
//! whole to the producer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "producer_order")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub trader_enterprise_id: String,
    pub sales_session_id: Uuid,
    pub peer_id: String,
    /// Which customer orders it gathers: empty for the whole session, or one customer order's id
    /// (PER_CUSTOMER_ORDER consolidation).
    pub group_key: String,
    /// The order's IRI at the producer, once the producer has assigned it.
    pub remote_iri: Option<String>,
    /// `dfc-v` order state at the producer: Held, Complete or Cancelled.
    pub status: String,
    /// What the producer last said it does with the order (`dfc-v` fulfilment state, e.g.
    /// Unfulfilled once complete), when it said.
    pub fulfilment_status: Option<String>,
    /// Incremented by every change of the customer orders it derives from.
    pub version: i64,
    /// The version the producer last acknowledged.
    pub delivered_version: i64,
    /// PENDING (a send is queued), DELIVERED, or FAILED (needs a person).
    pub delivery_state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// When its last send after the session closed was acknowledged: its lines are final, and
    /// the pack excess they carry over is the trader's stock.
    pub settled_at: Option<DateTimeUtc>,
    /// The version of the last send that failed: a checkout whose change it carried learns the
    /// failure from it instead of sending again (one attempt per outage, not one per checkout).
    pub attempted_version: i64,
    /// Set before a POST leaves: if its answer is lost, the next send first looks for the order at
    /// the producer (by `dfc-b:orderNumber`) instead of creating a second one.
    pub post_started_at: Option<DateTimeUtc>,
    /// Since when sends have been failing (reset by a delivery): the retry budget is a time.
    pub failing_since: Option<DateTimeUtc>,
    /// The ids the order's lines go by at the producer (JSON, see `trader::lines::LineIds`): ours
    /// until the producer names them, then the producer's own.
    pub remote_lines: Option<String>,
    /// What the producer says it takes off (its `dfc-b:discount`s, JSON: the order's total and
    /// each line's, by the product ordered); none: nothing.
    pub remote_discounts: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
