//! Prometheus metrics (`GET /metrics`, the text exposition format), with the `prometheus-client`
//! crate, the Prometheus project's own Rust client: requests and latency by GraphQL operation,
//! errors by code, outbound DFC calls by peer and outcome; and, read from the database when
//! scraped, the outbox's depth and age, FAILED producer orders and the connection pool's use.
//!
//! Labels come from a bounded set: operation names are the client's, so past
//! [`MAX_OPERATION_NAMES`] distinct ones (or for a name that is not a GraphQL name) the label is
//! `other`. No label holds anything about a customer.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::Store;

pub const MAX_OPERATION_NAMES: usize = 100;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    errors: Family<Labels, Counter>,
    peer_calls: Family<Labels, Counter>,
    peer_latency: Family<Labels, Histogram>,
    outbox_depth: Gauge,
    outbox_oldest_seconds: Gauge<f64, AtomicU64>,
    failed_producer_orders: Gauge,
    pool_connections: Gauge,
    pool_idle: Gauge,
    live_subscriptions: Gauge,
    operation_names: Mutex<HashSet<String>>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("orderhub");
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let errors = Family::<Labels, Counter>::default();
        let peer_calls = Family::<Labels, Counter>::default();
        let peer_latency = Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let (outbox_depth, outbox_oldest_seconds, failed_producer_orders, pool_connections, pool_idle) = (
            Gauge::default(),
            Gauge::<f64, AtomicU64>::default(),
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
        );
        registry.register("graphql_requests", "GraphQL operations run, by operation and outcome", requests.clone());
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL operations' duration, by operation",
            latency.clone(),
        );
        registry.register("graphql_errors", "GraphQL errors answered, by code", errors.clone());
        registry.register("peer_calls", "Outbound DFC calls, by peer and outcome", peer_calls.clone());
        registry.register("peer_call_duration_seconds", "Outbound DFC calls' duration, by peer", peer_latency.clone());
        registry.register("outbox_depth", "Producer orders waiting to be sent", outbox_depth.clone());
        registry.register(
            "outbox_oldest_seconds",
            "How long the oldest producer order waiting to be sent has waited",
            outbox_oldest_seconds.clone(),
        );
        registry.register(
            "failed_producer_orders",
            "Producer orders whose sending FAILED",
            failed_producer_orders.clone(),
        );
        registry.register("db_pool_connections", "Database connections open", pool_connections.clone());
        registry.register("db_pool_idle_connections", "Database connections open and idle", pool_idle.clone());
        let live_subscriptions = Gauge::default();
        registry.register(
            "live_subscriptions",
            "Subscriptions this replica serves now (WebSocket and SSE)",
            live_subscriptions.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            errors,
            peer_calls,
            peer_latency,
            outbox_depth,
            outbox_oldest_seconds,
            failed_producer_orders,
            pool_connections,
            pool_idle,
            live_subscriptions,
            operation_names: Mutex::default(),
        }
    }
}

/// Whether `name` is a GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`) of at most 64 characters.
fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The name of the document's first operation (`query Catalogue(...) {`), read without parsing
/// it: what a request without `operationName` runs, when it holds one operation.
pub fn operation_name_in(document: &str) -> Option<&str> {
    let text =
        document.lines().map(|line| line.split('#').next().unwrap_or_default()).find(|l| !l.trim().is_empty())?;
    let mut words = text.trim_start().splitn(2, char::is_whitespace);
    if !matches!(words.next()?, "query" | "mutation" | "subscription") {
        return None;
    }
    let rest = words.next()?.trim_start();
    let end = rest.find(|c: char| c != '_' && !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

impl Metrics {
    /// The label for a GraphQL operation: its name, within the bound.
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name.filter(|n| is_graphql_name(n)) else {
            return if name.is_some() { "other" } else { "anonymous" }.to_owned();
        };
        let mut known = self.operation_names.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.contains(name) || (known.len() < MAX_OPERATION_NAMES && known.insert(name.to_owned())) {
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }

    /// One GraphQL operation answered: its name, how long it took, and its errors' codes.
    pub fn graphql_operation<'c>(
        &self,
        name: Option<&str>,
        elapsed: Duration,
        error_codes: impl Iterator<Item = Option<&'c str>>,
    ) {
        let operation = self.operation_label(name);
        let mut failed = false;
        for code in error_codes {
            failed = true;
            self.errors.get_or_create(&vec![("code", code.unwrap_or("UNCODED").to_owned())]).inc();
        }
        let outcome = if failed { "error" } else { "ok" };
        self.requests.get_or_create(&vec![("operation", operation.clone()), ("outcome", outcome.to_owned())]).inc();
        self.latency.get_or_create(&vec![("operation", operation)]).observe(elapsed.as_secs_f64());
    }

    /// One outbound call to `peer`: `ok`, or its error's code.
    pub fn peer_call(&self, peer: &str, outcome: &str, elapsed: Duration) {
        self.peer_calls.get_or_create(&vec![("peer", peer.to_owned()), ("outcome", outcome.to_owned())]).inc();
        self.peer_latency.get_or_create(&vec![("peer", peer.to_owned())]).observe(elapsed.as_secs_f64());
    }

    /// The exposition, with the database's figures read now.
    pub async fn render(&self, store: &Store, live_subscriptions: usize) -> String {
        self.live_subscriptions.set(i64::try_from(live_subscriptions).unwrap_or(i64::MAX));
        match store.outbox_figures().await {
            Ok(figures) => {
                self.outbox_depth.set(figures.pending);
                self.outbox_oldest_seconds.set(figures.oldest_pending_seconds);
                self.failed_producer_orders.set(figures.failed);
            }
            Err(err) => tracing::warn!(error = %err, "reading the outbox's figures for /metrics"),
        }
        let (open, idle) = store.pool_figures();
        self.pool_connections.set(open);
        self.pool_idle.set(idle);
        let mut text = String::new();
        if let Err(err) = encode(&mut text, &self.registry) {
            tracing::error!(error = %err, "encoding /metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_named_by_its_document_when_the_request_does_not() {
        assert_eq!(operation_name_in("query Catalogue($id: ID!) { x }"), Some("Catalogue"));
        assert_eq!(operation_name_in("# note\n  mutation Place{ x }"), Some("Place"));
        assert_eq!(operation_name_in("{ x }"), None);
        assert_eq!(operation_name_in("query { x }"), None);
        assert_eq!(operation_name_in("query($a: Int) { x }"), None);
    }

    #[test]
    fn operation_labels_stay_bounded() {
        let metrics = Metrics::default();
        assert_eq!(metrics.operation_label(Some("Catalogue")), "Catalogue");
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("not a name")), "other");
        for i in 0..MAX_OPERATION_NAMES * 2 {
            metrics.operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(metrics.operation_label(Some("OneTooMany")), "other");
        assert_eq!(metrics.operation_label(Some("Catalogue")), "Catalogue", "known names keep their label");
    }
}
