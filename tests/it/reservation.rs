//! The reservation engine against the world: many buyers for the last units, two trader replicas
//! on one database, answers lost after the producer acted, garbage after acting, an outage in
//! the middle of a burst. After every scenario the same invariant is checked: each producer
//! holds exactly one Held order per producer order that has one, with exactly the lines the
//! trader recomputes from its active customer orders, and reserves exactly that stock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use orderhub::trader::UnconfirmedPolicy;
use serde_json::{Value, json};

use crate::platforms::{Platforms, platforms, platforms_seeded, platforms_with, producer};
use crate::proxy::Proxy;
use crate::support::{ServeProcess, TestApp, TestDb, test_token, trader_config_file};

const RESERVE: &str = "mutation($input: CheckoutInput!) { checkout(input: $input) {
    id status reservations { producer { id } state reason } lines { quantity } } }";

const PRODUCER_ORDERS: &str = "query($id: ID!) { salesSession(id: $id) { producerOrders {
    id producer { id } status deliveryState remoteId attempts lastError lines { name quantity } } } }";

/// What became of one checkout.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Every part reserved.
    Reserved(String),
    /// Refused for stock: the quantities said to be available.
    OutOfStock(Vec<String>),
    Other(String),
}

fn answer(value: &Value) -> Answer {
    if let Some(error) = value["errors"].get(0) {
        if error["extensions"]["code"] == "OUT_OF_STOCK" {
            let available = error["extensions"]["shortages"]
                .as_array()
                .map(|s| s.iter().map(|s| s["available"].as_str().unwrap_or("?").to_owned()).collect())
                .unwrap_or_default();
            return Answer::OutOfStock(available);
        }
        return Answer::Other(value.to_string());
    }
    let order = &value["data"]["checkout"];
    let reserved = order["reservations"].as_array().is_some_and(|r| r.iter().all(|r| r["state"] == "RESERVED"));
    match order["id"].as_str() {
        Some(id) if reserved && order["status"] == "ACTIVE" => Answer::Reserved(id.to_owned()),
        _ => Answer::Other(value.to_string()),
    }
}

fn is_postgres(app: &TestApp) -> bool {
    app.store.backend() == sea_orm::DbBackend::Postgres
}

async fn warm_catalogue(p: &Platforms) {
    let query = "query($id: ID!) { salesSession(id: $id) { catalogue { offers { id } errors { code } } } }";
    let data = p.trader.graphql_ok(query, json!({"id": p.session})).await;
    assert_eq!(data["salesSession"]["catalogue"]["errors"], json!([]), "{data}");
}

async fn carrots(p: &Platforms) -> String {
    p.carrot_and_flour_offers().await.0
}

/// Checkouts of `lines`, `at_once` at a time, spread over `traders` in turn.
async fn burst(
    p: &Platforms,
    traders: &[&TestApp],
    prefix: &str,
    count: usize,
    at_once: usize,
    lines: &[(String, i64)],
) -> Vec<Answer> {
    futures::stream::iter(0..count)
        .map(|i| {
            let trader = traders[i % traders.len()];
            async move { answer(&p.checkout_at(trader, RESERVE, &format!("{prefix}-{i}"), lines).await) }
        })
        .buffer_unordered(at_once)
        .collect()
        .await
}

/// The trader's producer orders once none is waiting to be sent (or the deadline passed).
async fn settled_producer_orders(p: &Platforms, within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let data = p.trader.graphql_ok(PRODUCER_ORDERS, json!({"id": p.session})).await;
        let orders = data["salesSession"]["producerOrders"].as_array().cloned().unwrap_or_default();
        if orders.iter().all(|po| po["deliveryState"] == "DELIVERED") || Instant::now() > deadline {
            return orders;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The invariant: at each producer, the Held orders from the hub are exactly those the trader's
/// producer orders name, one each, saying exactly their lines; the producer reserves for them
/// exactly what they say; nothing is FAILED or still waiting.
async fn assert_converged(p: &Platforms, within: Duration) {
    let orders = settled_producer_orders(p, within).await;
    let drift = p.trader.store.held_demand_drift().await.expect("held sums");
    assert!(drift.is_empty(), "the kept held sums differ from the orders: {drift:?}");
    for po in &orders {
        assert_eq!(po["deliveryState"], "DELIVERED", "every producer order converges, none FAILED: {po}");
    }
    for (producer, app) in [("farm", p.farm()), ("mill", &p.mill)] {
        let mut expected: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
        for po in orders.iter().filter(|po| po["producer"]["id"] == producer && po["status"] == "Held") {
            let Some(remote) = po["remoteId"].as_str() else {
                assert!(
                    po["lines"].as_array().is_none_or(Vec::is_empty),
                    "a Held order with lines was never placed: {po}"
                );
                continue;
            };
            let id: i64 = remote.rsplit('/').next().and_then(|id| id.parse().ok()).expect("our order id");
            let mut lines: Vec<(String, i64)> = po["lines"]
                .as_array()
                .expect("lines")
                .iter()
                .filter(|l| l["quantity"].as_i64() > Some(0))
                .map(|l| (l["name"].as_str().expect("name").to_owned(), l["quantity"].as_i64().expect("quantity")))
                .collect();
            lines.sort();
            assert!(expected.insert(id, lines).is_none(), "two producer orders name one order at {producer}");
        }
        let held: BTreeMap<i64, Vec<(String, i64)>> = app
            .store
            .incoming_orders(
                producer,
                Some("hub"),
                Some(orderhub::domain::OrderStatus::Held),
                orderhub::store::Oldest::Last,
            )
            .await
            .expect("orders")
            .into_iter()
            .map(|o| {
                let mut lines: Vec<(String, i64)> =
                    o.lines.into_iter().filter(|l| l.quantity > 0).map(|l| (l.product_name, l.quantity)).collect();
                lines.sort();
                (o.id, lines)
            })
            .collect();
        assert_eq!(held, expected, "{producer} holds exactly the trader's producer orders, no orphan, no excess");
    }
    let carrots_held: i64 = p
        .farm()
        .store
        .incoming_orders("farm", Some("hub"), Some(orderhub::domain::OrderStatus::Held), orderhub::store::Oldest::Last)
        .await
        .expect("orders")
        .iter()
        .flat_map(|o| &o.lines)
        .filter(|l| l.product_name == "Carrots 1 kg")
        .map(|l| l.reserved)
        .sum();
    assert_eq!(
        p.farm().stock("farm", "CARROT").await.1,
        carrots_held,
        "the farm reserves exactly what its Held orders hold"
    );
}

/// Twenty rounds of a hundred buyers of one carrot for the farm's ten, spread over `traders`:
/// each round exactly ten reserved, ninety told none are left, the farm holding ten; then the
/// ten are cancelled (in turn at each trader) and the farm holds nothing.
async fn race_for_the_last_ten(p: &Platforms, traders: &[&TestApp], carrots: &str) {
    for round in 0..20 {
        let answers = burst(p, traders, &format!("r{round}"), 100, 100, &[(carrots.to_owned(), 1)]).await;
        let reserved: Vec<&String> =
            answers.iter().filter_map(|a| if let Answer::Reserved(id) = a { Some(id) } else { None }).collect();
        let refused: Vec<&Vec<String>> =
            answers.iter().filter_map(|a| if let Answer::OutOfStock(av) = a { Some(av) } else { None }).collect();
        assert_eq!(reserved.len(), 10, "round {round}: {answers:?}");
        assert_eq!(refused.len(), 90, "round {round}: {answers:?}");
        assert!(refused.iter().all(|available| available.as_slice() == ["0"]), "round {round}: {refused:?}");
        assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 10), "round {round}");
        assert_converged(p, Duration::from_secs(10)).await;
        let cancel = "mutation($id: ID!) { cancelOrder(orderId: $id) { status } }";
        join_all(
            reserved.iter().enumerate().map(|(i, id)| traders[i % traders.len()].graphql_ok(cancel, json!({"id": id}))),
        )
        .await;
        assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 0), "round {round}: cancelled orders release");
    }
}

/// Ten carrots, a hundred buyers of one at once: exactly ten are told "reserved", ninety are told
/// that none are left, and the farm holds exactly ten. Twenty rounds in one session (each round's
/// orders are cancelled again, which also checks that cancellation releases at once).
#[tokio::test]
async fn a_hundred_buyers_for_the_last_ten_units_get_exactly_ten() {
    let p = platforms().await;
    warm_catalogue(&p).await;
    let carrots = carrots(&p).await;
    race_for_the_last_ten(&p, &[&p.trader], &carrots).await;
    let orders = p.trader.graphql_ok("{ orders { totalCount } }", json!({})).await;
    assert_eq!(orders["orders"]["totalCount"], 200, "refused checkouts leave no order behind");
    p.assert_no_personal_data();
}

/// The race for the last ten units, twenty rounds, with the buyers spread over two trader
/// replicas on one PostgreSQL: exactly ten reserved each round, the others told none are left.
#[tokio::test]
async fn a_hundred_buyers_over_two_replicas_get_exactly_ten_every_round() {
    // Two replicas of 12 connections each, as an operator sizes them under PostgreSQL's
    // max_connections (100 here, shared with the suite's other tests).
    let p = platforms_with(|c| c.database_max_connections = Some(12)).await;
    if !is_postgres(&p.trader) {
        return;
    }
    let replica = p.trader.replica().await;
    warm_catalogue(&p).await;
    let carrots = carrots(&p).await;
    race_for_the_last_ten(&p, &[&p.trader, &replica], &carrots).await;
    p.assert_no_personal_data();
}

/// The same race spread over two trader replicas on one PostgreSQL (a single process on SQLite
/// has no second replica to race with; the suite's PostgreSQL run covers it).
#[tokio::test]
async fn two_replicas_never_acknowledge_more_than_the_producer_holds() {
    let p = platforms_seeded("catalogue-twenty-carrots.json", |c| c.database_max_connections = Some(12)).await;
    if !is_postgres(&p.trader) {
        return;
    }
    let replica = p.trader.replica().await;
    warm_catalogue(&p).await;
    let carrots = carrots(&p).await;
    // 60 checkouts for 20 units, then 100 for the 10 a cancellation frees.
    let answers = burst(&p, &[&p.trader, &replica], "two", 60, 60, &[(carrots.clone(), 1)]).await;
    let reserved: Vec<String> =
        answers.iter().filter_map(|a| if let Answer::Reserved(id) = a { Some(id.clone()) } else { None }).collect();
    assert_eq!(reserved.len(), 20, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| matches!(a, Answer::OutOfStock(_))).count(), 40, "{answers:?}");
    assert_eq!(p.farm().stock("farm", "CARROT").await, (20, 20));
    assert_converged(&p, Duration::from_secs(10)).await;

    let cancel = "mutation($id: ID!) { cancelOrder(orderId: $id) { status } }";
    join_all(reserved[..10].iter().map(|id| replica.graphql_ok(cancel, json!({"id": id})))).await;
    let answers = burst(&p, &[&p.trader, &replica], "again", 100, 100, &[(carrots, 1)]).await;
    assert_eq!(answers.iter().filter(|a| matches!(a, Answer::Reserved(_))).count(), 10, "{answers:?}");
    assert_eq!(p.farm().stock("farm", "CARROT").await, (20, 20));
    assert_converged(&p, Duration::from_secs(10)).await;
    p.assert_no_personal_data();
}

/// The answers to the first POSTs are lost after the producers acted, in each consolidation mode:
/// the trader finds the orders again by their `orderNumber` instead of placing second ones.
#[tokio::test]
async fn a_lost_answer_to_a_creation_never_makes_a_second_order() {
    for mode in ["PER_SESSION", "PER_CUSTOMER_ORDER", "BY_WEIGHT"] {
        let p = platforms_with(|c| c.unconfirmed_orders = UnconfirmedPolicy::Acknowledge).await;
        let set_mode = "mutation($mode: ConsolidationMode) { setConsolidationMode(traderId: \"hub\", mode: $mode) { defaultMode } }";
        p.trader.graphql_ok(set_mode, json!({"mode": mode})).await;
        warm_catalogue(&p).await;
        let (carrots, flour) = p.carrot_and_flour_offers().await;
        p.farm_proxy.drop_post_answers();
        p.mill_proxy.drop_post_answers();
        let answers = burst(&p, &[&p.trader], mode, 6, 3, &[(carrots.clone(), 1), (flour.clone(), 2)]).await;
        assert!(p.farm_proxy.lost_answers() > 0 && p.mill_proxy.lost_answers() > 0, "{mode}: answers were lost");
        assert!(answers.iter().all(|a| !matches!(a, Answer::OutOfStock(_))), "{mode}: {answers:?}");
        p.farm_proxy.heal();
        p.mill_proxy.heal();
        assert_converged(&p, Duration::from_secs(20)).await;
        assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 6), "{mode}: six carrots held, no more");
        p.assert_no_personal_data();
    }
}

/// A producer that acts and answers garbage: the outcome is reconciled, never taken for a refusal.
#[tokio::test]
async fn garbage_after_acting_is_reconciled_not_refused() {
    let p = platforms_with(|c| c.unconfirmed_orders = UnconfirmedPolicy::Acknowledge).await;
    warm_catalogue(&p).await;
    let carrots = carrots(&p).await;
    p.farm_proxy.garbage_after_acting();
    let answers = burst(&p, &[&p.trader], "garbage", 8, 8, &[(carrots.clone(), 1)]).await;
    assert!(answers.iter().all(|a| matches!(a, Answer::Other(text) if text.contains("UNCONFIRMED"))), "{answers:?}");
    assert!(p.farm_proxy.lost_answers() > 0);
    p.farm_proxy.heal();
    assert_converged(&p, Duration::from_secs(20)).await;
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 8));
    let reservations =
        p.trader.graphql_ok("{ orders(first: 100) { items { reservations { state } } } }", json!({})).await;
    let states: Vec<&Value> = reservations["orders"]["items"]
        .as_array()
        .expect("orders")
        .iter()
        .flat_map(|o| o["reservations"].as_array().expect("parts"))
        .map(|r| &r["state"])
        .collect();
    assert_eq!(states.len(), 8);
    assert!(states.iter().all(|s| *s == "RESERVED"), "unconfirmed parts are decided once the farm answers: {states:?}");
}

/// A producer down for ten seconds in the middle of a burst of 200 checkouts: it publishes no stock,
/// so every checkout is acknowledged (UNCONFIRMED) by default; once it is back, everything
/// arrives within one retry interval, nothing FAILED, nothing missing.
#[tokio::test]
async fn an_outage_in_a_burst_loses_nothing_and_fails_nothing() {
    let p = platforms().await;
    warm_catalogue(&p).await;
    let flour = p.carrot_and_flour_offers().await.1;
    let outage = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        p.mill_proxy.refuse();
        tokio::time::sleep(Duration::from_secs(10)).await;
        p.mill_proxy.heal();
        Instant::now()
    };
    let (answers, back) = tokio::join!(
        async {
            // Spread over the outage: 200 checkouts, 8 at a time, each waiting a little.
            futures::stream::iter(0..200)
                .map(|i| {
                    let (p, flour) = (&p, flour.clone());
                    async move {
                        tokio::time::sleep(Duration::from_millis(u64::try_from(i).unwrap_or(0) * 40)).await;
                        answer(&p.checkout_at(&p.trader, RESERVE, &format!("out-{i}"), &[(flour, 1)]).await)
                    }
                })
                .buffer_unordered(200)
                .collect::<Vec<_>>()
                .await
        },
        outage
    );
    let acknowledged = answers.iter().filter(|a| !matches!(a, Answer::OutOfStock(_))).count();
    assert_eq!(acknowledged, 200, "{answers:?}");
    assert!(answers.iter().all(|a| !matches!(a, Answer::Other(t) if t.contains("errors"))), "{answers:?}");
    // One retry interval (retry_max_ms = 1 s) and a poll, with room for the sends themselves.
    assert_converged(&p, Duration::from_secs(4)).await;
    let converged_after = back.elapsed();
    let held = Platforms::received_orders(&p.mill, "mill").await;
    assert_eq!(held, vec![("Held".into(), vec![("Flour 500 g".into(), 200)])], "converged {converged_after:?} after");
    p.assert_no_personal_data();
}

/// A producer that counts stock and is down: by default nobody is told "ordered" for goods that
/// may not exist; the checkout says the producer could not confirm, and nothing is kept.
#[tokio::test]
async fn an_unreachable_stock_counting_producer_withdraws_the_checkout_by_default() {
    let p = platforms().await;
    warm_catalogue(&p).await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    p.farm_proxy.refuse();
    let refused = p.checkout_at(&p.trader, RESERVE, "down-1", &[(carrots, 2), (flour, 1)]).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "PEER_UNAVAILABLE", "{refused}");
    assert!(refused["data"].is_null(), "never data and an error at once: {refused}");
    let orders = p.trader.graphql_ok("{ orders { totalCount } }", json!({})).await;
    assert_eq!(orders["orders"]["totalCount"], 0);
    p.farm_proxy.forward_to(p.farm().addr);
    assert_converged(&p, Duration::from_secs(10)).await;
    assert!(
        Platforms::received_orders(&p.mill, "mill").await.iter().all(|(status, _)| status == "Cancelled"),
        "the mill's part was released"
    );
}

/// A trader may choose otherwise for itself: acknowledge such orders, to be delivered later.
#[tokio::test]
async fn a_trader_chooses_to_acknowledge_orders_its_producers_have_not_confirmed() {
    let p = platforms().await;
    warm_catalogue(&p).await;
    let carrots = carrots(&p).await;
    let set = "mutation($policy: UnconfirmedOrders) { setUnconfirmedOrders(traderId: \"hub\", policy: $policy) { policy ownChoice } }";
    let read = "{ unconfirmedOrders(traderId: \"hub\") { policy ownChoice } }";
    assert_eq!(
        p.trader.graphql_ok(read, json!({})).await["unconfirmedOrders"],
        json!({"policy": "ACKNOWLEDGE_UNCOUNTED", "ownChoice": false})
    );
    let chosen = p.trader.graphql_ok(set, json!({"policy": "ACKNOWLEDGE"})).await;
    assert_eq!(chosen["setUnconfirmedOrders"], json!({"policy": "ACKNOWLEDGE", "ownChoice": true}));

    p.farm_proxy.refuse();
    let kept = p.checkout_at(&p.trader, RESERVE, "kept", &[(carrots.clone(), 2)]).await;
    assert_eq!(kept["data"]["checkout"]["reservations"][0]["state"], "UNCONFIRMED", "{kept}");
    assert!(
        kept["data"]["checkout"]["reservations"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("PEER_UNAVAILABLE"))
    );

    // Back to the platform's default: withdrawn again.
    let reset = p.trader.graphql_ok(set, json!({"policy": null})).await;
    assert_eq!(reset["setUnconfirmedOrders"], json!({"policy": "ACKNOWLEDGE_UNCOUNTED", "ownChoice": false}));
    let withdrawn = p.checkout_at(&p.trader, RESERVE, "withdrawn", &[(carrots, 1)]).await;
    assert_eq!(withdrawn["errors"][0]["extensions"]["code"], "PEER_UNAVAILABLE", "{withdrawn}");

    p.farm_proxy.forward_to(p.farm().addr);
    assert_converged(&p, Duration::from_secs(10)).await;
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 2), "the acknowledged order arrived, the other did not");
    let unknown = p.trader.graphql("{ unconfirmedOrders(traderId: \"nobody\") { policy } }", json!({})).await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

/// A slow producer (800 ms a request) and 32 checkouts at once: each is answered RESERVED, and the
/// sends are coalesced (one carries every checkout that arrived while the one before was on its
/// way) instead of one round trip per checkout, one after the other.
#[tokio::test]
async fn checkouts_arriving_during_a_send_share_the_next_one() {
    let p = platforms().await;
    warm_catalogue(&p).await;
    let flour = p.carrot_and_flour_offers().await.1;
    p.mill_proxy.delay(Duration::from_millis(800));
    let answers = burst(&p, &[&p.trader], "slow", 32, 32, &[(flour, 1)]).await;
    assert!(answers.iter().all(|a| matches!(a, Answer::Reserved(_))), "{answers:?}");
    let received = p.mill_proxy.received();
    let sends = received.matches("POST /api/dfc/enterprises/mill/orders ").count()
        + received.matches("PUT /api/dfc/enterprises/mill/orders/").count();
    assert!(sends <= 4, "32 checkouts took {sends} sends");
    assert_converged(&p, Duration::from_secs(10)).await;
    assert_eq!(
        Platforms::received_orders(&p.mill, "mill").await,
        vec![("Held".into(), vec![("Flour 500 g".into(), 32)])]
    );
}

/// The trader as its own `orderhub serve` process, killed with SIGKILL in the middle of a burst
/// of checkouts and started again on the same database: at each producer, exactly one Held
/// order per producer order, saying what the surviving customer orders add up to.
#[tokio::test]
async fn a_trader_killed_in_a_burst_neither_loses_nor_duplicates() {
    let (farm_proxy, mill_proxy) = (Proxy::start().await, Proxy::start().await);
    let farm = producer(&farm_proxy, "catalogue-twenty-carrots.json").await;
    let mill = producer(&mill_proxy, "catalogue-twenty-carrots.json").await;
    let (db, database_url) = TestDb::fresh().await;
    let (dir, config) = trader_config_file(
        &database_url,
        "outbox_poll_ms = 100\nretry_base_ms = 200\nretry_max_ms = 1000\ncheckout_deadline_ms = 2000\nunconfirmed_orders = \"acknowledge\"",
        &[("farm", &farm_proxy), ("mill", &mill_proxy)],
    );
    let mut trader = ServeProcess::start(&config);
    let graphql = format!("http://{}/graphql", trader.address);
    let created = graphql_at(
        &graphql,
        "mutation { createSalesSession(input: {traderId: \"hub\", name: \"W\", beginsAt: \"2024-01-01T00:00:00Z\", endsAt: \"2099-01-01T00:00:00Z\", producerIds: [\"farm\", \"mill\"]}) { id catalogue { offers { id } } } }",
    )
    .await;
    let session = created["data"]["createSalesSession"]["id"].as_str().expect("session").to_owned();
    let carrots = farm.offer_iri("farm", farm.product("farm", "CARROT").await.id);
    let flour = mill.offer_iri("mill", mill.product("mill", "FLOUR").await.id);

    // A burst; the process dies in the middle of it, once a few checkouts have been answered
    // (a fixed delay would be too short on a busy machine, and nothing would have committed).
    let answered_so_far = std::sync::atomic::AtomicUsize::new(0);
    let burst = futures::stream::iter(0..60)
        .map(|i| {
            let (graphql, session, carrots, flour) = (&graphql, &session, &carrots, &flour);
            let answered_so_far = &answered_so_far;
            async move {
                let body = json!({"query": RESERVE, "variables": {"input": {
                    "idempotencyKey": format!("kill-{i}"), "salesSessionId": session, "customerId": format!("c{i}"),
                    "lines": [{"offerId": carrots, "quantity": 1}, {"offerId": flour, "quantity": 3}]}}});
                let ok = reqwest::Client::new()
                    .post(graphql.as_str())
                    .bearer_auth(operator_token())
                    .json(&body)
                    .send()
                    .await
                    .is_ok();
                if ok {
                    answered_so_far.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                ok
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<bool>>();
    let kill = async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while answered_so_far.load(std::sync::atomic::Ordering::SeqCst) < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        trader.kill();
    };
    let (answered, ()) = tokio::join!(burst, kill);
    assert!(answered.iter().any(|ok| !ok), "the kill cut requests off");

    let trader = ServeProcess::start(&config);
    let graphql = format!("http://{}/graphql", trader.address);
    // The outbox takes over what the killed process left (after its hold), within one retry.
    let deadline = Instant::now() + Duration::from_secs(30);
    let orders = loop {
        let data = graphql_at(&graphql, &format!("{{ salesSession(id: \"{session}\") {{ producerOrders {{ producer {{ id }} status deliveryState remoteId lines {{ name quantity }} }} }} }}")).await;
        let orders = data["data"]["salesSession"]["producerOrders"].as_array().cloned().unwrap_or_default();
        if orders.iter().all(|po| po["deliveryState"] == "DELIVERED") || Instant::now() > deadline {
            break orders;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(orders.iter().all(|po| po["deliveryState"] == "DELIVERED"), "{orders:?}");
    let active = graphql_at(&graphql, "{ orders(first: 100) { items { status lines { name quantity } } } }").await;
    let mut truth: BTreeMap<String, i64> = BTreeMap::new();
    for order in
        active["data"]["orders"]["items"].as_array().expect("orders").iter().filter(|o| o["status"] == "ACTIVE")
    {
        for line in order["lines"].as_array().expect("lines") {
            *truth.entry(line["name"].as_str().expect("name").to_owned()).or_default() +=
                line["quantity"].as_i64().expect("q");
        }
    }
    assert!(!truth.is_empty(), "some checkouts committed before the kill");
    for (producer, app, product) in [("farm", &farm, "Carrots 1 kg"), ("mill", &mill, "Flour 500 g")] {
        let held = app
            .store
            .incoming_orders(
                producer,
                Some("hub"),
                Some(orderhub::domain::OrderStatus::Held),
                orderhub::store::Oldest::Last,
            )
            .await
            .expect("orders");
        assert_eq!(held.len(), 1, "{producer}: exactly one Held order: {held:?}");
        let quantity: i64 = held[0].lines.iter().filter(|l| l.product_name == product).map(|l| l.quantity).sum();
        assert_eq!(Some(&quantity), truth.get(product), "{producer} holds what the surviving orders add up to");
    }
    assert_eq!(farm.stock("farm", "CARROT").await.1, truth["Carrots 1 kg"], "no excess reserved");
    drop(trader);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The operator's token for an `orderhub serve` of the tests' secret.
fn operator_token() -> String {
    test_token("test-operator", &["operator"], &[])
}

async fn graphql_at(url: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(operator_token())
        .json(&json!({"query": query}))
        .send()
        .await
        .expect("graphql request")
        .json()
        .await
        .expect("graphql json")
}
