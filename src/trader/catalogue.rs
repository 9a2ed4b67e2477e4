//! A sales session's catalogue: every producer asked in parallel, each under its own deadline. A
//! producer that is down, slow or talks nonsense yields an error beside everyone else's offers.

use chrono::Utc;
use entity::{peer, peer_offer};
use futures::future::join_all;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Trader;
use crate::dfc::Document;
use crate::peers::PeerError;
use crate::store::StoreError;

/// One producer's part of the catalogue: its offers, or why there are none.
#[derive(Clone, Debug)]
pub struct PeerCatalogue {
    pub peer: peer::Model,
    pub result: Result<Vec<peer_offer::Model>, PeerError>,
}

impl Trader {
    pub async fn session_catalogue(&self, session_id: Uuid) -> Result<Vec<PeerCatalogue>, StoreError> {
        let peers = self.store.session_peers(session_id).await?;
        Ok(join_all(peers.into_iter().map(|peer| async move {
            let result = self.refresh_peer_catalogue(&peer).await;
            PeerCatalogue { peer, result }
        }))
        .await)
    }

    /// Reads a producer's catalogue and remembers it for checkout.
    pub async fn refresh_peer_catalogue(&self, model: &peer::Model) -> Result<Vec<peer_offer::Model>, PeerError> {
        let peer = self.peer(model);
        let document = self.client.catalogue(&peer).await.inspect_err(|e| {
            tracing::warn!(peer = %peer.id, code = e.code(), error = %e, "catalogue unavailable");
        })?;
        let offers = offers_of(&model.id, &document);
        if let Err(e) = self.store.replace_peer_offers(&model.id, offers.clone()).await {
            tracing::error!(peer = %peer.id, error = %e, "cannot remember a catalogue");
        }
        Ok(offers)
    }
}

/// The sellable entries of a catalogue: a product with an offer that has a price and currency.
fn offers_of(peer_id: &str, document: &Document) -> Vec<peer_offer::Model> {
    let now = Utc::now();
    document
        .catalogue()
        .into_iter()
        .filter_map(|entry| {
            let offer = entry.offer?;
            let price = offer.price.as_ref()?;
            let (amount, currency) = (price.value?, price.currency?);
            let limitation = entry.catalog_item.and_then(|c| c.stock_limitation).or(offer.stock_limitation);
            // Absent means unlimited, negative means made to order: neither limits a checkout.
            let available = limitation.filter(|l| !l.is_sign_negative());
            Some(peer_offer::Model {
                peer_id: peer_id.to_owned(),
                product_iri: entry.product.id.clone()?,
                offer_iri: offer.id.clone().or_else(|| entry.product.id.clone())?,
                name: entry.product.name.clone().unwrap_or_default(),
                sku: entry.catalog_item.and_then(|c| c.sku.clone()),
                price: amount.to_string(),
                currency: currency.iso_code().to_owned(),
                vat_rate: price.vat_rate.unwrap_or(Decimal::ZERO).to_string(),
                unit_value: entry.product.quantity.as_ref().and_then(|q| q.value).map(|v| v.to_string()),
                unit_code: entry
                    .product
                    .quantity
                    .as_ref()
                    .and_then(|q| q.unit.as_ref())
                    .map(|u| u.dfc_name().to_owned()),
                available: available.map(|a| a.to_string()),
                fetched_at: now,
            })
        })
        .collect()
}
