//! Outbound DFC calls to producer platforms: one pooled client, a deadline on every call, errors
//! classified so callers can decide (retry later, tell the customer, show a per-platform error).
//! Payloads coming back are read with the same lenient reader as inbound ones, and bounded.

pub mod breaker;
mod local;
pub mod oauth;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::config::SecretString;
use crate::dfc::urls::{Profile, Urls};
use crate::dfc::{Document, read_document};

/// The most we read of a peer's answer; a catalogue of thousands of products fits well within.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// A producer platform, as the trader reaches it.
#[derive(Clone, Debug)]
pub struct Peer {
    pub id: String,
    pub name: String,
    pub base_url: String,
    pub enterprise: String,
    pub credentials: Credentials,
    pub timeout: Duration,
    /// How its platform names DFC resources; None: found out on the first call.
    pub profile: Option<Profile>,
}

impl Peer {
    fn urls(&self, profile: Profile) -> Urls {
        Urls::new(&self.base_url).in_profile(profile)
    }

    pub fn catalogue_url(&self, profile: Profile) -> String {
        self.urls(profile).catalogue(&self.enterprise)
    }

    pub fn orders_url(&self, profile: Profile) -> String {
        self.urls(profile).orders(&self.enterprise)
    }

    /// What the profiles learnt are remembered by: one producer enterprise at one platform.
    fn profile_key(&self) -> String {
        format!("{}|{}", self.base_url.trim_end_matches('/'), self.enterprise)
    }
}

/// How we prove who we are to a peer.
#[derive(Clone)]
pub enum Credentials {
    /// The token that platform gave us.
    Token(SecretString),
    /// Tokens from its OAuth server.
    OAuth(std::sync::Arc<oauth::OAuthTokens>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Token(_) => "Token([redacted])",
            Credentials::OAuth(_) => "OAuth",
        })
    }
}

/// Which collection of a producer a call goes to.
#[derive(Clone, Copy)]
enum Collection {
    Catalogue,
    Orders,
}

/// A product the producer says it cannot supply in the quantity asked.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerShortage {
    pub product_iri: String,
    /// What the whole order asked for, when the producer says.
    pub requested: Option<Decimal>,
    pub available: Decimal,
}

/// Why a call to a peer failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum PeerError {
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Unreachable(String),
    /// Connected, then the link broke before a whole answer came: the producer may have acted.
    #[error("the connection broke: {0}")]
    Broken(String),
    /// A 4xx: the producer refused what we sent; retrying the same will not help.
    #[error("refused with {status}: {message}")]
    Rejected { status: u16, code: Option<String>, message: String, shortages: Vec<PeerShortage> },
    /// A 5xx: the producer failed; a later retry may succeed.
    #[error("failed with {status}")]
    ServerError { status: u16 },
    #[error("answered something that is not a DFC payload: {0}")]
    BadPayload(String),
    /// A creation's answer was lost, the producer keeps no `orderNumber` to find it by, and it
    /// holds orders we cannot account for: one may be ours. Sending again could order twice, so
    /// nothing is sent until they are accounted for (a person checks them at the producer).
    #[error("the producer holds {} order(s) this trader cannot account for ({}); one may be the order whose answer was lost", .0.len(), .0.join(", "))]
    Unaccounted(Vec<String>),
}

impl PeerError {
    /// Stable code for GraphQL `extensions.code` and per-platform errors.
    pub fn code(&self) -> &'static str {
        match self {
            PeerError::Timeout(_) => "PEER_TIMEOUT",
            PeerError::Unreachable(_) | PeerError::Broken(_) => "PEER_UNAVAILABLE",
            PeerError::Rejected { status: 409, shortages, .. } if !shortages.is_empty() => "OUT_OF_STOCK",
            PeerError::Rejected { .. } => "PEER_REJECTED",
            PeerError::ServerError { .. } => "PEER_FAILED",
            PeerError::BadPayload(_) => "PEER_BAD_PAYLOAD",
            PeerError::Unaccounted(_) => "PEER_ORDER_UNACCOUNTED",
        }
    }

    /// Whether the producer may have acted on a request that failed so: it was sent, and what
    /// came back (if anything) does not say. Such an outcome is reconciled, never guessed.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            PeerError::Timeout(_)
                | PeerError::Broken(_)
                | PeerError::ServerError { .. }
                | PeerError::BadPayload(_)
                | PeerError::Unaccounted(_)
        ) || matches!(self, PeerError::Rejected { code: Some(code), .. } if code == "IDEMPOTENCY_KEY_REUSED")
    }

    /// A refusal for stock, with what the producer says is available.
    pub fn shortages(&self) -> Option<&[PeerShortage]> {
        match self {
            PeerError::Rejected { status: 409, shortages, .. } if !shortages.is_empty() => Some(shortages),
            _ => None,
        }
    }

    /// Whether the same request may succeed later (the outbox keeps retrying these).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PeerError::Timeout(_) | PeerError::Unreachable(_) | PeerError::Broken(_) | PeerError::ServerError { .. }
        ) || matches!(self, PeerError::Rejected { status: 408 | 429, .. })
    }
}

pub use breaker::Breakers;
pub use local::{LOCAL_CLIENT, LocalProducers};

/// The one outbound client: built once, connections pooled, each call under its peer's deadline.
/// Producers of this same platform are served by `local`, without HTTP.
#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    local: Option<LocalProducers>,
    /// The URL schemes found out for peers configured without one.
    profiles: Arc<Mutex<HashMap<String, Profile>>>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    spans: crate::otel::Spans,
}

impl PeerClient {
    pub fn with_local(mut self, local: LocalProducers) -> PeerClient {
        self.local = Some(local);
        self
    }

    /// Records every call as a span of the trace it is made in.
    pub fn with_spans(mut self, spans: crate::otel::Spans) -> PeerClient {
        self.spans = spans;
        self
    }

    /// Counts every call and its outcome in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> PeerClient {
        self.metrics = Some(metrics);
        self
    }

    fn local_for(&self, peer: &Peer) -> Option<&LocalProducers> {
        self.local.as_ref().filter(|local| local.serves(peer))
    }

    pub fn new() -> anyhow::Result<PeerClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("orderhub/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(PeerClient {
            http,
            local: None,
            profiles: Arc::default(),
            metrics: None,
            spans: crate::otel::Spans::default(),
        })
    }

    /// The URL scheme of the peer: configured, or found out earlier.
    pub fn known_profile(&self, peer: &Peer) -> Option<Profile> {
        peer.profile.or_else(|| self.profiles.lock().ok()?.get(&peer.profile_key()).copied())
    }

    /// A call to one of the peer's collections. When its URL scheme is not known yet, each scheme
    /// is tried in turn: a 404 (or 405) means "not this one" and nothing happened there; the
    /// first that answers is remembered. Any other failure ends the search (and teaches nothing).
    async fn at_collection(
        &self,
        peer: &Peer,
        collection: Collection,
        request: impl Fn(String) -> reqwest::RequestBuilder,
    ) -> Result<(Option<String>, Vec<u8>), PeerError> {
        let url = |profile: Profile| match collection {
            Collection::Catalogue => peer.catalogue_url(profile),
            Collection::Orders => peer.orders_url(profile),
        };
        if let Some(profile) = self.known_profile(peer) {
            return self.call(peer, request(url(profile))).await;
        }
        let mut not_found = None;
        for profile in Profile::ALL {
            match self.call(peer, request(url(profile))).await {
                Ok(answer) => {
                    if let Ok(mut profiles) = self.profiles.lock() {
                        profiles.insert(peer.profile_key(), profile);
                    }
                    tracing::info!(peer = %peer.id, scheme = profile.as_str(), "found the peer's URL scheme");
                    return Ok(answer);
                }
                Err(error @ PeerError::Rejected { status: 404 | 405, .. }) => not_found = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(not_found.unwrap_or(PeerError::Rejected {
            status: 404,
            code: None,
            message: "no URL scheme answered".into(),
            shortages: Vec::new(),
        }))
    }

    /// The producer's catalogue.
    pub async fn catalogue(&self, peer: &Peer) -> Result<Document, PeerError> {
        if let Some(local) = self.local_for(peer) {
            return local.catalogue(peer).await;
        }
        let (_, body) = self.at_collection(peer, Collection::Catalogue, |url| self.http.get(url)).await?;
        parse(&body)
    }

    /// POSTs a new order, built by `order` for the producer's orders URL (a new order's
    /// placeholder id lives under it); returns the producer's id for it and its answer. `key`
    /// goes out as the `Idempotency-Key` header: a producer that honours it gives the same order
    /// to a repeat.
    pub async fn place_order(
        &self,
        peer: &Peer,
        order: impl Fn(&str) -> Value,
        key: &str,
    ) -> Result<(String, Document), PeerError> {
        if let Some(local) = self.local_for(peer) {
            return local.place_order(peer, &order(&peer.orders_url(Profile::default())), key).await;
        }
        let request = |url: String| {
            let body = order(&url).to_string();
            self.http.post(url).header("content-type", "application/ld+json").header("idempotency-key", key).body(body)
        };
        let (location, body) = self.at_collection(peer, Collection::Orders, request).await?;
        let document = parse(&body)?;
        // The server-assigned id: the Location header, else the answer's one Order.
        let id = location
            .or_else(|| document.orders.first().and_then(|o| o.id.clone()))
            .ok_or_else(|| PeerError::BadPayload("the created order has no id".into()))?;
        Ok((id, document))
    }

    /// The orders the producer holds from us (to find one whose creation answer was lost).
    pub async fn orders(&self, peer: &Peer) -> Result<Document, PeerError> {
        if let Some(local) = self.local_for(peer) {
            return local.orders(peer).await;
        }
        let (_, body) = self.at_collection(peer, Collection::Orders, |url| self.http.get(url)).await?;
        parse(&body)
    }

    /// One order as the producer holds it now (to learn its state after an answer was lost).
    pub async fn order(&self, peer: &Peer, order_iri: &str) -> Result<Document, PeerError> {
        if let Some(local) = self.local_for(peer) {
            return local.order(peer, order_iri).await;
        }
        let (_, body) = self.call(peer, self.http.get(order_iri)).await?;
        parse(&body)
    }

    /// PUTs the whole order again (full replacement).
    pub async fn replace_order(&self, peer: &Peer, order_iri: &str, order: &Value) -> Result<Document, PeerError> {
        if let Some(local) = self.local_for(peer) {
            return local.replace_order(peer, order_iri, order).await;
        }
        let request = self.http.put(order_iri).header("content-type", "application/ld+json").body(order.to_string());
        let (_, body) = self.call(peer, request).await?;
        parse(&body)
    }

    /// One call to the peer, as a span of the trace it is made in (the producer sees that span
    /// as the caller's in `traceparent`; it is exported if spans are).
    async fn call(
        &self,
        peer: &Peer,
        request: reqwest::RequestBuilder,
    ) -> Result<(Option<String>, Vec<u8>), PeerError> {
        let span = crate::trace_context::current().map(|trace| trace.child());
        let Some(span) = span.filter(|_| self.spans.enabled()) else { return self.call_as(peer, request, span).await };
        let (method, path) = match request.try_clone().and_then(|r| r.build().ok()) {
            Some(built) => (built.method().to_string(), built.url().path().to_owned()),
            None => (String::new(), String::new()),
        };
        let describe = |outcome: &Result<(Option<String>, Vec<u8>), PeerError>| {
            let mut attributes = vec![
                opentelemetry::KeyValue::new("http.request.method", method.clone()),
                opentelemetry::KeyValue::new("url.path", path.clone()),
                opentelemetry::KeyValue::new("peer.id", peer.id.clone()),
            ];
            if let Err(PeerError::Rejected { status, .. } | PeerError::ServerError { status }) = outcome {
                attributes.push(opentelemetry::KeyValue::new("http.response.status_code", i64::from(*status)));
            }
            crate::otel::Finished {
                name: format!("DFC {method}"),
                kind: opentelemetry::trace::SpanKind::Client,
                attributes,
                error: outcome.as_ref().err().map(|e| e.code().to_owned()),
            }
        };
        self.spans.traced(span, self.call_as(peer, request, Some(span)), describe).await
    }

    async fn call_as(
        &self,
        peer: &Peer,
        request: reqwest::RequestBuilder,
        span: Option<crate::trace_context::TraceContext>,
    ) -> Result<(Option<String>, Vec<u8>), PeerError> {
        let mut request = request.header("accept", "application/ld+json").timeout(peer.timeout);
        if let Some(span) = span {
            request = request.header("traceparent", span.header());
        }
        let (status, location, body) = match &peer.credentials {
            Credentials::Token(token) => self.exchange(peer, request.bearer_auth(token.expose())).await?,
            Credentials::OAuth(tokens) => {
                // A 401 refused the request before acting on it: renewing the token and sending
                // it once more is safe, a POST included.
                let again = request.try_clone();
                let token = tokens.bearer(&self.http, peer.timeout).await?;
                let first = self.exchange(peer, request.bearer_auth(token.expose())).await?;
                match again {
                    Some(again) if first.0 == StatusCode::UNAUTHORIZED => {
                        tracing::info!(peer = %peer.id, "the peer refused our token: renewing it once");
                        let renewed = tokens.renew(&token, &self.http, peer.timeout).await?;
                        self.exchange(peer, again.bearer_auth(renewed.expose())).await?
                    }
                    _ => first,
                }
            }
        };
        if status.is_success() {
            return Ok((location, body));
        }
        tracing::warn!(peer = %peer.id, status = status.as_u16(), "peer refused a call");
        if status.is_server_error() {
            return Err(PeerError::ServerError { status: status.as_u16() });
        }
        Err(rejection(status, &body))
    }

    /// Sends a request and reads its answer, all under the peer's deadline.
    async fn exchange(
        &self,
        peer: &Peer,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Option<String>, Vec<u8>), PeerError> {
        let exchange = async {
            let mut response = request.send().await.map_err(|e| classify(e, peer.timeout))?;
            let status = response.status();
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, peer.timeout))? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(PeerError::BadPayload(format!("answer larger than {MAX_RESPONSE_BYTES} bytes")));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, location, body))
        };
        let started = std::time::Instant::now();
        // The whole exchange, body included, lives under the peer's deadline.
        let outcome =
            tokio::time::timeout(peer.timeout, exchange).await.unwrap_or(Err(PeerError::Timeout(peer.timeout)));
        if let Some(metrics) = &self.metrics {
            let label = match &outcome {
                Ok((status, _, _)) if status.is_success() => "ok",
                Ok((status, _, _)) if status.is_server_error() => "PEER_FAILED",
                Ok(_) => "PEER_REJECTED",
                Err(err) => err.code(),
            };
            metrics.peer_call(&peer.id, label, started.elapsed());
        }
        outcome
    }
}

fn classify(err: reqwest::Error, deadline: Duration) -> PeerError {
    if err.is_timeout() {
        PeerError::Timeout(deadline)
    } else if err.is_connect() {
        // Not connected: the producer cannot have seen the request.
        PeerError::Unreachable(without_url(&err))
    } else if err.is_request() || err.is_body() {
        PeerError::Broken(without_url(&err))
    } else {
        PeerError::BadPayload(without_url(&err))
    }
}

/// reqwest errors name the URL; ours carry no secret, but keep messages short and stable.
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "peer");
    }
    text
}

fn parse(body: &[u8]) -> Result<Document, PeerError> {
    read_document(body).map_err(|e| PeerError::BadPayload(e.to_string()))
}

/// Reads a refusal: our own error shape (with `shortages`), or whatever text the peer sent.
pub(crate) fn rejection(status: StatusCode, body: &[u8]) -> PeerError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().map(|j| j.get("error").unwrap_or(j));
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_str).map(str::to_owned);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let shortages = error
        .and_then(|e| e.get("shortages"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|s| {
                    let product_iri = s.get("product")?.as_str()?.to_owned();
                    let available = crate::dfc::reader::parse_decimal(s.get("available")?).ok()?;
                    let requested = s.get("requested").and_then(|r| crate::dfc::reader::parse_decimal(r).ok());
                    Some(PeerShortage { product_iri, requested, available })
                })
                .collect()
        })
        .unwrap_or_default();
    PeerError::Rejected { status: status.as_u16(), code, message, shortages }
}
