//! Sales-based discounts (use case 9) and the one pricing function that checkout, amendment and
//! preview share. Pure: lines and rules in, a priced order out.
//!
//! # The rounding rule
//! Every amount is a whole number of the currency's minor unit (cents: all DFC currencies have
//! two decimals), rounded half away from zero once where it is made: a line's gross amount
//! (quantity x unit price), a rule's discount (on the sum it applies to), the VAT of each rate (on
//! that rate's discounted base). A discount is then allocated to the lines it touched in
//! proportion to what is left of each, by largest remainder (ties to the earlier line), and each
//! rate's VAT to its lines likewise: the lines add up to the order exactly, to the cent.
//!
//! # How rules combine
//! Each rule in force measures the lines of its scope (their value, VAT excluded or included;
//! their units; their weight) before any discount, and takes the highest tier reached. Rules that
//! stack apply one after the other, by priority (highest first, then id), each on what the ones
//! before left. An exclusive rule applies alone. Of "every stacking rule" and "each exclusive rule
//! alone", the one that takes most off wins (ties: the stacking rules, then the exclusive rule of
//! highest priority). No discount exceeds what it applies to, so nothing is ever negative.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::Currency;

/// Rounds to the minor unit, half away from zero.
pub fn round_money(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// What a rule measures to pick its tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Metric {
    /// The value of the scoped lines, VAT excluded or included.
    Value { vat_included: bool },
    /// Their units.
    Quantity,
    /// Their weight in kilograms (lines of unknown weight weigh nothing).
    WeightKg,
}

/// What a tier takes off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Effect {
    PercentOff(Decimal),
    /// A fixed amount off the scoped lines together.
    AmountOff(Decimal),
    /// A fixed amount off each unit of the scoped lines.
    AmountOffPerUnit(Decimal),
}

/// From `from` (in the metric's unit) upwards, `effect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub from: Decimal,
    pub effect: Effect,
}

/// Which lines a rule looks at and discounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ids", rename_all = "snake_case")]
pub enum Scope {
    Order,
    Producers(BTreeSet<String>),
    Products(BTreeSet<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combination {
    Stacks,
    Exclusive,
}

/// When a rule is in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Schedule {
    Always,
    /// From `from` (included) to `until` (excluded); either end may be open.
    Between {
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    },
    /// In these sales sessions only.
    Sessions(BTreeSet<String>),
}

impl Schedule {
    pub fn in_force(&self, at: DateTime<Utc>, session: &str) -> bool {
        match self {
            Schedule::Always => true,
            Schedule::Between { from, until } => from.is_none_or(|f| at >= f) && until.is_none_or(|u| at < u),
            Schedule::Sessions(sessions) => sessions.contains(session),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// Shown to customers.
    pub name: String,
    pub currency: Currency,
    pub scope: Scope,
    pub metric: Metric,
    /// Ascending by `from`; the highest reached applies.
    pub tiers: Vec<Tier>,
    /// The most the rule takes off an order.
    pub cap: Option<Decimal>,
    pub priority: i32,
    pub combination: Combination,
}

/// Why a rule is refused, and which of its fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> Result<(), RuleError> {
    Err(RuleError { field, message: message.into() })
}

impl Rule {
    /// A rule a trader may keep: named, in the trader's currency, with increasing tiers of
    /// possible effects. Refused otherwise, with the field at fault.
    pub fn validate(&self, trader_currency: Currency) -> Result<(), RuleError> {
        if self.name.trim().is_empty() || self.name.chars().count() > 120 {
            return refuse("name", "a rule needs a name of 1 to 120 characters (customers see it)");
        }
        if self.currency != trader_currency {
            return refuse(
                "currency",
                format!("the trader sells in {trader_currency}; a rule in {} would never apply", self.currency),
            );
        }
        match &self.scope {
            Scope::Producers(set) | Scope::Products(set) if set.is_empty() => {
                return refuse("scope", "name at least one producer or product, or scope the whole order");
            }
            _ => {}
        }
        if self.tiers.is_empty() || self.tiers.len() > 20 {
            return refuse("tiers", "a rule has 1 to 20 tiers (one tier from 0 applies always)");
        }
        for (i, tier) in self.tiers.iter().enumerate() {
            if tier.from.is_sign_negative() && !tier.from.is_zero() {
                return refuse("tiers", format!("tier {i} starts below 0"));
            }
            if self.metric == Metric::Quantity && !tier.from.fract().is_zero() {
                return refuse("tiers", format!("tier {i}: a quantity threshold is a whole number of units"));
            }
            if i > 0 && tier.from <= self.tiers[i - 1].from {
                return refuse("tiers", format!("tier {i} overlaps tier {}: thresholds must increase", i - 1));
            }
            match tier.effect {
                Effect::PercentOff(p) if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED => {
                    return refuse("tiers", format!("tier {i}: a percentage lies above 0 and at most 100, not {p}"));
                }
                Effect::AmountOff(a) | Effect::AmountOffPerUnit(a) if a <= Decimal::ZERO => {
                    return refuse("tiers", format!("tier {i}: an amount off is above 0, not {a}"));
                }
                _ => {}
            }
        }
        if let Some(cap) = self.cap
            && cap <= Decimal::ZERO
        {
            return refuse("cap", format!("a cap is above 0, not {cap}"));
        }
        Ok(())
    }

    /// The tier the lines reach, if any.
    fn reached(&self, measure: Decimal) -> Option<&Tier> {
        self.tiers.iter().rev().find(|tier| measure >= tier.from)
    }
}

/// A line to price: how many units of what, at which unit price (VAT excluded) and VAT rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartLine {
    pub producer: String,
    pub product: String,
    pub quantity: i64,
    pub unit_price: Decimal,
    /// Percent.
    pub vat_rate: Decimal,
    /// The weight of one unit, when known.
    pub unit_grams: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    /// Quantity x unit price, VAT excluded.
    pub gross: Decimal,
    pub discount: Decimal,
    /// Gross minus discount: the VAT base.
    pub net: Decimal,
    pub vat: Decimal,
    pub total: Decimal,
}

/// A rule as applied to one order: what it took off, from which lines (by index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub rule_id: String,
    pub name: String,
    pub amount: Decimal,
    pub lines: Vec<(usize, Decimal)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VatAmount {
    pub rate: Decimal,
    pub base: Decimal,
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedOrder {
    pub currency: Currency,
    pub lines: Vec<PricedLine>,
    /// The lines' gross amounts together, VAT excluded, before discounts.
    pub subtotal: Decimal,
    pub applied: Vec<Applied>,
    pub discount_total: Decimal,
    /// By rate, ascending.
    pub vat: Vec<VatAmount>,
    pub total: Decimal,
}

/// What the next tier of a rule would give: "add 12.50 EUR for 5 % off".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextTier {
    pub rule_id: String,
    pub name: String,
    pub metric: Metric,
    /// How much more of the metric the scoped lines need (an amount, units or kilograms).
    pub missing: Decimal,
    pub effect: Effect,
}

/// Each line's producer and product as small numbers, worked out once per pricing: a rule's
/// scope is then a table of those numbers, and finding its lines one look-up per line.
struct LineIndex<'l> {
    count: usize,
    producers: std::collections::HashMap<&'l str, usize>,
    producer_of: Vec<usize>,
    products: std::collections::HashMap<&'l str, usize>,
    product_of: Vec<usize>,
}

impl<'l> LineIndex<'l> {
    fn new(lines: &'l [CartLine], rules: &[Rule]) -> LineIndex<'l> {
        let by_producers = rules.iter().any(|r| matches!(r.scope, Scope::Producers(_)));
        let by_products = rules.iter().any(|r| matches!(r.scope, Scope::Products(_)));
        let mut index = LineIndex {
            count: lines.len(),
            producers: Default::default(),
            producer_of: Vec::new(),
            products: Default::default(),
            product_of: Vec::new(),
        };
        for line in lines {
            if by_producers {
                let next = index.producers.len();
                index.producer_of.push(*index.producers.entry(line.producer.as_str()).or_insert(next));
            }
            if by_products {
                let next = index.products.len();
                index.product_of.push(*index.products.entry(line.product.as_str()).or_insert(next));
            }
        }
        index
    }

    /// The lines a scope covers, in order.
    fn scoped(&self, scope: &Scope) -> Vec<usize> {
        let pick = |keys: &BTreeSet<String>, ids: &std::collections::HashMap<&str, usize>, of: &[usize]| {
            let mut wanted = vec![false; ids.len()];
            for key in keys {
                if let Some(&id) = ids.get(key.as_str()) {
                    wanted[id] = true;
                }
            }
            (0..of.len()).filter(|&i| wanted[of[i]]).collect()
        };
        match scope {
            Scope::Order => (0..self.count).collect(),
            Scope::Producers(producers) => pick(producers, &self.producers, &self.producer_of),
            Scope::Products(products) => pick(products, &self.products, &self.product_of),
        }
    }
}

/// What each line brings to each metric, worked out once per pricing.
struct Measures {
    gross_cents: Vec<i64>,
    with_vat: Vec<Decimal>,
    units: Vec<i64>,
    kg: Vec<Decimal>,
}

impl Measures {
    /// Only what the rules measure is worked out (a weight or a price with VAT costs a
    /// multiplication per line).
    fn new(lines: &[CartLine], gross: &[Decimal], rules: &[Rule]) -> Measures {
        let needs = |metric: Metric| rules.iter().any(|r| r.metric == metric);
        let (percent, per_gram) = (Decimal::new(1, 2), Decimal::new(1, 3));
        Measures {
            gross_cents: gross.iter().map(|g| cents(*g)).collect(),
            with_vat: if needs(Metric::Value { vat_included: true }) {
                lines.iter().zip(gross).map(|(l, g)| *g + *g * l.vat_rate * percent).collect()
            } else {
                Vec::new()
            },
            units: lines.iter().map(|l| l.quantity.max(0)).collect(),
            kg: if needs(Metric::WeightKg) {
                lines
                    .iter()
                    .map(|l| l.unit_grams.map_or(Decimal::ZERO, |g| Decimal::from(l.quantity.max(0)) * g * per_gram))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    /// The scoped lines' value (VAT excluded or included), units or weight, before any discount.
    fn of(&self, metric: Metric, scoped: &[usize]) -> Decimal {
        match metric {
            Metric::Value { vat_included: false } => from_cents(scoped.iter().map(|&i| self.gross_cents[i]).sum()),
            Metric::Value { vat_included: true } => scoped.iter().map(|&i| self.with_vat[i]).sum(),
            Metric::Quantity => Decimal::from(scoped.iter().map(|&i| self.units[i]).sum::<i64>()),
            Metric::WeightKg => scoped.iter().map(|&i| self.kg[i]).sum(),
        }
    }
}

/// A rule whose tier the lines reach, with the lines it covers.
struct Reached<'r> {
    rule: &'r Rule,
    tier: Tier,
    scoped: Vec<usize>,
}

fn cents(amount: Decimal) -> i64 {
    (amount * Decimal::ONE_HUNDRED).trunc().to_i64().unwrap_or(0)
}

fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// `amount * weight / total` and its remainder, exactly (in 64 bits when it fits, as it does for
/// any real order; in 128 otherwise).
fn share(amount: i64, weight: i64, total: i64) -> (i64, i64) {
    match amount.checked_mul(weight) {
        Some(product) => (product / total, product % total),
        None => {
            let product = i128::from(amount) * i128::from(weight);
            let total = i128::from(total);
            (i64::try_from(product / total).unwrap_or(i64::MAX), i64::try_from(product % total).unwrap_or(0))
        }
    }
}

/// Splits `amount` cents over `weights` (cents each) in proportion, by largest remainder: the
/// parts add up to `amount`, and none exceeds its weight when `amount` does not exceed their sum.
fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let (mut parts, mut remainders) = (Vec::new(), Vec::new());
    allocate_into(amount, weights, &mut parts, &mut remainders);
    parts
}

/// [`allocate`] into buffers the caller keeps from one rule to the next.
fn allocate_into(amount: i64, weights: &[i64], parts: &mut Vec<i64>, remainders: &mut Vec<(i64, usize)>) {
    parts.clear();
    remainders.clear();
    let total: i64 = weights.iter().sum();
    if total <= 0 || amount <= 0 {
        parts.resize(weights.len(), 0);
        return;
    }
    for (i, w) in weights.iter().enumerate() {
        let (part, remainder) = share(amount, *w, total);
        parts.push(part);
        if remainder > 0 {
            remainders.push((remainder, i));
        }
    }
    let left = usize::try_from(amount - parts.iter().sum::<i64>()).unwrap_or(0).min(remainders.len());
    if left > 0 {
        // The `left` largest remainders (ties to the earlier line) get a cent each; which ones,
        // not in what order, is all that matters: a selection, not a sort.
        let largest_first = |a: &(i64, usize), b: &(i64, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if left < remainders.len() {
            remainders.select_nth_unstable_by(left - 1, largest_first);
        }
        for &(_, i) in &remainders[..left] {
            parts[i] += 1;
        }
    }
}

/// A discount as one option worked it out: which rule, how much, and from which lines (cents).
struct Taken {
    rule: usize,
    amount: i64,
    lines: Vec<(usize, i64)>,
}

/// The discounts one set of rules gives (by their place in `reached`), applied in order on what
/// is left of each line.
fn apply(order: &[usize], reached: &[Reached<'_>], lines: &[CartLine], measures: &Measures) -> (Vec<i64>, Vec<Taken>) {
    let mut left: Vec<i64> = measures.gross_cents.clone();
    let mut taken = Vec::new();
    let (mut scoped, mut weights, mut parts, mut remainders) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &r in order {
        let Reached { rule, tier, scoped: covered } = &reached[r];
        scoped.clear();
        scoped.extend(covered.iter().copied().filter(|&i| left[i] > 0));
        weights.clear();
        weights.extend(scoped.iter().map(|&i| left[i]));
        let base: i64 = weights.iter().sum();
        if base == 0 {
            continue;
        }
        let raw = match tier.effect {
            Effect::PercentOff(p) => from_cents(base) * p / Decimal::ONE_HUNDRED,
            Effect::AmountOff(a) => a,
            Effect::AmountOffPerUnit(a) => a * Decimal::from(scoped.iter().map(|&i| lines[i].quantity).sum::<i64>()),
        };
        let capped = rule.cap.map_or(raw, |cap| raw.min(cap));
        let amount = cents(round_money(capped)).min(base);
        if amount <= 0 {
            continue;
        }
        allocate_into(amount, &weights, &mut parts, &mut remainders);
        let mut touched = Vec::with_capacity(scoped.len());
        for (&i, &part) in scoped.iter().zip(&parts) {
            if part > 0 {
                left[i] -= part;
                touched.push((i, part));
            }
        }
        taken.push(Taken { rule: r, amount, lines: touched });
    }
    (left, taken)
}

fn by_priority(a: &Reached<'_>, b: &Reached<'_>) -> Ordering {
    b.rule.priority.cmp(&a.rule.priority).then_with(|| a.rule.id.cmp(&b.rule.id))
}

/// A line's quantity x unit price, rounded: the one gross amount pricing and stored orders share.
fn gross_of(quantity: i64, unit_price: Decimal) -> Decimal {
    round_money(Decimal::from(quantity.max(0)) * unit_price.max(Decimal::ZERO))
}

fn gross_amounts(lines: &[CartLine]) -> Vec<Decimal> {
    lines.iter().map(|l| gross_of(l.quantity, l.unit_price)).collect()
}

/// Prices `lines` with the `rules` in force (rules in another currency never apply).
pub fn price(currency: Currency, lines: &[CartLine], rules: &[Rule]) -> PricedOrder {
    let gross = gross_amounts(lines);
    // Each rule measures the lines before any discount: its tier is the same alone or stacked.
    let index = LineIndex::new(lines, rules);
    let measures = Measures::new(lines, &gross, rules);
    let reached: Vec<Reached<'_>> = rules
        .iter()
        .filter(|r| r.currency == currency)
        .filter_map(|rule| {
            let scoped = index.scoped(&rule.scope);
            let tier = *rule.reached(measures.of(rule.metric, &scoped))?;
            Some(Reached { rule, tier, scoped })
        })
        .collect();
    let mut stacking: Vec<usize> =
        (0..reached.len()).filter(|&r| reached[r].rule.combination == Combination::Stacks).collect();
    stacking.sort_by(|&a, &b| by_priority(&reached[a], &reached[b]));
    let mut exclusive: Vec<usize> =
        (0..reached.len()).filter(|&r| reached[r].rule.combination == Combination::Exclusive).collect();
    exclusive.sort_by(|&a, &b| by_priority(&reached[a], &reached[b]));

    let mut best = apply(&stacking, &reached, lines, &measures);
    let sum = |taken: &[Taken]| taken.iter().map(|t| t.amount).sum::<i64>();
    for rule in exclusive {
        let alone = apply(&[rule], &reached, lines, &measures);
        if sum(&alone.1) > sum(&best.1) {
            best = alone;
        }
    }
    let (nets, taken) = best;
    let applied: Vec<Applied> = taken
        .into_iter()
        .map(|t| Applied {
            rule_id: reached[t.rule].rule.id.clone(),
            name: reached[t.rule].rule.name.clone(),
            amount: from_cents(t.amount),
            lines: t.lines.into_iter().map(|(i, part)| (i, from_cents(part))).collect(),
        })
        .collect();

    let rates: Vec<Decimal> = lines.iter().map(|l| l.vat_rate).collect();
    let (vat, line_vat) = share_vat(&rates, &nets);
    let priced: Vec<PricedLine> = (0..lines.len())
        .map(|i| PricedLine {
            gross: gross[i],
            discount: gross[i] - from_cents(nets[i]),
            net: from_cents(nets[i]),
            vat: from_cents(line_vat[i]),
            total: from_cents(nets[i] + line_vat[i]),
        })
        .collect();
    let subtotal: Decimal = gross.iter().sum();
    let discount_total: Decimal = applied.iter().map(|a| a.amount).sum();
    let total = priced.iter().map(|l| l.total).sum();
    PricedOrder { currency, lines: priced, subtotal, applied, discount_total, vat, total }
}

/// VAT per rate on the discounted bases (`nets`, in cents, with each line's rate), rounded once per
/// rate, then shared out to that rate's lines by largest remainder: `(by rate, per line in cents)`.
fn share_vat(rates: &[Decimal], nets: &[i64]) -> (Vec<VatAmount>, Vec<i64>) {
    let mut by_rate: BTreeMap<Decimal, Vec<usize>> = BTreeMap::new();
    for (i, rate) in rates.iter().enumerate() {
        by_rate.entry(rate.normalize()).or_default().push(i);
    }
    let mut line_vat = vec![0i64; rates.len()];
    let mut vat = Vec::with_capacity(by_rate.len());
    for (rate, members) in by_rate {
        let weights: Vec<i64> = members.iter().map(|&i| nets[i]).collect();
        let base: i64 = weights.iter().sum();
        let amount = cents(round_money(from_cents(base) * rate / Decimal::ONE_HUNDRED)).max(0);
        for (&i, part) in members.iter().zip(allocate(amount, &weights)) {
            line_vat[i] = part;
        }
        vat.push(VatAmount { rate, base: from_cents(base), amount: from_cents(amount) });
    }
    (vat, line_vat)
}

/// The amounts of an order already priced, from its lines as stored (quantity, unit price, VAT
/// rate and the discount each was given): the same figures pricing gave it.
pub fn amounts_of(lines: &[(i64, Decimal, Decimal, Decimal)]) -> (Vec<PricedLine>, Vec<VatAmount>) {
    let gross: Vec<Decimal> = lines.iter().map(|(q, price, _, _)| gross_of(*q, *price)).collect();
    let nets: Vec<i64> =
        lines.iter().zip(&gross).map(|((_, _, _, discount), g)| cents(*g - *discount).max(0)).collect();
    let rates: Vec<Decimal> = lines.iter().map(|(_, _, rate, _)| *rate).collect();
    let (vat, line_vat) = share_vat(&rates, &nets);
    let priced = (0..lines.len())
        .map(|i| PricedLine {
            gross: gross[i],
            discount: gross[i] - from_cents(nets[i]),
            net: from_cents(nets[i]),
            vat: from_cents(line_vat[i]),
            total: from_cents(nets[i] + line_vat[i]),
        })
        .collect();
    (priced, vat)
}

/// For each rule with a tier above what the lines reach, how far that tier is.
pub fn next_tiers(currency: Currency, lines: &[CartLine], rules: &[Rule]) -> Vec<NextTier> {
    let gross = gross_amounts(lines);
    let index = LineIndex::new(lines, rules);
    let measures = Measures::new(lines, &gross, rules);
    let mut next: Vec<NextTier> = rules
        .iter()
        .filter(|r| r.currency == currency)
        .filter_map(|rule| {
            let measure = measures.of(rule.metric, &index.scoped(&rule.scope));
            let tier = rule.tiers.iter().find(|t| t.from > measure)?;
            let missing = tier.from - measure;
            let missing = if matches!(rule.metric, Metric::Value { .. }) { round_money(missing) } else { missing };
            Some(NextTier {
                rule_id: rule.id.clone(),
                name: rule.name.clone(),
                metric: rule.metric,
                missing,
                effect: tier.effect,
            })
        })
        .collect();
    next.sort_by(|a, b| a.missing.cmp(&b.missing).then_with(|| a.rule_id.cmp(&b.rule_id)));
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn line(producer: &str, quantity: i64, price: &str, vat: &str) -> CartLine {
        CartLine {
            producer: producer.into(),
            product: format!("{producer}-product"),
            quantity,
            unit_price: d(price),
            vat_rate: d(vat),
            unit_grams: None,
        }
    }

    fn rule(id: &str, tiers: &[(&str, Effect)]) -> Rule {
        Rule {
            id: id.into(),
            name: format!("Rule {id}"),
            currency: Currency::Euro,
            scope: Scope::Order,
            metric: Metric::Value { vat_included: false },
            tiers: tiers.iter().map(|(from, effect)| Tier { from: d(from), effect: *effect }).collect(),
            cap: None,
            priority: 0,
            combination: Combination::Stacks,
        }
    }

    fn bulk() -> Rule {
        rule("bulk", &[("100", Effect::PercentOff(d("5")))])
    }

    /// Use case 9's example: 5 % off orders of 100 EUR or more.
    #[test]
    fn ninety_nine_ninety_nine_gets_no_discount() {
        let priced = price(Currency::Euro, &[line("farm", 1, "99.99", "0")], &[bulk()]);
        assert_eq!((priced.discount_total, priced.total), (d("0"), d("99.99")));
        assert!(priced.applied.is_empty());
    }

    #[test]
    fn one_hundred_gets_five_off() {
        let priced = price(Currency::Euro, &[line("farm", 1, "100.00", "0")], &[bulk()]);
        assert_eq!(priced.discount_total, d("5.00"));
        assert_eq!(priced.total, d("95.00"));
        assert_eq!(priced.applied[0].name, "Rule bulk");
    }

    #[test]
    fn vat_is_charged_on_the_discounted_base() {
        // 100.00 at 20 %: 5.00 off, VAT 20 % of 95.00 = 19.00, total 114.00 (not 115.00).
        let priced = price(Currency::Euro, &[line("farm", 4, "25.00", "20")], &[bulk()]);
        assert_eq!(priced.vat, vec![VatAmount { rate: d("20"), base: d("95.00"), amount: d("19.00") }]);
        assert_eq!(priced.total, d("114.00"));
    }

    #[test]
    fn tiers_give_the_highest_reached() {
        let tiered = rule("tiers", &[("50", Effect::PercentOff(d("3"))), ("100", Effect::PercentOff(d("5")))]);
        let at = |price_each: &str| {
            price(Currency::Euro, &[line("farm", 1, price_each, "0")], std::slice::from_ref(&tiered))
        };
        assert_eq!(at("49.99").discount_total, d("0"));
        assert_eq!(at("60.00").discount_total, d("1.80"));
        assert_eq!(at("120.00").discount_total, d("6.00"));
        let next = next_tiers(Currency::Euro, &[line("farm", 1, "87.50", "0")], &[tiered]);
        assert_eq!(next[0].missing, d("12.50"), "add 12.50 EUR for 5 % off");
        assert_eq!(next[0].effect, Effect::PercentOff(d("5")));
    }

    #[test]
    fn an_order_discount_is_shared_out_to_the_cent() {
        // 10.00 off three equal lines: 3.34 + 3.33 + 3.33, the odd cent to the first.
        let lines = [line("a", 1, "20", "0"), line("b", 1, "20", "0"), line("c", 1, "20", "0")];
        let priced = price(Currency::Euro, &lines, &[rule("ten", &[("0", Effect::AmountOff(d("10")))])]);
        let discounts: Vec<Decimal> = priced.lines.iter().map(|l| l.discount).collect();
        assert_eq!(discounts, [d("3.34"), d("3.33"), d("3.33")]);
        assert_eq!(priced.total, d("50.00"));
    }

    #[test]
    fn caps_scopes_and_per_unit_amounts() {
        let mut per_unit = rule("per-unit", &[("0", Effect::AmountOffPerUnit(d("0.50")))]);
        per_unit.scope = Scope::Producers(BTreeSet::from(["farm".to_owned()]));
        per_unit.cap = Some(d("2.00"));
        let lines = [line("farm", 6, "1.80", "5.5"), line("mill", 10, "1.35", "5.5")];
        let priced = price(Currency::Euro, &lines, &[per_unit]);
        assert_eq!(priced.discount_total, d("2.00"), "6 x 0.50 = 3.00, capped at 2.00");
        assert_eq!(priced.lines[1].discount, d("0"), "the mill is out of scope");
        // A fixed amount never exceeds what it applies to.
        let huge = rule("huge", &[("0", Effect::AmountOff(d("1000")))]);
        let priced = price(Currency::Euro, &lines, &[huge]);
        assert_eq!((priced.discount_total, priced.total), (priced.subtotal, d("0")));
    }

    #[test]
    fn the_best_exclusive_rule_or_all_stacking_ones() {
        let mut exclusive = rule("exclusive", &[("0", Effect::PercentOff(d("8")))]);
        exclusive.combination = Combination::Exclusive;
        let stack_a = rule("a", &[("0", Effect::PercentOff(d("5")))]);
        let stack_b = rule("b", &[("0", Effect::AmountOff(d("2")))]);
        let lines = [line("farm", 1, "100", "0")];
        // Stacking: 5.00, then 2.00 off the 95.00 left = 7.00 < 8.00 exclusive.
        let priced = price(Currency::Euro, &lines, &[stack_a.clone(), stack_b.clone(), exclusive.clone()]);
        assert_eq!(priced.applied.iter().map(|a| a.rule_id.as_str()).collect::<Vec<_>>(), ["exclusive"]);
        let stack_c = rule("c", &[("0", Effect::AmountOff(d("3")))]);
        let priced = price(Currency::Euro, &lines, &[stack_a, stack_b, stack_c, exclusive]);
        assert_eq!(priced.discount_total, d("10.00"));
        assert_eq!(priced.applied.len(), 3);
    }

    #[test]
    fn weight_and_quantity_thresholds() {
        let mut by_weight = rule("weight", &[("10", Effect::PercentOff(d("10")))]);
        by_weight.metric = Metric::WeightKg;
        let mut carrots = line("farm", 9, "2.00", "0");
        carrots.unit_grams = Some(d("1000"));
        assert_eq!(price(Currency::Euro, std::slice::from_ref(&carrots), &[by_weight.clone()]).discount_total, d("0"));
        carrots.quantity = 10;
        assert_eq!(price(Currency::Euro, std::slice::from_ref(&carrots), &[by_weight]).discount_total, d("2.00"));
        let mut by_count = rule("count", &[("12", Effect::AmountOffPerUnit(d("0.10")))]);
        by_count.metric = Metric::Quantity;
        assert_eq!(price(Currency::Euro, &[line("farm", 12, "1", "0")], &[by_count]).discount_total, d("1.20"));
    }

    #[test]
    fn rules_in_another_currency_or_out_of_schedule_do_not_apply() {
        let mut pounds = bulk();
        pounds.currency = Currency::PoundSterling;
        assert_eq!(price(Currency::Euro, &[line("farm", 1, "200", "0")], &[pounds]).discount_total, d("0"));
        let at = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").expect("date").with_timezone(&Utc);
        let window = Schedule::Between { from: Some(at), until: Some(at + chrono::Duration::days(1)) };
        assert!(window.in_force(at, "s"));
        assert!(!window.in_force(at - chrono::Duration::seconds(1), "s"));
        assert!(!window.in_force(at + chrono::Duration::days(1), "s"));
        assert!(Schedule::Sessions(BTreeSet::from(["s".to_owned()])).in_force(at, "s"));
        assert!(!Schedule::Sessions(BTreeSet::from(["s".to_owned()])).in_force(at, "t"));
    }

    #[test]
    fn invalid_rules_are_refused_with_their_field() {
        let field = |r: Rule| r.validate(Currency::Euro).err().map(|e| e.field);
        assert_eq!(field(bulk()), None);
        assert_eq!(field(rule("p", &[("0", Effect::PercentOff(d("101")))])), Some("tiers"));
        assert_eq!(field(rule("p", &[("0", Effect::PercentOff(d("0")))])), Some("tiers"));
        assert_eq!(field(rule("n", &[("0", Effect::AmountOff(d("-1")))])), Some("tiers"));
        assert_eq!(
            field(rule("o", &[("100", Effect::PercentOff(d("5"))), ("50", Effect::PercentOff(d("3")))])),
            Some("tiers"),
            "overlapping tiers"
        );
        assert_eq!(field(rule("e", &[])), Some("tiers"));
        let mut pounds = bulk();
        pounds.currency = Currency::PoundSterling;
        assert_eq!(field(pounds), Some("currency"));
        let mut unnamed = bulk();
        unnamed.name = "  ".into();
        assert_eq!(field(unnamed), Some("name"));
        let mut capped = bulk();
        capped.cap = Some(d("-5"));
        assert_eq!(field(capped), Some("cap"));
        let mut empty_scope = bulk();
        empty_scope.scope = Scope::Products(BTreeSet::new());
        assert_eq!(field(empty_scope), Some("scope"));
        let mut fractional = rule("q", &[("2.5", Effect::PercentOff(d("5")))]);
        fractional.metric = Metric::Quantity;
        assert_eq!(field(fractional), Some("tiers"));
    }

    fn arb_effect() -> impl Strategy<Value = Effect> {
        prop_oneof![
            (1i64..=10_000).prop_map(|p| Effect::PercentOff(Decimal::new(p, 2))),
            (1i64..=50_000).prop_map(|a| Effect::AmountOff(Decimal::new(a, 2))),
            (1i64..=500).prop_map(|a| Effect::AmountOffPerUnit(Decimal::new(a, 2))),
        ]
    }

    fn arb_rule(producers: &'static [&'static str]) -> impl Strategy<Value = Rule> {
        (
            prop::collection::vec((0i64..30_000, arb_effect()), 1..4),
            prop::option::of(1i64..20_000),
            0usize..=producers.len(),
            any::<bool>(),
            0u8..3,
            -3i32..3,
            0u8..10,
        )
            .prop_map(move |(tiers, cap, scope, exclusive, metric, priority, currency)| {
                let mut froms: Vec<i64> = tiers.iter().map(|(f, _)| *f).collect();
                froms.sort_unstable();
                froms.dedup();
                let tiers = froms
                    .iter()
                    .zip(tiers.iter().map(|(_, e)| *e))
                    .map(|(from, effect)| Tier { from: Decimal::new(*from, 2), effect })
                    .collect();
                let metric = match metric {
                    0 => Metric::Value { vat_included: false },
                    1 => Metric::Value { vat_included: true },
                    _ => Metric::WeightKg,
                };
                Rule {
                    id: format!("r{priority}{scope}{exclusive}{}", froms.len()),
                    name: "rule".into(),
                    currency: if currency == 0 { Currency::PoundSterling } else { Currency::Euro },
                    scope: match producers.get(scope) {
                        Some(p) => Scope::Producers(BTreeSet::from([(*p).to_owned()])),
                        None => Scope::Order,
                    },
                    metric,
                    tiers,
                    cap: cap.map(|c| Decimal::new(c, 2)),
                    priority,
                    combination: if exclusive { Combination::Exclusive } else { Combination::Stacks },
                }
            })
    }

    fn arb_line() -> impl Strategy<Value = CartLine> {
        (
            0usize..3,
            0i64..50,
            0i64..100_000,
            0u32..4,
            prop::sample::select(vec!["0", "5.5", "10", "20"]),
            prop::option::of(1i64..5_000),
        )
            .prop_map(|(producer, quantity, price, scale, vat, grams)| CartLine {
                producer: ["farm", "mill", "dairy"][producer].into(),
                product: format!("p{producer}{price}"),
                quantity,
                unit_price: Decimal::new(price, scale),
                vat_rate: d(vat),
                unit_grams: grams.map(Decimal::from),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The invariants of every priced order, whatever the lines and rules.
        #[test]
        fn priced_orders_add_up_to_the_cent(
            lines in prop::collection::vec(arb_line(), 0..12),
            rules in prop::collection::vec(arb_rule(&["farm", "mill"]), 0..6),
        ) {
            let priced = price(Currency::Euro, &lines, &rules);
            prop_assert_eq!(&priced, &price(Currency::Euro, &lines, &rules), "deterministic");
            let line_discounts: Decimal = priced.lines.iter().map(|l| l.discount).sum();
            prop_assert_eq!(line_discounts, priced.discount_total);
            prop_assert_eq!(priced.applied.iter().map(|a| a.amount).sum::<Decimal>(), priced.discount_total);
            for applied in &priced.applied {
                prop_assert_eq!(applied.lines.iter().map(|(_, a)| *a).sum::<Decimal>(), applied.amount);
                prop_assert!(applied.amount > Decimal::ZERO);
            }
            let vat: Decimal = priced.vat.iter().map(|v| v.amount).sum();
            prop_assert_eq!(priced.total, priced.subtotal - priced.discount_total + vat);
            prop_assert_eq!(priced.subtotal, priced.lines.iter().map(|l| l.gross).sum::<Decimal>());
            for line in &priced.lines {
                prop_assert!(line.discount >= Decimal::ZERO && line.discount <= line.gross, "{line:?}");
                prop_assert!(line.net >= Decimal::ZERO && line.vat >= Decimal::ZERO && line.total >= Decimal::ZERO);
                prop_assert_eq!(line.net + line.vat, line.total);
                prop_assert_eq!(line.gross - line.discount, line.net);
                for amount in [line.gross, line.discount, line.net, line.vat, line.total] {
                    prop_assert_eq!(amount, round_money(amount), "whole cents");
                }
            }
            for rate in &priced.vat {
                prop_assert_eq!(rate.amount, round_money(rate.base * rate.rate / Decimal::ONE_HUNDRED));
                let members: Decimal = lines.iter().zip(&priced.lines)
                    .filter(|(l, _)| l.vat_rate.normalize() == rate.rate)
                    .map(|(_, p)| p.vat).sum();
                prop_assert_eq!(members, rate.amount);
            }
            // Read back from what is stored (quantities, prices, rates, line discounts), an
            // order's amounts are the ones it was priced with.
            let stored: Vec<(i64, Decimal, Decimal, Decimal)> = lines.iter().zip(&priced.lines)
                .map(|(l, p)| (l.quantity, l.unit_price, l.vat_rate, p.discount)).collect();
            let (again, vat_again) = amounts_of(&stored);
            prop_assert_eq!(&again, &priced.lines);
            prop_assert_eq!(&vat_again, &priced.vat);
            // Only rules of the order's currency apply.
            prop_assert!(priced.applied.iter().all(|a| rules.iter().any(|r| r.id == a.rule_id && r.currency == Currency::Euro)));
        }
    }
}
