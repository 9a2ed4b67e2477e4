//! SeaORM entities, one module per table. These are rows, not API types: the DFC and GraphQL faces
//! convert them into their own shapes.
//!
//! Amounts (prices, VAT rates, unit sizes) are stored as decimal *text*, never as REAL: SQLite would
//! read a REAL back through `f64` and lose digits, so both backends keep the exact value this way.
//! Stock and order quantities are whole numbers of offer units (`i64`), so they can be compared and
//! updated atomically in SQL.

pub mod customer_erasure;
pub mod customer_order;
pub mod customer_order_line;
pub mod discount_rule;
pub mod enterprise;
pub mod held_demand;
pub mod incoming_order;
pub mod incoming_order_line;
pub mod order_part;
pub mod peer;
pub mod peer_offer;
pub mod platform;
pub mod producer_order;
pub mod producer_order_line;
pub mod product;
pub mod sales_session;
pub mod sales_session_peer;
pub mod trader_setting;
