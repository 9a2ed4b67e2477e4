//! Database migrations. Applied by `orderhub migrate` and on every `orderhub serve` start.
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_core;
mod m20261125_000002_trader;
mod m20261125_000003_consolidation;
mod m20261201_000004_reservation;
mod m20261202_000005_open_parts;
mod m20261203_000006_wire_profile;
mod m20261204_000007_discounts;
mod m20261205_000008_erasure;
mod m20261206_000009_change_feed;
mod m20261207_000010_order_pages;
mod m20261208_000011_held_demand;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_core::Migration),
            Box::new(m20261125_000002_trader::Migration),
            Box::new(m20261125_000003_consolidation::Migration),
            Box::new(m20261201_000004_reservation::Migration),
            Box::new(m20261202_000005_open_parts::Migration),
            Box::new(m20261203_000006_wire_profile::Migration),
            Box::new(m20261204_000007_discounts::Migration),
            Box::new(m20261205_000008_erasure::Migration),
            Box::new(m20261206_000009_change_feed::Migration),
            Box::new(m20261207_000010_order_pages::Migration),
            Box::new(m20261208_000011_held_demand::Migration),
        ]
    }
}
