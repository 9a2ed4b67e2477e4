//! Load scenario for the producer's order API: an orderhub on loopback, many trader requests at
//! once, figures printed. Bounded in count and time; talks to 127.0.0.1 only.
//!
//! `cargo run --release --example load_orders` (SQLite in a temporary file), or with
//! `DATABASE_URL=postgres://...` pointing at an empty database.

#![expect(clippy::print_stdout, reason = "a load scenario prints its figures")]

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use orderhub::config::{ClientConfig, SecretString};
use orderhub::store::seed::{SeedFile, load};
use orderhub::{Application, Config};
use serde_json::json;

const TOKEN: &str = "load-test-token-0123";
const ORDERS: usize = 2_000;
const CONCURRENCY: usize = 32;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    println!(
        "{name}: {} requests in {:.2} s = {:.0} req/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn order(base: &str, product: i64, quantity: i64) -> String {
    let orders = format!("{base}/api/dfc/enterprises/farm/orders");
    json!({"@context": "https://www.datafoodconsortium.org", "@graph": [
        {"@id": format!("{orders}/#"), "@type": "dfc-b:Order", "dfc-b:hasOrderStatus": "dfc-v:Held", "dfc-b:hasPart": "_:l"},
        {"@id": "_:l", "@type": "dfc-b:OrderLine", "dfc-b:quantity": quantity.to_string(),
         "dfc-b:concerns": format!("{base}/api/dfc/enterprises/farm/offers/{product}")}
    ]})
    .to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let temp = std::env::temp_dir().join(format!("orderhub-load-{}.db", uuid::Uuid::new_v4().simple()));
    let database_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}", temp.display()));
    let backend = database_url.split(':').next().unwrap_or("?").to_owned();
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        database_url,
        clients: vec![ClientConfig { platform: "load".into(), name: None, token: SecretString::new(TOKEN) }],
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let seed: SeedFile = serde_json::from_value(json!({"enterprises": [{"id": "farm", "name": "Farm", "products": [
        {"sku": "PLENTY", "name": "Plenty", "unit_value": "1", "unit": "Piece", "price": "1.00", "currency": "EUR", "stock": 1_000_000},
        {"sku": "SCARCE", "name": "Scarce", "unit_value": "1", "unit": "Piece", "price": "1.00", "currency": "EUR", "stock": 100}
    ]}]}))?;
    load(app.store(), seed).await?;
    let plenty = app.store().product_by_sku("farm", "PLENTY").await?.map(|p| p.id).unwrap_or_default();
    let scarce = app.store().product_by_sku("farm", "SCARCE").await?.map(|p| p.id).unwrap_or_default();
    let base = app.base_url().to_owned();
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    println!("backend {backend}, {ORDERS} orders, {CONCURRENCY} at a time");

    // Place orders.
    let started = Instant::now();
    let results: Vec<(Duration, Option<String>)> = stream::iter(0..ORDERS)
        .map(|_| {
            let (client, base) = (&client, &base);
            async move {
                let t = Instant::now();
                let response = client
                    .post(format!("{base}/api/dfc/enterprises/farm/orders"))
                    .bearer_auth(TOKEN)
                    .body(order(base, plenty, 2))
                    .send()
                    .await;
                let location = response
                    .ok()
                    .filter(|r| r.status() == 201)
                    .and_then(|r| r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned));
                (t.elapsed(), location)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let locations: Vec<String> = results.iter().filter_map(|(_, l)| l.clone()).collect();
    anyhow::ensure!(locations.len() == ORDERS, "only {} of {ORDERS} orders placed", locations.len());
    report("POST (place, reserve)", results.into_iter().map(|(d, _)| d).collect(), elapsed);

    // Amend each one (full replacement).
    let started = Instant::now();
    let latencies: Vec<(Duration, bool)> = stream::iter(locations.iter())
        .map(|location| {
            let (client, base) = (&client, &base);
            async move {
                let t = Instant::now();
                let ok = client
                    .put(location)
                    .bearer_auth(TOKEN)
                    .body(order(base, plenty, 3))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                (t.elapsed(), ok)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    anyhow::ensure!(latencies.iter().all(|(_, ok)| *ok), "some amendments failed");
    report("PUT (replace lines)", latencies.into_iter().map(|(d, _)| d).collect(), elapsed);

    // Race for the last units: 100 in stock, 400 asking for one each, all at once.
    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(0..400)
        .map(|_| {
            let (client, base) = (&client, &base);
            async move {
                client
                    .post(format!("{base}/api/dfc/enterprises/farm/orders"))
                    .bearer_auth(TOKEN)
                    .body(order(base, scarce, 1))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }
        })
        .buffer_unordered(400)
        .collect()
        .await;
    let won = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    let reserved = match store.product_by_sku("farm", "SCARCE").await?.map(|p| p.stock) {
        Some(orderhub::store::Stock::Managed { reserved, .. }) => reserved,
        _ => -1,
    };
    println!(
        "race: 400 requests for 100 units in {:.2} s: {won} placed, {refused} refused (409), {reserved} reserved",
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(won == 100 && reserved == 100, "oversold or undersold");

    let _ = stop.send(());
    server.await??;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", temp.display()));
    }
    Ok(())
}
