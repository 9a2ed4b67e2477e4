//! Load scenario for checkout across platforms: a trader and its producer platforms in one
//! process on loopback (real DFC HTTP between them, through a proxy that delays every request
//! like a distant platform), many customers checking out at once in one session, each order
//! holding products of several producers; then the session is closed and every producer order
//! sent Complete. Bounded in count and time; 127.0.0.1 only.
//!
//! `cargo run --release --example load_checkout`. Settings (environment):
//! - `CHECKOUTS` (500), `CONCURRENCY` (64), `LATENCY_MS` (50: each producer request waits so long);
//! - `PRODUCERS` (2) producer platforms, each order holding `LINES` (2) lines of as many of them
//!   in turn (`PRODUCERS=20 LINES=5 CHECKOUTS=10000 LATENCY_MS=0`: the closing figure);
//! - `PROBES` (20): checkouts made one at a time before the load and after it, to compare what one
//!   costs in a fresh session and in a full one (`CHECKOUTS=10000 LATENCY_MS=0` for the 10k figure);
//! - `CONSOLIDATION=BY_WEIGHT` (or `PER_CUSTOMER_ORDER`) instead of PER_SESSION;
//! - `REPLICAS=2` with `TRADER_DATABASE_URL=postgres://.../EMPTY_DB`: two trader replicas on one
//!   PostgreSQL database, checkouts spread over both.

#![expect(clippy::print_stdout, reason = "a load scenario prints its figures")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use orderhub::config::{ClientConfig, PeerConfig, SecretString};
use orderhub::domain::ConsolidationMode;
use orderhub::store::seed::{SeedFile, load};
use orderhub::{Application, Config};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The allocator `orderhub serve` runs with (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "load-hub-token-0123";
const SECRET: &str = "a development secret for the checkout load scenario";

fn setting(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(value) => value.parse().map_err(|e| anyhow::anyhow!("{name} `{value}`: {e}")),
        Err(_) => Ok(default),
    }
}

/// A TCP proxy that holds every request `latency` before passing it on to `target` (set once
/// the platform behind it is up), and counts them.
struct LatencyProxy {
    url: String,
    target: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
    requests: Arc<AtomicU64>,
}

async fn latency_proxy(latency: Duration) -> anyhow::Result<LatencyProxy> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let requests = Arc::new(AtomicU64::new(0));
    let target: Arc<std::sync::OnceLock<std::net::SocketAddr>> = Arc::default();
    let (counted, behind) = (requests.clone(), target.clone());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (counted, behind) = (counted.clone(), behind.clone());
            tokio::spawn(async move {
                let Some(target) = behind.get().copied() else { return };
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                let (mut in_read, mut in_write) = inbound.split();
                let (mut out_read, mut out_write) = outbound.split();
                let upstream = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = in_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let head = &buf[..n.min(8)];
                        if [&b"GET "[..], b"PUT ", b"POST ", b"DELETE "].iter().any(|m| head.starts_with(m)) {
                            counted.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(latency).await;
                        }
                        if out_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = out_write.shutdown().await;
                };
                let downstream = async {
                    let _ = tokio::io::copy(&mut out_read, &mut in_write).await;
                    let _ = in_write.shutdown().await;
                };
                tokio::join!(upstream, downstream);
            });
        }
    });
    Ok(LatencyProxy { url, target, requests })
}

fn database(dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}

async fn producer(
    dir: &std::path::Path,
    enterprise: &str,
    stock: Option<i64>,
    proxy: &LatencyProxy,
) -> anyhow::Result<Application> {
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        // Peers reach it, and the ids it publishes name it, through the proxy.
        base_url: Some(proxy.url.clone()),
        database_url: database(dir, enterprise),
        clients: vec![ClientConfig { platform: "hub".into(), name: None, token: SecretString::new(TOKEN) }],
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let _ = proxy.target.set(app.address());
    let seed: SeedFile = serde_json::from_value(
        json!({"enterprises": [{"id": enterprise, "name": enterprise, "products": [
            {"sku": "P", "name": format!("{enterprise} product"), "unit_value": "500", "unit": "Gram", "price": "2.50", "currency": "EUR", "vat_rate": "5.5", "stock": stock}
        ]}]}),
    )?;
    load(app.store(), seed).await?;
    Ok(app)
}

/// Posts each checkout as trader staff, `concurrency` at a time: how long each took, and whether
/// all its `parts` were reserved (the first answer that was not is printed).
async fn run_checkouts(
    client: &reqwest::Client,
    graphql: &[String],
    token: &str,
    bodies: Vec<serde_json::Value>,
    concurrency: usize,
    parts: usize,
) -> Vec<(Duration, bool)> {
    stream::iter(bodies.into_iter().enumerate())
        .map(|(i, body)| {
            let graphql = &graphql[i % graphql.len()];
            async move {
                let t = Instant::now();
                let answer = match client.post(graphql).bearer_auth(token).json(&body).send().await {
                    Ok(r) => r.json::<serde_json::Value>().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let reserved = answer.as_ref().is_ok_and(|v| {
                    v.get("errors").is_none()
                        && v["data"]["checkout"]["reservations"]
                            .as_array()
                            .is_some_and(|found| found.len() == parts && found.iter().all(|p| p["state"] == "RESERVED"))
                });
                if !reserved && !FAILURE_SHOWN.swap(true, Ordering::Relaxed) {
                    eprintln!("a checkout was not reserved: {answer:?}");
                }
                (t.elapsed(), reserved)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

static FAILURE_SHOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn sorted_latencies(results: &[(Duration, bool)]) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    latencies
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let checkouts = setting("CHECKOUTS", 500)?;
    let concurrency = setting("CONCURRENCY", 64)?.max(1);
    let latency = Duration::from_millis(u64::try_from(setting("LATENCY_MS", 50)?)?);
    let replicas = setting("REPLICAS", 1)?.clamp(1, 8);
    let probes = setting("PROBES", 20)?;
    let producers = setting("PRODUCERS", 2)?.clamp(2, 64);
    let lines_per_order = setting("LINES", 2)?.clamp(1, producers);
    let trader_database = std::env::var("TRADER_DATABASE_URL").ok();
    anyhow::ensure!(
        replicas == 1 || trader_database.as_deref().is_some_and(|u| u.starts_with("postgres")),
        "REPLICAS above 1 needs TRADER_DATABASE_URL=postgres://... (an empty database)"
    );
    let dir = std::env::temp_dir().join(format!("orderhub-load-checkout-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    // The farm counts its stock (what it reserved is checked at the end); the others do not.
    let names: Vec<String> = (0..producers)
        .map(|p| match p {
            0 => "farm".to_owned(),
            1 => "mill".to_owned(),
            p => format!("producer-{p}"),
        })
        .collect();
    let (mut proxies, mut apps) = (Vec::new(), Vec::new());
    for (p, name) in names.iter().enumerate() {
        let proxy = latency_proxy(latency).await?;
        apps.push(producer(&dir, name, (p == 0).then_some(1_000_000), &proxy).await?);
        proxies.push(proxy);
    }
    let requests: Vec<Arc<AtomicU64>> = proxies.iter().map(|p| p.requests.clone()).collect();
    let producer_requests = || requests.iter().map(|r| r.load(Ordering::Relaxed)).sum::<u64>();
    let peers: Vec<PeerConfig> = names
        .iter()
        .zip(&proxies)
        .map(|(id, proxy)| (id.as_str(), &proxy.url))
        .map(|(id, url)| PeerConfig {
            id: id.into(),
            trader: "hub".into(),
            name: None,
            base_url: url.clone(),
            enterprise: id.into(),
            token: SecretString::new(TOKEN),
            timeout_ms: 5_000,
            url_scheme: None,
            oauth: None,
        })
        .collect();
    let mut trader_config = Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: trader_database.clone().unwrap_or_else(|| database(&dir, "hub")),
        peers,
        ..Config::default()
    };
    trader_config.auth.hs256_secret = Some(SecretString::new(SECRET));
    // Staff check out for the customers they name.
    let token = orderhub::auth::dev_token(
        &SecretString::new(SECRET),
        &trader_config.auth,
        "staff-1",
        &["trader_staff".to_owned()],
        &["hub".to_owned()],
        3_600,
    )?;
    let mut traders = Vec::new();
    for _ in 0..replicas {
        traders.push(Application::build(trader_config.clone()).await?);
    }
    let trader = &traders[0];
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
            &names,
        )
        .await?;
    let offers = apps
        .iter()
        .zip(&names)
        .map(|(app, e)| format!("{}/api/dfc/enterprises/{e}/offers/1", app.base_url()))
        .collect::<Vec<_>>();
    let graphql: Vec<String> = traders.iter().map(|t| format!("{}/graphql", t.base_url())).collect();
    let stores: Vec<orderhub::store::Store> = apps.iter().map(|a| a.store().clone()).collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for app in apps.into_iter().chain(traders) {
        let mut stopped = stopped.clone();
        servers.push(tokio::spawn(app.serve(async move {
            let _ = stopped.changed().await;
        })));
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(256).build()?;
    // Checkout `n` orders one or two units from each of `lines_per_order` producers in turn.
    let line_of = |n: usize, k: usize| ((n + k) % producers, 1 + (k % 2) as i64);
    let farm_units =
        |n: usize| (0..lines_per_order).map(|k| line_of(n, k)).filter(|(p, _)| *p == 0).map(|(_, q)| q).sum::<i64>();
    let checkout = |key: String, n: usize| {
        let lines: Vec<serde_json::Value> = (0..lines_per_order)
            .map(|k| line_of(n, k))
            .map(|(p, quantity)| json!({"offerId": offers[p], "quantity": quantity}))
            .collect();
        json!({"query": "mutation($input: CheckoutInput!) { checkout(input: $input) { id reservations { state } } }",
               "variables": {"input": {"idempotencyKey": key.clone(), "salesSessionId": session.id.to_string(),
                   "customerId": key, "lines": lines}}})
    };
    // Warm the catalogue (it is read once per producer and kept).
    let warm =
        json!({"query": format!("{{ salesSession(id: \"{}\") {{ catalogue {{ offers {{ id }} }} }} }}", session.id)});
    client.post(&graphql[0]).json(&warm).send().await?.error_for_status()?;
    // One checkout at a time in the fresh session, and again once the load has filled it: what a
    // customer waits should not grow with the session.
    let probe = |phase: &str, first: usize| {
        (0..probes).map(|i| checkout(format!("probe-{phase}-{i}"), first + i)).collect::<Vec<_>>()
    };
    let before = run_checkouts(&client, &graphql, &token, probe("before", 0), 1, lines_per_order).await;
    let sends_before = producer_requests();

    let started = Instant::now();
    let results = run_checkouts(
        &client,
        &graphql,
        &token,
        (0..checkouts).map(|i| checkout(format!("load-{i}"), probes + i)).collect(),
        concurrency,
        lines_per_order,
    )
    .await;
    let elapsed = started.elapsed();
    let sends = producer_requests() - sends_before;
    let after = run_checkouts(&client, &graphql, &token, probe("after", probes + checkouts), 1, lines_per_order).await;
    let placed = checkouts + 2 * probes;
    let expected_farm_units: i64 = (0..placed).map(farm_units).sum();
    let not_reserved =
        [&results, &before, &after].iter().map(|r| r.iter().filter(|(_, ok)| !ok).count()).sum::<usize>();
    let latencies = sorted_latencies(&results);
    let at = |p: f64| percentile_ms(&latencies, p);
    let reserved = match stores[0].product_by_sku("farm", "P").await?.map(|p| p.stock) {
        Some(orderhub::store::Stock::Managed { reserved, .. }) => reserved,
        _ => -1,
    };
    let backend = if trader_database.is_some() { "PostgreSQL" } else { "SQLite" };
    println!(
        "checkout across {producers} producer platforms, {lines_per_order} lines an order ({backend}, {replicas} trader replica(s), {}, {concurrency} at a time, \
         producers answering after {} ms): {checkouts} checkouts in {:.2} s = {:.0}/s; latency p50 {:.0} ms \
         ({:.1} producer round trips), p95 {:.0} ms, p99 {:.0} ms; {not_reserved} not reserved; {sends} producer \
         requests ({:.2} per checkout); farm reserved {reserved} (expected {}, with the probes)",
        mode.as_str(),
        latency.as_millis(),
        elapsed.as_secs_f64(),
        checkouts as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.50) / latency.as_secs_f64().max(1e-3) / 1e3,
        at(0.95),
        at(0.99),
        sends as f64 / checkouts as f64,
        expected_farm_units,
    );
    if probes > 0 {
        let (small, large) =
            (percentile_ms(&sorted_latencies(&before), 0.5), percentile_ms(&sorted_latencies(&after), 0.5));
        println!(
            "one checkout at a time: p50 {small:.1} ms in a session of up to {probes} orders, {large:.1} ms in a session \
             of {} orders ({:.2}x)",
            checkouts + probes,
            large / small.max(1e-3),
        );
    }
    // Closing: every producer order sent one last time, Complete, before the mutation answers.
    let close = json!({"query": "mutation($id: ID!) { closeSalesSession(id: $id) { open } }",
                       "variables": {"id": session.id.to_string()}});
    let closing_started = Instant::now();
    let closed: serde_json::Value =
        client.post(&graphql[0]).bearer_auth(&token).json(&close).send().await?.json().await?;
    let closing = closing_started.elapsed();
    let (mut complete, mut still_held) = (0, 0);
    for (store, name) in stores.iter().zip(&names) {
        use orderhub::domain::OrderStatus;
        let of = |status| store.incoming_orders(name, Some("hub"), Some(status), orderhub::store::Oldest::Last);
        complete += of(OrderStatus::Complete).await?.len();
        still_held += of(OrderStatus::Held).await?.len();
    }
    println!(
        "closing the session of {placed} orders x {lines_per_order} lines at {producers} producers: {:.0} ms until \
         every producer order was sent Complete; {complete} Complete at the producers, {still_held} still Held",
        closing.as_secs_f64() * 1e3
    );
    let _ = stop.send(true);
    for server in servers {
        server.await??;
    }
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(not_reserved == 0 && reserved == expected_farm_units, "lost or unreserved checkouts");
    anyhow::ensure!(closed.get("errors").is_none() && still_held == 0, "closing left orders open: {closed}");
    Ok(())
}
