//! A customer's rights over their data (GDPR), over real HTTP on the suite's database: the export
//! holds all of it, erasure leaves none of the contact details anywhere in the database while the
//! orders stay for the accounts, the erasure is recorded without them, and producers never saw any.

use std::collections::BTreeSet;

use orderhub::store::Store;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::platforms::{CUSTOMER_ADDRESS, CUSTOMER_EMAIL, CUSTOMER_NAME, platforms};

const CONTACT: [&str; 3] = [CUSTOMER_NAME, CUSTOMER_EMAIL, CUSTOMER_ADDRESS];

/// Every row of every table of the database, as text.
async fn everything_stored(store: &Store) -> String {
    let db = store.db();
    let backend = db.get_database_backend();
    let text = |sql: String| Statement::from_string(backend, sql);
    let tables: Vec<String> = match backend {
        DbBackend::Postgres => db
            .query_all_raw(text(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'".into(),
            ))
            .await
            .expect("tables")
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("name"))
            .collect(),
        _ => db
            .query_all_raw(text("SELECT name FROM sqlite_master WHERE type = 'table'".into()))
            .await
            .expect("tables")
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("name"))
            .collect(),
    };
    assert!(tables.iter().any(|t| t == "customer_order"), "{tables:?}");
    let mut all = String::new();
    for table in tables {
        let sql = match backend {
            DbBackend::Postgres => format!("SELECT string_agg(t::text, E'\\n') FROM \"{table}\" t"),
            _ => {
                let columns: Vec<String> = db
                    .query_all_raw(text(format!("SELECT name FROM pragma_table_info('{table}')")))
                    .await
                    .expect("columns")
                    .iter()
                    .map(|row| row.try_get_by_index::<String>(0).expect("column"))
                    .collect();
                let row = columns.iter().map(|c| format!("coalesce(CASE typeof(\"{c}\") WHEN 'blob' THEN hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END, '')")).collect::<Vec<_>>();
                format!("SELECT group_concat({}, char(10)) FROM \"{table}\"", row.join(" || '|' || "))
            }
        };
        let rows = db.query_one_raw(text(sql)).await.expect("rows").expect("one row");
        all.push_str(&rows.try_get_by_index::<Option<String>>(0).expect("text").unwrap_or_default());
        all.push('\n');
    }
    all
}

fn codes(answer: &Value) -> BTreeSet<String> {
    answer["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

const EXPORT: &str = "query($c: ID, $t: ID) { customerExport(customerId: $c, traderId: $t) }";
const ERASE: &str = "mutation($c: ID, $t: ID) { eraseCustomer(customerId: $c, traderId: $t) { id customerId traderId reason orders erasedAt } }";

#[tokio::test]
async fn a_customer_exports_all_their_data_and_erasure_leaves_none_of_their_contact_details() {
    let p = platforms().await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let mut placed = Vec::new();
    for (key, lines) in [("gdpr-1", vec![(carrots.clone(), 1), (flour, 2)]), ("gdpr-2", vec![(carrots, 1)])] {
        let answer = p.checkout(key, &lines).await;
        placed.push(answer["data"]["checkout"]["id"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned());
    }
    let trader = &p.trader;
    let customer = trader.token("customer-42", &["customer"], &[]);

    // The export: every order, its lines and the contact details given at checkout.
    let export = trader.graphql_as(customer.as_deref(), EXPORT, json!({})).await;
    let data = &export["data"]["customerExport"];
    assert_eq!(data["customerId"], "customer-42", "{export}");
    let orders = data["orders"].as_array().expect("orders");
    let ids: BTreeSet<&str> = orders.iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids, placed.iter().map(String::as_str).collect(), "{export}");
    assert_eq!(orders.iter().map(|o| o["lines"].as_array().map_or(0, Vec::len)).sum::<usize>(), 3);
    for order in orders {
        assert_eq!(
            order["contact"],
            json!({"name": CUSTOMER_NAME, "email": CUSTOMER_EMAIL, "address": CUSTOMER_ADDRESS})
        );
        assert!(order["total"].is_string() && order["lines"][0]["unitPrice"].is_string(), "{order}");
    }
    // The trader's staff may export it too, for their trader; nobody else.
    let staff = trader.token("hub-staff", &["trader_staff"], &["hub"]);
    let by_staff = trader.graphql_as(staff.as_deref(), EXPORT, json!({"c": "customer-42", "t": "hub"})).await;
    assert_eq!(by_staff["data"]["customerExport"]["orders"].as_array().map(Vec::len), Some(2), "{by_staff}");
    let other = trader.token("other-staff", &["trader_staff"], &["elsewhere"]);
    for (token, variables) in [
        (other.as_deref(), json!({"c": "customer-42", "t": "hub"})),
        (staff.as_deref(), json!({"c": "customer-42"})),
        (trader.token("customer-b", &["customer"], &[]).as_deref(), json!({"c": "customer-42"})),
    ] {
        let refused = trader.graphql_as(token, EXPORT, variables.clone()).await;
        assert_eq!(codes(&refused), BTreeSet::from(["FORBIDDEN".to_owned()]), "{variables}: {refused}");
        assert!(!refused.to_string().contains(CUSTOMER_EMAIL), "{refused}");
    }
    let refused = trader.graphql_as(None, ERASE, json!({"c": "customer-42"})).await;
    assert_eq!(codes(&refused), BTreeSet::from(["UNAUTHENTICATED".to_owned()]), "{refused}");

    // Before erasure the scan finds the details (so that finding none after means something).
    let before = everything_stored(&trader.store).await;
    assert!(CONTACT.iter().all(|c| before.contains(c)), "the scan sees the orders' contact details");

    let erased = trader.graphql_as(customer.as_deref(), ERASE, json!({})).await;
    assert!(erased.get("errors").is_none(), "{erased}");
    let record = &erased["data"]["eraseCustomer"];
    assert_eq!(
        (record["customerId"].as_str(), record["reason"].as_str(), record["orders"].as_i64()),
        (Some("customer-42"), Some("request"), Some(2))
    );

    let after = everything_stored(&trader.store).await;
    for detail in CONTACT {
        assert!(!after.contains(detail), "`{detail}` is still stored after erasure");
    }
    // Nor in the file's bytes: free space, the write-ahead log (SQLite; PostgreSQL keeps dead row
    // versions until VACUUM, see the README).
    if let Some(path) = trader.config_database_url().strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            for detail in CONTACT {
                let found = bytes.windows(detail.len()).any(|w| w == detail.as_bytes());
                assert!(!found, "`{detail}` is still in the bytes of {file}");
            }
        }
    }
    // The orders stay for the accounts, with their lines and totals; the export says what was done.
    let export = trader.graphql_as(customer.as_deref(), EXPORT, json!({})).await;
    let data = &export["data"]["customerExport"];
    assert_eq!(data["orders"].as_array().map(Vec::len), Some(2), "{export}");
    for order in data["orders"].as_array().expect("orders") {
        assert_eq!(order["contact"], json!({"name": null, "email": null, "address": null}));
        assert!(order["total"].is_string() && !order["lines"].as_array().expect("lines").is_empty(), "{order}");
    }
    assert_eq!(data["erasures"].as_array().map(Vec::len), Some(1), "{export}");
    let paid = trader
        .graphql_ok("query($o: ID!) { order(id: $o) { total { amount } lines { name } } }", json!({"o": placed[0]}))
        .await;
    assert_eq!(paid["order"]["lines"].as_array().map(Vec::len), Some(2), "{paid}");
    p.assert_no_personal_data();
}

#[tokio::test]
async fn retention_erases_the_contact_details_of_orders_settled_long_enough_ago() {
    let p = platforms().await;
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let answer = p.checkout("kept-for-now", &[(carrots, 1)]).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let store = &p.trader.store;
    // An open session's orders are not settled: nothing to erase, however old.
    assert_eq!(
        store.erase_contacts_settled_before(chrono::Utc::now() + chrono::Duration::days(1)).await.expect("sweep"),
        0
    );
    p.trader.graphql_ok("mutation($s: ID!) { closeSalesSession(id: $s) { closedAt } }", json!({"s": p.session})).await;
    // Closed now: settled, but not yet for long.
    assert_eq!(
        store.erase_contacts_settled_before(chrono::Utc::now() - chrono::Duration::days(30)).await.expect("sweep"),
        0
    );
    let kept = everything_stored(store).await;
    assert!(CONTACT.iter().all(|c| kept.contains(c)), "kept while the retention period runs");
    // Thirty days later.
    let swept =
        store.erase_contacts_settled_before(chrono::Utc::now() + chrono::Duration::seconds(1)).await.expect("sweep");
    assert_eq!(swept, 1);
    let after = everything_stored(store).await;
    for detail in CONTACT {
        assert!(!after.contains(detail), "`{detail}` is kept past retention");
    }
    assert!(after.contains("retention"), "the sweep is recorded");
    assert_eq!(
        store.erase_contacts_settled_before(chrono::Utc::now() + chrono::Duration::seconds(1)).await.expect("sweep"),
        0,
        "once"
    );
}

/// The trader as its own `orderhub serve` process logging everything down to `debug`: a checkout
/// with contact details, one refused for lack of stock, an export and an erasure leave none of
/// the details, nor the customer's id, in any log line or in anything a producer received.
#[tokio::test]
async fn no_contact_detail_reaches_a_log_line_or_a_producer() {
    use crate::platforms::producer;
    use crate::proxy::Proxy;
    use crate::support::{ServeProcess, TestDb, test_token, trader_config_file};

    let (farm_proxy, mill_proxy) = (Proxy::start().await, Proxy::start().await);
    let farm = producer(&farm_proxy, "catalogue.json").await;
    let _mill = producer(&mill_proxy, "catalogue.json").await;
    let (_db, database_url) = TestDb::fresh().await;
    let (dir, config) =
        trader_config_file(&database_url, "outbox_poll_ms = 100", &[("farm", &farm_proxy), ("mill", &mill_proxy)]);
    let trader = ServeProcess::start_logging(&config, "debug");
    let url = format!("http://{}/graphql", trader.address);
    let staff = test_token("hub-staff", &["trader_staff"], &["hub"]);
    let customer = test_token("customer-42", &["customer"], &[]);
    let http = reqwest::Client::new();
    let ask = |token: &str, query: &str, variables: Value| {
        let request = http.post(&url).bearer_auth(token).json(&json!({"query": query, "variables": variables}));
        async move { request.send().await.expect("sent").json::<Value>().await.expect("json") }
    };

    let created = ask(
        &staff,
        "mutation { createSalesSession(input: {traderId: \"hub\", name: \"W\", beginsAt: \"2024-01-01T00:00:00Z\", endsAt: \"2099-01-01T00:00:00Z\", producerIds: [\"farm\", \"mill\"]}) { id } }",
        json!({}),
    )
    .await;
    let session =
        created["data"]["createSalesSession"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    let carrots = farm.offer_iri("farm", farm.product("farm", "CARROT").await.id);
    let checkout = "mutation($input: CheckoutInput!) { checkout(input: $input) { id } }";
    let contact = json!({"name": CUSTOMER_NAME, "email": CUSTOMER_EMAIL, "address": CUSTOMER_ADDRESS});
    for (key, quantity) in [("logged-1", 2), ("logged-2", 1_000)] {
        let input = json!({"input": {"idempotencyKey": key, "salesSessionId": session, "contact": contact,
            "lines": [{"offerId": carrots, "quantity": quantity}]}});
        let answer = ask(&customer, checkout, input).await;
        assert_eq!(answer["errors"].is_null(), quantity == 2, "{answer}");
    }
    let export = ask(&customer, "{ customerExport }", json!({})).await;
    assert!(export.to_string().contains(CUSTOMER_EMAIL), "{export}");
    let erased = ask(&customer, "mutation { eraseCustomer { orders } }", json!({})).await;
    assert_eq!(erased["data"]["eraseCustomer"]["orders"], 1, "{erased}");

    let logs = trader.logs();
    assert!(logs.lines().count() > 10 && logs.contains("DEBUG"), "the trader logged at debug level:\n{logs}");
    for secret in CONTACT.iter().chain(&["customer-42"]) {
        assert!(!logs.contains(secret), "a log line holds `{secret}`");
    }
    for (name, proxy) in [("farm", &farm_proxy), ("mill", &mill_proxy)] {
        let seen = proxy.received();
        for secret in CONTACT.iter().chain(&["customer-42"]) {
            assert!(!seen.contains(secret), "{name} received `{secret}`");
        }
    }
    assert!(farm_proxy.received().contains("dfc-b:Order"), "the farm got its order");
    let _ = std::fs::remove_dir_all(&dir);
}
