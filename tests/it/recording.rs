//! Checkouts recorded together (the recorder's group commit), at the store, on the suite's
//! database: each keeps its own place in line, its key, and its failure.

use chrono::Utc;
use entity::peer;
use futures::future::join_all;
use orderhub::store::parts::PartRefusal;
use orderhub::store::trader::{NewCustomerOrder, NewLine, Recorded};
use orderhub::store::{Store, StoreError};

use crate::support::spawn_app;

async fn seed(store: &Store) -> uuid::Uuid {
    store.upsert_enterprise("hub", "Hub", None).await.expect("trader");
    for producer in ["farm", "mill"] {
        let model = peer::Model {
            id: producer.into(),
            trader_enterprise_id: "hub".into(),
            name: producer.into(),
            // Nothing listens there; the sends are held far in the future anyway.
            base_url: "http://127.0.0.1:9".into(),
            enterprise: producer.into(),
            timeout_ms: 1_000,
            consolidation_mode: None,
            url_scheme: None,
            updated_at: Utc::now(),
        };
        store.upsert_peer(model).await.expect("peer");
    }
    let far = Utc::now() + chrono::Duration::days(1);
    let session = store
        .create_sales_session("hub", "Batch", Utc::now(), far, &["farm".into(), "mill".into()])
        .await
        .expect("session");
    session.id
}

fn line(peer: &str, quantity: i64) -> NewLine {
    NewLine {
        peer_id: peer.into(),
        product_iri: format!("{peer}-product"),
        offer_iri: format!("{peer}-offer"),
        name: format!("{peer} product"),
        quantity,
        unit_price: "1".into(),
        currency: "EUR".into(),
        vat_rate: "0".into(),
        discount: None,
    }
}

fn checkout(session: uuid::Uuid, key: &str, lines: Vec<NewLine>) -> NewCustomerOrder {
    NewCustomerOrder {
        trader: "hub".into(),
        session_id: session,
        customer_id: format!("customer-{key}"),
        idempotency_key: key.into(),
        request_digest: format!("digest-{key}"),
        contact_name: None,
        contact_email: None,
        delivery_address: None,
        total: "3".into(),
        currency: "EUR".into(),
        discounts: None,
        lines,
    }
}

/// Forty checkouts at once, among them one key twice and one line of a producer the trader does
/// not know: the unknown one fails alone, the repeated key gives one order, and every recorded
/// checkout has its own version at each producer order, in the order they were recorded, so that
/// stock goes first come, first served.
#[tokio::test]
async fn checkouts_recorded_together_keep_their_places_their_keys_and_their_failures() {
    let app = spawn_app().await;
    let store = &app.store;
    let session = seed(store).await;
    let hold = Utc::now() + chrono::Duration::days(1);
    let mut batch: Vec<NewCustomerOrder> =
        (0..40).map(|i| checkout(session, &format!("k{i}"), vec![line("farm", 1), line("mill", 2)])).collect();
    batch[7] = checkout(session, "k5", vec![line("farm", 1), line("mill", 2)]);
    batch[20] = checkout(session, "ghost", vec![line("farm", 1), line("nowhere", 1)]);
    let results = join_all(batch.into_iter().map(|new| store.record_checkout(new, hold))).await;

    assert!(matches!(results[20], Err(StoreError::Corrupt(_))), "{:?}", results[20]);
    let first_k5 = match &results[5] {
        Ok(Recorded::New { order, .. }) => order.id,
        other => panic!("k5: {other:?}"),
    };
    assert!(matches!(&results[7], Ok(Recorded::Existing(order)) if order.id == first_k5), "{:?}", results[7]);

    let mut versions = Vec::new();
    for (i, result) in results.iter().enumerate().filter(|(i, _)| ![7, 20].contains(i)) {
        let Ok(Recorded::New { order, producer_orders }) = result else { panic!("checkout {i}: {result:?}") };
        let parts = store.order_parts(&[order.id]).await.expect("parts");
        assert_eq!(parts.len(), 2, "checkout {i}: {parts:?}");
        assert!(parts.iter().all(|p| p.state == "PENDING"), "checkout {i}: {parts:?}");
        let farm = parts.iter().find(|p| p.peer_id == "farm").expect("a part at the farm");
        let queued = producer_orders.iter().find(|(peer, _, _)| peer == "farm").expect("the farm's order queued");
        assert_eq!(farm.queued_version, queued.2, "checkout {i}: the part waits for the version that carries it");
        versions.push(farm.queued_version);
    }
    assert_eq!(versions, (1..=38).collect::<Vec<i64>>(), "one version each, in the order recorded");
    let farm_order = store
        .producer_orders_of_session(session)
        .await
        .expect("producer orders")
        .into_iter()
        .find(|po| po.peer_id == "farm")
        .expect("the farm's order");
    assert_eq!(farm_order.version, 38, "one bump per checkout carried");
    let lines = store.customer_order_lines(&[first_k5]).await.expect("lines");
    assert_eq!(lines.iter().map(|l| (l.peer_id.as_str(), l.quantity)).collect::<Vec<_>>(), [("farm", 1), ("mill", 2)]);
    let page = store.customer_orders(Default::default(), None, 100, true).await.expect("orders");
    let (orders, total) = (page.orders, page.total.unwrap_or_default());
    assert_eq!(total, 38, "38 keys recorded: k7 and k20 were replaced by a repeated k5 and the ghost");
    assert!(orders.iter().all(|o| o.idempotency_key != "ghost"), "the failed checkout left no order");
}

/// A refused checkout leaves nothing to keep: its key may be checked out again, and gives a new
/// order, while an order that was not refused keeps its key.
#[tokio::test]
async fn a_refused_checkouts_key_may_be_used_again() {
    let app = spawn_app().await;
    let store = &app.store;
    let session = seed(store).await;
    let hold = Utc::now() + chrono::Duration::days(1);
    let Recorded::New { order: refused, .. } =
        store.record_checkout(checkout(session, "retry-me", vec![line("farm", 5)]), hold).await.expect("recorded")
    else {
        panic!("a fresh key found an order")
    };
    let refusal = PartRefusal { order: refused.id, shortages: Vec::new(), reason: "OUT_OF_STOCK: none left".into() };
    store.refuse_parts("farm", &[refusal], hold).await.expect("refused");

    let again = store.record_checkout(checkout(session, "retry-me", vec![line("farm", 1)]), hold).await;
    let Ok(Recorded::New { order, .. }) = again else { panic!("the key was not free again: {again:?}") };
    assert_ne!(order.id, refused.id);
    assert!(store.customer_order(refused.id).await.expect("read").is_none(), "the refused order is gone");
    let once_more = store.record_checkout(checkout(session, "retry-me", vec![line("farm", 1)]), hold).await;
    assert!(matches!(&once_more, Ok(Recorded::Existing(o)) if o.id == order.id), "{once_more:?}");
}
