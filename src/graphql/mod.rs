//! The GraphQL federation subgraph. This part holds the producer's view: enterprises, their
//! products with stock, and the orders trader platforms placed with them.
//!
//! Errors carry a stable `extensions.code`; database detail is logged, never sent.

pub mod access;
mod consolidation;
mod discounts;
mod federation;
pub mod ftv1;
mod limits;
mod loaders;
mod orders;
mod privacy;
mod producer;
mod producer_orders;
mod propagation;
mod reservation;
mod spans;
mod subscriptions;
mod trader;
mod viewer;

use async_graphql::dataloader::DataLoader;
use async_graphql::{ErrorExtensions, MergedObject, SDLExportOptions, Schema};

use crate::store::{Store, StoreError};
use crate::trader::Trader;

// The query objects merged (a doc comment would become the type's description); `Query` is the
// root that serves them.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryFields(
    producer::ProducerQuery,
    trader::TraderQuery,
    consolidation::ConsolidationQuery,
    reservation::ReservationQuery,
    discounts::DiscountQuery,
    viewer::ViewerQuery,
    privacy::PrivacyQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    trader::TraderMutation,
    consolidation::ConsolidationMutation,
    reservation::ReservationMutation,
    discounts::DiscountMutation,
    privacy::PrivacyMutation,
);

pub use federation::{EntityIndex, Query};

pub use subscriptions::Subscription;

pub type OrderhubSchema = Schema<Query, Mutation, Subscription>;

pub(crate) use limits::{
    CATALOGUE_COST, OverGet, REQUEST_ERRORS, page_cost, runs_mutation, runs_only_subscriptions,
    subscription_needs_stream,
};
use limits::{MAX_COMPLEXITY, MAX_DEPTH};

/// The schema as served. Without `introspection`, `__schema` and `__type` are refused (a
/// gateway composes from the checked-in SDL or `_service`, which stays).
/// Every field is checked against its rule in [`access::RULES`]; `anonymous_browsing` lets
/// callers without a token see sales sessions and their catalogue.
/// Batched loads wait `loader_delay` for more keys. Subscriptions follow `changes`.
pub fn build_schema(
    store: Store,
    trader: Trader,
    changes: crate::changes::Changes,
    introspection: bool,
    anonymous_browsing: bool,
    loader_delay: std::time::Duration,
) -> OrderhubSchema {
    let builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .enable_federation()
        // Gateways that serve subscriptions (Hive Gateway, Apollo Router) plan them from the SDL.
        .enable_subscription_in_federation()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        // Outermost: its trace spans the whole request and holds the errors as answered.
        .extension(ftv1::FederatedTracing)
        .extension(limits::CodedRequestErrors { introspection })
        // Outside the access checks, so that a refused field is null in its place too.
        .extension(propagation::ErrorPropagation)
        .extension(access::Authorisation)
        .extension(spans::RootFieldSpans)
        // Innermost: the others see the document it found by hash.
        .extension(async_graphql::extensions::apollo_persisted_queries::ApolloPersistedQueries::new(
            async_graphql::extensions::apollo_persisted_queries::LruCacheStorage::new(limits::PERSISTED_QUERIES),
        ));
    let builder = if introspection { builder } else { builder.disable_introspection() };
    builder
        .data(DataLoader::new(producer::ProductLoader(store.clone()), tokio::spawn).delay(loader_delay))
        .data(DataLoader::new(producer::IncomingOrderLoader(store.clone()), tokio::spawn).delay(loader_delay))
        .data(DataLoader::new(loaders::TraderLoader(store.clone()), tokio::spawn).delay(loader_delay))
        .data(store)
        .data(trader)
        .data(changes)
        .data(access::Browsing { anonymous: anonymous_browsing })
        .finish()
}

/// The federation SDL, as `orderhub schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .enable_federation()
        // Gateways that serve subscriptions (Hive Gateway, Apollo Router) plan them from the SDL.
        .enable_subscription_in_federation()
        .finish()
        .sdl_with_options(SDLExportOptions::new().federation().compose_directive())
}

/// A store failure as a client sees it: a code, no detail.
/// The stable code an error carries in `extensions.code`, if any.
pub fn error_code(error: &async_graphql::ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

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
