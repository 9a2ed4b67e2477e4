//! A model-based property test of the reservation engine on real platforms: random interleavings
//! of checkouts (one at a time and several at once), cancellations, amendments, producers losing
//! answers after acting, answering garbage or refusing connections, and trader restarts. After
//! every step, no more carrots are acknowledged as reserved than the farm has; at the end, once
//! the links are healed, every order acknowledged as reserved is still there, and each producer
//! holds exactly what the trader's active orders add up to (no orphan, no excess), and the sums
//! the trader keeps of what its producers hold agree with its orders after every step.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::platforms::{Platforms, platforms_with};
use crate::proxy::Proxy;

const CARROTS_ON_HAND: i64 = 10;

const CHECKOUT: &str = "mutation($input: CheckoutInput!) { checkout(input: $input) {
    id status reservations { producer { id } state } lines { name quantity } } }";
const AMEND: &str = "mutation($id: ID!, $lines: [CheckoutLineInput!]!) { amendOrder(orderId: $id, lines: $lines) {
    id status reservations { producer { id } state } lines { name quantity } } }";

#[derive(Clone, Copy, Debug)]
enum Fault {
    DropPostAnswers,
    GarbageAfterActing,
    Refuse,
    Heal,
}

#[derive(Clone, Debug)]
enum Op {
    Checkout { carrots: i64, flour: i64 },
    CheckoutsAtOnce(Vec<(i64, i64)>),
    Cancel(usize),
    Amend { order: usize, carrots: i64, flour: i64 },
    Fault { farm: bool, fault: Fault },
    RestartTrader,
}

fn lines() -> impl Strategy<Value = (i64, i64)> {
    (0i64..4, 0i64..3).prop_filter("an order has a line", |(c, f)| c + f > 0)
}

fn op() -> impl Strategy<Value = Op> {
    let fault = prop_oneof![
        Just(Fault::DropPostAnswers),
        Just(Fault::GarbageAfterActing),
        Just(Fault::Refuse),
        Just(Fault::Heal),
    ];
    prop_oneof![
        4 => lines().prop_map(|(carrots, flour)| Op::Checkout { carrots, flour }),
        2 => proptest::collection::vec(lines(), 2..8).prop_map(Op::CheckoutsAtOnce),
        2 => (0usize..16).prop_map(Op::Cancel),
        1 => (0usize..16, lines()).prop_map(|(order, (carrots, flour))| Op::Amend { order, carrots, flour }),
        2 => (any::<bool>(), fault).prop_map(|(farm, fault)| Op::Fault { farm, fault }),
        1 => Just(Op::RestartTrader),
    ]
}

/// What the model knows of an order the trader acknowledged.
#[derive(Clone, Debug)]
struct Acknowledged {
    id: String,
    carrots: i64,
    /// The farm's part was answered RESERVED (not merely unconfirmed).
    farm_reserved: bool,
    cancelled: bool,
}

fn apply_fault(proxy: &Proxy, fault: Fault) {
    match fault {
        Fault::DropPostAnswers => proxy.drop_post_answers(),
        Fault::GarbageAfterActing => proxy.garbage_after_acting(),
        Fault::Refuse => proxy.refuse(),
        Fault::Heal => proxy.heal(),
    }
}

fn order_lines(offers: &(String, String), carrots: i64, flour: i64) -> Vec<(String, i64)> {
    [(offers.0.clone(), carrots), (offers.1.clone(), flour)].into_iter().filter(|(_, q)| *q > 0).collect()
}

/// An acknowledged order from a checkout or amendment answer, or None if it was refused.
fn acknowledged(answer: &Value, field: &str) -> Option<Acknowledged> {
    let order = answer.get("data")?.get(field)?;
    let id = order.get("id")?.as_str()?.to_owned();
    let carrots = order["lines"]
        .as_array()?
        .iter()
        .filter(|l| l["name"] == "Carrots 1 kg")
        .filter_map(|l| l["quantity"].as_i64())
        .sum();
    let farm_reserved =
        order["reservations"].as_array()?.iter().any(|r| r["producer"]["id"] == "farm" && r["state"] == "RESERVED");
    Some(Acknowledged { id, carrots, farm_reserved, cancelled: false })
}

async fn run(ops: Vec<Op>) {
    let mut p = platforms_with(|c| {
        c.checkout_deadline_ms = 2_000;
    })
    .await;
    let offers = p.carrot_and_flour_offers().await;
    let catalogue = "query($id: ID!) { salesSession(id: $id) { catalogue { offers { id } } } }";
    p.trader.graphql_ok(catalogue, json!({"id": p.session})).await;
    let mut orders: Vec<Acknowledged> = Vec::new();
    let mut key = 0usize;
    for op in ops {
        match op {
            Op::Checkout { carrots, flour } => {
                key += 1;
                let answer = p
                    .checkout_at(&p.trader, CHECKOUT, &format!("m-{key}"), &order_lines(&offers, carrots, flour))
                    .await;
                orders.extend(acknowledged(&answer, "checkout"));
            }
            Op::CheckoutsAtOnce(many) => {
                let keys: Vec<String> = many
                    .iter()
                    .map(|_| {
                        key += 1;
                        format!("m-{key}")
                    })
                    .collect();
                let answers = join_all(many.iter().zip(&keys).map(|((c, f), k)| {
                    let lines = order_lines(&offers, *c, *f);
                    let p = &p;
                    async move { p.checkout_at(&p.trader, CHECKOUT, k, &lines).await }
                }))
                .await;
                orders.extend(answers.iter().filter_map(|a| acknowledged(a, "checkout")));
            }
            Op::Cancel(index) => {
                let count = orders.len().max(1);
                if let Some(order) = orders.get_mut(index % count).filter(|o| !o.cancelled) {
                    let cancel = "mutation($id: ID!) { cancelOrder(orderId: $id) { status } }";
                    let answer = p.trader.graphql(cancel, json!({"id": order.id})).await;
                    if answer["data"]["cancelOrder"]["status"] == "CANCELLED" {
                        order.cancelled = true;
                    }
                }
            }
            Op::Amend { order: index, carrots, flour } => {
                let count = orders.len().max(1);
                if let Some(order) = orders.get_mut(index % count).filter(|o| !o.cancelled) {
                    let lines: Vec<Value> = order_lines(&offers, carrots, flour)
                        .into_iter()
                        .map(|(offer, q)| json!({"offerId": offer, "quantity": q}))
                        .collect();
                    let answer = p.trader.graphql(AMEND, json!({"id": order.id, "lines": lines})).await;
                    if let Some(amended) = acknowledged(&answer, "amendOrder") {
                        *order = amended;
                    }
                }
            }
            Op::Fault { farm, fault } => apply_fault(if farm { &p.farm_proxy } else { &p.mill_proxy }, fault),
            Op::RestartTrader => p.trader = p.trader.restart().await,
        }
        // Never more acknowledged as held than the farm has.
        let promised: i64 = orders.iter().filter(|o| !o.cancelled && o.farm_reserved).map(|o| o.carrots).sum();
        assert!(
            promised <= CARROTS_ON_HAND,
            "{promised} carrots promised as reserved, {CARROTS_ON_HAND} exist: {orders:?}"
        );
        let (on_hand, reserved) = p.farm().stock("farm", "CARROT").await;
        assert!(reserved <= on_hand);
        // What the trader keeps of what producers hold is exact after every step, not just at
        // the end.
        let drift = p.trader.store.held_demand_drift().await.expect("held sums");
        assert!(drift.is_empty(), "the kept held sums differ from the orders: {drift:?}");
    }
    p.farm_proxy.heal();
    p.mill_proxy.heal();
    converge_and_check(&p, &orders).await;
}

async fn converge_and_check(p: &Platforms, orders: &[Acknowledged]) {
    let query = "query($id: ID!) { salesSession(id: $id) { producerOrders { deliveryState } } }";
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let data = p.trader.graphql_ok(query, json!({"id": p.session})).await;
        let pos = data["salesSession"]["producerOrders"].as_array().cloned().unwrap_or_default();
        if pos.iter().all(|po| po["deliveryState"] == "DELIVERED") {
            break;
        }
        assert!(Instant::now() < deadline, "never converged: {pos:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = p
        .trader
        .graphql_ok(
            "{ orders(first: 100) { items { id status lines { name quantity producer { id } } reservations { producer { id } state } } } }",
            json!({}),
        )
        .await;
    let items = all["orders"]["items"].as_array().expect("orders").clone();
    let by_id: BTreeMap<&str, &Value> = items.iter().map(|o| (o["id"].as_str().expect("id"), o)).collect();
    // Every order acknowledged as held at the farm, and not cancelled, is still there and held.
    for order in orders.iter().filter(|o| o.farm_reserved && !o.cancelled) {
        let found = by_id.get(order.id.as_str()).unwrap_or_else(|| panic!("acknowledged order {} vanished", order.id));
        assert_eq!(found["status"], "ACTIVE", "{found}");
    }
    // The producers hold exactly what the active orders add up to.
    let mut truth: BTreeMap<String, i64> = BTreeMap::new();
    for order in items.iter().filter(|o| o["status"] == "ACTIVE") {
        for line in order["lines"].as_array().expect("lines") {
            let held = order["reservations"]
                .as_array()
                .expect("parts")
                .iter()
                .any(|part| part["producer"]["id"] == line["producer"]["id"] && part["state"] == "RESERVED");
            assert!(held, "after healing, every producer an active order has lines at holds its part: {order}");
        }
        for line in order["lines"].as_array().expect("lines") {
            *truth.entry(line["name"].as_str().expect("name").to_owned()).or_default() +=
                line["quantity"].as_i64().expect("q");
        }
    }
    for (producer, app, product) in [("farm", p.farm(), "Carrots 1 kg"), ("mill", &p.mill, "Flour 500 g")] {
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
        assert!(held.len() <= 1, "{producer}: one Held order at most (one producer order): {held:?}");
        let quantity: i64 =
            held.iter().flat_map(|o| &o.lines).filter(|l| l.product_name == product).map(|l| l.quantity).sum();
        assert_eq!(quantity, truth.get(product).copied().unwrap_or(0), "{producer} holds the recomputed truth");
    }
    assert_eq!(
        p.farm().stock("farm", "CARROT").await.1,
        truth.get("Carrots 1 kg").copied().unwrap_or(0),
        "no excess reserved"
    );
    let drift = p.trader.store.held_demand_drift().await.expect("held sums");
    assert!(drift.is_empty(), "the kept held sums differ from the orders: {drift:?}");
    p.assert_no_personal_data();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, max_shrink_iters: 16, ..ProptestConfig::default() })]
    #[test]
    fn the_engine_never_oversells_loses_or_orphans(ops in proptest::collection::vec(op(), 4..18)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        runtime.block_on(run(ops));
    }
}
