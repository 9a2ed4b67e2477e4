//! Producers hosted on this same platform, reached through the same interface as remote ones but
//! without HTTP: the same DFC payloads go through the same reader and the same producer rules.

use axum::response::IntoResponse;
use serde_json::Value;

use super::{Peer, PeerError, rejection};
use crate::dfc::urls::Urls;
use crate::dfc::{Document, read_document, writer};
use crate::dfc_api::{ApiError, orders};
use crate::store::Store;

/// The platform id our own traders' orders are filed under at our own producers.
pub const LOCAL_CLIENT: &str = "local";

#[derive(Clone)]
pub struct LocalProducers {
    store: Store,
    urls: Urls,
    base_url: String,
}

impl LocalProducers {
    pub fn new(store: Store, base_url: &str) -> LocalProducers {
        LocalProducers { store, urls: Urls::new(base_url), base_url: base_url.trim_end_matches('/').to_owned() }
    }

    /// Whether the peer is a producer of this very platform.
    pub fn serves(&self, peer: &Peer) -> bool {
        peer.base_url.trim_end_matches('/') == self.base_url
    }

    /// The producer's enterprise exists, as the HTTP API checks first.
    async fn known(&self, peer: &Peer) -> Result<(), PeerError> {
        match self.store.enterprise(&peer.enterprise).await.map_err(internal)? {
            Some(_) => Ok(()),
            None => Err(rejected(ApiError::NotFound("enterprise")).await),
        }
    }

    pub async fn catalogue(&self, peer: &Peer) -> Result<Document, PeerError> {
        self.known(peer).await?;
        let products = self.store.products(&peer.enterprise).await.map_err(internal)?;
        reread(&writer::catalogue(&self.urls, &products))
    }

    pub async fn place_order(&self, peer: &Peer, order: &Value, key: &str) -> Result<(String, Document), PeerError> {
        self.known(peer).await?;
        let body = order.to_string();
        let document = reread(order)?;
        let digest = crate::store::digest_hex(body.as_bytes());
        let idempotency = Some((key, digest.as_str()));
        match orders::place(&self.store, &self.urls, &peer.enterprise, LOCAL_CLIENT, &document, idempotency).await {
            Ok(placed) => {
                Ok((self.urls.order(&peer.enterprise, placed.id), reread(&writer::order(&self.urls, &placed))?))
            }
            Err(err) => Err(rejected(err).await),
        }
    }

    pub async fn orders(&self, peer: &Peer) -> Result<Document, PeerError> {
        self.known(peer).await?;
        let orders = self
            .store
            .incoming_orders(&peer.enterprise, Some(LOCAL_CLIENT), None, crate::store::Oldest::First)
            .await
            .map_err(internal)?;
        reread(&writer::orders(&self.urls, &orders))
    }

    pub async fn order(&self, peer: &Peer, order_iri: &str) -> Result<Document, PeerError> {
        self.known(peer).await?;
        let id = order_id(order_iri)?;
        match self.store.incoming_order(&peer.enterprise, Some(LOCAL_CLIENT), id).await.map_err(internal)? {
            Some(order) => reread(&writer::order(&self.urls, &order)),
            None => Err(rejected(ApiError::NotFound("order")).await),
        }
    }

    pub async fn replace_order(&self, peer: &Peer, order_iri: &str, order: &Value) -> Result<Document, PeerError> {
        self.known(peer).await?;
        let id = order_id(order_iri)?;
        let document = reread(order)?;
        match orders::replace(&self.store, &self.urls, &peer.enterprise, LOCAL_CLIENT, id, &document).await {
            Ok(updated) => reread(&writer::order(&self.urls, &updated)),
            Err(err) => Err(rejected(err).await),
        }
    }
}

fn order_id(order_iri: &str) -> Result<i64, PeerError> {
    order_iri
        .rsplit('/')
        .next()
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| PeerError::BadPayload(format!("`{order_iri}` is not one of our orders")))
}

/// Through the same reader as bytes from the wire, so local and remote producers behave alike.
fn reread(value: &Value) -> Result<Document, PeerError> {
    read_document(value.to_string().as_bytes()).map_err(|e| PeerError::BadPayload(e.to_string()))
}

fn internal(err: crate::store::StoreError) -> PeerError {
    tracing::error!(error = %err, "local producer failed");
    PeerError::ServerError { status: 500 }
}

/// The refusal exactly as the HTTP API would have answered it.
async fn rejected(err: ApiError) -> PeerError {
    let response = err.into_response();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.unwrap_or_default();
    if status.is_server_error() {
        return PeerError::ServerError { status: status.as_u16() };
    }
    rejection(status, &body)
}
