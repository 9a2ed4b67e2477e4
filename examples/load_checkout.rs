//! Load scenario for checkout across platforms: a trader and two producer platforms in one
//! process on loopback (real DFC HTTP between them), many customers checking out at once, each
//! order holding a product of each producer. Bounded in count and time; 127.0.0.1 only.
//!
//! `cargo run --release --example load_checkout`; `CONSOLIDATION=BY_WEIGHT` (or
//! `PER_CUSTOMER_ORDER`) runs it under that consolidation mode instead of PER_SESSION.

#![expect(clippy::print_stdout, reason = "a load scenario prints its figures")]

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use orderhub::config::{ClientConfig, PeerConfig, SecretString};
use orderhub::domain::ConsolidationMode;
use orderhub::store::seed::{SeedFile, load};
use orderhub::{Application, Config};
use serde_json::json;

const CHECKOUTS: usize = 500;
const CONCURRENCY: usize = 16;
const TOKEN: &str = "load-hub-token-0123";

fn database(dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}

async fn producer(dir: &std::path::Path, enterprise: &str, stock: Option<i64>) -> anyhow::Result<Application> {
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: database(dir, enterprise),
        clients: vec![ClientConfig { platform: "hub".into(), name: None, token: SecretString::new(TOKEN) }],
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let seed: SeedFile = serde_json::from_value(
        json!({"enterprises": [{"id": enterprise, "name": enterprise, "products": [
            {"sku": "P", "name": format!("{enterprise} product"), "unit_value": "500", "unit": "Gram", "price": "2.50", "currency": "EUR", "vat_rate": "5.5", "stock": stock}
        ]}]}),
    )?;
    load(app.store(), seed).await?;
    Ok(app)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("orderhub-load-checkout-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let farm = producer(&dir, "farm", Some(1_000_000)).await?;
    let mill = producer(&dir, "mill", None).await?;
    let peers = [("farm", &farm), ("mill", &mill)]
        .into_iter()
        .map(|(id, app)| PeerConfig {
            id: id.into(),
            trader: "hub".into(),
            name: None,
            base_url: app.base_url().to_owned(),
            enterprise: id.into(),
            token: SecretString::new(TOKEN),
            timeout_ms: 5_000,
        })
        .collect();
    let trader = Application::build(Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: database(&dir, "hub"),
        peers,
        ..Config::default()
    })
    .await?;
    trader.store().upsert_enterprise("hub", "Hub", None).await?;
    let mode = match std::env::var("CONSOLIDATION") {
        Ok(name) => ConsolidationMode::parse(&name).ok_or_else(|| anyhow::anyhow!("unknown mode {name}"))?,
        Err(_) => ConsolidationMode::default(),
    };
    trader.store().set_consolidation_mode("hub", None, Some(mode), Utc::now()).await?;
    let session = trader
        .store()
        .create_sales_session(
            "hub",
            "Load",
            Utc::now() - chrono::Duration::hours(1),
            Utc::now() + chrono::Duration::days(1),
            &["farm".into(), "mill".into()],
        )
        .await?;
    let offers = [farm.base_url(), mill.base_url()]
        .iter()
        .zip(["farm", "mill"])
        .map(|(base, e)| format!("{base}/api/dfc/enterprises/{e}/offers/1"))
        .collect::<Vec<_>>();
    let graphql = format!("{}/graphql", trader.base_url());
    let farm_store = farm.store().clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for app in [farm, mill, trader] {
        let mut stopped = stopped.clone();
        servers.push(tokio::spawn(app.serve(async move {
            let _ = stopped.changed().await;
        })));
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let checkout = |i: usize| {
        json!({"query": "mutation($input: CheckoutInput!) { checkout(input: $input) { id lines { producerOrder { deliveryState } } } }",
               "variables": {"input": {"idempotencyKey": format!("load-{i}"), "salesSessionId": session.id.to_string(),
                   "customerId": format!("c{i}"), "lines": [{"offerId": offers[0], "quantity": 1}, {"offerId": offers[1], "quantity": 2}]}}})
    };

    let started = Instant::now();
    let results: Vec<(Duration, bool)> = stream::iter(0..CHECKOUTS)
        .map(|i| {
            let (client, graphql, body) = (&client, &graphql, checkout(i));
            async move {
                let t = Instant::now();
                let ok = match client.post(graphql).json(&body).send().await {
                    Ok(r) => r.json::<serde_json::Value>().await.is_ok_and(|v| v.get("errors").is_none()),
                    Err(_) => false,
                };
                (t.elapsed(), ok)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let failures = results.iter().filter(|(_, ok)| !ok).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    let reserved = match farm_store.product_by_sku("farm", "P").await?.map(|p| p.stock) {
        Some(orderhub::store::Stock::Managed { reserved, .. }) => reserved,
        _ => -1,
    };
    println!(
        "checkout across 2 producer platforms (SQLite, {}, {CONCURRENCY} at a time): {CHECKOUTS} checkouts in {:.2} s = {:.0}/s; \
         latency p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms; {failures} failed; farm reserved {reserved} (expected {CHECKOUTS})",
        mode.as_str(),
        elapsed.as_secs_f64(),
        CHECKOUTS as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.95),
        at(0.99),
    );
    let _ = stop.send(true);
    for server in servers {
        server.await??;
    }
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(failures == 0 && reserved == CHECKOUTS as i64, "lost or failed checkouts");
    Ok(())
}
