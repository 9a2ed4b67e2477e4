//! Test harness: a real orderhub on a loopback port with its own fresh database (a SQLite file,
//! or a PostgreSQL database created for the test and dropped after it when
//! `ORDERHUB_TEST_DATABASE_URL` names a server).

use std::path::PathBuf;

use orderhub::config::{ClientConfig, SecretString};
use orderhub::store::{Product, Store};
use orderhub::{Application, Config};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub const TOKEN_A: &str = "trader-a-secret-token";
pub const TOKEN_B: &str = "trader-b-secret-token";
/// Signs the tests' development tokens (`auth.hs256_secret`).
pub const TEST_SECRET: &str = "the secret of orderhub's integration tests";

pub enum TestDb {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn fresh() -> (TestDb, String) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match std::env::var("ORDERHUB_TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => {
                let name = format!("orderhub_test_{id}");
                let admin = Database::connect(&admin_url).await.expect("connect to PostgreSQL");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
                admin.close().await.ok();
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b).to_owned();
                let url = format!("{base}/{name}");
                (TestDb::Postgres { admin_url, name }, url)
            }
            _ => {
                let path = std::env::temp_dir().join(format!("orderhub-test-{id}.db"));
                let url = format!("sqlite://{}", path.display());
                (TestDb::Sqlite(path), url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            TestDb::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime, which cannot block: use a runtime of its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                    rt.block_on(async {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ =
                                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub http: reqwest::Client,
    pub store: Store,
    config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    db: Option<TestDb>,
}

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

pub fn test_config(database_url: String) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        database_url,
        seed_file: Some(fixture("catalogue.json")),
        clients: vec![
            ClientConfig { platform: "trader-a".into(), name: None, token: SecretString::new(TOKEN_A) },
            ClientConfig { platform: "trader-b".into(), name: None, token: SecretString::new(TOKEN_B) },
        ],
        auth: orderhub::auth::AuthConfig { hs256_secret: Some(SecretString::new(TEST_SECRET)), ..Default::default() },
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let (db, url) = TestDb::fresh().await;
    let mut config = test_config(url);
    adjust(&mut config);
    start(config, db).await
}

async fn start(config: Config, db: TestDb) -> TestApp {
    let mut app = start_on(config).await;
    app.db = Some(db);
    app
}

/// An application on a database it does not own (a second replica of another one).
async fn start_on(config: Config) -> TestApp {
    let app = Application::build(config.clone()).await.expect("application builds");
    let base = app.base_url().to_owned();
    let addr = app.address();
    let store = app.store().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.serve(async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    TestApp {
        base,
        addr,
        http: reqwest::Client::new(),
        store,
        config,
        shutdown: Some(tx),
        server: Some(server),
        db: None,
    }
}

/// A development token of the tests' secret (for an `orderhub serve` configured with it), valid
/// an hour: `subject`, with `roles`, working for `enterprises`.
pub fn test_token(subject: &str, roles: &[&str], enterprises: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let enterprises: Vec<String> = enterprises.iter().map(|e| (*e).to_owned()).collect();
    let auth = orderhub::auth::AuthConfig::default();
    orderhub::auth::dev_token(&SecretString::new(TEST_SECRET), &auth, subject, &roles, &enterprises, 3_600)
        .expect("token")
}

impl TestApp {
    /// A development token of this application's secret: `subject`, with `roles`, working for
    /// `enterprises`. None when the application has no development secret.
    pub fn token(&self, subject: &str, roles: &[&str], enterprises: &[&str]) -> Option<String> {
        let secret = self.config.auth.hs256_secret.as_ref()?;
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        let enterprises: Vec<String> = enterprises.iter().map(|e| (*e).to_owned()).collect();
        Some(orderhub::auth::dev_token(secret, &self.config.auth, subject, &roles, &enterprises, 3_600).expect("token"))
    }

    /// The platform operator's token: what the tests of everything but access itself send.
    pub fn operator_token(&self) -> Option<String> {
        self.token("test-operator", &["operator"], &[])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn config_database_url(&self) -> String {
        self.config.database_url.clone()
    }

    pub fn orders_url(&self, enterprise: &str) -> String {
        self.url(&format!("/api/dfc/enterprises/{enterprise}/orders"))
    }

    pub fn offer_iri(&self, enterprise: &str, product: i64) -> String {
        self.url(&format!("/api/dfc/enterprises/{enterprise}/offers/{product}"))
    }

    pub fn product_iri(&self, enterprise: &str, product: i64) -> String {
        self.url(&format!("/api/dfc/enterprises/{enterprise}/supplied_products/{product}"))
    }

    pub async fn product(&self, enterprise: &str, sku: &str) -> Product {
        self.store.product_by_sku(enterprise, sku).await.expect("store").expect("product exists")
    }

    /// `(on_hand, reserved)` of a stock-managed product.
    pub async fn stock(&self, enterprise: &str, sku: &str) -> (i64, i64) {
        match self.product(enterprise, sku).await.stock {
            orderhub::store::Stock::Managed { on_hand, reserved } => (on_hand, reserved),
            orderhub::store::Stock::NotManaged => panic!("{sku} is not stock-managed"),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut request = self.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            request = request.header("content-type", "application/ld+json").body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json, headers)
    }

    pub async fn post(&self, url: &str, token: &str, body: &Value) -> (u16, Value, reqwest::header::HeaderMap) {
        self.send(reqwest::Method::POST, url, token, Some(body)).await
    }

    pub async fn put(&self, url: &str, token: &str, body: &Value) -> (u16, Value) {
        let (s, b, _) = self.send(reqwest::Method::PUT, url, token, Some(body)).await;
        (s, b)
    }

    pub async fn get(&self, url: &str, token: &str) -> (u16, Value) {
        let (s, b, _) = self.send(reqwest::Method::GET, url, token, None).await;
        (s, b)
    }

    pub async fn delete(&self, url: &str, token: &str) -> u16 {
        self.send(reqwest::Method::DELETE, url, token, None).await.0
    }

    /// The `data` of a GraphQL answer that must have no error.
    pub async fn graphql_ok(&self, query: &str, variables: Value) -> Value {
        let answer = self.graphql(query, variables).await;
        assert!(answer.get("errors").is_none(), "{answer}");
        answer["data"].clone()
    }

    /// `GET /metrics`, checked to be Prometheus' text format.
    pub async fn metrics(&self) -> String {
        let answer = self.http.get(self.url("/metrics")).send().await.expect("metrics answer");
        assert_eq!(answer.status(), 200);
        let media = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(media.starts_with("text/plain; version=0.0.4"), "{media}");
        answer.text().await.expect("metrics text")
    }

    /// A GraphQL request as the platform operator.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(self.operator_token().as_deref(), query, variables).await
    }

    /// A GraphQL request with `token`, or anonymous.
    pub async fn graphql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .header("accept", "application/json")
            .json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("graphql request");
        assert_eq!(
            response.headers().get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "plain JSON clients get application/json"
        );
        response.json().await.expect("graphql json")
    }

    /// A second replica of this application: the same configuration and database, its own port,
    /// pools and workers.
    pub async fn replica(&self) -> TestApp {
        start_on(self.config.clone()).await
    }

    /// Stops the server, then starts the application again on the same database (on a new port).
    pub async fn restart(self) -> TestApp {
        self.stop().await.start().await
    }

    /// Stops the server and closes its database; the data stays for [`StoppedApp::start`].
    pub async fn stop(mut self) -> StoppedApp {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.store.db().clone().close().await.ok();
        StoppedApp { config: self.config.clone(), db: self.db.take().expect("database") }
    }
}

pub struct StoppedApp {
    config: Config,
    db: TestDb,
}

impl StoppedApp {
    pub async fn start(self) -> TestApp {
        start(self.config, self.db).await
    }
}

/// An order as Open Food Network's backorder client sends it: placeholder ids under the
/// producer's collection URL, a SaleSession with JavaScript dates, lines naming offers.
pub fn order_payload(context: Value, orders_url: &str, status: Option<&str>, lines: &[(String, Value)]) -> Value {
    let mut graph = Vec::new();
    let line_ids: Vec<String> = (1..=lines.len()).map(|i| format!("{orders_url}/#/OrderLines/{i}")).collect();
    let mut order = json!({
        "@id": orders_url,
        "@type": "dfc-b:Order",
        "dfc-b:belongsTo": format!("{orders_url}/SalesSession/#"),
        "dfc-b:hasPart": line_ids,
        "dfc-b:orderedBy": "https://trader.example/api/dfc/enterprises/1003",
    });
    if let Some(status) = status {
        order["dfc-b:hasOrderStatus"] = json!(status);
    }
    graph.push(order);
    for ((offer, quantity), id) in lines.iter().zip(&line_ids) {
        graph.push(json!({"@id": id, "@type": "dfc-b:OrderLine", "dfc-b:quantity": quantity, "dfc-b:concerns": offer}));
    }
    graph.push(json!({
        "@id": format!("{orders_url}/SalesSession/#"),
        "@type": "dfc-b:SaleSession",
        "dfc-b:beginDate": "Mon Dec 16 2024 02:30:56 UTC",
        "dfc-b:endDate": "Tue Dec 24 2024 02:30:56 UTC"
    }));
    json!({"@context": context, "@graph": graph})
}

pub fn ctx_org() -> Value {
    json!("https://www.datafoodconsortium.org")
}

pub fn ctx_1_16() -> Value {
    json!("https://w3id.org/dfc/ontology/context/context_1.16.0.json")
}

pub fn ctx_2_0() -> Value {
    json!("https://w3id.org/dfc/ontology/context/context_2.0.0.json")
}

/// The node of a JSON-LD document (a lone node or a `@graph`) with this `@id`.
pub fn graph_node<'a>(doc: &'a Value, id: &str) -> Option<&'a Value> {
    match doc.get("@graph").and_then(Value::as_array) {
        Some(graph) => graph.iter().find(|n| n["@id"] == id),
        None => (doc["@id"] == id).then_some(doc),
    }
}

/// The nodes of a JSON-LD document of one `@type`.
pub fn graph_nodes<'a>(doc: &'a Value, ty: &str) -> Vec<&'a Value> {
    match doc.get("@graph").and_then(Value::as_array) {
        Some(graph) => graph.iter().filter(|n| n["@type"] == ty).collect(),
        None => {
            if doc["@type"] == ty {
                vec![doc]
            } else {
                vec![]
            }
        }
    }
}

/// Reads documents with the official TypeScript DFC connector (`tools/dfc-connector`), offline:
/// `{name: document}` in, `{name: {objects, fetched, contexts, errors}}` out (see `check.mjs`).
/// Installs the pinned connector with `npm ci` the first time (npm's registry is the one network
/// this needs; without it the test fails, it is never skipped).
pub async fn dfc_connector(documents: &Value) -> Value {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/dfc-connector");
    INSTALLED
        .get_or_init(|| async {
            if dir.join("node_modules/@datafoodconsortium/connector").exists() {
                return;
            }
            let status = tokio::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .await
                .expect("npm runs (Node 20 is needed for the connector check)");
            assert!(status.success(), "npm ci in tools/dfc-connector failed");
        })
        .await;
    let mut child = tokio::process::Command::new("node")
        .arg("check.mjs")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = documents.to_string();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        stdin.write_all(input.as_bytes()).await.expect("documents written");
    });
    let output = child.wait_with_output().await.expect("connector check ran");
    writer.await.expect("writer");
    assert!(output.status.success(), "connector check failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the check answers JSON")
}

/// Asserts that the connector read a document without fetching anything (no context, no node the
/// document refers to without including it) and that every getter worked.
pub fn assert_read_offline(report: &Value, name: &str) {
    let report = &report[name];
    assert!(report.is_object(), "{name}: no report");
    assert_eq!(report["contexts"], json!([]), "{name}: the connector fetched a context");
    assert_eq!(report["fetched"], json!([]), "{name}: the connector fetched nodes the document does not include");
    assert_eq!(report["errors"], json!([]), "{name}: the connector could not read every value");
}

/// `orderhub serve` as a child process, killed (SIGKILL) when dropped; its log lines are kept.
pub struct ServeProcess {
    child: std::process::Child,
    pub address: String,
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServeProcess {
    pub fn start(config: &std::path::Path) -> ServeProcess {
        ServeProcess::start_logging(config, "info")
    }

    /// With `filter` as `RUST_LOG` (e.g. `debug`).
    pub fn start_logging(config: &std::path::Path, filter: &str) -> ServeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orderhub"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("ORDERHUB_LOG_FORMAT", "json")
            .env("RUST_LOG", filter)
            .env_remove("DATABASE_URL")
            .env_remove("ORDERHUB_LISTEN")
            .env_remove("ORDERHUB_CLIENTS")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("orderhub serve starts");
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let keep = |stream: Box<dyn std::io::Read + Send>, tx: Option<std::sync::mpsc::Sender<String>>| {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                    if line.contains("orderhub listening")
                        && let Some(tx) = &tx
                    {
                        let _ = tx.send(line.clone());
                    }
                    logs.lock().expect("logs").push(line);
                }
            });
        };
        keep(Box::new(child.stderr.take().expect("stderr")), Some(tx));
        keep(Box::new(child.stdout.take().expect("stdout")), None);
        let line = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the service says where it listens");
        let log: Value = serde_json::from_str(&line).expect("json log line");
        let address = log["fields"]["address"].as_str().expect("address").to_owned();
        ServeProcess { child, address, logs }
    }

    /// Every line it logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").join("\n")
    }

    pub fn kill(&mut self) {
        // Child::kill is SIGKILL on Unix: no shutdown, no draining.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A configuration file for `orderhub serve` as the trader `hub` (the tests' development secret,
/// `settings` added at the top level) buying from `peers` through their proxies, in a folder of
/// its own that the caller removes.
pub fn trader_config_file(
    database_url: &str,
    settings: &str,
    peers: &[(&str, &crate::proxy::Proxy)],
) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("orderhub-serve-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("orderhub.toml");
    let peers: String = peers
        .iter()
        .map(|(id, proxy)| {
            format!(
                "[[peers]]\nid = \"{id}\"\ntrader = \"hub\"\nbase_url = \"{}\"\nenterprise = \"{id}\"\ntoken = \"{}\"\ntimeout_ms = 1000\n",
                proxy.url(),
                crate::platforms::HUB_TOKEN
            )
        })
        .collect();
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"{database_url}\"\nseed_file = \"{}\"\n{settings}\n[auth]\nhs256_secret = \"{TEST_SECRET}\"\n{peers}",
        fixture("trader.json").display(),
    );
    std::fs::write(&config, text).expect("config written");
    (dir, config)
}

/// The value of one series (`name{labels}` as exposed) in a Prometheus text exposition.
pub fn series(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}
