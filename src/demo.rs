//! `orderhub demo`: a trader platform and two producer platforms (one counting its stock, one
//! not) in one process on loopback, each with its own database and catalogue, talking real DFC
//! HTTP to each other. Prints where GraphiQL is and a checkout to paste into it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use serde_json::json;

use crate::auth::AuthConfig;
use crate::config::{ClientConfig, PeerConfig, SecretString};
use crate::store::seed::{SeedEnterprise, SeedFile};
use crate::{Application, Config, store};

const HUB: &str = "hub";
const HUB_TOKEN: &str = "demo-hub-token-change-me";

pub struct DemoOptions {
    /// The trader listens here; the producers on the next two ports. 0 picks free ports.
    pub port: u16,
    pub data_dir: PathBuf,
    /// The producers' catalogues; none: [`DEMO_CATALOGUE`].
    pub seed_file: Option<PathBuf>,
}

/// The demo's catalogue, built into the binary so that `orderhub demo` runs from any folder.
pub const DEMO_CATALOGUE: &str = include_str!("../seed/catalogue.json");

fn config(data_dir: &Path, name: &str, port: u16, secret: &SecretString) -> Config {
    Config {
        auth: AuthConfig { hs256_secret: Some(secret.clone()), ..Default::default() },
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        database_url: format!("sqlite://{}", data_dir.join(format!("{name}.db")).display()),
        outbox_poll_ms: 500,
        retry_base_ms: 1_000,
        retry_max_ms: 30_000,
        ..Config::default()
    }
}

async fn producer(
    options: &DemoOptions,
    seed: &SeedFile,
    enterprise: &str,
    port: u16,
    secret: &SecretString,
) -> anyhow::Result<Application> {
    let mut config = config(&options.data_dir, enterprise, port, secret);
    config.clients =
        vec![ClientConfig { platform: HUB.into(), name: Some("Demo hub".into()), token: SecretString::new(HUB_TOKEN) }];
    let app = Application::build(config).await?;
    let own: Vec<SeedEnterprise> = seed.enterprises.iter().filter(|e| e.id == enterprise).cloned().collect();
    anyhow::ensure!(!own.is_empty(), "the seed file has no enterprise `{enterprise}`");
    store::seed::load(app.store(), SeedFile { enterprises: own }).await?;
    Ok(app)
}

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    std::fs::create_dir_all(&options.data_dir)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", options.data_dir.display()))?;
    let text = match &options.seed_file {
        Some(file) => std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?,
        None => DEMO_CATALOGUE.to_owned(),
    };
    let seed: SeedFile = serde_json::from_str(&text)?;
    let next = |offset: u16| if options.port == 0 { 0 } else { options.port.saturating_add(offset) };
    // A secret of this run only: the tokens printed below work until the demo stops.
    let secret = SecretString::new(format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()));
    let farm = producer(&options, &seed, "green-acres", next(1), &secret).await?;
    let mill = producer(&options, &seed, "hillside-mill", next(2), &secret).await?;
    let farm_graphql = format!("{}/graphql", farm.base_url());

    let mut trader_config = config(&options.data_dir, HUB, options.port, &secret);
    trader_config.peers = [("green-acres", &farm), ("hillside-mill", &mill)]
        .into_iter()
        .map(|(id, app)| PeerConfig {
            id: id.into(),
            trader: HUB.into(),
            name: seed.enterprises.iter().find(|e| e.id == id).map(|e| e.name.clone()),
            base_url: app.base_url().to_owned(),
            enterprise: id.into(),
            token: SecretString::new(HUB_TOKEN),
            timeout_ms: 3_000,
            url_scheme: None,
            oauth: None,
        })
        .collect();
    let trader = Application::build(trader_config).await?;
    let store = trader.store().clone();
    store.upsert_enterprise(HUB, "Demo hub", Some("Sells the farm's and the mill's products")).await?;
    let session = match store.sales_sessions(HUB).await?.into_iter().find(|s| s.ends_at > Utc::now()) {
        Some(open) => open,
        None => {
            let now = Utc::now();
            let peers = vec!["green-acres".to_owned(), "hillside-mill".to_owned()];
            store
                .create_sales_session(HUB, "Demo week", now - Duration::hours(1), now + Duration::days(7), &peers)
                .await?
        }
    };

    let graphql = format!("{}/graphql", trader.base_url());
    let service = trader.trader().clone();
    let shutdown = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for app in [farm, mill, trader] {
        let mut stop = shutdown.1.clone();
        servers.push(tokio::spawn(app.serve(async move {
            let _ = stop.changed().await;
        })));
    }

    // A checkout of real offers, one from each producer, read from the producers over DFC.
    let mut offers = Vec::new();
    for part in service.session_catalogue(session.id, &Default::default()).await? {
        match part.result {
            Ok(list) => offers.extend(list.into_iter().next()),
            Err(e) => anyhow::bail!("the demo producer {} does not answer: {e}", part.peer.id),
        }
    }
    let lines: Vec<_> = offers.iter().map(|o| json!({"offerId": o.offer_iri, "quantity": 2})).collect();
    let variables = json!({"input": {
        "idempotencyKey": format!("demo-{}", uuid::Uuid::new_v4()),
        "salesSessionId": session.id.to_string(),
        "contact": {"name": "Demo Customer", "email": "customer@example.org"},
        "lines": lines,
    }});
    let token = |subject: &str, role: &str, enterprises: &[&str]| {
        let enterprises: Vec<String> = enterprises.iter().map(|e| (*e).to_owned()).collect();
        crate::auth::dev_token(&secret, &AuthConfig::default(), subject, &[role.to_owned()], &enterprises, 12 * 3_600)
    };
    let customer = token("demo-customer", crate::graphql::access::CUSTOMER, &[])?;
    let staff = token("hub-staff", crate::graphql::access::TRADER_STAFF, &[HUB])?;
    let producer_staff = token("farm-staff", crate::graphql::access::PRODUCER_STAFF, &["green-acres"])?;
    let body = json!({"query": CHECKOUT, "variables": variables});
    let pretty = serde_json::to_string_pretty(&variables)?;
    let report = format!(
        "\norderhub demo is running (Ctrl-C stops it).\n\n\
         GraphiQL:   {graphql}\n\
         Session:    {session}\n\n\
         Development tokens of this run (12 hours; in GraphiQL's Headers: {{\"Authorization\": \"Bearer <token>\"}}):\n\n\
         customer demo-customer:       {customer}\n\n\
         trader staff of hub:          {staff}\n\n\
         producer staff of green-acres (its own GraphiQL, {farm_graphql}):\n{producer_staff}\n\n\
         Browse the session's catalogue, fanned out to both producers:\n\n{CATALOGUE}\n\n\
         with variables {{\"id\": \"{session}\"}}\n\n\
         Check out as the customer (paste the mutation, then the variables below it):\n\n{CHECKOUT}\n\n{pretty}\n\n\
         Or with curl:\n\ncurl -s -H 'content-type: application/json' -H 'authorization: Bearer {customer}' {graphql} -d '{body}'\n\n\
         Consolidate by weight (the mill's flour then goes in whole 25 kg sacks, the excess carried\n\
         over to later sessions), and see what each producer order says and why (as trader staff):\n\n{CONSOLIDATE}\n\n\
         What the farm must deliver (on the farm's GraphiQL, as its staff):\n\n{INCOMING}\n\n\
         DEMO-TOKEN {customer}\n\
         DEMO-REQUEST {body}\n",
        session = session.id,
    );
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(report.as_bytes())?;
    out.flush()?;
    drop(out);

    crate::shutdown_signal().await;
    let _ = shutdown.0.send(true);
    for server in servers {
        server.await??;
    }
    Ok(())
}

const CATALOGUE: &str = "query Catalogue($id: ID!) {
  salesSession(id: $id) {
    name
    catalogue {
      offers { id name producer { name } price { amount currency } stockManaged available }
      errors { producer { name } code message }
    }
  }
}";

const CONSOLIDATE: &str = "mutation { setConsolidationMode(traderId: \"hub\", mode: BY_WEIGHT) { defaultMode } }

query Orders($id: ID!) {
  salesSession(id: $id) {
    producerOrders { producer { name } status lines { name quantity neededKg basis carriedOverAddedKg note } }
  }
}";

const CHECKOUT: &str = "mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    id
    total { amount currency }
    lines { name quantity producer { name } }
    reservations { producer { name } state }
  }
}";

const INCOMING: &str =
    "{ enterprise(id: \"green-acres\") { incomingOrders { orderNumber status lines { productName quantity } } } }";
