//! The axum router: `/graphql` (GraphiQL for browsers), `/api/dfc/...`, `/health`, `/ready`.

use std::sync::Arc;
use std::time::Duration;

use async_graphql_axum::GraphQLRequest;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
}

pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let max_body = state.max_body_bytes;
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphiql/{file}", get(graphiql_asset))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .merge(dfc_api::router())
        .fallback(dfc_api::no_such_route)
        .method_not_allowed_fallback(dfc_api::no_such_method)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                // Method and path only: query strings and headers may carry tokens.
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), platform = tracing::field::Empty)
            }),
        )
}

async fn ready(State(state): State<AppState>) -> StatusCode {
    if state.store.ping().await { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
}

/// GraphiQL, from assets built into the binary: the usual page loads its scripts from a CDN,
/// which a machine without internet access cannot reach.
async fn graphiql() -> Html<&'static str> {
    Html(include_str!("../assets/graphiql/index.html"))
}

async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let (bytes, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../assets/graphiql/graphiql.min.js.gz"), "text/javascript"),
        "graphiql.min.css" => (include_bytes!("../assets/graphiql/graphiql.min.css.gz"), "text/css"),
        "react.production.min.js" => {
            (include_bytes!("../assets/graphiql/react.production.min.js.gz"), "text/javascript")
        }
        "react-dom.production.min.js" => {
            (include_bytes!("../assets/graphiql/react-dom.production.min.js.gz"), "text/javascript")
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

/// Executes a GraphQL request, answering `application/graphql-response+json` only to clients
/// that ask for it and plain `application/json` to everyone else (gateways and older clients
/// reject the newer media type).
async fn graphql(State(state): State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> Response {
    let response = state.schema.execute(request.into_inner()).await;
    let wants_graphql_response = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/graphql-response+json"));
    let content_type = if wants_graphql_response { "application/graphql-response+json" } else { "application/json" };
    let status = if wants_graphql_response && response.data == async_graphql::Value::Null && response.is_err() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match serde_json::to_vec(&response) {
        Ok(body) => {
            let mut http = (status, body).into_response();
            http.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            http
        }
        Err(err) => {
            tracing::error!(error = %err, "serialising a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
