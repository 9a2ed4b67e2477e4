//! OpenTelemetry export: a trader configured with an OTLP endpoint sends its spans there over
//! HTTP (protobuf), read here by a collector stand-in with the OpenTelemetry protocol's own types.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind};
use prost::Message;
use serde_json::{Value, json};

use crate::platforms::{CUSTOMER_ADDRESS, CUSTOMER_EMAIL, CUSTOMER_NAME, platforms_with};

/// A collector's `/v1/traces`: keeps every export's bytes.
struct Collector {
    url: String,
    exports: Arc<Mutex<Vec<Bytes>>>,
}

impl Collector {
    async fn start() -> Collector {
        let exports: Arc<Mutex<Vec<Bytes>>> = Arc::default();
        let kept = exports.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let kept = kept.clone();
                async move {
                    kept.lock().expect("lock").push(body);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/v1/traces", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { url, exports }
    }

    fn spans(&self) -> Vec<Span> {
        let exports = self.exports.lock().expect("lock");
        exports
            .iter()
            .flat_map(|body| ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf").resource_spans)
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans)
            .collect()
    }

    fn raw(&self) -> Vec<u8> {
        self.exports.lock().expect("lock").iter().flat_map(|b| b.to_vec()).collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A checkout made in the caller's trace is exported as one tree in that trace: the request
/// (SERVER, child of the caller's span), its GraphQL operation, its SQL statements, and its calls
/// to both producers (CLIENT), whose span ids are those the producers received in `traceparent`.
/// No span is orphaned, and no customer detail is in what was exported.
#[tokio::test]
async fn a_checkout_is_exported_as_one_tree_of_spans_in_the_callers_trace() {
    let collector = Collector::start().await;
    let p = platforms_with(|c| c.otlp_endpoint = Some(collector.url.clone())).await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let (trace, caller_span) = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let checkout = "mutation Checkout($input: CheckoutInput!) { checkout(input: $input) { id status } }";
    let answer: Value = p
        .trader
        .http
        .post(p.trader.url("/graphql"))
        .bearer_auth(p.trader.operator_token().expect("token"))
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .json(&json!({"query": checkout, "variables": {"input": {
            "idempotencyKey": "traced", "salesSessionId": p.session, "customerId": "customer-42",
            "contact": {"name": CUSTOMER_NAME, "email": CUSTOMER_EMAIL, "address": CUSTOMER_ADDRESS},
            "lines": [{"offerId": carrots, "quantity": 2}, {"offerId": flour, "quantity": 1}]}}}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert!(answer.get("errors").is_none(), "{answer}");

    // The batch processor sends every few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let spans: Vec<Span> = collector.spans().into_iter().filter(|s| hex(&s.trace_id) == trace).collect();
        let calls = spans.iter().filter(|s| s.kind == SpanKind::Client as i32 && s.name.starts_with("DFC ")).count();
        if spans.iter().any(|s| s.kind == SpanKind::Server as i32) && calls >= 2 {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans never arrived: {spans:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let server = spans.iter().find(|s| s.kind == SpanKind::Server as i32).expect("server span");
    assert_eq!(server.name, "POST /graphql");
    assert_eq!(hex(&server.parent_span_id), caller_span, "the request is a child of the caller's span");
    let operation = spans.iter().find(|s| s.name == "GraphQL Checkout").expect("operation span");
    assert_eq!(operation.parent_span_id, server.span_id);
    let field = spans.iter().find(|s| s.name == "Mutation.checkout").expect("root field span");
    assert_eq!(field.parent_span_id, operation.span_id);
    let under_field = |span: &Span| span.parent_span_id == field.span_id;
    assert!(spans.iter().filter(|s| s.name.starts_with("DFC ")).all(under_field), "the checkout's calls nest under it");
    let sql: Vec<&Span> =
        spans.iter().filter(|s| s.name.ends_with(" sqlite") || s.name.ends_with(" postgresql")).collect();
    assert!(sql.iter().any(|s| s.name.starts_with("INSERT")), "statements are spans: {sql:?}");
    let ids: std::collections::BTreeSet<String> = spans.iter().map(|s| hex(&s.span_id)).collect();
    for span in &spans {
        let parent = hex(&span.parent_span_id);
        assert!(
            parent == caller_span || ids.contains(&parent),
            "{} has a parent that was exported: {span:?}",
            span.name
        );
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano, "{span:?}");
    }
    // Each producer received, as its caller, the very span exported for the call.
    for proxy in [&p.farm_proxy, &p.mill_proxy] {
        let received = proxy.received().to_lowercase();
        let sent: Vec<String> = received
            .lines()
            .filter_map(|line| line.strip_prefix(&format!("traceparent: 00-{trace}-")))
            .map(|rest| rest[..16].to_owned())
            .collect();
        assert!(!sent.is_empty(), "the producer was called in the trace: {received}");
        for span_id in sent {
            let call = spans.iter().find(|s| hex(&s.span_id) == span_id).unwrap_or_else(|| panic!("{span_id}"));
            assert_eq!(call.kind, SpanKind::Client as i32, "{call:?}");
        }
    }
    let raw = String::from_utf8_lossy(&collector.raw()).into_owned();
    for detail in [CUSTOMER_NAME, CUSTOMER_EMAIL, CUSTOMER_ADDRESS] {
        assert!(!raw.contains(detail), "no customer detail in exported spans");
    }
}
