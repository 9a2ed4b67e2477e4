//! One integration-test binary (one link, one build): the producer's DFC API over real HTTP, the
//! DFC reader on real-shaped payloads, the GraphQL subgraph, the command line.
//!
//! Every test gets its own application and database; set `ORDERHUB_TEST_DATABASE_URL` to a
//! PostgreSQL server URL to run the same tests on PostgreSQL.

#![expect(clippy::expect_used, reason = "a test fails loudly on what it does not expect")]

mod access;
mod cli;
mod connector;
mod consolidation;
mod dfc_catalogue;
mod dfc_orders;
mod dfc_reader;
mod discounts;
mod engine_model;
mod fake_producer;
mod graphql;
mod hardening;
mod identity;
mod interop;
mod live;
mod malformed;
mod ofn_client;
mod otlp;
mod platforms;
mod privacy;
mod proxy;
mod recording;
mod reservation;
mod support;
