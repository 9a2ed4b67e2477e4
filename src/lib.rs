//! orderhub: the order service of a food-trading platform. A GraphQL federation subgraph for the
//! platform's own front-ends and a DFC REST API for peer platforms, on SeaORM storage.
//!
//! [`Application::build`] assembles everything from a [`Config`]; `main` and the tests call it.

pub mod auth;
pub mod changes;
pub mod config;
pub mod demo;
pub mod dfc;
pub mod dfc_api;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod otel;
pub mod peers;
pub mod store;
pub mod telemetry;
pub mod trace_context;
pub mod trader;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::Config;

use crate::dfc::urls::Urls;
use crate::dfc_api::Clients;
use crate::http::AppState;
use crate::peers::{LOCAL_CLIENT, LocalProducers, PeerClient};
use crate::store::Store;
use crate::trader::{DeliverySettings, Trader};

/// A built, bound, migrated application, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    address: SocketAddr,
    base_url: String,
    store: Store,
    trader: Trader,
    changes: changes::Changes,
    retention_days: Option<u32>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let store = Store::connect_with(&config.database_url, config.database_max_connections).await?;
        store.migrate().await?;
        for client in &config.clients {
            store.upsert_platform(&client.platform, client.name.as_deref().unwrap_or(&client.platform)).await?;
        }
        if let Some(seed) = &config.seed_file {
            let count = store::seed::load_file(&store, seed).await?;
            tracing::info!(products = count, file = %seed.display(), "seed loaded");
        }
        // Our own traders' orders at our own producers are filed under this platform id.
        store.upsert_platform(LOCAL_CLIENT, "Traders hosted on this platform").await?;
        for peer in &config.peers {
            store
                .upsert_peer(entity::peer::Model {
                    id: peer.id.clone(),
                    trader_enterprise_id: peer.trader.clone(),
                    name: peer.name.clone().unwrap_or_else(|| peer.id.clone()),
                    base_url: peer.base_url.clone(),
                    enterprise: peer.enterprise.clone(),
                    timeout_ms: i64::try_from(peer.timeout_ms).unwrap_or(5_000),
                    // Set through GraphQL, kept across restarts: the upsert leaves it alone.
                    consolidation_mode: None,
                    url_scheme: peer.url_scheme.map(|profile| profile.as_str().to_owned()),
                    updated_at: chrono::Utc::now(),
                })
                .await?;
        }
        let listener =
            TcpListener::bind(config.listen).await.map_err(|e| anyhow::anyhow!("binding {}: {e}", config.listen))?;
        let address = listener.local_addr()?;
        let base_url = config.public_base_url(address);
        let metrics = Arc::new(metrics::Metrics::default());
        let spans = match &config.otlp_endpoint {
            Some(endpoint) => {
                let spans = otel::Spans::otlp(endpoint, Duration::from_secs(10))?;
                tracing::info!(endpoint = %endpoint, "exporting spans over OTLP");
                spans
            }
            None => otel::Spans::default(),
        };
        store.export_spans(spans.clone());
        let trader = Trader::new(
            store.clone(),
            PeerClient::new()?
                .with_local(LocalProducers::new(store.clone(), &base_url))
                .with_metrics(metrics.clone())
                .with_spans(spans.clone()),
            config
                .peers
                .iter()
                .map(|p| {
                    let credentials = match &p.oauth {
                        Some(oauth) => {
                            peers::Credentials::OAuth(Arc::new(peers::oauth::OAuthTokens::new(oauth.clone())))
                        }
                        None => peers::Credentials::Token(p.token.clone()),
                    };
                    (p.id.clone(), credentials)
                })
                .collect(),
            Urls::new(&base_url),
            DeliverySettings {
                poll_interval: Duration::from_millis(config.outbox_poll_ms),
                base_backoff: Duration::from_millis(config.retry_base_ms),
                max_backoff: Duration::from_millis(config.retry_max_ms.max(config.retry_base_ms)),
                max_attempts: config.retry_max_attempts,
                retry_budget: chrono::Duration::seconds(i64::try_from(config.retry_budget_secs).unwrap_or(86_400)),
                checkout_deadline: Duration::from_millis(config.checkout_deadline_ms),
                unconfirmed: config.unconfirmed_orders,
                close_grace: chrono::Duration::seconds(i64::try_from(config.session_close_grace_secs).unwrap_or(7_200)),
            },
        );
        let changes = changes::Changes::follow(&store, config.max_subscriptions);
        let state = AppState {
            store: store.clone(),
            urls: Urls::new(&base_url),
            clients: Arc::new(Clients::new(&config.clients)),
            schema: graphql::build_schema(
                store.clone(),
                trader.clone(),
                changes.clone(),
                config.introspection,
                config.auth.anonymous_browsing,
                Duration::from_millis(config.dataloader_delay_ms),
            ),
            max_body_bytes: config.max_body_bytes,
            cors_origins: config.cors_origins.clone(),
            verifier: Arc::new(auth::Verifier::new(&config.auth)?),
            rate_limiter: config.rate_limit.as_ref().map(|r| Arc::new(http::rate_limit::RateLimiter::new(r))),
            max_batch: config.max_batch_operations,
            metrics,
            spans,
            changes: changes.clone(),
        };
        let router = http::router(state, Duration::from_secs(config.request_timeout_secs));
        let retention_days = config.retention_days;
        Ok(Application { listener, router, address, base_url, store, trader, changes, retention_days })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn trader(&self) -> &Trader {
        &self.trader
    }

    /// Serves (and delivers queued producer orders) until `shutdown` resolves, then lets
    /// in-flight requests and sends finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
        let retention = self
            .retention_days
            .map(|days| tokio::spawn(run_retention(self.store.clone(), days, worker_stopped.clone())));
        let worker = tokio::spawn(self.trader.clone().run_outbox(worker_stopped));
        let router = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let changes = self.changes.clone();
        // Subscriptions end first: their streams would keep the server from ever finishing.
        let shutdown = async move {
            shutdown.await;
            changes.close();
        };
        let served = axum::serve(self.listener, router).with_graceful_shutdown(shutdown).await;
        let _ = stop_worker.send(true);
        if tokio::time::timeout(Duration::from_secs(10), worker).await.is_err() {
            tracing::warn!("the outbox worker did not stop within 10 s");
        }
        if let Some(retention) = retention {
            let _ = tokio::time::timeout(Duration::from_secs(10), retention).await;
        }
        served?;
        Ok(())
    }
}

/// Erases contact details past `days` after their session closed: at start, then hourly.
async fn run_retention(store: store::Store, days: u32, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        match store.erase_contacts_settled_before(cutoff).await {
            Ok(0) => {}
            Ok(orders) => tracing::info!(orders, days, "retention erased customers' contact details"),
            Err(e) => tracing::warn!(error = %e, "the retention sweep failed; it runs again in an hour"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3_600)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down");
}
