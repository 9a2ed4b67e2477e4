//! orderhub among the platforms as they are deployed: as a trader buying from a Shopify-style
//! producer, an Open Food Network-style one and another orderhub in one session; every order it
//! sends read back by the official TypeScript connector.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use orderhub::config::{ClientConfig, PeerConfig, SecretString};
use serde_json::{Value, json};

use crate::fake_producer::{FakeProducer, Style, Variant, line_ids_by_order};
use crate::support::*;

const HUB_TOKEN: &str = "hub-token-at-every-producer";
const CUSTOMER: [&str; 3] = ["Grace Hopper-Private", "grace.private@example.org", "1 Compiler Close"];

const CAN: u64 = 44_519_466_467_635;
const CASE: u64 = 44_519_466_500_403;
const DULSE: u64 = 44_519_470_924_083;
const APPLES: u64 = 10_001;

fn shopify_variants() -> Vec<Variant> {
    vec![
        Variant {
            id: CAN,
            name: "Baked British Beans - Retail can, 400g (can)",
            sku: "NCBB/T4",
            price: "2.09",
            kg: "0.4",
            on_hand: None,
            pack_of: None,
        },
        Variant {
            id: CASE,
            name: "Baked British Beans - Case, 12 x 400g (can)",
            sku: "NCBB/CD",
            price: "18.85",
            kg: "4.8",
            on_hand: Some(5),
            pack_of: Some((CAN, 12)),
        },
        Variant {
            id: DULSE,
            name: "Dulse Flakes - Retail pouch, 30g",
            sku: "MAR/WDULS/P3",
            price: "5.95",
            kg: "0.03",
            on_hand: Some(5),
            pack_of: None,
        },
    ]
}

fn peer(id: &str, base: &str, enterprise: &str) -> PeerConfig {
    PeerConfig {
        id: id.into(),
        trader: "hub".into(),
        name: None,
        base_url: base.into(),
        enterprise: enterprise.into(),
        token: SecretString::new(HUB_TOKEN),
        timeout_ms: 2_000,
        // Not said: the trader finds each platform's scheme out.
        url_scheme: None,
        oauth: None,
    }
}

struct Session {
    trader: TestApp,
    id: String,
}

/// A trader buying from `producers` (id, base URL, enterprise) in one open session.
async fn session_with(producers: &[(&str, &str, &str)], adjust: impl FnOnce(&mut orderhub::Config)) -> Session {
    let peers = producers.iter().map(|(id, base, enterprise)| peer(id, base, enterprise)).collect();
    let trader = spawn_app_with(|c| {
        c.seed_file = Some(fixture("trader.json"));
        c.peers = peers;
        c.outbox_poll_ms = 100;
        c.retry_base_ms = 200;
        adjust(c);
    })
    .await;
    let ids: Vec<&str> = producers.iter().map(|(id, _, _)| *id).collect();
    let created = trader
        .graphql_ok(
            "mutation($input: CreateSalesSessionInput!) { createSalesSession(input: $input) { id } }",
            json!({"input": {"traderId": "hub", "name": "Week 50", "beginsAt": "2024-01-01T00:00:00Z",
                "endsAt": "2099-01-01T00:00:00Z", "producerIds": ids}}),
        )
        .await;
    Session { trader, id: created["createSalesSession"]["id"].as_str().expect("id").to_owned() }
}

impl Session {
    /// The session's offers by name, read through the trader (which learns each URL scheme).
    async fn offers(&self) -> Vec<Value> {
        let catalogue = self
            .trader
            .graphql_ok(
                "query($id: ID!) { salesSession(id: $id) { catalogue { offers { id name producer { id } stockManaged available price { amount currency } } errors { producer { id } code message } } } }",
                json!({"id": self.id}),
            )
            .await;
        let catalogue = &catalogue["salesSession"]["catalogue"];
        assert_eq!(catalogue["errors"], json!([]), "{catalogue}");
        catalogue["offers"].as_array().cloned().unwrap_or_default()
    }

    async fn checkout(&self, key: &str, lines: &[(String, i64)]) -> Value {
        let lines: Vec<Value> = lines.iter().map(|(offer, q)| json!({"offerId": offer, "quantity": q})).collect();
        let answer = self
            .trader
            .graphql(
                "mutation($input: CheckoutInput!) { checkout(input: $input) { id lines { producerOrder { deliveryState } } } }",
                json!({"input": {
                    "idempotencyKey": key, "salesSessionId": self.id, "customerId": "customer-grace",
                    "contact": {"name": CUSTOMER[0], "email": CUSTOMER[1], "address": CUSTOMER[2]},
                    "lines": lines,
                }}),
            )
            .await;
        assert!(answer.get("errors").is_none(), "{answer}");
        answer["data"]["checkout"].clone()
    }

    async fn producer_orders(&self) -> Vec<Value> {
        let data = self
            .trader
            .graphql_ok(
                "query($id: ID!) { salesSession(id: $id) { producerOrders { producer { id } status remoteId deliveryState lastError lines { orderedProductId quantity } } } }",
                json!({"id": self.id}),
            )
            .await;
        data["salesSession"]["producerOrders"].as_array().cloned().unwrap_or_default()
    }

    async fn settled(&self) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let orders = self.producer_orders().await;
            if orders.iter().all(|po| po["deliveryState"] == "DELIVERED") {
                return orders;
            }
            assert!(Instant::now() < deadline, "not delivered: {orders:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The quantities a fake producer holds in its one order of the session: `(status, {variant: q})`.
fn held(producer: &FakeProducer) -> Vec<(&'static str, BTreeMap<u64, i64>)> {
    producer
        .orders()
        .into_iter()
        .map(|o| (o.status, o.lines.iter().map(|l| (l.variant, l.quantity)).collect()))
        .collect()
}

#[tokio::test]
async fn a_trader_buys_from_shopify_ofn_style_and_orderhub_producers_in_one_session() {
    let shop = FakeProducer::start(Style::Shopify, "test-hodmedod", HUB_TOKEN, shopify_variants()).await;
    let apples = vec![Variant {
        id: APPLES,
        name: "Apple - 1kg",
        sku: "AR",
        price: "2.50",
        kg: "1",
        on_hand: Some(20),
        pack_of: None,
    }];
    let ofn = FakeProducer::start(Style::Ofn, "10000", HUB_TOKEN, apples).await;
    let farm = spawn_app_with(|c| {
        c.seed_file = Some(fixture("catalogue-wholesale.json"));
        c.clients.push(ClientConfig { platform: "hub".into(), name: None, token: SecretString::new(HUB_TOKEN) });
    })
    .await;
    let session = session_with(
        &[
            ("hodmedod", &shop.base, "test-hodmedod"),
            ("orchard", &ofn.base, "10000"),
            ("grains", &farm.base, "hodmedod"),
        ],
        |_| {},
    )
    .await;
    // Beans go to the Shopify producer by weight, in whole cases.
    session
        .trader
        .graphql_ok(
            "mutation { setConsolidationMode(traderId: \"hub\", producerId: \"hodmedod\", mode: BY_WEIGHT) { defaultMode } }",
            json!({}),
        )
        .await;

    // One catalogue over three platforms and two URL schemes, none of them configured.
    let offers = session.offers().await;
    let offers = offers.as_slice();
    let find = |name: &str| {
        offers
            .iter()
            .find(|o| o["name"].as_str().is_some_and(|n| n.starts_with(name)) && o["producer"]["id"] != "grains")
            .unwrap_or_else(|| panic!("{name} in {offers:?}"))
    };
    let can = find("Baked British Beans - Retail can");
    assert_eq!((can["stockManaged"].as_bool(), can["available"].is_null()), (Some(false), true), "-1 keeps selling");
    assert_eq!(can["price"], json!({"amount": "2.09", "currency": "GBP"}));
    assert_eq!(find("Baked British Beans - Case")["available"], "5");
    // A JSON number on the wire (2.5), shown at the currency's scale.
    assert_eq!(find("Apple - 1kg")["price"]["amount"], "2.50");
    assert_eq!(find("Apple - 1kg")["available"], "20");
    let offer = |name: &str| find(name)["id"].as_str().expect("offer id").to_owned();
    let chia = offers
        .iter()
        .find(|o| o["producer"]["id"] == "grains" && o["name"].as_str().is_some_and(|n| n.starts_with("Chia")));
    let chia = chia.and_then(|o| o["id"].as_str()).expect("chia at the other orderhub").to_owned();
    let (can, dulse, apple) = (offer("Baked British Beans - Retail can"), offer("Dulse"), offer("Apple"));

    // First customer: 5 cans (2 kg: one case), 2 pouches, 3 kg of apples, 2 packs of chia.
    let first = session
        .checkout("grace-1", &[(can.clone(), 5), (dulse.clone(), 2), (apple.clone(), 3), (chia.clone(), 2)])
        .await;
    assert!(
        first["lines"].as_array().expect("lines").iter().all(|l| l["producerOrder"]["deliveryState"] == "DELIVERED"),
        "{first}"
    );
    assert_eq!(held(&shop), vec![("Held", BTreeMap::from([(CASE, 1), (DULSE, 2)]))]);
    assert_eq!(held(&ofn), vec![("Held", BTreeMap::from([(APPLES, 3)]))]);
    assert_eq!(farm.stock("hodmedod", "OGCH/R3").await, (8, 2));
    let server_lines = line_ids_by_order(&shop);

    // Second customer: 10 more cans (6 kg: two cases), a pouch, an apple, a pack of chia. The Shopify
    // order is PUT with the producer's own order and line ids.
    session.checkout("grace-2", &[(can.clone(), 10), (dulse.clone(), 1), (apple.clone(), 1), (chia.clone(), 1)]).await;
    assert_eq!(held(&shop), vec![("Held", BTreeMap::from([(CASE, 2), (DULSE, 3)]))]);
    assert_eq!(line_ids_by_order(&shop), server_lines, "the same order and lines, amended");
    assert_eq!(held(&ofn), vec![("Held", BTreeMap::from([(APPLES, 4)]))]);
    assert_eq!(shop.available(CASE), Some(3));

    // The first customer cancels: 10 cans are 4 kg, one case again.
    session
        .trader
        .graphql_ok("mutation($id: ID!) { cancelOrder(orderId: $id) { status } }", json!({"id": first["id"]}))
        .await;
    assert_eq!(held(&shop), vec![("Held", BTreeMap::from([(CASE, 1), (DULSE, 1)]))]);
    assert_eq!(held(&ofn), vec![("Held", BTreeMap::from([(APPLES, 1)]))]);
    assert_eq!(farm.stock("hodmedod", "OGCH/R3").await, (8, 1));

    // The session closes: every producer order is completed, stock sold at each producer.
    session
        .trader
        .graphql_ok("mutation($id: ID!) { closeSalesSession(id: $id) { open } }", json!({"id": session.id}))
        .await;
    let orders = session.settled().await;
    assert!(orders.iter().all(|po| po["status"] == "Complete"), "{orders:?}");
    assert_eq!(held(&shop), vec![("Complete", BTreeMap::from([(CASE, 1), (DULSE, 1)]))]);
    assert_eq!((shop.on_hand(CASE), shop.on_hand(DULSE)), (Some(4), Some(4)));
    assert_eq!(held(&ofn), vec![("Complete", BTreeMap::from([(APPLES, 1)]))]);
    assert_eq!(ofn.on_hand(APPLES), Some(19));
    assert_eq!(farm.stock("hodmedod", "OGCH/R3").await, (7, 0));
    assert_eq!(line_ids_by_order(&shop), server_lines, "completed under the same ids");

    // What the Shopify producer received: every request accepted, every line named as the
    // producer names it once it had, and each read whole by the connector.
    let log = shop.log();
    let refused: Vec<_> = log
        .iter()
        .filter(|e| e.status >= 300 && !(e.method == "GET" && e.status == 404))
        .map(|e| (e.method.as_str(), e.path.as_str(), e.refusal.clone()))
        .collect();
    assert!(refused.is_empty(), "refused: {refused:?}");
    let probes: Vec<_> = log.iter().filter(|e| e.status == 404).map(|e| e.path.as_str()).collect();
    assert_eq!(probes, ["/api/dfc/enterprises/test-hodmedod/catalog_items"], "the OFN scheme tried first, once");
    let writes: Vec<_> = log.iter().filter(|e| e.method == "POST" || e.method == "PUT").collect();
    assert_eq!(writes.iter().map(|e| e.method.as_str()).collect::<Vec<_>>(), ["POST", "PUT", "PUT", "PUT"]);
    let known: Vec<&String> = server_lines.values().flatten().collect();
    let mut documents = serde_json::Map::new();
    for (i, write) in writes.iter().enumerate() {
        let body = write.body.clone().expect("a JSON body");
        let order = graph_nodes(&body, "dfc-b:Order")[0].clone();
        let parts: Vec<String> = match &order["dfc-b:hasPart"] {
            Value::Array(ids) => ids.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            other => other.as_str().map(str::to_owned).into_iter().collect(),
        };
        if write.method == "PUT" {
            assert!(
                parts.iter().all(|p| known.contains(&p)),
                "PUT {i} names the producer's lines: {parts:?} / {known:?}"
            );
        } else {
            assert!(parts.iter().all(|p| p.contains("/Orders/OrderLines/")), "POST names its lines: {parts:?}");
        }
        documents.insert(format!("{} {i}", write.method), body);
    }
    let report = dfc_connector(&Value::Object(documents.clone())).await;
    for (name, body) in &documents {
        assert_read_offline(&report, name);
        let order = graph_nodes(body, "dfc-b:Order")[0];
        let read = &report[name]["objects"][order["@id"].as_str().expect("order id")];
        let lines = read["getLines"].as_array().expect("the connector imports the lines");
        assert_eq!(lines.len(), graph_nodes(body, "dfc-b:OrderLine").len(), "{name}");
        for line in lines {
            let line = &report[name]["objects"][line["@id"].as_str().expect("line id")];
            assert!(line["getQuantity"].as_i64().is_some_and(|q| q > 0), "{name}: {line}");
            let offer = &report[name]["objects"][line["getOffer"]["@id"].as_str().expect("offer")];
            assert!(offer["getPrice"]["getQuantityValue"].as_f64().is_some_and(|p| p > 0.0), "{name}: {offer}");
            let product = &report[name]["objects"][offer["getOfferedItem"]["@id"].as_str().expect("product")];
            assert!(
                product["getName"].as_str().is_some_and(|n| n.contains("Beans") || n.contains("Dulse")),
                "{name}: {product}"
            );
        }
    }

    // No personal data reached any producer.
    for exchange in shop.log().iter().chain(ofn.log().iter()) {
        let text = exchange.body.as_ref().map(Value::to_string).unwrap_or_default();
        for secret in CUSTOMER.iter().chain(&["customer-grace"]) {
            assert!(!text.contains(secret), "{} {} carried `{secret}`", exchange.method, exchange.path);
        }
    }
}

fn offer_named(offers: &[Value], name: &str) -> String {
    offers
        .iter()
        .find(|o| o["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .and_then(|o| o["id"].as_str())
        .unwrap_or_else(|| panic!("{name} in {offers:?}"))
        .to_owned()
}

/// The only customer cancels: the Shopify order is PUT Cancelled (the producer's order id, no
/// lines), its stock released; a later checkout makes a new order there.
#[tokio::test]
async fn cancelling_everything_cancels_the_shopify_order() {
    let shop = FakeProducer::start(Style::Shopify, "test-hodmedod", HUB_TOKEN, shopify_variants()).await;
    // Said in the configuration: no call is spent finding the scheme out.
    let session = session_with(&[("hodmedod", &shop.base, "test-hodmedod")], |c| {
        c.peers[0].url_scheme = Some(orderhub::dfc::urls::Profile::Shopify);
    })
    .await;
    let offers = session.offers().await;
    let dulse = offer_named(&offers, "Dulse");
    let order = session.checkout("only-1", &[(dulse.clone(), 3)]).await;
    assert_eq!(shop.available(DULSE), Some(2));
    session
        .trader
        .graphql_ok("mutation($id: ID!) { cancelOrder(orderId: $id) { status } }", json!({"id": order["id"]}))
        .await;
    assert_eq!(held(&shop), vec![("Cancelled", BTreeMap::from([(DULSE, 3)]))]);
    assert_eq!(shop.available(DULSE), Some(5));
    let cancel = shop.log().into_iter().rfind(|e| e.method == "PUT").expect("a PUT");
    let body = cancel.body.expect("body");
    assert_eq!(body["dfc-b:hasOrderStatus"], "dfc-v:Cancelled", "{body}");
    assert_read_offline(&dfc_connector(&json!({ "cancel": body })).await, "cancel");
    session.checkout("only-2", &[(dulse, 1)]).await;
    let orders = held(&shop);
    assert_eq!(orders.len(), 2, "a cancelled order takes no lines again: {orders:?}");
    assert_eq!(orders[1], ("Held", BTreeMap::from([(DULSE, 1)])));
    assert_eq!(session.settled().await.len(), 1);
    assert!(shop.log().iter().all(|e| e.status < 400), "{:?}", shop.log());
}

/// The answer to the creation is lost after the Shopify app created the order (it knows no
/// Idempotency-Key): the trader finds the order by its `orderNumber`, learns its line ids from the
/// listing, and amends that order; none is made twice.
#[tokio::test]
async fn a_lost_creation_answer_at_the_shopify_producer_makes_no_second_order() {
    let proxy = crate::proxy::Proxy::start().await;
    let shop = FakeProducer::start_behind(&proxy, Style::Shopify, "test-hodmedod", HUB_TOKEN, shopify_variants()).await;
    let session = session_with(&[("hodmedod", &shop.base, "test-hodmedod")], |c| {
        c.unconfirmed_orders = orderhub::trader::UnconfirmedPolicy::Acknowledge;
    })
    .await;
    let offers = session.offers().await;
    let dulse = offer_named(&offers, "Dulse");
    proxy.drop_post_answers();
    session.checkout("lost-1", &[(dulse.clone(), 2)]).await;
    assert!(proxy.lost_answers() > 0, "the answer was lost");
    proxy.heal();
    session.settled().await;
    assert_eq!(held(&shop), vec![("Held", BTreeMap::from([(DULSE, 2)]))]);
    let server_lines = line_ids_by_order(&shop);
    session.checkout("lost-2", &[(dulse, 1)]).await;
    assert_eq!(held(&shop), vec![("Held", BTreeMap::from([(DULSE, 3)]))]);
    assert_eq!(line_ids_by_order(&shop), server_lines);
    let put = shop.log().into_iter().rfind(|e| e.method == "PUT").expect("a PUT");
    let body = put.body.expect("body");
    let order = graph_nodes(&body, "dfc-b:Order")[0].clone();
    let named: Vec<String> = serde_json::from_value(order["dfc-b:hasPart"].clone()).expect("line ids");
    assert_eq!(named, server_lines.values().next().cloned().unwrap_or_default(), "the producer's line ids");
}

/// The Shopify app as deployed keeps no `orderNumber`: after a lost creation answer, the trader
/// cannot tell which of the producer's orders is its own. It sends nothing (a second POST could
/// order twice) and says why, retrying, until a person has dealt with the order it cannot account
/// for; then it places the order.
#[tokio::test]
async fn a_lost_creation_answer_where_no_order_number_is_kept_waits_for_a_person() {
    let proxy = crate::proxy::Proxy::start().await;
    let shop = FakeProducer::start_behind(&proxy, Style::Shopify, "test-hodmedod", HUB_TOKEN, shopify_variants()).await;
    shop.keep_no_order_numbers();
    let session = session_with(&[("hodmedod", &shop.base, "test-hodmedod")], |c| {
        c.unconfirmed_orders = orderhub::trader::UnconfirmedPolicy::Acknowledge;
        c.retry_max_ms = 500;
    })
    .await;
    let offers = session.offers().await;
    let dulse = offer_named(&offers, "Dulse");
    proxy.drop_post_answers();
    session.checkout("lost-1", &[(dulse.clone(), 2)]).await;
    assert!(proxy.lost_answers() > 0, "the answer was lost");
    proxy.heal();
    let deadline = Instant::now() + Duration::from_secs(20);
    let stray = loop {
        let orders = session.producer_orders().await;
        if let Some(error) = orders[0]["lastError"].as_str().filter(|e| e.starts_with("PEER_ORDER_UNACCOUNTED")) {
            assert_eq!(orders[0]["deliveryState"], "PENDING", "retried, not given up: {orders:?}");
            let listings = shop.log().iter().filter(|e| e.method == "GET" && e.path.ends_with("/Orders")).count();
            if listings >= 2 {
                break error.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "never said why it waits: {orders:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let created = shop.orders();
    assert_eq!(created.len(), 1, "no second order while one cannot be accounted for");
    assert!(stray.contains(&format!("/Orders/{}", created[0].id)), "the message names it: {stray}");
    assert_eq!(shop.log().iter().filter(|e| e.method == "POST").count(), 1);

    // A person cancels it at the producer: nothing is unaccounted for, the order is placed.
    shop.cancel_by_hand(created[0].id);
    session.settled().await;
    assert_eq!(held(&shop), vec![("Cancelled", BTreeMap::from([(DULSE, 2)])), ("Held", BTreeMap::from([(DULSE, 2)]))]);
    assert_eq!(shop.available(DULSE), Some(3));
}

#[tokio::test]
async fn an_order_cancelled_at_the_producer_is_placed_again_when_customers_order_more() {
    let shop = FakeProducer::start(Style::Shopify, "test-hodmedod", HUB_TOKEN, shopify_variants()).await;
    let session = session_with(&[("hodmedod", &shop.base, "test-hodmedod")], |_| {}).await;
    let offers = session.offers().await;
    let dulse = offer_named(&offers, "Dulse");
    let first = session.checkout("before-1", &[(dulse.clone(), 2)]).await;
    session.settled().await;
    let created = shop.orders();
    assert_eq!(created.len(), 1);

    // A person cancels it in the shop's back office; the trader does not know. The next change
    // is refused there ("the order is Cancelled"): the trader asks, learns it, and orders anew.
    shop.cancel_by_hand(created[0].id);
    let second = session.checkout("after-1", &[(dulse.clone(), 1)]).await;
    session.settled().await;
    assert_eq!(held(&shop), vec![("Cancelled", BTreeMap::from([(DULSE, 2)])), ("Held", BTreeMap::from([(DULSE, 3)]))]);
    assert_eq!(shop.available(DULSE), Some(2));
    let query = "query($id: ID!) { order(id: $id) { status reservations { state } } }";
    for order in [&first, &second] {
        let data = session.trader.graphql_ok(query, json!({"id": order["id"]})).await;
        assert_eq!(data["order"], json!({"status": "ACTIVE", "reservations": [{"state": "RESERVED"}]}), "{order}");
    }
    let gets: Vec<String> = shop
        .log()
        .iter()
        .filter(|e| e.method == "GET" && e.path.ends_with(&format!("/Orders/{}", created[0].id)))
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(gets.len(), 1, "the producer was asked once what became of its order: {gets:?}");
}
