//! The trader face: a sales session's catalogue fanned out to producer platforms, checkout of one
//! customer order across producers, and delivery of the derived producer orders (with the outbox
//! worker that retries what could not be delivered at once).

mod catalogue;
mod checkout;
mod delivery;
mod lines;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use entity::peer;

pub use crate::domain::reservation::UnconfirmedPolicy;
pub use catalogue::{CatalogueMemo, PeerCatalogue};
pub use checkout::{
    CancelError, CheckedOut, CheckoutError, CheckoutLineRequest, CheckoutRequest, Contact, LineShortage, Priced,
    StoredDiscount, stored_discounts,
};
pub use delivery::DeliverySettings;
pub use lines::RemoteDiscounts;

use crate::config::SecretString;
use crate::dfc::urls::Urls;
use crate::peers::{Breakers, Credentials, Peer, PeerClient};
use crate::store::Store;

/// Everything the trader face needs, cheap to clone.
#[derive(Clone)]
pub struct Trader {
    store: Store,
    client: PeerClient,
    credentials: Arc<HashMap<String, Credentials>>,
    urls: Urls,
    locks: Arc<delivery::KeyedLocks>,
    breakers: Breakers,
    settings: DeliverySettings,
}

impl Trader {
    pub fn new(
        store: Store,
        client: PeerClient,
        credentials: HashMap<String, Credentials>,
        urls: Urls,
        settings: DeliverySettings,
    ) -> Trader {
        let breakers = Breakers::new(settings.base_backoff, settings.max_backoff);
        Trader { store, client, credentials: Arc::new(credentials), urls, locks: Arc::default(), breakers, settings }
    }

    /// The platform's default for parts not confirmed in time (a trader may choose its own).
    pub fn default_unconfirmed_policy(&self) -> UnconfirmedPolicy {
        self.settings.unconfirmed
    }

    fn peer(&self, model: &peer::Model) -> Peer {
        Peer {
            id: model.id.clone(),
            name: model.name.clone(),
            base_url: model.base_url.clone(),
            enterprise: model.enterprise.clone(),
            credentials: self
                .credentials
                .get(&model.id)
                .cloned()
                .unwrap_or_else(|| Credentials::Token(SecretString::new(""))),
            timeout: Duration::from_millis(u64::try_from(model.timeout_ms).unwrap_or(5_000)),
            profile: model.url_scheme.as_deref().and_then(crate::dfc::urls::Profile::parse),
        }
    }
}
