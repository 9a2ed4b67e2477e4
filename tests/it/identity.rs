//! Identity from a JWT over real HTTP: development tokens (HS256, `orderhub token`) and an
//! issuer's keys from a JWKS file (Ed25519 here), each token verified, each failure refused with
//! `401 UNAUTHENTICATED` and never taken for an anonymous call.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use orderhub::config::SecretString;
use serde_json::{Value, json};

use crate::support::*;

const DEV_SECRET: &str = "the development secret of these tests";
const ISSUER: &str = "https://login.test";

struct Issuer {
    key: EncodingKey,
    kid: &'static str,
}

impl Issuer {
    fn new(kid: &'static str) -> (Issuer, Value) {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("pair");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"});
        (Issuer { key: EncodingKey::from_ed_der(pkcs8.as_ref()), kid }, jwk)
    }

    fn token(&self, claims: Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.into());
        jsonwebtoken::encode(&header, &claims, &self.key).expect("token")
    }
}

/// A JWKS file holding `jwk`, in a folder of its own (the caller removes it).
fn jwks_file(jwk: &Value) -> (std::path::PathBuf, std::path::PathBuf) {
    let folder = std::env::temp_dir().join(format!("orderhub-jwks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).expect("folder");
    let jwks = folder.join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [jwk]}).to_string()).expect("jwks");
    (folder, jwks)
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

async fn viewer(app: &TestApp, authorization: Option<&str>) -> (u16, Value, Option<String>) {
    let mut request =
        app.http.post(app.url("/graphql")).json(&json!({"query": "{ viewer { issuer subject roles enterprises } }"}));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, response.json().await.expect("json"), challenge)
}

#[tokio::test]
async fn tokens_are_verified_here_and_every_bad_one_is_refused() {
    let (issuer, jwk) = Issuer::new("key-1");
    let (impostor, _) = Issuer::new("key-1");
    let (folder, jwks) = jwks_file(&jwk);
    let app = spawn_app_with(|c| {
        c.auth.hs256_secret = Some(SecretString::new(DEV_SECRET));
        c.auth.jwks_file = Some(jwks.clone());
        c.auth.issuers = vec![ISSUER.into()];
        c.auth.audiences = vec!["orderhub".into()];
        c.auth.enterprises_claim = "https://orderhub.example/enterprises".into();
    })
    .await;

    let (status, answer, _) = viewer(&app, None).await;
    assert_eq!((status, &answer["data"]["viewer"]), (200, &Value::Null), "anonymous: {answer}");

    let claims = |exp: u64, iss: &str, aud: &str| {
        json!({"sub": "ada", "iss": iss, "aud": aud, "exp": exp, "scope": "customer",
               "https://orderhub.example/enterprises": ["hub"]})
    };
    let good = issuer.token(claims(now() + 300, ISSUER, "orderhub"));
    let (status, answer, _) = viewer(&app, Some(&format!("Bearer {good}"))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["data"]["viewer"],
        json!({"issuer": ISSUER, "subject": "ada", "roles": ["customer"], "enterprises": ["hub"]})
    );

    // A development token, as `orderhub token` mints it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_orderhub"))
        .args(["token", "--subject", "staff-1", "--role", "trader_staff", "--enterprise", "hub"])
        .env("ORDERHUB_AUTH_HS256_SECRET", DEV_SECRET)
        .current_dir(&folder)
        .output()
        .expect("orderhub token");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let minted = String::from_utf8(output.stdout).expect("utf-8").trim().to_owned();
    let (status, answer, _) = viewer(&app, Some(&format!("Bearer {minted}"))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["viewer"]["subject"], "staff-1");
    assert_eq!(answer["data"]["viewer"]["roles"], json!(["trader_staff"]));

    let forged_dev = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "ada", "iss": "orderhub-dev", "exp": now() + 300}),
        &EncodingKey::from_secret(b"a guessed secret"),
    )
    .expect("token");
    for (case, authorization) in [
        ("expired", format!("Bearer {}", issuer.token(claims(now() - 3_600, ISSUER, "orderhub")))),
        ("unknown issuer", format!("Bearer {}", issuer.token(claims(now() + 300, "https://evil.test", "orderhub")))),
        ("another audience", format!("Bearer {}", issuer.token(claims(now() + 300, ISSUER, "billing")))),
        ("bad signature", format!("Bearer {}", impostor.token(claims(now() + 300, ISSUER, "orderhub")))),
        ("forged development token", format!("Bearer {forged_dev}")),
        ("not a bearer token", "Basic YWRhOnNlY3JldA==".to_owned()),
        ("garbage", "Bearer not.a.token".to_owned()),
    ] {
        let (status, answer, challenge) = viewer(&app, Some(&authorization)).await;
        assert_eq!(status, 401, "{case}: {answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{case}");
        assert!(answer.get("data").is_none(), "{case}: nothing ran");
        assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""), "{case}");
        assert!(!answer.to_string().contains("ada"), "{case}: a refusal reveals nothing of the token");
    }
    let _ = std::fs::remove_dir_all(folder);
}

#[tokio::test]
async fn the_dfc_api_takes_the_issuers_access_tokens_by_client_and_scope() {
    let (issuer, jwk) = Issuer::new("key-1");
    let (folder, jwks) = jwks_file(&jwk);
    let app = spawn_app_with(|c| {
        c.auth.jwks_file = Some(jwks.clone());
        c.auth.issuers = vec![ISSUER.into()];
        c.auth.dfc_clients.insert("ofn-hub".into(), "trader-a".into());
    })
    .await;
    let token = |client: &str, scope: &str, exp: u64| {
        issuer.token(json!({"sub": "service-account", "iss": ISSUER, "azp": client, "scope": scope, "exp": exp}))
    };
    let all = "openid ReadProducts ReadOrders WriteOrders";
    let (catalogue, orders) = (app.url("/api/dfc/enterprises/farm/catalog_items"), app.orders_url("farm"));
    let carrots = app.product("farm", "CARROT").await;
    let order = order_payload(ctx_org(), &orders, None, &[(app.offer_iri("farm", carrots.id), json!(2))]);

    assert_eq!(app.get(&catalogue, &token("ofn-hub", "ReadProducts", now() + 300)).await.0, 200);
    let (status, body) = app.get(&orders, &token("ofn-hub", "ReadProducts", now() + 300)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("FORBIDDEN")), "{body}");
    assert!(body["error"]["message"].as_str().expect("message").contains("ReadOrders"));
    let (status, body, _) = app.post(&orders, &token("ofn-hub", "ReadProducts ReadOrders", now() + 300), &order).await;
    assert_eq!(status, 403, "placing needs WriteOrders: {body}");
    let (status, body) = app.get(&orders, &token("ofn-hub", "ReadOrders", now() + 300)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains("dfc-b:OrderLine"), "the refused order was not placed: {body}");
    let (status, body, _) = app.post(&orders, &token("ofn-hub", all, now() + 300), &order).await;
    assert_eq!(status, 201, "{body}");
    // The order belongs to the platform the client maps to: its static token sees it.
    let (_, listed) = app.get(&orders, TOKEN_A).await;
    assert!(listed.to_string().contains("dfc-b:OrderLine"), "{listed}");

    let (status, body) = app.get(&orders, &token("ofn-hub", all, now() - 3_600)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("UNAUTHORIZED")), "expired: {body}");
    let (status, body) = app.get(&orders, &token("someone-else", all, now() + 300)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "a client that is no platform: {body}"
    );
    let _ = std::fs::remove_dir_all(folder);
}

/// An OAuth server on loopback: the client credentials grant for one client, counting what it
/// issues, each token said to live `lifetime_secs`; the first one has already expired (as a
/// token held across a restart).
async fn token_server(issuer: Issuer, lifetime_secs: u64) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let issued = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let issuer = std::sync::Arc::new(issuer);
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |body: String| {
            let (counter, issuer) = (counter.clone(), issuer.clone());
            async move {
                let form: std::collections::HashMap<String, String> =
                    body.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
                let granted = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                    && form.get("client_id").map(String::as_str) == Some("hub-client")
                    && form.get("client_secret").map(String::as_str) == Some("hub-client-secret");
                if !granted {
                    return (axum::http::StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_client\"}".to_owned());
                }
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let exp = if n == 0 { now() - 3_600 } else { now() + 3_600 };
                let token = issuer.token(json!({"sub": "hub-client", "iss": ISSUER, "azp": "hub-client",
                    "scope": "ReadProducts ReadOrders WriteOrders", "exp": exp}));
                (
                    axum::http::StatusCode::OK,
                    json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime_secs}).to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/token", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, issued)
}

#[tokio::test]
async fn a_peer_reached_with_client_credentials_gets_its_token_and_renews_it_once_on_401() {
    // Tokens living an hour are kept; tokens living 30 s are within a minute of expiring, so
    // every call asks for a fresh one rather than send one about to lapse.
    for (lifetime_secs, issued_after_second_call) in [(3_600, 2), (30, 3)] {
        peer_with_client_credentials(lifetime_secs, issued_after_second_call).await;
    }
}

async fn peer_with_client_credentials(lifetime_secs: u64, issued_after_second_call: usize) {
    use std::sync::atomic::Ordering;
    let (issuer, jwk) = Issuer::new("key-1");
    let (folder, jwks) = jwks_file(&jwk);
    let producer = spawn_app_with(|c| {
        c.auth.jwks_file = Some(jwks.clone());
        c.auth.issuers = vec![ISSUER.into()];
        c.auth.dfc_clients.insert("hub-client".into(), "hub".into());
    })
    .await;
    let (token_url, issued) = token_server(issuer, lifetime_secs).await;
    let base = producer.base.clone();
    let trader = spawn_app_with(|c| {
        c.seed_file = Some(fixture("trader.json"));
        c.peers = vec![orderhub::config::PeerConfig {
            id: "farm".into(),
            trader: "hub".into(),
            name: None,
            base_url: base,
            enterprise: "farm".into(),
            token: SecretString::default(),
            oauth: Some(orderhub::config::PeerOAuth {
                token_url,
                client_id: "hub-client".into(),
                client_secret: Some(SecretString::new("hub-client-secret")),
                scope: Some("ReadProducts ReadOrders WriteOrders".into()),
                refresh_token: None,
            }),
            timeout_ms: 2_000,
            url_scheme: None,
        }];
    })
    .await;
    let created = trader
        .graphql_ok(
            "mutation { createSalesSession(input: {traderId: \"hub\", name: \"W\", beginsAt: \"2024-01-01T00:00:00Z\", endsAt: \"2099-01-01T00:00:00Z\", producerIds: [\"farm\"]}) { id } }",
            json!({}),
        )
        .await;
    let session = created["createSalesSession"]["id"].as_str().expect("session").to_owned();
    let catalogue = "query($id: ID!) { salesSession(id: $id) { catalogue { offers { id } errors { code message } } } }";
    let answer = trader.graphql_ok(catalogue, json!({"id": session})).await;
    assert_eq!(answer["salesSession"]["catalogue"]["errors"], json!([]), "{answer}");
    assert!(!answer["salesSession"]["catalogue"]["offers"].as_array().expect("offers").is_empty());
    assert_eq!(issued.load(Ordering::SeqCst), 2, "the expired token was refused, renewed once, and the call retried");
    trader.graphql_ok(catalogue, json!({"id": session})).await;
    assert_eq!(issued.load(Ordering::SeqCst), issued_after_second_call, "tokens living {lifetime_secs} s");
    let _ = std::fs::remove_dir_all(folder);
}

#[tokio::test]
async fn keys_published_at_a_url_are_fetched_when_needed_and_a_new_kid_refetches_at_most_once_a_while() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let (first, first_jwk) = Issuer::new("key-1");
    let (second, second_jwk) = Issuer::new("key-2");
    let (unknown, _) = Issuer::new("key-3");
    let published = Arc::new(Mutex::new(json!({"keys": [first_jwk.clone()]})));
    let hits = Arc::new(AtomicUsize::new(0));
    let (served, counter) = (published.clone(), hits.clone());
    let jwks = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (served, counter) = (served.clone(), counter.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                served.lock().expect("lock").to_string()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, jwks).await;
    });
    let app = spawn_app_with(|c| {
        c.auth.jwks_url = Some(url);
        c.auth.jwks_refetch_secs = 1;
        c.auth.issuers = vec![ISSUER.into()];
    })
    .await;
    let claims = json!({"sub": "ada", "iss": ISSUER, "exp": now() + 300});
    let status = |issuer: &Issuer| {
        let token = issuer.token(claims.clone());
        let app = &app;
        async move { viewer(app, Some(&format!("Bearer {token}"))).await.0 }
    };

    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing fetched before a token needs it");
    assert_eq!(status(&first).await, 200);
    assert_eq!(status(&first).await, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched once, then held");
    // The issuer rotates its keys: a token with the new kid right away is refused without a
    // fetch (the last one was under a second ago)...
    *published.lock().expect("lock") = json!({"keys": [first_jwk, second_jwk]});
    assert_eq!(status(&second).await, 401);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "made-up kids cannot make us hammer the issuer");
    // ...and accepted once a refetch is allowed; another unknown kid then fetches nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(status(&second).await, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(status(&unknown).await, 401);
    assert_eq!(status(&first).await, 200, "the keys held still verify");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}
