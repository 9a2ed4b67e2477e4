//! Live order status against the world: subscriptions over GraphQL over SSE and over graphql-ws
//! WebSockets, driven by real state changes (checkouts, cancellations, an outage of a producer and
//! its recovery by the outbox), across two replicas of one database, and through Hive Gateway.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::platforms::*;
use crate::support::*;

/// How long any expected update may take (a replica on SQLite reads another's changes every
/// second).
const UPDATE_WITHIN: Duration = Duration::from_secs(20);

const ORDER_UPDATED: &str = "subscription($id: ID!) { orderUpdated(id: $id) {
    id status reservations { producer { id } state } } }";
const PRODUCER_ORDER_UPDATED: &str = "subscription($s: ID!) { producerOrderUpdated(salesSessionId: $s) {
    id producer { id } deliveryState status lines { quantity } } }";

/// A GraphQL over SSE stream (distinct connections mode), read event by event.
struct EventStream {
    body: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl EventStream {
    async fn open(
        http: &reqwest::Client,
        url: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> EventStream {
        let mut request =
            http.post(url).header("accept", "text/event-stream").json(&json!({"query": query, "variables": variables}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the stream opens");
        assert_eq!(response.status(), 200);
        let media = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(media.starts_with("text/event-stream"), "{media}");
        EventStream {
            body: response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed(),
            buffer: String::new(),
        }
    }

    /// The next event, `(name, data)`, skipping keep-alive comments; none when the stream ends.
    /// Keep-alives do not count as events: an update must come within [`UPDATE_WITHIN`].
    async fn next(&mut self) -> Option<(String, Value)> {
        tokio::time::timeout(UPDATE_WITHIN, self.next_event()).await.expect("an event in time")
    }

    async fn next_event(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().all(|l| l.starts_with(':') || l.is_empty()) {
                    continue;
                }
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                let data = if data.is_empty() { Value::Null } else { serde_json::from_str(&data).expect("JSON data") };
                return Some((name, data));
            }
            let chunk = self.body.next().await?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk.expect("the stream reads")));
        }
    }

    /// The next `next` event's payload.
    async fn update(&mut self) -> Value {
        let (name, data) = self.next().await.expect("an update");
        assert_eq!(name, "next", "{data}");
        data
    }

    /// Updates until one satisfies `wanted`, which it answers.
    async fn until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + UPDATE_WITHIN;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "no update with {what}");
            let update = self.update().await;
            assert!(update.get("errors").is_none(), "{update}");
            if wanted(&update) {
                return update;
            }
        }
    }
}

/// Waits until `app` serves `expected` live subscriptions (a client that went away must free its
/// place: none is orphaned).
async fn wait_for_live_subscriptions(app: &TestApp, expected: usize) {
    let wanted = format!("orderhub_live_subscriptions {expected}\n");
    let deadline = tokio::time::Instant::now() + UPDATE_WITHIN;
    loop {
        let metrics = app.metrics().await;
        if metrics.contains(&wanted) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "never {expected} live subscriptions: {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn customer_token(p: &Platforms, customer: &str) -> String {
    p.trader.token(customer, &["customer"], &[]).expect("token")
}

fn staff_token(p: &Platforms) -> String {
    p.trader.token("hub-staff", &["trader_staff"], &["hub"]).expect("token")
}

/// Lets the trader read both catalogues (a checkout needs them), then checks out `lines`.
async fn checkout(p: &Platforms, trader: &TestApp, key: &str, lines: &[(String, i64)]) -> String {
    p.trader
        .graphql_ok(
            "query($id: ID!) { salesSession(id: $id) { catalogue { offers { id } } } }",
            json!({"id": p.session}),
        )
        .await;
    let placed =
        p.checkout_at(trader, "mutation($input: CheckoutInput!) { checkout(input: $input) { id } }", key, lines).await;
    assert!(placed.get("errors").is_none(), "{placed}");
    placed["data"]["checkout"]["id"].as_str().expect("order id").to_owned()
}

/// A customer follows their order from its state at subscription to its cancellation, each
/// producer's reservation released; the stream completes when the server shuts down, and the
/// shutdown does not wait for it.
#[tokio::test]
async fn a_customer_follows_their_order_over_sse_until_it_is_cancelled() {
    let p = platforms().await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let id = checkout(&p, &p.trader, "live-1", &[(carrots, 2), (flour, 1)]).await;
    let token = customer_token(&p, "customer-42");
    let url = p.trader.url("/graphql");
    let mut stream = EventStream::open(&p.trader.http, &url, Some(&token), ORDER_UPDATED, json!({"id": id})).await;

    let now = stream.update().await;
    assert_eq!(now["data"]["orderUpdated"]["status"], "ACTIVE", "the order as it is now first: {now}");
    let states: Vec<&Value> = now["data"]["orderUpdated"]["reservations"]
        .as_array()
        .expect("reservations")
        .iter()
        .map(|r| &r["state"])
        .collect();
    assert_eq!(states, [&json!("RESERVED"), &json!("RESERVED")], "{now}");
    assert!(p.trader.metrics().await.contains("orderhub_live_subscriptions 1\n"), "/metrics counts it");

    let cancelled = p
        .trader
        .graphql_as(Some(&token), "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }", json!({"o": id}))
        .await;
    assert!(cancelled.get("errors").is_none(), "{cancelled}");
    let update = stream
        .until("the order cancelled and released", |u| {
            let order = &u["data"]["orderUpdated"];
            order["status"] == "CANCELLED"
                && order["reservations"].as_array().is_some_and(|r| r.iter().all(|r| r["state"] == "RELEASED"))
        })
        .await;
    assert_eq!(update["data"]["orderUpdated"]["id"], json!(id));

    // Shutting down ends the stream with `complete` rather than hanging on it.
    let Platforms { trader, .. } = p;
    let stopping = tokio::spawn(trader.stop());
    let mut ended = false;
    while let Some((name, _)) = stream.next().await {
        if name == "complete" {
            ended = true;
            break;
        }
    }
    assert!(ended, "the stream completes at shutdown");
    tokio::time::timeout(Duration::from_secs(15), stopping).await.expect("the server stops").expect("stop");
}

/// Who may follow what: someone else's order and a session's producer orders are refused to a
/// customer, anything to an anonymous caller, each with its code and then `complete`.
#[tokio::test]
async fn subscriptions_refuse_what_the_caller_may_not_follow() {
    let p = platforms().await;
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let id = checkout(&p, &p.trader, "live-2", &[(carrots, 1)]).await;
    let url = p.trader.url("/graphql");
    let other = customer_token(&p, "customer-7");
    let refusals = [
        (Some(other.clone()), ORDER_UPDATED, json!({"id": id}), "FORBIDDEN"),
        (Some(other), PRODUCER_ORDER_UPDATED, json!({"s": p.session}), "FORBIDDEN"),
        (None, ORDER_UPDATED, json!({"id": id}), "UNAUTHENTICATED"),
        (Some(staff_token(&p)), ORDER_UPDATED, json!({"id": "not-a-uuid"}), "BAD_USER_INPUT"),
    ];
    for (token, query, variables, code) in refusals {
        let mut stream = EventStream::open(&p.trader.http, &url, token.as_deref(), query, variables).await;
        let refused = stream.update().await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], code, "{refused}");
        assert!(refused["errors"][0]["path"].is_array(), "{refused}");
        assert_eq!(stream.next().await.map(|(name, _)| name).as_deref(), Some("complete"));
    }
    // A subscription is a stream: as plain JSON it is refused with a code, not run.
    let plain = p.trader.graphql_as(Some(&staff_token(&p)), ORDER_UPDATED, json!({"id": id})).await;
    assert!(plain["errors"][0]["extensions"]["code"].is_string(), "{plain}");
}

/// A graphql-ws client: connects with the `graphql-transport-ws` protocol and `connection_init`.
struct Socket {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Socket {
    async fn connect(app: &TestApp, init: Value) -> Socket {
        let mut request = format!("ws://{}/graphql", app.addr).into_client_request().expect("request");
        request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().expect("header"));
        let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("the socket opens");
        assert_eq!(
            response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        socket
            .send(Message::text(json!({"type": "connection_init", "payload": init}).to_string()))
            .await
            .expect("init");
        Socket { socket }
    }

    /// The next protocol message; a close frame as `{"close": code}`.
    async fn message(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(UPDATE_WITHIN, self.socket.next())
                .await
                .expect("a message in time")
                .expect("the socket is open")
                .expect("a message");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Close(frame) => return json!({"close": frame.map(|f| u16::from(f.code))}),
                _ => {}
            }
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let message = json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}});
        self.socket.send(Message::text(message.to_string())).await.expect("subscribe");
    }

    /// `next` payloads of subscription `id` until one satisfies `wanted`.
    async fn until(&mut self, id: &str, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + UPDATE_WITHIN;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "no update with {what}");
            let message = self.message().await;
            if message["type"] == "ping" {
                continue;
            }
            assert_eq!(message["type"], "next", "{message}");
            assert_eq!(message["id"], id);
            let payload = &message["payload"];
            assert!(payload.get("errors").is_none(), "{payload}");
            if wanted(payload) {
                return payload.clone();
            }
        }
    }
}

fn delivery_of<'v>(payload: &'v Value, producer: &str) -> Option<&'v Value> {
    let order = &payload["data"]["producerOrderUpdated"];
    (order["producer"]["id"] == producer).then(|| &order["deliveryState"])
}

/// Trader staff follow the session's producer orders over a WebSocket while a producer is down:
/// its order shows PENDING, then DELIVERED once the outbox gets through; the other producer's is
/// DELIVERED at once. A forged token closes the socket.
#[tokio::test]
async fn trader_staff_follow_producer_orders_over_graphql_ws_through_an_outage() {
    let p = platforms_with(|c| c.unconfirmed_orders = orderhub::trader::UnconfirmedPolicy::Acknowledge).await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let forged = orderhub::auth::dev_token(
        &orderhub::config::SecretString::new("not the platform's secret"),
        &orderhub::auth::AuthConfig::default(),
        "hub-staff",
        &["trader_staff".to_owned()],
        &["hub".to_owned()],
        600,
    )
    .expect("token");
    let mut intruder = Socket::connect(&p.trader, json!({"Authorization": format!("Bearer {forged}")})).await;
    assert_eq!(intruder.message().await, json!({"close": 4403}), "a token that does not verify closes the socket");

    let mut socket = Socket::connect(&p.trader, json!({"Authorization": format!("Bearer {}", staff_token(&p))})).await;
    assert_eq!(socket.message().await["type"], "connection_ack");
    socket.subscribe("po", PRODUCER_ORDER_UPDATED, json!({"s": p.session})).await;
    // The subscription is live once a change it must see reaches it: give it a moment to start.
    tokio::time::sleep(Duration::from_millis(300)).await;

    p.trader
        .graphql_ok(
            "query($id: ID!) { salesSession(id: $id) { catalogue { offers { id } } } }",
            json!({"id": p.session}),
        )
        .await;
    p.farm_proxy.refuse();
    let placed = p.checkout("live-ws", &[(carrots, 3), (flour, 1)]).await;
    assert!(placed.get("errors").is_none(), "{placed}");
    let mill =
        socket.until("po", "the mill's order delivered", |u| delivery_of(u, "mill") == Some(&json!("DELIVERED"))).await;
    assert_eq!(mill["data"]["producerOrderUpdated"]["lines"], json!([{"quantity": 1}]));
    socket.until("po", "the farm's order pending", |u| delivery_of(u, "farm") == Some(&json!("PENDING"))).await;
    p.farm_proxy.heal();
    let farm =
        socket.until("po", "the farm's order delivered", |u| delivery_of(u, "farm") == Some(&json!("DELIVERED"))).await;
    assert_eq!(farm["data"]["producerOrderUpdated"]["lines"], json!([{"quantity": 3}]));
    assert_eq!(p.farm().stock("farm", "CARROT").await, (10, 3));
    // A client that closes its socket leaves no subscription behind.
    assert!(p.trader.metrics().await.contains("orderhub_live_subscriptions 1\n"));
    socket.socket.close(None).await.expect("closed");
    wait_for_live_subscriptions(&p.trader, 0).await;
    p.assert_no_personal_data();
}

/// The bar of live status: a change made on one replica reaches a subscriber of another
/// replica (through the database: PostgreSQL's NOTIFY, or the SQLite change feed), through Hive
/// Gateway, which opens the subscription to orderhub with a GET event stream and the caller's
/// token.
#[tokio::test]
async fn a_change_on_one_replica_reaches_a_subscriber_of_another_through_hive_gateway() {
    let p = platforms().await;
    let replica = p.trader.replica().await;
    let front = crate::proxy::Proxy::start().await;
    front.forward_to(replica.addr);
    npm_tools("federation", "@apollo/gateway");
    let tools = npm_tools("hive", "@graphql-hive/gateway-runtime");
    let (gateway, url) =
        start_gateway(&tools, &format!("{}/graphql", front.url()), &[("HIVE_JWT_SECRET", TEST_SECRET)]);
    let staff = staff_token(&p);
    let mut stream =
        EventStream::open(&p.trader.http, &url, Some(&staff), PRODUCER_ORDER_UPDATED, json!({"s": p.session})).await;
    // Hive opens the subscription upstream as it is asked; give it a moment to be live.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (carrots, flour) = p.carrot_and_flour_offers().await;
    // Placed on the first replica; the subscriber is on the second.
    checkout(&p, &p.trader, "live-replicas", &[(carrots, 2), (flour, 4)]).await;
    let mut delivered = std::collections::BTreeMap::new();
    while delivered.len() < 2 {
        let update = stream
            .until("a delivered producer order", |u| u["data"]["producerOrderUpdated"]["deliveryState"] == "DELIVERED")
            .await;
        let order = &update["data"]["producerOrderUpdated"];
        delivered.insert(order["producer"]["id"].as_str().expect("producer").to_owned(), order["lines"].clone());
    }
    assert!(replica.metrics().await.contains("orderhub_live_subscriptions 1\n"), "the gateway's subscription");
    // The client goes away: the gateway ends its upstream stream, and the replica frees its place.
    drop(stream);
    wait_for_live_subscriptions(&replica, 0).await;
    stop_gateway(gateway);
    assert_eq!(delivered["farm"], json!([{"quantity": 2}]));
    assert_eq!(delivered["mill"], json!([{"quantity": 4}]));
    let upstream = front.received();
    assert!(upstream.contains("GET /graphql?"), "Hive asks the replica for an event stream: {upstream}");
    assert!(upstream.to_ascii_lowercase().contains("accept: text/event-stream"), "{upstream}");
    assert!(upstream.contains("authorization: Bearer"), "with the caller's token");
    p.assert_no_personal_data();
}

/// The notification path breaks (PostgreSQL ends the listener's connection, as a failover or a
/// reaper of idle connections would) and a change is made before it listens again: its
/// notification is gone, yet the subscriber gets the change, because a listener that reconnects
/// has every subscriber read again. SQLite has no such connection (its feed is read from the
/// file); the suite's PostgreSQL run covers this.
#[tokio::test]
async fn a_change_made_while_the_listener_is_cut_off_still_arrives() {
    let p = platforms().await;
    if p.trader.store.backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let id = checkout(&p, &p.trader, "live-cut", &[(carrots, 1)]).await;
    let token = customer_token(&p, "customer-42");
    let query = "subscription($id: ID!) { orderUpdated(id: $id) { paymentStatus } }";
    let url = p.trader.url("/graphql");
    let mut stream = EventStream::open(&p.trader.http, &url, Some(&token), query, json!({"id": id})).await;
    assert_eq!(stream.update().await["data"]["orderUpdated"]["paymentStatus"], "UNPAID");

    // The database lets no new connection in (the pool keeps its own), the listener's ends, and
    // the order changes while the listener cannot be back: nobody hears that notification.
    use sea_orm::ConnectionTrait;
    let db = p.trader.store.db();
    let one = |sql: String| async move {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql))
            .await
            .expect("statement")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("a count")
    };
    let database = {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SELECT current_database()"))
            .await
            .expect("statement")
            .expect("a row");
        row.try_get_by_index::<String>(0).expect("a name")
    };
    // PostgreSQL refuses that from a connection to the database itself: from the admin database.
    let admin_url = std::env::var("ORDERHUB_TEST_DATABASE_URL").expect("the PostgreSQL run names it");
    let admin = sea_orm::Database::connect(&admin_url).await.expect("the admin database");
    admin.execute_unprepared(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false")).await.expect("closed");
    let cut = one("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND query ILIKE 'LISTEN%' AND pg_terminate_backend(pid, 5000)"
        .to_owned())
    .await;
    let paid = one(format!("WITH paid AS (UPDATE customer_order SET payment_status = 'Paid' WHERE id = '{id}' RETURNING id) SELECT count(*) FROM paid")).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    admin.execute_unprepared(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await.expect("open again");
    admin.close().await.ok();
    assert_eq!((cut, paid), (1, 1), "one listener cut off, one order paid");
    let update = stream.until("the order paid", |u| u["data"]["orderUpdated"]["paymentStatus"] == "PAID").await;
    assert!(update.get("errors").is_none(), "{update}");
}

/// Many clients at once, on two replicas: 40 subscribers (half on each replica) follow 8 orders
/// while one replica marks them paid and the other cancels every second one. Every subscriber
/// ends with its order's final state, none misses it (lost: 0), none gets the same state twice
/// in a row (duplicated: 0). The figures are printed.
#[tokio::test]
async fn forty_subscribers_on_two_replicas_lose_nothing_and_get_nothing_twice() {
    let p = platforms().await;
    let replica = p.trader.replica().await;
    let (carrots, flour) = p.carrot_and_flour_offers().await;
    let mut orders = Vec::new();
    for i in 0..8 {
        let lines = if i % 2 == 0 { vec![(carrots.clone(), 1)] } else { vec![(flour.clone(), 1)] };
        orders.push(checkout(&p, &p.trader, &format!("many-{i}"), &lines).await);
    }
    let token = p.trader.operator_token().expect("token");
    let query = "subscription($id: ID!) { orderUpdated(id: $id) { status paymentStatus } }";
    let mut streams = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { &p.trader } else { &replica };
        let id = orders[i % orders.len()].clone();
        let mut stream =
            EventStream::open(&app.http, &app.url("/graphql"), Some(&token), query, json!({"id": id})).await;
        let first = stream.update().await;
        assert_eq!(first["data"]["orderUpdated"], json!({"status": "ACTIVE", "paymentStatus": "UNPAID"}), "{first}");
        streams.push((i % orders.len(), stream));
    }
    let started = std::time::Instant::now();
    for (i, id) in orders.iter().enumerate() {
        p.trader
            .graphql_ok("mutation($id: ID!) { markOrderPaid(orderId: $id) { paymentStatus } }", json!({"id": id}))
            .await;
        if i % 2 == 0 {
            replica.graphql_ok("mutation($o: ID!) { cancelOrder(orderId: $o) { status } }", json!({"o": id})).await;
        }
    }
    let changed = started.elapsed();
    let finals: Vec<Value> = (0..orders.len())
        .map(|i| json!({"status": if i % 2 == 0 { "CANCELLED" } else { "ACTIVE" }, "paymentStatus": "PAID"}))
        .collect();
    let (mut lost, mut duplicated, mut updates) = (0, 0, 0);
    for (order, stream) in &mut streams {
        let mut last = json!({"status": "ACTIVE", "paymentStatus": "UNPAID"});
        let reached = tokio::time::timeout(UPDATE_WITHIN, async {
            while last != finals[*order] {
                let update = stream.update().await;
                assert!(update.get("errors").is_none(), "{update}");
                let state = update["data"]["orderUpdated"].clone();
                updates += 1;
                if state == last {
                    duplicated += 1;
                }
                last = state;
            }
        })
        .await;
        if reached.is_err() {
            lost += 1;
        }
    }
    let delivered = started.elapsed();
    eprintln!(
        "40 subscribers, 2 replicas, 12 changes: {updates} updates, lost {lost}, duplicated {duplicated}; \
         changes made in {changed:?}, all final states received {delivered:?} after the first"
    );
    assert_eq!((lost, duplicated), (0, 0));
}

/// A subscription does not outlive the token it was opened with: when the token expires the
/// stream says `TOKEN_EXPIRED` and completes.
#[tokio::test]
async fn a_subscription_ends_when_its_token_expires() {
    let p = platforms_with(|c| c.auth.leeway_secs = 0).await;
    let (carrots, _) = p.carrot_and_flour_offers().await;
    let id = checkout(&p, &p.trader, "live-expiry", &[(carrots, 1)]).await;
    let short_lived = orderhub::auth::dev_token(
        &orderhub::config::SecretString::new(TEST_SECRET),
        &orderhub::auth::AuthConfig::default(),
        "customer-42",
        &["customer".to_owned()],
        &[],
        3,
    )
    .expect("token");
    let url = p.trader.url("/graphql");
    let mut stream =
        EventStream::open(&p.trader.http, &url, Some(&short_lived), ORDER_UPDATED, json!({"id": id})).await;
    assert_eq!(stream.update().await["data"]["orderUpdated"]["status"], "ACTIVE");
    let expired = stream.update().await;
    assert_eq!(expired["errors"][0]["extensions"]["code"], "TOKEN_EXPIRED", "{expired}");
    assert_eq!(stream.next().await.map(|(name, _)| name).as_deref(), Some("complete"));
}
