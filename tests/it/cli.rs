//! The binary as a new user runs it: `orderhub schema`, and `orderhub serve` with the demo
//! configuration the README names, on a fresh database.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_orderhub");

#[test]
fn schema_command_prints_the_sdl() {
    let output = Command::new(BIN).arg("schema").output().expect("runs");
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).expect("utf-8"), orderhub::graphql::sdl());
}

#[tokio::test]
async fn serve_with_the_demo_config_shows_the_seeded_catalogue() {
    let db = std::env::temp_dir().join(format!("orderhub-cli-{}.db", uuid::Uuid::new_v4().simple()));
    let mut child = Command::new(BIN)
        .args(["--config", concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"), "serve"])
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("ORDERHUB_LISTEN", "127.0.0.1:0")
        .env("ORDERHUB_LOG_FORMAT", "json")
        .env_remove("ORDERHUB_CLIENTS")
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("orderhub listening") {
                let _ = tx.send(line);
            }
        }
    });
    let started = Instant::now();
    let line = rx.recv_timeout(Duration::from_secs(30)).expect("the service says where it listens");
    let log: serde_json::Value = serde_json::from_str(&line).expect("json log line");
    let address = log["fields"]["address"].as_str().expect("address").to_owned();
    assert!(started.elapsed() < Duration::from_secs(30));

    let response = reqwest::Client::new()
        .get(format!("http://{address}/api/dfc/enterprises/green-acres/supplied_products"))
        .bearer_auth("demo-trader-token-change-me")
        .send()
        .await
        .expect("catalogue request");
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("body");
    assert!(body.contains("Carrots, 1 kg bag"), "{body}");

    let _ = child.kill();
    let _ = child.wait();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

#[test]
fn migrate_and_seed_commands_prepare_a_fresh_database() {
    let db = std::env::temp_dir().join(format!("orderhub-cli-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", db.display());
    let migrate = Command::new(BIN).arg("migrate").env("DATABASE_URL", &url).output().expect("runs");
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    assert!(db.exists(), "the SQLite file is created on first use");
    let seed = Command::new(BIN)
        .args(["seed", concat!(env!("CARGO_MANIFEST_DIR"), "/seed/catalogue.json")])
        .env("DATABASE_URL", &url)
        .output()
        .expect("runs");
    assert!(seed.status.success(), "{}", String::from_utf8_lossy(&seed.stderr));
    assert!(String::from_utf8_lossy(&seed.stderr).contains("products=6"));
    let broken =
        Command::new(BIN).args(["seed", "/nonexistent/seed.json"]).env("DATABASE_URL", &url).output().expect("runs");
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("reading seed file /nonexistent/seed.json"));
    let bad_config = Command::new(BIN).args(["--config", "/nonexistent.toml", "migrate"]).output().expect("runs");
    assert!(!bad_config.status.success());
    assert!(String::from_utf8_lossy(&bad_config.stderr).contains("reading config /nonexistent.toml"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// `orderhub demo` on free ports, from a folder that is not the source checkout (the binary holds
/// its catalogue): the checkout it prints works as printed.
#[tokio::test]
async fn the_demo_runs_and_its_printed_checkout_works() {
    let data = std::env::temp_dir().join(format!("orderhub-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data).expect("folder");
    let mut child = Command::new(BIN)
        .args(["demo", "--port", "0", "--data-dir", "."])
        .current_dir(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut graphiql = None;
        let mut customer = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("GraphiQL:") {
                graphiql = Some(url.trim().to_owned());
            }
            if let Some(token) = line.strip_prefix("DEMO-TOKEN ") {
                customer = Some(token.to_owned());
            }
            if let Some(body) = line.strip_prefix("DEMO-REQUEST ") {
                let _ = tx.send((graphiql.clone(), customer.clone(), body.to_owned()));
            }
        }
    });
    let (url, token, body) = rx.recv_timeout(Duration::from_secs(60)).expect("the demo prints a checkout");
    let url = url.expect("the demo prints the GraphiQL URL");
    let token = token.expect("the demo prints the customer's token");
    // The printed request as printed, without a token and then with the printed one.
    let send = |token: Option<&str>| {
        let mut request =
            reqwest::Client::new().post(&url).header("content-type", "application/json").body(body.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("checkout sent").json::<serde_json::Value>().await.expect("json answer") }
    };
    let anonymous = send(None).await;
    assert_eq!(anonymous["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{anonymous}");
    let answer = send(Some(&token)).await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
    assert!(answer.get("errors").is_none(), "{answer}");
    let lines = answer["data"]["checkout"]["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "one product of each producer");
    let reservations = answer["data"]["checkout"]["reservations"].as_array().expect("reservations");
    assert_eq!(reservations.len(), 2, "{answer}");
    assert!(reservations.iter().all(|r| r["state"] == "RESERVED"), "{answer}");
}

/// `orderhub check` compares the kept sums of what producers hold with the orders: it agrees on a
/// fresh database, and names the product and exits non-zero when a kept sum is off.
#[tokio::test]
async fn check_command_finds_held_sums_that_differ_from_the_orders() {
    let db = std::env::temp_dir().join(format!("orderhub-cli-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", db.display());
    let check = || Command::new(BIN).arg("check").env("DATABASE_URL", &url).output().expect("runs");
    let agreed = check();
    assert!(agreed.status.success(), "{}", String::from_utf8_lossy(&agreed.stderr));
    assert!(String::from_utf8_lossy(&agreed.stderr).contains("held sums agree with the orders"));
    {
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let store = orderhub::store::Store::connect(&url).await.expect("store");
        // A sum no order accounts for.
        entity::held_demand::Entity::insert(entity::held_demand::ActiveModel {
            sales_session_id: Set(uuid::Uuid::new_v4()),
            peer_id: Set("farm".into()),
            product_iri: Set("https://farm.example/products/carrots".into()),
            offer_iri: Set("https://farm.example/offers/carrots".into()),
            name: Set("Carrots".into()),
            quantity: Set(3),
        })
        .exec_without_returning(store.db())
        .await
        .expect("insert");
    }
    let drifted = check();
    let stderr = String::from_utf8_lossy(&drifted.stderr);
    assert!(!drifted.status.success(), "{stderr}");
    assert!(stderr.contains("https://farm.example/products/carrots") && stderr.contains("kept=3"), "{stderr}");
    assert!(stderr.contains("recomputed=0"), "{stderr}");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
