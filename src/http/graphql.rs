//! `/graphql` over HTTP, refusing what a browser could send from another site, bodies over the
//! limit and mutations over GET, each with a coded JSON error.
//!
//! Cross-site request forgery is prevented as Apollo Router and Apollo Server do it: a request
//! runs only if a browser would have had to ask first (a preflight), that is if its
//! `Content-Type` is not one of the three a form can send (`text/plain`,
//! `application/x-www-form-urlencoded`, `multipart/form-data`, or none), or if it carries a
//! non-empty `apollo-require-preflight` or `x-apollo-operation-name` header. Bodies are JSON.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Body;

use crate::metrics::operation_name_in;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::auth::{AuthError, Identity, bearer_token};
use crate::graphql::{REQUEST_ERRORS, ftv1};
use crate::trader::CatalogueMemo;

const PREFLIGHT_HEADERS: [&str; 2] = ["apollo-require-preflight", "x-apollo-operation-name"];

/// A refusal before any execution, shaped as GraphQL errors so that clients show it.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The media type of the body, lower case, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Whether a browser would have sent a preflight request before this one.
fn preflighted(headers: &HeaderMap) -> bool {
    let simple = matches!(
        media_type(headers).as_deref(),
        None | Some("text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data")
    );
    !simple
        || PREFLIGHT_HEADERS
            .iter()
            .any(|name| headers.get(*name).is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace)))
}

fn csrf_refusal() -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "CSRF_PREVENTED",
        "this request could have been sent by a page of another site: send it as application/json, \
         or with an `apollo-require-preflight` header",
    )
}

pub(super) async fn post(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !preflighted(&headers) {
        return csrf_refusal();
    }
    // JSON, or text/plain that a client marked as preflighted (some send JSON so).
    if !matches!(media_type(&headers).as_deref(), Some("application/json" | "text/plain")) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "a GraphQL request is a JSON body (Content-Type: application/json)",
        );
    }
    let limit = state.max_body_bytes;
    let too_large =
        || refusal(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", &format!("the body is over {limit} bytes"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return too_large();
    }
    // The limit holds for bodies sent without a length too: reading stops past it.
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let inner = err.into_inner();
            if inner.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                return too_large();
            }
            tracing::info!(error = %inner, "a GraphQL body could not be read");
            return refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", "the body could not be read");
        }
    };
    let operations = if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        match serde_json::from_slice::<Vec<async_graphql::Request>>(&bytes) {
            Ok(batch) if batch.is_empty() => {
                return refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", "a batch holds at least one operation");
            }
            Ok(batch) if batch.len() > state.max_batch => {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "BATCH_TOO_LARGE",
                    &format!("a batch holds at most {} operations", state.max_batch),
                );
            }
            Ok(batch) => Operations::Batch(batch),
            Err(err) => {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    &format!("a batch is a JSON array of objects with a `query` string: {err}"),
                );
            }
        }
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(request) if super::live::wants_event_stream(&headers) => {
                return streamed(&state, peer, &headers, request).await;
            }
            Ok(request) => Operations::One(Box::new(request)),
            Err(err) => {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    &format!("a GraphQL request is a JSON object with a `query` string: {err}"),
                );
            }
        }
    };
    execute(&state, peer, &headers, operations).await
}

/// GET runs queries (with their parameters in the URL) for clients that mark them preflighted,
/// and subscriptions as event streams or WebSockets; a browser that opens `/graphql` gets
/// GraphiQL.
pub(super) async fn get(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned().map(Extension);
    if super::live::is_upgrade(&parts.headers) {
        return upgrade(&state, peer, &mut parts).await;
    }
    let headers = &parts.headers;
    let query = parts.uri.query().unwrap_or_default();
    // A query, or a persisted query's hash.
    let has_query = query.split('&').any(|pair| pair.starts_with("query=") || pair.starts_with("extensions="));
    if !has_query {
        return super::graphiql().await.into_response();
    }
    let request = match async_graphql::http::parse_query_string(query) {
        Ok(request) => request,
        Err(err) => return refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("invalid parameters: {err}")),
    };
    let event_stream = super::live::wants_event_stream(headers);
    // An unparsable query runs neither: its execution answers the parse error (a persisted
    // query's is checked once it is found).
    let document = async_graphql::parser::parse_query(&request.query).ok();
    let runs = |check: fn(&_, Option<&str>) -> bool| {
        document.as_ref().is_some_and(|document| check(document, request.operation_name.as_deref()))
    };
    // A subscription changes nothing, and another site's page cannot read its stream (CORS):
    // gateways open them with a plain GET.
    let harmless = event_stream && runs(crate::graphql::runs_only_subscriptions);
    if !harmless && !preflighted(headers) {
        return csrf_refusal();
    }
    if runs(crate::graphql::runs_mutation) {
        let mut response = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "MUTATION_OVER_GET",
            "mutations are sent with POST, never with GET",
        );
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let request = {
        let operation = request.operation_name.clone();
        request.data(crate::graphql::OverGet(operation))
    };
    if event_stream {
        return streamed(&state, peer, headers, request).await;
    }
    execute(&state, peer, headers, Operations::One(Box::new(request))).await
}

/// A WebSocket for subscriptions (and any operation), once its caller is admitted.
async fn upgrade(
    state: &AppState,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    parts: &mut axum::http::request::Parts,
) -> Response {
    use axum::extract::FromRequestParts;
    let identity = match admitted(state, peer, &parts.headers, 1).await {
        Ok(identity) => identity,
        Err(refused) => return refused,
    };
    let Ok(protocol) = async_graphql_axum::GraphQLProtocol::from_request_parts(parts, state).await else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "a GraphQL WebSocket names its protocol: Sec-WebSocket-Protocol: graphql-transport-ws",
        );
    };
    match axum::extract::WebSocketUpgrade::from_request_parts(parts, state).await {
        Ok(upgrade) => super::live::websocket(state, identity, upgrade, protocol),
        Err(rejection) => refusal(rejection.status(), "BAD_REQUEST", &rejection.body_text()),
    }
}

/// Whether the client prefers `application/graphql-response+json` (listed with a quality above
/// 0, and not below `application/json`'s).
fn accepts_graphql_response(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return false };
    let quality = |wanted: &str| -> Option<f32> {
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?;
                if !media.eq_ignore_ascii_case(wanted) {
                    return None;
                }
                let q = parts.find_map(|p| p.strip_prefix("q=")).map_or(Some(1.0), |q| q.parse::<f32>().ok())?;
                Some(q)
            })
            .reduce(f32::max)
    };
    match quality("application/graphql-response+json") {
        Some(q) if q > 0.0 => quality("application/json").is_none_or(|json| q >= json),
        _ => false,
    }
}

/// `429 RATE_LIMITED` with `Retry-After` when `caller` has used up their requests for now.
fn rate_limited(state: &AppState, caller: &str) -> Option<Response> {
    let wait = state.rate_limiter.as_ref()?.take(caller).err()?;
    let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "too many requests; retry later");
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(response)
}

/// The caller a bearer token proves; none without a token. A token that does not verify is
/// refused outright, never taken as anonymous.
async fn identity(state: &AppState, headers: &HeaderMap) -> Result<Option<Identity>, AuthError> {
    match bearer_token(headers)? {
        Some(token) => state.verifier.verify(token).await.map(Some),
        None => Ok(None),
    }
}

/// Operations a client sends: one, or a batch (a JSON array, as Apollo Router's subgraph batching
/// sends them).
enum Operations {
    One(Box<async_graphql::Request>),
    Batch(Vec<async_graphql::Request>),
}

/// Who is calling, once their token verifies and they are within their rate (one request of the
/// limit per operation); otherwise the refusal to answer.
async fn admitted(
    state: &AppState,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    operations: usize,
) -> Result<Option<Identity>, Response> {
    let identity = match identity(state, headers).await {
        Ok(identity) => identity,
        Err(err) => {
            tracing::info!(reason = %err, "a token was refused");
            let mut response =
                refusal(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "the bearer token is not valid here");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            return Err(response);
        }
    };
    let caller = match &identity {
        Some(identity) => format!("{} {}", identity.issuer, identity.subject),
        None => peer.map_or_else(|| "unknown".to_owned(), |Extension(ConnectInfo(addr))| addr.ip().to_string()),
    };
    for _ in 0..operations {
        if let Some(refused) = rate_limited(state, &caller) {
            return Err(refused);
        }
    }
    Ok(identity)
}

/// What every operation is given, however it arrives: the request's catalogue memo, an index of
/// its entities, and its caller.
pub(super) fn with_request_data(
    request: async_graphql::Request,
    memo: CatalogueMemo,
    identity: Option<&Identity>,
) -> async_graphql::Request {
    let request = request.data(memo).data(crate::graphql::EntityIndex::default());
    match identity {
        Some(identity) => request.data(identity.clone()),
        None => request,
    }
}

/// One operation's answer as an event stream, once its caller is admitted.
async fn streamed(
    state: &AppState,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    match admitted(state, peer, headers, 1).await {
        Ok(identity) => super::live::event_stream(state, identity.as_ref(), request),
        Err(refused) => refused,
    }
}

/// One operation's answer, and whether it never ran (it does not parse, validate or fit the
/// limits): such an answer has no `data` at all.
async fn run(
    state: &AppState,
    identity: Option<&Identity>,
    memo: &CatalogueMemo,
    trace: bool,
    request: async_graphql::Request,
) -> (Vec<u8>, bool) {
    let mut request = with_request_data(request, memo.clone(), identity);
    if trace {
        request = request.data(ftv1::TraceRequested);
    }
    if state.spans.enabled() {
        request = request.data(state.spans.clone());
    }
    let operation = request.operation_name.clone().or_else(|| operation_name_in(&request.query).map(str::to_owned));
    let started = std::time::Instant::now();
    // The operation is a span of its own (its statements and producer calls nest under it).
    let mut response = match state.spans.child_of_current() {
        Some(span) => {
            let describe = |response: &async_graphql::Response| crate::otel::Finished {
                name: format!("GraphQL {}", operation.as_deref().unwrap_or("anonymous")),
                kind: opentelemetry::trace::SpanKind::Internal,
                attributes: vec![
                    opentelemetry::KeyValue::new("graphql.operation.name", operation.clone().unwrap_or_default()),
                    opentelemetry::KeyValue::new("graphql.errors", response.errors.len() as i64),
                ],
                error: response.errors.first().map(|e| crate::graphql::error_code(e).unwrap_or("ERROR").to_owned()),
            };
            state.spans.traced(span, state.schema.execute(request), describe).await
        }
        None => state.schema.execute(request).await,
    };
    response.errors.iter_mut().for_each(crate::graphql::subscription_needs_stream);
    state.metrics.graphql_operation(
        operation.as_deref(),
        started.elapsed(),
        response.errors.iter().map(crate::graphql::error_code),
    );
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| crate::graphql::error_code(e).is_some_and(|c| REQUEST_ERRORS.contains(&c)));
    // Serialised from the response itself: a detour through `serde_json::Value` would sort each
    // object's keys, and a response keeps the order of the query.
    let body = if request_error {
        let mut answer = json!({ "errors": response.errors });
        if !response.extensions.is_empty() {
            answer["extensions"] = json!(response.extensions);
        }
        serde_json::to_vec(&answer)
    } else {
        serde_json::to_vec(&response)
    };
    let body = body.unwrap_or_else(|err| {
        tracing::error!(error = %err, "serialising a GraphQL response");
        br#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_vec()
    });
    (body, request_error)
}

/// Executes one operation or a batch, answering `application/graphql-response+json` only to
/// clients that prefer it and plain `application/json` to everyone else (gateways and older
/// clients reject the newer media type). One operation that never ran is a 400 under the newer
/// media type; one that ran is a 200, even when an error nulled all of its data. A batch is a 200
/// with each operation's answer in order.
async fn execute(
    state: &AppState,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    operations: Operations,
) -> Response {
    let count = match &operations {
        Operations::One(_) => 1,
        Operations::Batch(batch) => batch.len(),
    };
    let identity = match admitted(state, peer, headers, count).await {
        Ok(identity) => identity,
        Err(refused) => return refused,
    };
    // However often a request asks for catalogues (in every operation of a batch), each
    // producer's is fetched once.
    let memo = CatalogueMemo::default();
    let wants_graphql_response = accepts_graphql_response(headers);
    let trace = headers.get(ftv1::HEADER).is_some_and(|v| v.as_bytes() == ftv1::FTV1.as_bytes());
    let content_type = if wants_graphql_response { "application/graphql-response+json" } else { "application/json" };
    let (status, body) = match operations {
        Operations::One(request) => {
            let (body, request_error) = run(state, identity.as_ref(), &memo, trace, *request).await;
            let status = if wants_graphql_response && request_error { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            (status, body)
        }
        Operations::Batch(batch) => {
            // In order, one after the other: a mutation sees what the operations before it did.
            let mut answers = b"[".to_vec();
            for (i, request) in batch.into_iter().enumerate() {
                if i > 0 {
                    answers.push(b',');
                }
                answers.extend(run(state, identity.as_ref(), &memo, trace, request).await.0);
            }
            answers.push(b']');
            (StatusCode::OK, answers)
        }
    };
    let mut http = (status, body).into_response();
    http.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    http
}
