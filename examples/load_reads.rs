//! Read benchmark, side by side on one SQLite file: orderhub's `/graphql`, a Node subgraph a
//! competent team would write (`benches/node-peer`: Apollo Server 4, @apollo/subgraph,
//! better-sqlite3, one JOIN per order) and a raw axum handler that runs orderhub's own reads
//! (the same store, the same SQL) without GraphQL. Interleaved rounds, figures printed.
//!
//! A fourth target measures the floor of the GraphQL stack itself: a bare async-graphql subgraph
//! (no extensions, no access checks, no tracing, plain derived types) over the same store reads,
//! one DataLoader batch per `_entities`. What separates it from the raw handler is the cost of
//! async-graphql (parsing, validation, resolving field by field, a value tree, then JSON); what
//! separates orderhub from it is orderhub's own GraphQL layer.
//!
//! `cargo run --release --example load_reads` (needs Node 20 and npm; the Node peer is installed
//! with `npm ci` on first use, building better-sqlite3 from source against `/usr/include/node`).
//! Settings: `ORDERS` (10,000, five lines each), `CONNECTIONS` (10), `SECONDS` per round (3),
//! `ROUNDS` (3). Talks to 127.0.0.1 only.

#![expect(clippy::print_stdout, reason = "a load scenario prints its figures")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chrono::Utc;
use orderhub::config::SecretString;
use orderhub::store::Store;
use orderhub::store::seed::{SeedFile, load};
use orderhub::{Application, Config};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

/// The allocator `orderhub serve` runs with (see `src/main.rs`), for orderhub and the raw handler
/// alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "a development secret for the read benchmark";
const PAGE: &str = "query($s: ID!, $after: String) { orders(filter: {traderId: \"hub\", salesSessionId: $s}, first: 20, after: $after) { items { id total { amount } } nextCursor } }";
const FIELDS: &str = "id status total { amount currency } lines { id name quantity unitPrice { amount currency } }";

fn setting(name: &str, default: usize) -> anyhow::Result<usize> {
    std::env::var(name).map_or(Ok(default), |v| v.parse().with_context(|| format!("{name}={v}")))
}

/// A session of `orders` orders (a millisecond apart), `lines` lines each, written straight to the
/// tables checkout fills.
async fn seed_orders(store: &Store, orders: usize, lines: usize) -> anyhow::Result<(uuid::Uuid, Vec<uuid::Uuid>)> {
    use entity::{customer_order, customer_order_line, sales_session};
    let now = Utc::now();
    let session = uuid::Uuid::new_v4();
    sales_session::Entity::insert(sales_session::ActiveModel {
        id: Set(session),
        enterprise_id: Set("hub".into()),
        name: Set("Benchmark week".into()),
        begins_at: Set(now - chrono::Duration::days(1)),
        ends_at: Set(now + chrono::Duration::days(6)),
        closed_at: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(store.db())
    .await?;
    let ids: Vec<uuid::Uuid> = (0..orders).map(|_| uuid::Uuid::new_v4()).collect();
    for (c, chunk) in ids.chunks(500).enumerate() {
        let ids_before = c * 500;
        let rows = chunk.iter().enumerate().map(|(i, id)| customer_order::ActiveModel {
            id: Set(*id),
            trader_enterprise_id: Set("hub".into()),
            sales_session_id: Set(session),
            customer_id: Set(format!("customer-{}", i % 300)),
            idempotency_key: Set(id.to_string()),
            request_digest: Set(String::new()),
            contact_name: Set(None),
            contact_email: Set(None),
            delivery_address: Set(None),
            status: Set("ACTIVE".into()),
            payment_status: Set("UNPAID".into()),
            total: Set("27.43".into()),
            currency: Set("EUR".into()),
            discounts: Set(None),
            created_at: Set(now - chrono::Duration::milliseconds(i64::try_from(ids_before + i).unwrap_or(0))),
            updated_at: Set(now),
        });
        customer_order::Entity::insert_many(rows.collect::<Vec<_>>()).exec_without_returning(store.db()).await?;
        let lines = chunk.iter().flat_map(|id| {
            (0..lines).map(move |l| customer_order_line::ActiveModel {
                order_id: Set(*id),
                peer_id: Set(format!("farm-{}", l % 3)),
                product_iri: Set(format!("https://farm.example/api/dfc/enterprises/farm/supplied_products/{l}")),
                offer_iri: Set(format!("https://farm.example/api/dfc/enterprises/farm/offers/{l}")),
                name: Set(format!("Product {l}")),
                quantity: Set(1 + l as i64),
                unit_price: Set("1.80".into()),
                currency: Set("EUR".into()),
                vat_rate: Set("5.5".into()),
                discount: Set(None),
                ..Default::default()
            })
        });
        customer_order_line::Entity::insert_many(lines.collect::<Vec<_>>()).exec_without_returning(store.db()).await?;
    }
    Ok((session, ids))
}

/// The raw handler's answer for one order: what `order(id)` reads, through the same store.
async fn raw_order(store: &Store, id: uuid::Uuid) -> Option<Value> {
    let ids = [id];
    let (order, lines) = tokio::join!(store.customer_order(id), store.customer_order_lines(&ids));
    let order = order.ok()??;
    Some(order_json(&order, lines.ok()?.iter()))
}

fn order_json<'l>(
    order: &entity::customer_order::Model,
    lines: impl Iterator<Item = &'l entity::customer_order_line::Model>,
) -> Value {
    let lines: Vec<Value> = lines
        .map(|l| {
            json!({"id": l.id.to_string(), "name": l.name, "quantity": l.quantity,
                         "unitPrice": {"amount": l.unit_price, "currency": l.currency}})
        })
        .collect();
    json!({"id": order.id.to_string(), "status": order.status,
           "total": {"amount": order.total, "currency": order.currency}, "lines": lines})
}

async fn raw_server(store: Store) -> anyhow::Result<String> {
    let router = axum::Router::new()
        .route(
            "/order/{id}",
            get(|State(store): State<Store>, Path(id): Path<uuid::Uuid>| async move {
                axum::Json(json!({"data": {"order": raw_order(&store, id).await}}))
            }),
        )
        .route(
            "/entities",
            post(|State(store): State<Store>, axum::Json(ids): axum::Json<Vec<uuid::Uuid>>| async move {
                let (orders, lines) =
                    tokio::join!(store.customer_orders_by_ids(&ids), store.customer_order_lines(&ids));
                let (orders, lines) = (orders.unwrap_or_default(), lines.unwrap_or_default());
                let entities: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        orders
                            .iter()
                            .find(|o| o.id == *id)
                            .map_or(Value::Null, |o| order_json(o, lines.iter().filter(|l| l.order_id == *id)))
                    })
                    .collect();
                axum::Json(json!({"data": {"_entities": entities}}))
            }),
        )
        .with_state(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// The bare async-graphql subgraph: the same reads through the same store, nothing else.
mod bare {
    use std::collections::HashMap;

    use async_graphql::dataloader::{DataLoader, Loader};
    use async_graphql::{Context, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};
    use orderhub::store::Store;

    #[derive(SimpleObject, Clone)]
    pub struct Money {
        amount: String,
        currency: String,
    }

    #[derive(SimpleObject, Clone)]
    pub struct OrderLine {
        id: ID,
        name: String,
        quantity: i64,
        unit_price: Money,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Order {
        id: ID,
        status: String,
        total: Money,
        lines: Vec<OrderLine>,
    }

    /// An order and its own lines.
    fn order(model: entity::customer_order::Model, lines: &[entity::customer_order_line::Model]) -> Order {
        Order {
            id: ID(model.id.to_string()),
            status: model.status,
            total: Money { amount: model.total, currency: model.currency },
            lines: lines
                .iter()
                .map(|l| OrderLine {
                    id: ID(l.id.to_string()),
                    name: l.name.clone(),
                    quantity: l.quantity,
                    unit_price: Money { amount: l.unit_price.clone(), currency: l.currency.clone() },
                })
                .collect(),
        }
    }

    /// Orders with their lines, a batch in two statements run together.
    pub struct Orders(Store);

    impl Loader<uuid::Uuid> for Orders {
        type Value = Order;
        type Error = String;

        async fn load(&self, ids: &[uuid::Uuid]) -> Result<HashMap<uuid::Uuid, Order>, String> {
            let (orders, lines) = tokio::join!(self.0.customer_orders_by_ids(ids), self.0.customer_order_lines(ids));
            let (orders, lines) = (orders.map_err(|e| e.to_string())?, lines.map_err(|e| e.to_string())?);
            let mut by_order: HashMap<uuid::Uuid, Vec<entity::customer_order_line::Model>> = HashMap::new();
            for line in lines {
                by_order.entry(line.order_id).or_default().push(line);
            }
            Ok(orders
                .into_iter()
                .map(|o| {
                    let id = o.id;
                    (id, order(o, by_order.get(&id).map_or(&[], Vec::as_slice)))
                })
                .collect())
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
            let (id, store) = (uuid::Uuid::parse_str(&id)?, ctx.data_unchecked::<Store>());
            let ids = [id];
            let (found, lines) = tokio::join!(store.customer_order(id), store.customer_order_lines(&ids));
            let lines = lines.map_err(|e| e.to_string())?;
            Ok(found.map_err(|e| e.to_string())?.map(|o| order(o, &lines)))
        }

        #[graphql(entity)]
        async fn find_order_by_id(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
            let id = uuid::Uuid::parse_str(&id)?;
            Ok(ctx.data_unchecked::<DataLoader<Orders>>().load_one(id).await?)
        }
    }

    /// Serves it on loopback; its URL.
    pub async fn serve(store: Store, loader_delay: std::time::Duration) -> anyhow::Result<String> {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .data(DataLoader::new(Orders(store.clone()), tokio::spawn).delay(loader_delay))
            .data(store)
            .finish();
        let router = axum::Router::new()
            .route("/graphql", axum::routing::post_service(async_graphql_axum::GraphQL::new(schema)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(url)
    }
}

/// The Node peer on `database`, once it says where it listens (killed when dropped).
async fn node_peer(database: &std::path::Path) -> anyhow::Result<(tokio::process::Child, String)> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/node-peer");
    if !folder.join("node_modules/better-sqlite3/build/Release/better_sqlite3.node").exists() {
        println!("installing the Node peer (npm ci, better-sqlite3 built from source)...");
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("npm_config_nodedir", "/usr")
            .current_dir(&folder)
            .status()?;
        anyhow::ensure!(status.success(), "npm ci in {} failed", folder.display());
    }
    let mut child = tokio::process::Command::new("node")
        .arg("server.mjs")
        .arg(database)
        .current_dir(&folder)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut out = tokio::io::BufReader::new(child.stdout.take().context("node's stdout")?).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = out.next_line().await? {
            if let Some(port) = line.strip_prefix("listening ") {
                return Ok::<_, anyhow::Error>(port.trim().to_owned());
            }
        }
        anyhow::bail!("the Node peer ended before listening")
    })
    .await??;
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// What one request to one target is.
#[derive(Clone)]
enum Target {
    GraphQl { url: String, token: Option<String> },
    RawOrder(String),
    RawEntities(String),
}

#[derive(Clone)]
enum Read {
    OrderById,
    Entities100,
    /// A page of 20 of a session's orders, after a cursor (none: the first page).
    Page {
        session: uuid::Uuid,
        after: Option<String>,
    },
}

impl Target {
    fn request(
        &self,
        client: &reqwest::Client,
        read: &Read,
        ids: &[uuid::Uuid],
        pick: usize,
    ) -> reqwest::RequestBuilder {
        let hundred = || (0..100).map(|k| ids[(pick + k * 97) % ids.len()]).collect::<Vec<_>>();
        match (self, read) {
            (Target::GraphQl { url, token }, read) => {
                let body = match read {
                    Read::OrderById => json!({"query": format!("query($id: ID!) {{ order(id: $id) {{ {FIELDS} }} }}"),
                                              "variables": {"id": ids[pick % ids.len()]}}),
                    Read::Entities100 => json!({
                        "query": format!("query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on Order {{ {FIELDS} }} }} }}"),
                        "variables": {"r": hundred().iter().map(|id| json!({"__typename": "Order", "id": id})).collect::<Vec<_>>()}}),
                    Read::Page { session, after } => {
                        json!({"query": PAGE, "variables": {"s": session, "after": after}})
                    }
                };
                let request = client.post(url).json(&body);
                match token {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            }
            (Target::RawOrder(base), _) => client.get(format!("{base}/order/{}", ids[pick % ids.len()])),
            (Target::RawEntities(base), _) => client.post(format!("{base}/entities")).json(&hundred()),
        }
    }
}

struct Figures {
    per_second: f64,
    p50_ms: f64,
    cpu_us: f64,
}

/// `connections` clients asking `target` for `seconds`, each as soon as its last answer came.
async fn round(
    target: &Target,
    read: &Read,
    ids: Arc<Vec<uuid::Uuid>>,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Figures> {
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(connections).timeout(Duration::from_secs(30)).build()?;
    // Every answer is checked once: the three must answer the same data.
    let first: Value = target.request(&client, read, &ids, 0).send().await?.json().await?;
    anyhow::ensure!(first.get("errors").is_none() && !first["data"].is_null(), "{first}");
    let cpu_before = process_cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (client, target, ids, read) = (client.clone(), target.clone(), ids.clone(), read.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut pick = c * 7919;
                while Instant::now() < deadline {
                    pick = pick.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 1;
                    let sent = Instant::now();
                    let answer = target.request(&client, &read, &ids, pick).send().await?;
                    anyhow::ensure!(answer.status().is_success(), "status {}", answer.status());
                    let _ = answer.bytes().await?;
                    latencies.push(sent.elapsed());
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let requests = latencies.len() as f64;
    Ok(Figures {
        per_second: requests / elapsed,
        p50_ms: latencies.get(latencies.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1e3),
        cpu_us: (process_cpu() - cpu_before) * 1e6 / requests,
    })
}

/// CPU seconds this process (orderhub, the raw handler and the load driver) has used.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The first page of a 1,000-order session against the last of a `large_orders` one (reached by
/// following `nextCursor` from the first): keyset pages cost the same wherever they lie.
#[expect(clippy::too_many_arguments, reason = "the benchmark's settings, passed on")]
async fn pages(
    graphql: &str,
    token: &str,
    small: uuid::Uuid,
    large: uuid::Uuid,
    large_orders: usize,
    connections: usize,
    rounds: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let orderhub = Target::GraphQl { url: graphql.to_owned(), token: Some(token.to_owned()) };
    let (mut after, mut pages) = (None::<String>, 0);
    let last = loop {
        let read = Read::Page { session: large, after: after.clone() };
        let answer: Value = orderhub.request(&client, &read, &[], 0).send().await?.json().await?;
        anyhow::ensure!(answer.get("errors").is_none(), "{answer}");
        pages += 1;
        match answer["data"]["orders"]["nextCursor"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break after,
        }
    };
    anyhow::ensure!(pages == large_orders.div_ceil(20), "{pages} pages of 20 for {large_orders} orders");
    let reads = [
        ("first page of 1,000 orders", Read::Page { session: small, after: None }),
        ("last page of the large session", Read::Page { session: large, after: last }),
    ];
    for connections in [connections, 1] {
        let mut figures: Vec<Vec<Figures>> = vec![Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (r, (_, read)) in reads.iter().enumerate() {
                figures[r].push(round(&orderhub, read, Arc::new(Vec::new()), connections, seconds).await?);
            }
        }
        println!(
            "orders(filter: {{traderId, salesSessionId}}, first: 20, after), {connections} connection(s), {large_orders} orders in the large session:"
        );
        let p50: Vec<f64> = figures.iter().map(|f| median(f.iter().map(|x| x.p50_ms).collect())).collect();
        for ((name, _), (f, p50)) in reads.iter().zip(figures.iter().zip(&p50)) {
            println!("  {name:32} {:8.0} req/s, p50 {p50:.2} ms", median(f.iter().map(|x| x.per_second).collect()));
        }
        println!("  the last page of the large session takes {:.2}x the first page of 1,000 (p50)", p50[1] / p50[0]);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let orders = setting("ORDERS", 10_000)?;
    let connections = setting("CONNECTIONS", 10)?.max(1);
    let seconds = setting("SECONDS", 3)? as u64;
    let rounds = setting("ROUNDS", 3)?.max(1);
    let large_session = setting("PAGED_ORDERS", 100_000)?.max(1);
    let dir = std::env::temp_dir().join(format!("orderhub-load-reads-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("orderhub.db");
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        database_url: format!("sqlite://{}", file.display()),
        ..Config::default()
    };
    config.auth.hs256_secret = Some(SecretString::new(SECRET));
    let token = orderhub::auth::dev_token(
        &SecretString::new(SECRET),
        &config.auth,
        "staff-1",
        &["trader_staff".to_owned()],
        &["hub".to_owned()],
        3_600,
    )?;
    let loader_delay = Duration::from_millis(config.dataloader_delay_ms);
    let app = Application::build(config).await?;
    load(app.store(), serde_json::from_value::<SeedFile>(json!({"enterprises": [{"id": "hub", "name": "Hub"}]}))?)
        .await?;
    let started = Instant::now();
    let ids = Arc::new(seed_orders(app.store(), orders, 5).await?.1);
    let (small, _) = seed_orders(app.store(), 1_000, 1).await?;
    let (large, _) = seed_orders(app.store(), large_session, 1).await?;
    println!(
        "{orders} orders x 5 lines, and sessions of 1,000 and {large_session} orders, seeded in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        file.display()
    );
    let graphql = format!("http://{}/graphql", app.address());
    let raw = raw_server(app.store().clone()).await?;
    let bare = bare::serve(app.store().clone(), loader_delay).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));
    let (_node, node) = node_peer(&file).await?;

    // The three answer the same data, or the comparison would mean nothing.
    let client = reqwest::Client::new();
    for (read, raw_target) in
        [(Read::OrderById, Target::RawOrder(raw.clone())), (Read::Entities100, Target::RawEntities(raw.clone()))]
    {
        let mut answers = Vec::new();
        for target in [
            Target::GraphQl { url: graphql.clone(), token: Some(token.clone()) },
            Target::GraphQl { url: node.clone(), token: None },
            raw_target,
            Target::GraphQl { url: bare.clone(), token: None },
        ] {
            let answer: Value = target.request(&client, &read, &ids, 12_345).send().await?.json().await?;
            answers.push(answer["data"].clone());
        }
        anyhow::ensure!(
            answers.iter().all(|answer| *answer == answers[0]),
            "they answer differently:\n{}",
            answers.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
        );
    }

    for (read, name, raw_target) in [
        (Read::OrderById, "order(id) with its lines", Target::RawOrder(raw.clone())),
        (Read::Entities100, "_entities x 100 Orders with their lines", Target::RawEntities(raw.clone())),
    ] {
        let targets = [
            ("orderhub", Target::GraphQl { url: graphql.clone(), token: Some(token.clone()) }),
            ("node", Target::GraphQl { url: node.clone(), token: None }),
            ("raw", raw_target),
            ("bare", Target::GraphQl { url: bare.clone(), token: None }),
        ];
        for connections in [connections, 1] {
            let mut figures: Vec<Vec<Figures>> = (0..targets.len()).map(|_| Vec::new()).collect();
            for _ in 0..rounds {
                for (t, (_, target)) in targets.iter().enumerate() {
                    figures[t].push(round(target, &read, ids.clone(), connections, seconds).await?);
                }
            }
            let summary: Vec<(f64, f64, f64)> = figures
                .iter()
                .map(|f| {
                    (
                        median(f.iter().map(|x| x.per_second).collect()),
                        median(f.iter().map(|x| x.p50_ms).collect()),
                        median(f.iter().map(|x| x.cpu_us).collect()),
                    )
                })
                .collect();
            println!("{name}, {connections} connection(s), median of {rounds} rounds of {seconds} s:");
            for ((label, _), (per_second, p50, cpu)) in targets.iter().zip(&summary) {
                let cpu = if *label == "node" {
                    String::new()
                } else {
                    format!(", {cpu:.0} us CPU in this process per request")
                };
                println!("  {label:9} {per_second:8.0} req/s, p50 {p50:.2} ms{cpu}");
            }
            println!(
                "  orderhub = {:.2}x node's requests/s, {:.2} of raw's; p50 {:.2}x node's",
                summary[0].0 / summary[1].0,
                summary[0].0 / summary[2].0,
                summary[0].1 / summary[1].1
            );
            println!(
                "  bare async-graphql = {:.2}x node's requests/s, {:.2} of raw's; orderhub = {:.2} of bare's",
                summary[3].0 / summary[1].0,
                summary[3].0 / summary[2].0,
                summary[0].0 / summary[3].0
            );
        }
    }
    pages(&graphql, &token, small, large, large_session, connections, rounds, seconds).await?;
    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
