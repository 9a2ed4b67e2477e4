//! The order exchange as trader platforms drive it, checking the producer's stock after each step.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::*;

fn node<'a>(doc: &'a Value, ty: &str) -> Vec<&'a Value> {
    doc["@graph"].as_array().expect("graph").iter().filter(|n| n["@type"] == ty).collect()
}

#[tokio::test]
async fn held_order_reserves_put_replaces_complete_sells() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let eggs = app.product("farm", "EGGS").await;
    let orders = app.orders_url("farm");

    // POST with a placeholder id, quantities as strings, the www.datafoodconsortium.org context.
    let body = order_payload(
        ctx_org(),
        &orders,
        Some("dfc-v:Held"),
        &[(app.offer_iri("farm", carrots.id), json!("3")), (app.offer_iri("farm", eggs.id), json!("2"))],
    );
    let (status, created, headers) = app.post(&orders, TOKEN_A, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(headers["content-type"], "application/ld+json");
    let location = headers["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with(&format!("{orders}/")), "{location}");
    let order = node(&created, "dfc-b:Order")[0];
    assert_eq!(order["@id"], location.as_str(), "the placeholder id is replaced by the server's");
    assert_eq!(order["dfc-b:hasOrderStatus"], "dfc-v:Held");
    let lines = node(&created, "dfc-b:OrderLine");
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["@id"].as_str().is_some_and(|id| id.starts_with(&location))));
    assert_eq!(app.stock("farm", "CARROT").await, (10, 3));
    assert_eq!(app.stock("farm", "EGGS").await, (5, 2));

    // GET returns the same order to its owner.
    let (status, fetched) = app.get(&location, TOKEN_A).await;
    assert_eq!(status, 200);
    assert_eq!(node(&fetched, "dfc-b:Order")[0]["@id"], location.as_str());

    // PUT that drops the eggs line and raises carrots, with the 1.16 context, naming the product
    // through an Offer node the way OFN does.
    let put = json!({
        "@context": ctx_1_16(),
        "@graph": [
            {"@id": location, "@type": "dfc-b:Order", "dfc-b:hasOrderStatus": "dfc-v:Held",
             "dfc-b:hasPart": [format!("{location}/lines/x")]},
            {"@id": format!("{location}/lines/x"), "@type": "dfc-b:OrderLine", "dfc-b:quantity": 4,
             "dfc-b:concerns": "https://trader.example/offers/abc"},
            {"@id": "https://trader.example/offers/abc", "@type": "dfc-b:Offer",
             "dfc-b:offeredItem": app.product_iri("farm", carrots.id)}
        ]
    });
    let (status, replaced) = app.put(&location, TOKEN_A, &put).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(node(&replaced, "dfc-b:OrderLine").len(), 1);
    assert_eq!(app.stock("farm", "CARROT").await, (10, 4));
    assert_eq!(app.stock("farm", "EGGS").await, (5, 0), "the dropped line's reservation is released");

    // A line with quantity 0 is removed too.
    let zero = order_payload(
        ctx_1_16(),
        &orders,
        Some("dfc-v:Held"),
        &[(app.offer_iri("farm", carrots.id), json!(4)), (app.offer_iri("farm", eggs.id), json!(0))],
    );
    let (status, _) = app.put(&location, TOKEN_A, &zero).await;
    assert_eq!(status, 200);
    assert_eq!(app.stock("farm", "EGGS").await, (5, 0));

    // PUT Complete with the 2.0 context: reservations become sales, fulfilment Unfulfilled.
    let complete =
        order_payload(ctx_2_0(), &orders, Some("dfc-v:Complete"), &[(app.offer_iri("farm", carrots.id), json!("4"))]);
    let (status, completed) = app.put(&location, TOKEN_A, &complete).await;
    assert_eq!(status, 200, "{completed}");
    let order = node(&completed, "dfc-b:Order")[0];
    assert_eq!(order["dfc-b:hasOrderStatus"], "dfc-v:Complete");
    assert_eq!(order["dfc-b:hasFulfilmentStatus"], "dfc-v:Unfulfilled");
    assert_eq!(app.stock("farm", "CARROT").await, (6, 0), "4 carrots sold");

    // Completing again is a harmless retry; amending or deleting a completed order is refused.
    let (status, _) = app.put(&location, TOKEN_A, &complete).await;
    assert_eq!(status, 200);
    let amend =
        order_payload(ctx_1_16(), &orders, Some("dfc-v:Held"), &[(app.offer_iri("farm", carrots.id), json!(1))]);
    let (status, refused) = app.put(&location, TOKEN_A, &amend).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ORDER_COMPLETE");
    assert_eq!(app.delete(&location, TOKEN_A).await, 409);
    assert_eq!(app.stock("farm", "CARROT").await, (6, 0), "nothing changed by refused requests");
}

#[tokio::test]
async fn delete_or_put_cancelled_releases_everything() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let orders = app.orders_url("farm");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(6))]);

    let (status, _, headers) = app.post(&orders, TOKEN_A, &body).await;
    assert_eq!(status, 201);
    let first = headers["location"].to_str().expect("location").to_owned();
    assert_eq!(app.stock("farm", "CARROT").await, (10, 6));
    assert_eq!(app.delete(&first, TOKEN_A).await, 204);
    assert_eq!(app.stock("farm", "CARROT").await, (10, 0));
    let (status, cancelled) = app.get(&first, TOKEN_A).await;
    assert_eq!(status, 200);
    assert_eq!(node(&cancelled, "dfc-b:Order")[0]["dfc-b:hasOrderStatus"], "dfc-v:Cancelled");
    assert_eq!(app.delete(&first, TOKEN_A).await, 204, "deleting twice is a harmless retry");

    let (status, _, headers) = app.post(&orders, TOKEN_A, &body).await;
    assert_eq!(status, 201);
    let second = headers["location"].to_str().expect("location").to_owned();
    let cancel = json!({"@context": ctx_1_16(), "@id": second, "@type": "dfc-b:Order", "dfc-b:hasOrderStatus": {"@id": "dfc-v:Cancelled"}});
    let (status, body) = app.put(&second, TOKEN_A, &cancel).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.stock("farm", "CARROT").await, (10, 0));
    let revive =
        order_payload(ctx_org(), &orders, Some("dfc-v:Held"), &[(app.offer_iri("farm", carrots.id), json!(1))]);
    let (status, body) = app.put(&second, TOKEN_A, &revive).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("ORDER_CANCELLED")));
    assert_eq!(app.stock("farm", "CARROT").await, (10, 0));
}

/// The line list of a PUT is the whole truth: Open Food Network completes an order it no longer
/// needs anything of with no `hasPart` at all, and what it released must not be sold.
#[tokio::test]
async fn complete_without_lines_completes_an_empty_order() {
    let app = spawn_app().await;
    let eggs = app.product("farm", "EGGS").await;
    let orders = app.orders_url("farm");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", eggs.id), json!(5))]);
    let (_, _, headers) = app.post(&orders, TOKEN_A, &body).await;
    let location = headers["location"].to_str().expect("location").to_owned();
    let complete = json!({"@context": ctx_org(), "@id": location, "@type": "dfc-b:Order", "dfc-b:hasOrderStatus": "dfc-v:Complete"});
    assert_eq!(app.stock("farm", "EGGS").await, (5, 5));
    let (status, body) = app.put(&location, TOKEN_A, &complete).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(node(&body, "dfc-b:OrderLine").len(), 0);
    assert_eq!(node(&body, "dfc-b:Order")[0]["dfc-b:hasOrderStatus"], "dfc-v:Complete");
    assert_eq!(app.stock("farm", "EGGS").await, (5, 0), "nothing sold");
    // Asking again is a harmless retry.
    let (status, body) = app.put(&location, TOKEN_A, &complete).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn over_asking_is_refused_whole_naming_each_shortage() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let eggs = app.product("farm", "EGGS").await;
    let juice = app.product("farm", "JUICE").await;
    let orders = app.orders_url("farm");

    let greedy = order_payload(
        ctx_org(),
        &orders,
        None,
        &[
            (app.offer_iri("farm", carrots.id), json!(2)),
            (app.offer_iri("farm", eggs.id), json!(6)),
            (app.offer_iri("farm", juice.id), json!(1)),
        ],
    );
    let (status, body, _) = app.post(&orders, TOKEN_A, &greedy).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "INSUFFICIENT_STOCK");
    let shortages = body["error"]["shortages"].as_array().expect("shortages");
    assert_eq!(shortages.len(), 2, "{body}");
    let by_name = |name: &str| shortages.iter().find(|s| s["name"] == name).cloned().expect(name);
    assert_eq!(by_name("Eggs, half dozen")["available"], 5);
    assert_eq!(by_name("Eggs, half dozen")["requested"], 6);
    assert_eq!(by_name("Eggs, half dozen")["product"], app.product_iri("farm", eggs.id));
    assert_eq!(by_name("Apple juice 1 L")["available"], 0);
    assert_eq!(app.stock("farm", "CARROT").await, (10, 0), "the satisfiable line reserved nothing either");
    assert_eq!(app.stock("farm", "EGGS").await, (5, 0));
    let (_, listed) = app.get(&orders, TOKEN_A).await;
    assert!(node(&listed, "dfc-b:Order").is_empty(), "no order was stored");

    // An amendment asking too much leaves the order as it was.
    let fine = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", eggs.id), json!(3))]);
    let (_, _, headers) = app.post(&orders, TOKEN_A, &fine).await;
    let location = headers["location"].to_str().expect("location").to_owned();
    let more = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", eggs.id), json!(7))]);
    let (status, body) = app.put(&location, TOKEN_A, &more).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["shortages"][0]["available"], 5, "this order's own 3 count as available to it");
    assert_eq!(app.stock("farm", "EGGS").await, (5, 3));
    let (_, fetched) = app.get(&location, TOKEN_A).await;
    assert_eq!(node(&fetched, "dfc-b:OrderLine")[0]["dfc-b:quantity"], 3);
}

#[tokio::test]
async fn racing_orders_never_oversell_the_last_units() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let orders = app.orders_url("farm");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(3))]);

    // 10 carrots, 24 traders asking for 3 at once: exactly 3 orders can be served.
    let attempts = (0..24).map(|i| {
        let token = if i % 2 == 0 { TOKEN_A } else { TOKEN_B };
        let (app, orders, body) = (&app, &orders, &body);
        async move { app.post(orders, token, body).await.0 }
    });
    let statuses = join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, refused), (3, 21), "{statuses:?}");
    assert_eq!(app.stock("farm", "CARROT").await, (10, 9));

    // Amendments racing for the last unit: only one of them gets it.
    let (_, listed) = app.get(&orders, TOKEN_A).await;
    let mine =
        node(&listed, "dfc-b:Order").iter().map(|o| o["@id"].as_str().expect("id").to_owned()).collect::<Vec<_>>();
    let (_, listed_b) = app.get(&orders, TOKEN_B).await;
    let theirs =
        node(&listed_b, "dfc-b:Order").iter().map(|o| o["@id"].as_str().expect("id").to_owned()).collect::<Vec<_>>();
    let bump = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(4))]);
    let amendments = mine.iter().map(|o| (o, TOKEN_A)).chain(theirs.iter().map(|o| (o, TOKEN_B))).map(|(o, t)| {
        let (app, bump) = (&app, &bump);
        async move { app.put(o, t, bump).await.0 }
    });
    let statuses = join_all(amendments).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(app.stock("farm", "CARROT").await, (10, 10));
}

#[tokio::test]
async fn unmanaged_stock_never_blocks_an_order() {
    let app = spawn_app().await;
    let flour = app.product("mill", "FLOUR").await;
    let orders = app.orders_url("mill");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("mill", flour.id), json!(100000))]);
    let (status, created, _) = app.post(&orders, TOKEN_A, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(node(&created, "dfc-b:OrderLine")[0]["dfc-b:quantity"], 100000);
    assert_eq!(app.product("mill", "FLOUR").await.stock, orderhub::store::Stock::NotManaged);
}

#[tokio::test]
async fn each_platform_sees_and_changes_only_its_own_orders() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let orders = app.orders_url("farm");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(2))]);
    let (_, _, headers) = app.post(&orders, TOKEN_A, &body).await;
    let location = headers["location"].to_str().expect("location").to_owned();

    assert_eq!(app.get(&location, TOKEN_B).await.0, 404);
    let (_, listed) = app.get(&orders, TOKEN_B).await;
    assert!(node(&listed, "dfc-b:Order").is_empty());
    let (_, listed) = app.get(&orders, TOKEN_A).await;
    assert_eq!(node(&listed, "dfc-b:Order").len(), 1);
    let change = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(9))]);
    assert_eq!(app.put(&location, TOKEN_B, &change).await.0, 404);
    assert_eq!(app.delete(&location, TOKEN_B).await, 404);
    assert_eq!(app.stock("farm", "CARROT").await, (10, 2));

    for token in ["", "not-a-token", "trader-a-secret-token-x"] {
        let (status, body) = app.get(&orders, token).await;
        assert_eq!(status, 401, "token {token:?}");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    }
    let anonymous = app.http.get(app.url("/api/dfc/enterprises/farm/supplied_products")).send().await.expect("sent");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn inline_contexts_and_full_iris_are_understood() {
    let app = spawn_app().await;
    let eggs = app.product("farm", "EGGS").await;
    let orders = app.orders_url("farm");
    let b = "http://w3id.org/dfc/ontology/v2.0.0/src/DFC_BusinessOntology.owl#";
    let body = json!({
        "@context": {"b": b, "v": "http://w3id.org/dfc/taxonomies/v2.0.0/vocabulary.rdf#"},
        "@graph": [
            {"@id": format!("{orders}#"), "@type": "b:Order", "b:hasOrderStatus": {"@id": "v:Held"},
             "b:hasPart": {"@id": "_:_:l1"}},
            {"@id": "_:l1", "@type": ["b:OrderLine"],
             format!("{b}quantity"): {"@value": "2"},
             format!("{b}concerns"): {"@id": app.offer_iri("farm", eggs.id)}}
        ]
    });
    let (status, created, _) = app.post(&orders, TOKEN_A, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(app.stock("farm", "EGGS").await, (5, 2));
}

#[tokio::test]
async fn orders_and_reservations_survive_a_restart() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let orders = app.orders_url("farm");
    let body = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(7))]);
    let (status, _, headers) = app.post(&orders, TOKEN_A, &body).await;
    assert_eq!(status, 201);
    let path = headers["location"].to_str().expect("location").split("/api/").nth(1).expect("path").to_owned();

    // Restarting also reloads the seed file: it must not reset stock that orders count on.
    let app = app.restart().await;
    assert_eq!(app.stock("farm", "CARROT").await, (10, 7));
    let (status, order) = app.get(&app.url(&format!("/api/{path}")), TOKEN_A).await;
    assert_eq!(status, 200);
    assert_eq!(node(&order, "dfc-b:OrderLine")[0]["dfc-b:quantity"], 7);
}

#[tokio::test]
async fn every_context_url_seen_on_the_wire_is_accepted_offline() {
    let app = spawn_app().await;
    let carrots = app.product("farm", "CARROT").await;
    let orders = app.orders_url("farm");
    for context in orderhub::dfc::vocab::KNOWN_CONTEXTS {
        let body = order_payload(
            json!(context),
            &orders,
            Some("dfc-v:Held"),
            &[(app.offer_iri("farm", carrots.id), json!("1"))],
        );
        let (status, answer, _) = app.post(&orders, TOKEN_A, &body).await;
        assert_eq!(status, 201, "{context}: {answer}");
    }
    // The same, as an array mixing a URL and an inline object.
    let body = order_payload(
        json!([orderhub::dfc::vocab::CONTEXT_1_16, {"ofn": "https://openfoodnetwork.org/ns#"}]),
        &orders,
        Some("dfc-v:Held"),
        &[(app.offer_iri("farm", carrots.id), json!(1))],
    );
    assert_eq!(app.post(&orders, TOKEN_A, &body).await.0, 201);
    assert_eq!(app.stock("farm", "CARROT").await, (10, 6));
}
