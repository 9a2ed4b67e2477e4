//! How customer orders become the lines of a producer order: counted, weighed, or rounded up to
//! whole packs with the excess carried over as the trader's stock (use cases 4, 5 and 6).
//!
//! Pure: the store gathers what customers need, the producer's packs and the carried-over stock;
//! delivery sends the result. The property tests below hold the rules.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// How a trader groups customer orders into producer orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConsolidationMode {
    /// Each customer order gives its own producer order.
    PerCustomerOrder,
    /// One producer order per (session, producer), quantities summed per product.
    #[default]
    PerSession,
    /// As PER_SESSION, but per product the total weight is ordered as one bulk quantity, in whole
    /// packs where the producer sells a bigger pack of the product.
    ByWeight,
}

impl ConsolidationMode {
    pub const ALL: [ConsolidationMode; 3] =
        [ConsolidationMode::PerCustomerOrder, ConsolidationMode::PerSession, ConsolidationMode::ByWeight];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsolidationMode::PerCustomerOrder => "PER_CUSTOMER_ORDER",
            ConsolidationMode::PerSession => "PER_SESSION",
            ConsolidationMode::ByWeight => "BY_WEIGHT",
        }
    }

    pub fn parse(text: &str) -> Option<ConsolidationMode> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// One product that customers need from a producer, summed over the customer orders of a group.
#[derive(Clone, Debug)]
pub struct Demand {
    pub product_iri: String,
    pub offer_iri: String,
    pub name: String,
    pub units: i64,
    /// Grams in one unit, or why the weight is not known.
    pub unit_grams: Result<Decimal, String>,
}

/// A bigger pack of a product, sold by the same producer: one pack holds `units` of the product.
#[derive(Clone, Debug)]
pub struct Pack {
    pub product_iri: String,
    pub offer_iri: String,
    pub name: String,
    pub units: i64,
}

/// What a line's quantity counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Units as customers ordered them.
    Count,
    /// The total weight, in units of the product.
    Weight,
    /// The total weight, in whole packs.
    Pack,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Count => "COUNT",
            Basis::Weight => "WEIGHT",
            Basis::Pack => "PACK",
        }
    }

    pub fn parse(text: &str) -> Basis {
        match text {
            "WEIGHT" => Basis::Weight,
            "PACK" => Basis::Pack,
            _ => Basis::Count,
        }
    }
}

/// One line of a producer order and how it was derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLine {
    /// The product customers ordered.
    pub product_iri: String,
    /// What is ordered from the producer: that product, or a pack of it.
    pub ordered_product_iri: String,
    pub offer_iri: String,
    pub name: String,
    /// Units of `offer_iri`; zero when carried-over stock covers the need (nothing is sent).
    pub quantity: i64,
    pub needed_units: i64,
    pub needed_grams: Option<Decimal>,
    pub carry_used_grams: Decimal,
    pub carry_added_grams: Decimal,
    pub basis: Basis,
    /// Why the line is counted although the mode weighs.
    pub note: Option<String>,
}

/// The lines of one producer order.
///
/// `packs` are keyed by the product they hold, `carry` (grams of each product the trader holds
/// from earlier packs) likewise. Carried-over stock is used first, and only by weight.
pub fn plan(
    mode: ConsolidationMode,
    demands: Vec<Demand>,
    packs: &BTreeMap<String, Vec<Pack>>,
    carry: &BTreeMap<String, Decimal>,
) -> Vec<PlannedLine> {
    demands
        .into_iter()
        .filter(|d| d.units > 0)
        .map(|demand| match (mode, &demand.unit_grams) {
            (ConsolidationMode::ByWeight, Ok(grams)) if *grams > Decimal::ZERO => {
                let grams = *grams;
                let available = carry.get(&demand.product_iri).copied().unwrap_or_default();
                let pack = biggest_pack(packs, &demand.product_iri);
                by_weight(demand, grams, pack, available)
            }
            (ConsolidationMode::ByWeight, Ok(_)) => {
                counted(demand, Some("its published weight is zero: counted instead of weighed".to_owned()))
            }
            (ConsolidationMode::ByWeight, Err(why)) => {
                let note = Some(format!("{why}: counted instead of weighed"));
                counted(demand, note)
            }
            _ => counted(demand, None),
        })
        .collect()
}

/// The biggest pack of a product (the wholesale unit); packs of one unit are no packs.
fn biggest_pack<'p>(packs: &'p BTreeMap<String, Vec<Pack>>, product: &str) -> Option<&'p Pack> {
    packs.get(product)?.iter().filter(|p| p.units > 1).max_by_key(|p| (p.units, &p.offer_iri))
}

fn counted(demand: Demand, note: Option<String>) -> PlannedLine {
    PlannedLine {
        needed_grams: demand.unit_grams.as_ref().ok().and_then(|g| g.checked_mul(Decimal::from(demand.units))),
        ordered_product_iri: demand.product_iri.clone(),
        product_iri: demand.product_iri,
        offer_iri: demand.offer_iri,
        name: demand.name,
        quantity: demand.units,
        needed_units: demand.units,
        carry_used_grams: Decimal::ZERO,
        carry_added_grams: Decimal::ZERO,
        basis: Basis::Count,
        note,
    }
}

const TOO_HEAVY: &str = "its total weight is too large to compute: counted instead";

fn by_weight(demand: Demand, unit_grams: Decimal, pack: Option<&Pack>, carried: Decimal) -> PlannedLine {
    let Some(needed) = unit_grams.checked_mul(Decimal::from(demand.units)) else {
        return counted(demand, Some(TOO_HEAVY.to_owned()));
    };
    let used = carried.max(Decimal::ZERO).min(needed);
    let remaining = needed - used;
    let (chunk, basis) = match pack.and_then(|p| unit_grams.checked_mul(Decimal::from(p.units))) {
        Some(pack_grams) => (pack_grams, Basis::Pack),
        None => (unit_grams, Basis::Weight),
    };
    let Some(quantity) = whole_chunks(remaining, chunk) else {
        return counted(demand, Some(TOO_HEAVY.to_owned()));
    };
    let added = chunk * Decimal::from(quantity) - remaining;
    let (ordered_product_iri, offer_iri, name) = match (basis, pack) {
        (Basis::Pack, Some(p)) => (p.product_iri.clone(), p.offer_iri.clone(), p.name.clone()),
        _ => (demand.product_iri.clone(), demand.offer_iri, demand.name),
    };
    PlannedLine {
        product_iri: demand.product_iri,
        ordered_product_iri,
        offer_iri,
        name,
        quantity,
        needed_units: demand.units,
        needed_grams: Some(needed.normalize()),
        carry_used_grams: used.normalize(),
        carry_added_grams: added.normalize(),
        basis,
        note: None,
    }
}

/// The fewest whole `chunk`s that hold `grams`: `ceil(grams / chunk)`, checked by multiplication
/// so that a rounded quotient can never order one chunk too few.
fn whole_chunks(grams: Decimal, chunk: Decimal) -> Option<i64> {
    if grams <= Decimal::ZERO {
        return Some(0);
    }
    let mut chunks = grams.checked_div(chunk)?.ceil();
    while chunks.checked_mul(chunk)? < grams {
        chunks += Decimal::ONE;
    }
    while chunks > Decimal::ONE && (chunks - Decimal::ONE).checked_mul(chunk)? >= grams {
        chunks -= Decimal::ONE;
    }
    chunks.to_i64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn flour(units: i64) -> Demand {
        Demand {
            product_iri: "flour".into(),
            offer_iri: "flour-offer".into(),
            name: "Flour 500 g".into(),
            units,
            unit_grams: Ok(d("500")),
        }
    }

    fn sack() -> BTreeMap<String, Vec<Pack>> {
        let pack = Pack { product_iri: "sack".into(), offer_iri: "sack-offer".into(), name: "Sack".into(), units: 50 };
        BTreeMap::from([("flour".to_owned(), vec![pack])])
    }

    #[test]
    fn ten_times_500_g_is_one_5_kg_line() {
        let lines = plan(ConsolidationMode::ByWeight, vec![flour(10)], &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].quantity, lines[0].basis), (10, Basis::Weight));
        assert_eq!(lines[0].needed_grams, Some(d("5000")));
        assert_eq!(lines[0].carry_added_grams, Decimal::ZERO);
    }

    #[test]
    fn with_a_25_kg_sack_one_sack_and_20_kg_carried_over() {
        let lines = plan(ConsolidationMode::ByWeight, vec![flour(10)], &sack(), &BTreeMap::new());
        assert_eq!((lines[0].offer_iri.as_str(), lines[0].quantity), ("sack-offer", 1));
        assert_eq!(lines[0].carry_added_grams, d("20000"));
        // The next session uses the 20 kg first: 10 more bags need no new sack.
        let carry = BTreeMap::from([("flour".to_owned(), d("20000"))]);
        let next = plan(ConsolidationMode::ByWeight, vec![flour(10)], &sack(), &carry);
        assert_eq!((next[0].quantity, next[0].carry_used_grams), (0, d("5000")));
    }

    #[test]
    fn an_unknown_weight_is_counted_and_says_why() {
        let eggs = Demand { unit_grams: Err("sold by HalfDozen".into()), ..flour(3) };
        let lines = plan(ConsolidationMode::ByWeight, vec![eggs], &BTreeMap::new(), &BTreeMap::new());
        assert_eq!((lines[0].quantity, lines[0].basis), (3, Basis::Count));
        assert_eq!(lines[0].note.as_deref(), Some("sold by HalfDozen: counted instead of weighed"));
    }

    #[test]
    fn absurd_weights_from_a_peer_are_counted_not_a_panic() {
        let huge = Demand { unit_grams: Ok(Decimal::MAX / Decimal::TWO), units: 1_000_000, ..flour(1) };
        let pack =
            Pack { product_iri: "sack".into(), offer_iri: "sack-offer".into(), name: "Sack".into(), units: i64::MAX };
        let packs = BTreeMap::from([("flour".to_owned(), vec![pack])]);
        let carry = BTreeMap::from([("flour".to_owned(), Decimal::MAX)]);
        let lines = plan(ConsolidationMode::ByWeight, vec![huge, flour(3)], &packs, &carry);
        assert_eq!((lines[0].quantity, lines[0].basis), (1_000_000, Basis::Count));
        assert!(lines[0].note.is_some());
        // Stock covers it: no pack at all.
        assert_eq!((lines[1].quantity, lines[1].carry_used_grams), (0, d("1500")));
    }

    #[test]
    fn counting_modes_ignore_packs_and_stock() {
        let carry = BTreeMap::from([("flour".to_owned(), d("20000"))]);
        for mode in [ConsolidationMode::PerSession, ConsolidationMode::PerCustomerOrder] {
            let lines = plan(mode, vec![flour(7)], &sack(), &carry);
            assert_eq!((lines[0].offer_iri.as_str(), lines[0].quantity), ("flour-offer", 7));
        }
    }

    #[test]
    fn whole_chunks_is_an_exact_ceiling() {
        assert_eq!(whole_chunks(d("5000"), d("25000")), Some(1));
        assert_eq!(whole_chunks(d("25000"), d("25000")), Some(1));
        assert_eq!(whole_chunks(d("25000.001"), d("25000")), Some(2));
        assert_eq!(whole_chunks(d("0"), d("25000")), Some(0));
        assert_eq!(whole_chunks(d("907.18474"), d("453.59237")), Some(2));
        assert_eq!(whole_chunks(d("1"), d("3")), Some(1));
    }

    /// A producer's product in the property tests: a weight (or none) and maybe a pack.
    #[derive(Clone, Debug)]
    struct Product {
        unit_grams: Option<Decimal>,
        pack_units: Option<i64>,
    }

    fn product() -> impl Strategy<Value = Product> {
        let grams = prop_oneof![
            Just(None),
            (1i64..5_000, 0u32..3).prop_map(|(m, s)| Some(Decimal::new(m, s))),
            // Pounds: 453.59237 g, to exercise non-round weights.
            (1i64..4).prop_map(|n| Some(Decimal::new(45_359_237 * n, 5))),
        ];
        (grams, proptest::option::of(2i64..60)).prop_map(|(unit_grams, pack_units)| Product { unit_grams, pack_units })
    }

    /// Customer orders as `(product index, units, cancelled)` lines.
    type Orders = Vec<(Vec<(usize, i64)>, bool)>;

    fn orders(products: usize) -> impl Strategy<Value = Orders> {
        proptest::collection::vec(
            (proptest::collection::vec((0..products, 1i64..40), 1..4), proptest::bool::weighted(0.3)),
            0..12,
        )
    }

    fn mode() -> impl Strategy<Value = ConsolidationMode> {
        prop_oneof![
            Just(ConsolidationMode::PerCustomerOrder),
            Just(ConsolidationMode::PerSession),
            Just(ConsolidationMode::ByWeight)
        ]
    }

    fn demands(products: &[Product], orders: &[&Vec<(usize, i64)>]) -> Vec<Demand> {
        let mut units = BTreeMap::new();
        for line in orders.iter().flat_map(|o| o.iter()) {
            *units.entry(line.0).or_insert(0) += line.1;
        }
        units
            .into_iter()
            .map(|(i, units)| Demand {
                product_iri: format!("p{i}"),
                offer_iri: format!("o{i}"),
                name: format!("Product {i}"),
                units,
                unit_grams: products[i].unit_grams.ok_or_else(|| "no weight published".to_owned()),
            })
            .collect()
    }

    fn packs_of(products: &[Product]) -> BTreeMap<String, Vec<Pack>> {
        products
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let units = p.pack_units?;
                let pack = Pack {
                    product_iri: format!("pack{i}"),
                    offer_iri: format!("pack-o{i}"),
                    name: "pack".into(),
                    units,
                };
                Some((format!("p{i}"), vec![pack]))
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Whatever the orders, cancellations and mode: what is sent (plus the stock used) covers
        /// exactly what the remaining orders need, rounded up to whole packs and never more than
        /// one pack over; nothing is negative; stock used is stock the trader has.
        #[test]
        fn sent_quantities_are_what_the_remaining_orders_need(
            products in proptest::collection::vec(product(), 1..5),
            orders in orders(4),
            mode in mode(),
            carried in proptest::collection::vec(0i64..60_000, 4),
        ) {
            let products = &products[..products.len().min(4)];
            let orders: Orders = orders.into_iter()
                .map(|(lines, c)| (lines.into_iter().filter(|(i, _)| *i < products.len()).collect::<Vec<_>>(), c))
                .collect();
            let packs = packs_of(products);
            let carry: BTreeMap<String, Decimal> =
                carried.iter().enumerate().map(|(i, g)| (format!("p{i}"), Decimal::from(*g))).collect();
            let remaining: Vec<&Vec<(usize, i64)>> = orders.iter().filter(|(_, c)| !c).map(|(l, _)| l).collect();
            // PER_CUSTOMER_ORDER plans each order alone; the others plan them together.
            let groups: Vec<Vec<&Vec<(usize, i64)>>> = if mode == ConsolidationMode::PerCustomerOrder {
                remaining.iter().map(|o| vec![*o]).collect()
            } else {
                vec![remaining.clone()]
            };
            let mut sent_units: BTreeMap<String, i64> = BTreeMap::new();
            for group in &groups {
                let lines = plan(mode, demands(products, group), &packs, &carry);
                let needs = demands(products, group);
                prop_assert_eq!(lines.len(), needs.len(), "one line per product needed");
                for (line, need) in lines.iter().zip(&needs) {
                    prop_assert!(line.quantity >= 0);
                    prop_assert!(line.carry_used_grams >= Decimal::ZERO && line.carry_added_grams >= Decimal::ZERO);
                    prop_assert_eq!(line.needed_units, need.units);
                    *sent_units.entry(line.product_iri.clone()).or_default() += line.quantity;
                    match (mode, need.unit_grams.as_ref().ok()) {
                        (ConsolidationMode::ByWeight, Some(unit)) => {
                            let needed = *unit * Decimal::from(need.units);
                            let chunk = match line.basis {
                                Basis::Pack => *unit * Decimal::from(packs[&need.product_iri][0].units),
                                _ => *unit,
                            };
                            let sent = chunk * Decimal::from(line.quantity);
                            // Stock first, as much of it as the need takes.
                            prop_assert_eq!(line.carry_used_grams, carry[&need.product_iri].min(needed));
                            prop_assert!(sent + line.carry_used_grams >= needed, "covers the need");
                            prop_assert!(sent + line.carry_used_grams - needed < chunk || line.quantity == 0,
                                "never a whole pack too many");
                            prop_assert_eq!(sent + line.carry_used_grams - needed, line.carry_added_grams);
                            prop_assert_eq!(line.basis == Basis::Pack, packs.contains_key(&need.product_iri));
                        }
                        _ => {
                            prop_assert_eq!(line.quantity, need.units, "counted as ordered");
                            prop_assert_eq!(line.basis, Basis::Count);
                            prop_assert_eq!(line.note.is_some(), mode == ConsolidationMode::ByWeight);
                        }
                    }
                }
            }
            if mode != ConsolidationMode::ByWeight {
                let total: BTreeMap<String, i64> =
                    demands(products, &remaining).into_iter().map(|d| (d.product_iri, d.units)).collect();
                prop_assert_eq!(sent_units, total, "every remaining unit, once");
            }
        }

        /// Sessions after sessions: stock carried over is used before any new pack, never goes
        /// negative, and what was bought always equals what was needed plus what is left.
        #[test]
        fn carried_over_stock_balances_across_sessions(
            sessions in proptest::collection::vec(1i64..120, 1..8),
            pack_units in 2i64..60,
        ) {
            let packs = sack_of(pack_units);
            let mut stock = Decimal::ZERO;
            let (mut bought, mut needed) = (Decimal::ZERO, Decimal::ZERO);
            for units in sessions {
                let carry = BTreeMap::from([("flour".to_owned(), stock)]);
                let line = plan(ConsolidationMode::ByWeight, vec![flour(units)], &packs, &carry).remove(0);
                let need = d("500") * Decimal::from(units);
                prop_assert_eq!(line.carry_used_grams, stock.min(need), "stock first");
                if stock >= need {
                    prop_assert_eq!(line.quantity, 0, "no new pack while stock covers the need");
                }
                stock = stock - line.carry_used_grams + line.carry_added_grams;
                prop_assert!(stock >= Decimal::ZERO);
                prop_assert!(stock < d("500") * Decimal::from(pack_units), "less than a pack left over");
                bought += d("500") * Decimal::from(pack_units * line.quantity);
                needed += d("500") * Decimal::from(units);
                prop_assert_eq!(bought, needed + stock);
            }
        }
    }

    fn sack_of(units: i64) -> BTreeMap<String, Vec<Pack>> {
        let pack = Pack { product_iri: "sack".into(), offer_iri: "sack-offer".into(), name: "Sack".into(), units };
        BTreeMap::from([("flour".to_owned(), vec![pack])])
    }
}
