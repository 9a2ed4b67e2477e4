//! Pure rules with no I/O: money and discounts, units, quantities and the order state machine. Everything here
//! is a value type parsed once at the edge, so code inside never re-checks it.

pub mod consolidation;
pub mod discounts;
pub mod money;
pub mod order;
pub mod quantity;
pub mod reservation;
pub mod units;

pub use consolidation::ConsolidationMode;
pub use money::{Currency, Price};
pub use order::{FulfilmentStatus, OrderStatus, PaymentStatus, StatusChange};
pub use quantity::Quantity;
pub use reservation::PartState;
pub use units::Unit;
