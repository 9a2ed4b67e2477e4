//! The DFC wire format's cost: reading a catalogue as large as a busy producer's (500 products,
//! ~1,500 nodes) and an order, and writing a catalogue; and the consolidation rule on a producer
//! order as large (500 products by weight, half of them in packs, with carried-over stock).
//!
//! And pricing: a 100-line order against 50 discount rules, beside what it must stay far below,
//! one database round trip (`SELECT 1` through the store's connection, on a SQLite file and, when
//! `ORDERHUB_BENCH_POSTGRES_URL` or the local default answers, on PostgreSQL).
//!
//! `cargo bench --bench dfc`

#![expect(clippy::expect_used, reason = "a benchmark stops on what it does not expect")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use orderhub::dfc::read_document;
use orderhub::dfc::urls::Urls;
use orderhub::dfc::writer;
use orderhub::domain::{Currency, Price, Unit};
use orderhub::store::{Product, Stock};
use rust_decimal::Decimal;

fn products(count: i64) -> Vec<Product> {
    (1..=count)
        .map(|id| Product {
            id,
            enterprise_id: "farm".into(),
            sku: format!("SKU-{id}"),
            name: format!("Product {id}, 400 g"),
            description: Some("A description of a few words, as catalogues carry.".into()),
            unit_value: Decimal::new(4, 1),
            unit: Unit::Kilogram,
            price: Price::new(Decimal::new(100 + id, 2), Currency::Euro, Decimal::new(55, 1)).expect("price"),
            stock: if id % 3 == 0 { Stock::NotManaged } else { Stock::Managed { on_hand: 100, reserved: id % 7 } },
            pack_of: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let urls = Urls::new("https://producer.example");
    let catalogue = products(500);
    let bytes = serde_json::to_vec(&writer::catalogue(&urls, &catalogue)).expect("json");
    c.bench_function(&format!("read catalogue, 500 products ({} KiB)", bytes.len() / 1024), |b| {
        b.iter(|| {
            let doc = read_document(black_box(&bytes)).expect("reads");
            assert_eq!(doc.catalogue().len(), 500);
        })
    });
    c.bench_function("write catalogue, 500 products", |b| {
        b.iter(|| serde_json::to_vec(&writer::catalogue(&urls, black_box(&catalogue))).expect("json"))
    });
    let order = serde_json::json!({
        "@context": "https://www.datafoodconsortium.org",
        "@graph": (0..20).map(|i| serde_json::json!({
            "@id": format!("https://hub.example/lines/{i}"), "@type": "dfc-b:OrderLine", "dfc-b:quantity": "3",
            "dfc-b:concerns": format!("https://producer.example/api/dfc/enterprises/farm/offers/{i}")
        })).chain(std::iter::once(serde_json::json!({
            "@id": "https://producer.example/api/dfc/enterprises/farm/orders/#", "@type": "dfc-b:Order",
            "dfc-b:hasOrderStatus": "dfc-v:Held",
            "dfc-b:hasPart": (0..20).map(|i| format!("https://hub.example/lines/{i}")).collect::<Vec<_>>()
        }))).collect::<Vec<_>>()
    });
    let order_bytes = serde_json::to_vec(&order).expect("json");
    c.bench_function("read order, 20 lines", |b| {
        b.iter(|| {
            let doc = read_document(black_box(&order_bytes)).expect("reads");
            assert_eq!(doc.orders[0].lines.len(), 20);
        })
    });
}

fn consolidation(c: &mut Criterion) {
    use orderhub::domain::consolidation::{ConsolidationMode, Demand, Pack, plan};
    use std::collections::BTreeMap;
    let demands: Vec<Demand> = (0..500)
        .map(|i| Demand {
            product_iri: format!("p{i}"),
            offer_iri: format!("o{i}"),
            name: format!("Product {i}"),
            units: 1 + i % 37,
            unit_grams: Ok(Decimal::new(250 + i % 7 * 125, 0)),
        })
        .collect();
    let packs: BTreeMap<String, Vec<Pack>> = (0..500)
        .step_by(2)
        .map(|i| {
            let pack =
                Pack { product_iri: format!("k{i}"), offer_iri: format!("ko{i}"), name: "Pack".into(), units: 24 };
            (format!("p{i}"), vec![pack])
        })
        .collect();
    let carry: BTreeMap<String, Decimal> =
        (0..500).step_by(3).map(|i| (format!("p{i}"), Decimal::new(1_500, 0))).collect();
    c.bench_function("consolidate by weight, 500 products", |b| {
        b.iter(|| {
            let lines = plan(ConsolidationMode::ByWeight, black_box(demands.clone()), &packs, &carry);
            assert_eq!(lines.len(), 500);
        })
    });
}

/// Use case 9: a 100-line order priced against 50 rules (tiers, scopes, caps, exclusive ones).
fn pricing(c: &mut Criterion) {
    use orderhub::domain::discounts::{CartLine, Combination, Effect, Metric, Rule, Scope, Tier, price};
    use std::collections::BTreeSet;
    let lines: Vec<CartLine> = (0..100)
        .map(|i| CartLine {
            producer: format!("producer-{}", i % 5),
            product: format!("product-{i}"),
            quantity: 1 + i % 9,
            unit_price: Decimal::new(199 + i * 37, 2),
            vat_rate: [Decimal::ZERO, Decimal::new(55, 1), Decimal::from(20)][(i % 3) as usize],
            unit_grams: Some(Decimal::from(250 + i % 4 * 250)),
        })
        .collect();
    let rules: Vec<Rule> = (0..50)
        .map(|i| Rule {
            id: format!("rule-{i:02}"),
            name: format!("Rule {i}"),
            currency: Currency::Euro,
            scope: match i % 3 {
                0 => Scope::Order,
                1 => Scope::Producers(BTreeSet::from([format!("producer-{}", i % 5)])),
                _ => Scope::Products((0..20).map(|p| format!("product-{}", (p * 5 + i) % 100)).collect()),
            },
            metric: [Metric::Value { vat_included: false }, Metric::Quantity, Metric::WeightKg][(i % 3) as usize],
            tiers: vec![
                Tier { from: Decimal::from(i), effect: Effect::PercentOff(Decimal::new(1 + i % 5, 0)) },
                Tier { from: Decimal::from(i * 10 + 5), effect: Effect::AmountOff(Decimal::new(250 + i, 2)) },
            ],
            cap: (i % 4 == 0).then(|| Decimal::from(15)),
            priority: (i % 7) as i32,
            combination: if i % 10 == 0 { Combination::Exclusive } else { Combination::Stacks },
        })
        .collect();
    c.bench_function("price 100 lines against 50 rules", |b| {
        b.iter(|| {
            let priced = price(Currency::Euro, black_box(&lines), black_box(&rules));
            assert_eq!(priced.lines.len(), 100);
        })
    });
    // A usual basket: ten lines, five rules.
    let (few_lines, few_rules) = (&lines[..10], &rules[..5]);
    c.bench_function("price 10 lines against 5 rules", |b| {
        b.iter(|| {
            let priced = price(Currency::Euro, black_box(few_lines), black_box(few_rules));
            assert_eq!(priced.lines.len(), 10);
        })
    });
}

/// The yardstick for pricing: one statement's round trip as the store makes it.
fn round_trip(c: &mut Criterion) {
    use sea_orm::{ConnectionTrait, Statement};
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let folder = std::env::temp_dir().join(format!("orderhub-bench-{}", std::process::id()));
    let sqlite = format!("sqlite://{}", folder.join("bench.db").display());
    let postgres = std::env::var("ORDERHUB_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    for (name, url) in [("SQLite file", sqlite), ("PostgreSQL", postgres)] {
        let Ok(store) = runtime.block_on(orderhub::store::Store::connect(&url)) else {
            eprintln!("database round trip on {name}: skipped, {url} does not answer");
            continue;
        };
        let db = store.db();
        let select = || Statement::from_string(db.get_database_backend(), "SELECT 1");
        c.bench_function(&format!("database round trip, {name}"), |b| {
            b.iter(|| runtime.block_on(db.query_one_raw(select())).expect("SELECT 1"))
        });
    }
    let _ = std::fs::remove_dir_all(folder);
}

criterion_group!(benches, bench, consolidation, pricing, round_trip);
criterion_main!(benches);
