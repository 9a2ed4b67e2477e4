//! The GraphQL federation subgraph. This part holds the producer's view: enterprises, their
//! products with stock, and the orders trader platforms placed with them.
//!
//! Errors carry a stable `extensions.code`; database detail is logged, never sent.

mod consolidation;
mod discounts;
mod loaders;
mod orders;
mod producer;
mod producer_orders;
mod reservation;
mod trader;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, ErrorExtensions, MergedObject, SDLExportOptions, Schema};

use crate::store::{Store, StoreError};
use crate::trader::Trader;

#[derive(MergedObject, Default)]
pub struct Query(
    producer::ProducerQuery,
    trader::TraderQuery,
    consolidation::ConsolidationQuery,
    reservation::ReservationQuery,
    discounts::DiscountQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    trader::TraderMutation,
    consolidation::ConsolidationMutation,
    reservation::ReservationMutation,
    discounts::DiscountMutation,
);

pub type OrderhubSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deepest and most complex query we answer: enough for every screen and for the introspection
/// query GraphiQL and gateways send (its type references nest ten levels), too little for abuse.
const MAX_DEPTH: usize = 20;
const MAX_COMPLEXITY: usize = 5_000;

pub fn build_schema(store: Store, trader: Trader) -> OrderhubSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .enable_federation()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .data(DataLoader::new(producer::ProductLoader(store.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::TraderLoader(store.clone()), tokio::spawn))
        .data(store)
        .data(trader)
        .finish()
}

/// The federation SDL, as `orderhub schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .enable_federation()
        .finish()
        .sdl_with_options(SDLExportOptions::new().federation().compose_directive())
}

/// A store failure as a client sees it: a code, no detail.
pub(crate) fn store_error(err: StoreError) -> async_graphql::Error {
    match err {
        StoreError::Busy => {
            async_graphql::Error::new("the service is busy; retry shortly").extend_with(|_, e| e.set("code", "BUSY"))
        }
        other => {
            tracing::error!(error = %other, "store failure in GraphQL");
            async_graphql::Error::new("internal error").extend_with(|_, e| e.set("code", "INTERNAL"))
        }
    }
}
