//! The axum router: `/graphql` (GraphiQL for browsers), `/api/dfc/...`, `/health`, `/ready`.

mod graphql;
mod live;
pub mod rate_limit;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::dfc::urls::Urls;
use crate::dfc_api::{self, Clients};
use crate::graphql::OrderhubSchema;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub urls: Urls,
    pub clients: Arc<Clients>,
    pub schema: OrderhubSchema,
    pub max_body_bytes: usize,
    /// Origins whose browsers may call `/graphql` (CORS); none: no cross-origin browser.
    pub cors_origins: Vec<String>,
    pub verifier: Arc<crate::auth::Verifier>,
    /// Requests per caller on `/graphql`; none: unlimited.
    pub rate_limiter: Option<Arc<rate_limit::RateLimiter>>,
    /// Operations one batched POST may hold.
    pub max_batch: usize,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub spans: crate::otel::Spans,
    /// Live subscriptions served over WebSocket and SSE end when it closes.
    pub changes: crate::changes::Changes,
}

pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let max_body = state.max_body_bytes;
    let cors = cors(&state.cors_origins);
    let spans = state.spans.clone();
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql_asset))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/ready", get(ready))
        .merge(dfc_api::router())
        .fallback(dfc_api::no_such_route)
        .method_not_allowed_fallback(dfc_api::no_such_method)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        // Outside the routes, so that it answers preflights (OPTIONS) itself.
        .layer(cors)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn_with_state(spans, in_trace))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            // Method and path only: query strings and headers may carry tokens.
            tracing::info_span!(
                "request",
                method = %request.method(),
                path = %request.uri().path(),
                platform = tracing::field::Empty,
                trace_id = tracing::field::Empty
            )
        }))
}

/// Runs the request in the caller's trace (its `traceparent`), as a span of its own, or in a new
/// trace; its log lines carry the trace id.
async fn in_trace(
    State(spans): State<crate::otel::Spans>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let trace = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(crate::trace_context::TraceContext::parse)
        .map_or_else(crate::trace_context::TraceContext::fresh, |caller| caller.child());
    tracing::Span::current().record("trace_id", trace.trace_id());
    if !spans.enabled() {
        return trace.scope(next.run(request)).await;
    }
    let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
    spans
        .traced(trace, next.run(request), |response| {
            let status = response.status();
            crate::otel::Finished {
                name: format!("{method} {path}"),
                kind: opentelemetry::trace::SpanKind::Server,
                attributes: vec![
                    opentelemetry::KeyValue::new("http.request.method", method.clone()),
                    opentelemetry::KeyValue::new("url.path", path.clone()),
                    opentelemetry::KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
                ],
                error: status.is_server_error().then(|| status.to_string()),
            }
        })
        .await
}

/// Cross-origin browsers allowed only from the configured origins, with the headers GraphQL
/// clients send (a JSON body and the preflight headers make every such request preflighted).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| {
            HeaderValue::from_str(origin.trim_end_matches('/'))
                .inspect_err(|_| tracing::warn!(origin = %origin, "not a valid CORS origin; ignored"))
                .ok()
        })
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            header::HeaderName::from_static("apollo-require-preflight"),
            header::HeaderName::from_static("x-apollo-operation-name"),
        ])
        .max_age(Duration::from_secs(600))
}

async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.store.ping().await { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
}

/// GraphiQL, from assets built into the binary: the usual page loads its scripts from a CDN,
/// which a machine without internet access cannot reach.
/// The Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(&state.store, state.changes.live()).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

pub(super) async fn graphiql() -> Html<&'static str> {
    Html(include_str!("../../assets/graphiql/index.html"))
}

async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let (bytes, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../../assets/graphiql/graphiql.min.js.gz"), "text/javascript"),
        "graphiql.min.css" => (include_bytes!("../../assets/graphiql/graphiql.min.css.gz"), "text/css"),
        "react.production.min.js" => {
            (include_bytes!("../../assets/graphiql/react.production.min.js.gz"), "text/javascript")
        }
        "react-dom.production.min.js" => {
            (include_bytes!("../../assets/graphiql/react-dom.production.min.js.gz"), "text/javascript")
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}
