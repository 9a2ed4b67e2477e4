//! Subscriptions on `/graphql`: over WebSocket (`graphql-transport-ws`, the `graphql-ws`
//! library's protocol, and the older `graphql-ws` of subscriptions-transport-ws) and over
//! Server-Sent Events (GraphQL over SSE, distinct connections: `Accept: text/event-stream` on
//! GET or POST, one `next` event per result, then `complete`).
//!
//! A WebSocket's caller is the bearer token of the upgrade request or of `connection_init`'s
//! payload (`{"Authorization": "Bearer ..."}`); a token that does not verify closes the socket
//! with 4403, no `connection_init` within 10 s with 4408.
//! Every stream ends when the server shuts down, so that shutdown never waits on a client.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::WebSocketUpgrade;
use axum::extract::ws::{CloseFrame, Message};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};

use super::AppState;
use super::graphql::with_request_data;
use crate::auth::Identity;
use crate::graphql::OrderhubSchema;
use crate::trader::CatalogueMemo;

/// How often an idle stream says it is alive (proxies close connections silent for long).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Whether the client asks for an event stream (GraphQL over SSE).
pub(super) fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| {
        accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
            media.eq_ignore_ascii_case("text/event-stream") && !refused
        })
    })
}

/// Whether the request asks to become a WebSocket.
pub(super) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Resolves once the server starts shutting down.
async fn shutting_down(mut closing: tokio::sync::watch::Receiver<bool>) {
    while !*closing.borrow_and_update() {
        if closing.changed().await.is_err() {
            return;
        }
    }
}

/// One operation's results as an event stream: a query or mutation gives one, a subscription
/// one per update.
pub(super) fn event_stream(state: &AppState, identity: Option<&Identity>, request: async_graphql::Request) -> Response {
    let results = state.schema.execute_stream(with_request_data(request, CatalogueMemo::default(), identity));
    let results = results.take_until(Box::pin(shutting_down(state.changes.closing())));
    let events = results
        .map(|response| {
            let data = serde_json::to_string(&response).unwrap_or_else(|err| {
                tracing::error!(error = %err, "serialising a GraphQL result");
                r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.to_owned()
            });
            Ok::<_, Infallible>(Event::default().event("next").data(data))
        })
        .chain(futures::stream::once(async { Ok(Event::default().event("complete").data("")) }));
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    // Proxies that buffer (nginx) would hold updates back.
    response.headers_mut().insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    response
}

/// Runs each operation of a socket with the request data a POST would have, and the socket's
/// caller.
#[derive(Clone)]
struct SocketExecutor {
    schema: OrderhubSchema,
}

impl Executor for SocketExecutor {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.schema.execute(with_request_data(request, CatalogueMemo::default(), None)).await
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        self.schema.execute_stream_with_session_data(
            with_request_data(request, CatalogueMemo::default(), None),
            session_data.unwrap_or_default(),
        )
    }
}

/// The bearer token in a `connection_init` payload: `Authorization` (any case) at its top or
/// under `headers`.
fn payload_token(payload: &serde_json::Value) -> Option<String> {
    fn find(object: &serde_json::Value) -> Option<&str> {
        object.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).and_then(|(_, v)| v.as_str())
    }
    let value = find(payload).or_else(|| payload.get("headers").and_then(find))?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// Serves a WebSocket for `identity` (from the upgrade request, if it carried a token).
pub(super) fn websocket(
    state: &AppState,
    identity: Option<Identity>,
    upgrade: WebSocketUpgrade,
    protocol: GraphQLProtocol,
) -> Response {
    let executor = SocketExecutor { schema: state.schema.clone() };
    let verifier = state.verifier.clone();
    let closing = state.changes.closing();
    upgrade.max_message_size(state.max_body_bytes).protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(
        move |socket| async move {
            let (mut sink, mut stream) = socket.split();
            let mut data = Data::default();
            if let Some(identity) = identity {
                data.insert(identity);
            }
            // The caller's token is checked here, so that a refusal closes the socket with the code
            // graphql-ws gives it (4403; the library would say 1002, a protocol error).
            let first = match tokio::time::timeout(INIT_WITHIN, stream.next()).await {
                Ok(Some(Ok(first))) => first,
                Ok(_) => return,
                Err(_) => {
                    let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
                    return;
                }
            };
            if let Some(token) = init_token(&first) {
                match verifier.verify(&token).await {
                    Ok(identity) => data.insert(identity),
                    Err(err) => {
                        tracing::info!(reason = %err, "a WebSocket's token was refused");
                        let _ = sink.send(close(4403, "Forbidden")).await;
                        return;
                    }
                }
            }
            // Shutdown ends the socket's input, which ends its operations and closes it.
            let stream =
                futures::stream::once(async { Ok(first) }).chain(stream).take_until(Box::pin(shutting_down(closing)));
            GraphQLWebSocket::new_with_pair(sink, stream, executor, protocol).with_data(data).serve().await;
        },
    )
}

/// How long a client has to send `connection_init` (graphql-ws' default).
const INIT_WITHIN: Duration = Duration::from_secs(10);

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// The token of a `connection_init` message, if it is one and carries one.
fn init_token(message: &Message) -> Option<String> {
    let Message::Text(text) = message else { return None };
    let message: serde_json::Value = serde_json::from_str(text.as_str()).ok()?;
    if message.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        return None;
    }
    payload_token(message.get("payload")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_where_websocket_clients_put_them() {
        let top = serde_json::json!({"Authorization": "Bearer abc"});
        let lower = serde_json::json!({"authorization": "Bearer abc"});
        let nested = serde_json::json!({"headers": {"authorization": "Bearer abc"}});
        for payload in [top, lower, nested] {
            assert_eq!(payload_token(&payload).as_deref(), Some("abc"), "{payload}");
        }
        assert_eq!(payload_token(&serde_json::json!({"Authorization": "abc"})), None, "not a bearer token");
        assert_eq!(payload_token(&serde_json::json!({"Authorization": "Bearer "})), None);
        assert_eq!(payload_token(&serde_json::Value::Null), None);
    }

    #[test]
    fn an_event_stream_is_what_the_client_accepts() {
        let mut headers = HeaderMap::new();
        assert!(!wants_event_stream(&headers));
        headers.insert(header::ACCEPT, "application/json, text/event-stream".parse().expect("header"));
        assert!(wants_event_stream(&headers));
        headers.insert(header::ACCEPT, "text/event-stream;q=0, application/json".parse().expect("header"));
        assert!(!wants_event_stream(&headers));
    }
}
