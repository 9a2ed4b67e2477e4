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
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::Currency;
use allocation::Allocator;

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

/// A rule as applied to one order: which, and what it took off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The rule's place in the rules the order was priced with.
    pub rule: usize,
    pub amount: Decimal,
    /// Where its shares lie in the order's list of shares (see [`PricedOrder::shares`]).
    shares: Range<usize>,
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
    /// What each applied discount took off each line it touched (line, cents), one discount
    /// after the other.
    shares: Vec<(u32, i64)>,
    pub discount_total: Decimal,
    /// By rate, ascending.
    pub vat: Vec<VatAmount>,
    pub total: Decimal,
}

impl PricedOrder {
    /// What `applied` took off each line it touched: (the line's index, the amount), by line.
    pub fn shares(&self, applied: &Applied) -> impl ExactSizeIterator<Item = (usize, Decimal)> + '_ {
        let shares: &[(u32, i64)] = self.shares.get(applied.shares.clone()).unwrap_or_default();
        shares.iter().map(|&(line, cents)| (line as usize, from_cents(cents)))
    }
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

/// A producer's or a product's id as a key of [`Groups`]: ids are short, and comparing them a
/// word at a time spares a call into the C library per look-up.
#[derive(Clone, Copy, Eq)]
struct Key<'l>(&'l str);

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let word = |s: &[u8], at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&s[at..at + 8]);
            u64::from_ne_bytes(bytes)
        };
        match a.len() {
            n if n != b.len() => false,
            // Two words that overlap cover 8 to 16 bytes.
            n @ 8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
            0..8 => a.iter().zip(b).all(|(x, y)| x == y),
            _ => a == b,
        }
    }
}

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

/// The lines of each producer and of each product, found once per pricing: a rule's scope is
/// then the lines of a few keys, not a pass over every line.
struct LineIndex<'l> {
    count: usize,
    producers: Groups<'l>,
    products: Groups<'l>,
}

/// Lines grouped by a key: the lines of group `g` are `members[starts[g]..starts[g + 1]]`, in
/// order.
#[derive(Default)]
struct Groups<'l> {
    ids: FxHashMap<Key<'l>, u32>,
    starts: Vec<u32>,
    members: Vec<u32>,
}

impl<'l> Groups<'l> {
    fn new(keys: impl Iterator<Item = &'l str>) -> Groups<'l> {
        let mut groups = Groups::default();
        let mut group_of = Vec::with_capacity(keys.size_hint().0);
        groups.ids.reserve(keys.size_hint().0);
        for key in keys {
            let next = groups.ids.len() as u32;
            group_of.push(*groups.ids.entry(Key(key)).or_insert(next));
        }
        // A counting sort: each group's size, where each starts, then the lines in place.
        groups.starts = vec![0; groups.ids.len() + 1];
        for &g in &group_of {
            groups.starts[g as usize + 1] += 1;
        }
        for g in 1..groups.starts.len() {
            groups.starts[g] += groups.starts[g - 1];
        }
        let mut next = groups.starts.clone();
        groups.members = vec![0; group_of.len()];
        for (line, &g) in group_of.iter().enumerate() {
            groups.members[next[g as usize] as usize] = line as u32;
            next[g as usize] += 1;
        }
        groups
    }

    fn members(&self, group: u32) -> &[u32] {
        let g = group as usize;
        &self.members[self.starts[g] as usize..self.starts[g + 1] as usize]
    }

    /// Appends the lines of `keys` to `into`, in order.
    fn lines_into(&self, keys: &BTreeSet<String>, into: &mut Vec<u32>) {
        let start = into.len();
        let mut found = 0;
        for group in keys.iter().filter_map(|key| self.ids.get(&Key(key))) {
            // Most groups hold a line or two: pushed, not copied.
            for &line in self.members(*group) {
                into.push(line);
            }
            found += 1;
        }
        // Distinct keys have distinct lines: only their order is left to restore.
        if found > 1 {
            into[start..].sort_unstable();
        }
    }
}

impl<'l> LineIndex<'l> {
    fn new(lines: &'l [CartLine], rules: &[Rule]) -> LineIndex<'l> {
        let by_producers = rules.iter().any(|r| matches!(r.scope, Scope::Producers(_)));
        let by_products = rules.iter().any(|r| matches!(r.scope, Scope::Products(_)));
        LineIndex {
            count: lines.len(),
            producers: if by_producers {
                Groups::new(lines.iter().map(|l| l.producer.as_str()))
            } else {
                Groups::default()
            },
            products: if by_products {
                Groups::new(lines.iter().map(|l| l.product.as_str()))
            } else {
                Groups::default()
            },
        }
    }

    /// Appends the lines `scope` covers, in order, to `into`.
    fn scope_into(&self, scope: &Scope, into: &mut Vec<u32>) {
        match scope {
            Scope::Order => into.extend(0..self.count as u32),
            Scope::Producers(producers) => self.producers.lines_into(producers, into),
            Scope::Products(products) => self.products.lines_into(products, into),
        }
    }

    fn scoped(&self, scope: &Scope) -> Vec<u32> {
        let mut lines = Vec::new();
        self.scope_into(scope, &mut lines);
        lines
    }
}

/// Per line, an exact amount as a whole number of `10^-scale` (an integer sum is a fraction of
/// the cost of a decimal one), or as decimals when some line's amount has more places.
enum Column {
    Fixed { scale: u32, values: Vec<i128> },
    Decimals(Vec<Decimal>),
}

/// `amount` as a whole number of `10^-scale`, when it has no more places.
fn fixed(amount: Decimal, scale: u32) -> Option<i128> {
    let places = scale.checked_sub(amount.scale())?;
    // Weights and rates have few digits: their mantissa is its low word.
    if amount.mantissa().unsigned_abs() < 1 << 32 && places <= 9 {
        return Some(amount.mantissa() * 10i128.pow(places));
    }
    amount.mantissa().checked_mul(10i128.checked_pow(places)?)
}

impl Column {
    /// `factor x amount` for each line's `(factor, amount)`.
    fn products(of: impl Iterator<Item = (i64, Decimal)> + Clone, scale: u32) -> Column {
        // Below 2^96 each, as a decimal's digits: no sum of them overflows.
        let values: Option<Vec<i128>> = of
            .clone()
            .map(|(factor, amount)| {
                fixed(amount, scale)?.checked_mul(i128::from(factor)).filter(|v| v.unsigned_abs() < 1 << 96)
            })
            .collect();
        match values {
            Some(values) => Column::Fixed { scale, values },
            None => Column::Decimals(
                of.map(|(factor, amount)| Decimal::from(factor).checked_mul(amount).unwrap_or(Decimal::MAX)).collect(),
            ),
        }
    }

    /// The scoped lines' amounts together, shifted `places` to the left.
    fn sum(&self, scoped: &[u32], places: u32) -> Decimal {
        match self {
            Column::Fixed { scale, values } => {
                let sum: i128 = scoped.iter().map(|&i| values[i as usize]).sum();
                // Past a decimal's 96 bits, a sum saturates.
                Decimal::try_from_i128_with_scale(sum, scale + places).unwrap_or(if sum < 0 {
                    Decimal::MIN
                } else {
                    Decimal::MAX
                })
            }
            Column::Decimals(values) => shifted(scoped.iter().map(|&i| values[i as usize]).sum(), places),
        }
    }
}

/// What each line brings to each metric, worked out once per pricing, in units that need no
/// division: cents, cents x (100 + VAT rate), units, grams.
struct Measures<'g> {
    gross_cents: &'g [i64],
    cents_with_vat_percent: Option<Column>,
    units: Vec<i64>,
    grams: Option<Column>,
}

impl<'g> Measures<'g> {
    /// Only what the rules measure is worked out.
    fn new(lines: &[CartLine], gross_cents: &'g [i64], rules: &[Rule]) -> Measures<'g> {
        let needs = |metric: Metric| rules.iter().any(|r| r.metric == metric);
        Measures {
            cents_with_vat_percent: needs(Metric::Value { vat_included: true }).then(|| {
                let of = lines.iter().zip(gross_cents).map(|(l, g)| (*g, Decimal::ONE_HUNDRED + l.vat_rate));
                Column::products(of, 4)
            }),
            units: lines.iter().map(|l| l.quantity.max(0)).collect(),
            grams: needs(Metric::WeightKg).then(|| {
                let of = lines.iter().map(|l| (l.quantity.max(0), l.unit_grams.unwrap_or(Decimal::ZERO)));
                Column::products(of, 3)
            }),
            gross_cents,
        }
    }

    /// The scoped lines' value (VAT excluded or included), units or weight in kilograms, before
    /// any discount.
    fn of(&self, metric: Metric, scoped: &[u32]) -> Decimal {
        match (metric, &self.cents_with_vat_percent, &self.grams) {
            (Metric::Value { vat_included: false }, _, _) => {
                from_cents(scoped.iter().map(|&i| self.gross_cents[i as usize]).sum())
            }
            (Metric::Value { vat_included: true }, Some(column), _) => column.sum(scoped, 4),
            (Metric::Quantity, _, _) => Decimal::from(scoped.iter().map(|&i| self.units[i as usize]).sum::<i64>()),
            (Metric::WeightKg, _, Some(column)) => column.sum(scoped, 3),
            // What no rule measures is not worked out, and not asked for.
            _ => Decimal::ZERO,
        }
    }
}

/// `amount / 10^places`, exactly (a change of scale, unless the scale would pass 28).
fn shifted(amount: Decimal, places: u32) -> Decimal {
    let mut moved = amount;
    match moved.set_scale(amount.scale() + places) {
        Ok(()) => moved,
        Err(_) => amount / Decimal::from(10u64.pow(places)),
    }
}

/// A rule whose tier the lines reach, with the lines it covers (a range of a shared list).
struct Reached<'r> {
    /// The rule's place in the rules priced with.
    place: usize,
    rule: &'r Rule,
    tier: Tier,
    scoped: Range<usize>,
}

/// `amount x factor` in whole cents, rounded half away from zero, exactly (integer arithmetic
/// on the decimal's digits); beyond 64 bits of cents it saturates.
fn cents_times(amount: Decimal, factor: i64) -> i64 {
    const POWERS_OF_TEN: [i128; 29] = {
        let mut powers = [1i128; 29];
        let mut i = 1;
        while i < 29 {
            powers[i] = powers[i - 1] * 10;
            i += 1;
        }
        powers
    };
    let scale = amount.scale() as usize;
    // Prices and quantities fit in 64 bits: a hardware multiplication, then.
    if scale <= 2
        && let Ok(digits) = i64::try_from(amount.mantissa())
        && let Some(cents) = digits.checked_mul(factor).and_then(|p| p.checked_mul(POWERS_OF_TEN[2 - scale] as i64))
    {
        return cents;
    }
    // A percentage of a sum (more places than cents) whose digits fit in 64 bits: a 64-bit
    // division, a fraction of the cost of a 128-bit one.
    if (3..=20).contains(&scale)
        && let Ok(digits) = i64::try_from(amount.mantissa())
        && let Some(product) = digits.checked_mul(factor)
    {
        let divisor = POWERS_OF_TEN[scale - 2] as i64;
        let (quotient, remainder) = (product / divisor, product % divisor);
        return if 2 * remainder.unsigned_abs() >= divisor as u64 { quotient + product.signum() } else { quotient };
    }
    let product = amount.mantissa().checked_mul(i128::from(factor));
    let cents = product.and_then(|p| {
        if scale <= 2 {
            p.checked_mul(POWERS_OF_TEN[2 - scale])
        } else {
            let divisor = POWERS_OF_TEN[scale - 2];
            let (quotient, remainder) = (p / divisor, p % divisor);
            Some(if 2 * remainder.abs() >= divisor { quotient + p.signum() } else { quotient })
        }
    });
    let negative = amount.is_sign_negative() != (factor < 0);
    match cents.map(i64::try_from) {
        Some(Ok(cents)) => cents,
        _ if negative => i64::MIN,
        _ => i64::MAX,
    }
}

/// An amount already in whole cents, as cents.
fn cents(amount: Decimal) -> i64 {
    cents_times(amount, 1)
}

fn from_cents(cents: i64) -> Decimal {
    match u64::try_from(cents) {
        // Most amounts are positive: their digits are the decimal's, with no checks to make.
        Ok(digits) => Decimal::from_parts(digits as u32, (digits >> 32) as u32, 0, false, 2),
        Err(_) => Decimal::new(cents, 2),
    }
}

/// A discount as one option worked it out: which rule (its place in `reached`), how much, and
/// from which lines (a range of the option's parts).
struct Taken {
    rule: usize,
    amount: i64,
    lines: Range<usize>,
}

/// What one option (every stacking rule, or one exclusive rule alone) takes off: what is left of
/// each line, each discount, and the cents each took from each line.
#[derive(Default)]
struct Outcome {
    left: Vec<i64>,
    taken: Vec<Taken>,
    parts: Vec<(u32, i64)>,
}

impl Outcome {
    fn total(&self) -> i64 {
        self.taken.iter().map(|t| t.amount).sum()
    }
}

/// Buffers kept from one rule to the next.
#[derive(Default)]
struct Scratch {
    weights: Vec<i64>,
    allocator: Allocator,
}

/// What `reached` takes off lines of which `base` cents are left, with `units` of them.
fn discount_cents(reached: &Reached<'_>, base: i64, units: i64) -> i64 {
    let raw = match reached.tier.effect {
        // base cents x percent / 100 is in cents: as a multiple of the currency, percent / 10^4.
        Effect::PercentOff(percent) => cents_times(shifted(percent, 4), base),
        Effect::AmountOff(amount) => cents(amount),
        Effect::AmountOffPerUnit(amount) => cents_times(amount, units),
    };
    // Rounding keeps order: rounding the lesser of the discount and the cap is the lesser of
    // the two rounded.
    reached.rule.cap.map_or(raw, |cap| raw.min(cents(cap))).min(base)
}

/// The discounts one set of rules gives (by their place in `reached`), applied in order on what
/// is left of each line.
fn apply(
    order: &[usize],
    reached: &[Reached<'_>],
    scopes: &[u32],
    lines: &[CartLine],
    gross_cents: &[i64],
    scratch: &mut Scratch,
    out: &mut Outcome,
) {
    let Outcome { left, taken, parts: shares } = out;
    left.clear();
    left.extend_from_slice(gross_cents);
    taken.clear();
    // Room for a share of every line each rule covers, written in place: those above nothing
    // are kept, one rule's after the other's.
    shares.clear();
    shares.resize(order.iter().map(|&r| reached[r].scoped.len()).sum(), (0, 0));
    let mut kept = 0;
    // What is left of the whole order: what a rule on it weighs.
    let mut left_total: i64 = left.iter().sum();
    for &r in order {
        let covered = &scopes[reached[r].scoped.clone()];
        // A rule on the whole order weighs every line as it is, and what is left of the order:
        // nothing to gather or add up. Lines already discounted to nothing weigh nothing: they
        // get no share.
        let whole = covered.len() == left.len();
        let (weights, base) = if whole {
            (&left[..], left_total)
        } else {
            scratch.weights.clear();
            scratch.weights.extend(covered.iter().map(|&i| left[i as usize]));
            (&scratch.weights[..], scratch.weights.iter().sum())
        };
        if base == 0 {
            continue;
        }
        let units = if matches!(reached[r].tier.effect, Effect::AmountOffPerUnit(_)) {
            covered.iter().filter(|&&i| left[i as usize] > 0).map(|&i| lines[i as usize].quantity).sum()
        } else {
            0
        };
        let amount = discount_cents(&reached[r], base, units);
        if amount <= 0 {
            continue;
        }
        let parts = scratch.allocator.allocate(amount, weights, base);
        left_total -= amount;
        let (start, room) = (kept, &mut shares[kept..kept + covered.len()]);
        let mut end = 0;
        // Each covered line gives its part; on the whole order the lines are walked directly,
        // not through `covered` (5 % of pricing the benchmark's order).
        if whole {
            for (i, (line_left, &part)) in left.iter_mut().zip(parts).enumerate() {
                *line_left -= part;
                room[end] = (i as u32, part);
                end += usize::from(part > 0);
            }
        } else {
            for (&i, &part) in covered.iter().zip(parts) {
                left[i as usize] -= part;
                room[end] = (i, part);
                end += usize::from(part > 0);
            }
        }
        kept += end;
        taken.push(Taken { rule: r, amount, lines: start..kept });
    }
    shares.truncate(kept);
}

/// What `reached` takes off the order alone, without sharing it out.
fn alone_cents(reached: &Reached<'_>, scopes: &[u32], lines: &[CartLine], gross_cents: &[i64]) -> i64 {
    let (mut base, mut units) = (0, 0);
    for &i in &scopes[reached.scoped.clone()] {
        if gross_cents[i as usize] > 0 {
            base += gross_cents[i as usize];
            units += lines[i as usize].quantity;
        }
    }
    if base == 0 { 0 } else { discount_cents(reached, base, units).max(0) }
}

fn by_priority(a: &Reached<'_>, b: &Reached<'_>) -> Ordering {
    b.rule.priority.cmp(&a.rule.priority).then_with(|| a.rule.id.cmp(&b.rule.id))
}

/// A line's quantity x unit price in cents, rounded: the one gross amount pricing and stored
/// orders share.
fn gross_cents_of(quantity: i64, unit_price: Decimal) -> i64 {
    if unit_price.is_sign_negative() { 0 } else { cents_times(unit_price, quantity.max(0)) }
}

/// Prices `lines` with the `rules` in force (rules in another currency never apply).
pub fn price(currency: Currency, lines: &[CartLine], rules: &[Rule]) -> PricedOrder {
    let gross: Vec<i64> = lines.iter().map(|l| gross_cents_of(l.quantity, l.unit_price)).collect();
    // Each rule measures the lines before any discount: its tier is the same alone or stacked.
    let index = LineIndex::new(lines, rules);
    let measures = Measures::new(lines, &gross, rules);
    let mut scopes = Vec::with_capacity(lines.len().saturating_mul(rules.len()).min(1 << 16));
    let mut reached: Vec<Reached<'_>> = Vec::with_capacity(rules.len());
    for (place, rule) in rules.iter().enumerate().filter(|(_, r)| r.currency == currency) {
        let start = scopes.len();
        index.scope_into(&rule.scope, &mut scopes);
        match rule.reached(measures.of(rule.metric, &scopes[start..])) {
            Some(tier) => reached.push(Reached { place, rule, tier: *tier, scoped: start..scopes.len() }),
            None => scopes.truncate(start),
        }
    }
    let mut stacking: Vec<usize> =
        (0..reached.len()).filter(|&r| reached[r].rule.combination == Combination::Stacks).collect();
    stacking.sort_by(|&a, &b| by_priority(&reached[a], &reached[b]));
    let mut exclusive: Vec<usize> =
        (0..reached.len()).filter(|&r| reached[r].rule.combination == Combination::Exclusive).collect();
    exclusive.sort_by(|&a, &b| by_priority(&reached[a], &reached[b]));

    let mut scratch = Scratch::default();
    let mut best = Outcome::default();
    apply(&stacking, &reached, &scopes, lines, &gross, &mut scratch, &mut best);
    let mut best_total = best.total();
    for rule in exclusive {
        // An exclusive rule's amount alone is known before it is shared out: only a winner is.
        let amount = alone_cents(&reached[rule], &scopes, lines, &gross);
        if amount > best_total {
            apply(&[rule], &reached, &scopes, lines, &gross, &mut scratch, &mut best);
            best_total = amount;
        }
    }
    let applied = best
        .taken
        .iter()
        .map(|t| Applied { rule: reached[t.rule].place, amount: from_cents(t.amount), shares: t.lines.clone() })
        .collect();
    let (priced, vat) = priced_lines(lines.iter().map(|l| l.vat_rate), &gross, &best.left);
    PricedOrder {
        currency,
        subtotal: from_cents(gross.iter().sum()),
        discount_total: from_cents(best_total),
        total: from_cents(priced.iter().map(|l| cents(l.total)).sum()),
        lines: priced,
        applied,
        // The option's parts are its discounts' shares, one discount after the other.
        shares: best.parts,
        vat,
    }
}

/// Each line's amounts and the VAT per rate, from the lines' rates, gross amounts and what is
/// left of them after discounts (cents).
fn priced_lines(
    rates: impl Iterator<Item = Decimal>,
    gross: &[i64],
    nets: &[i64],
) -> (Vec<PricedLine>, Vec<VatAmount>) {
    let (vat, line_vat) = share_vat(rates, nets);
    let priced = (0..nets.len())
        .map(|i| PricedLine {
            gross: from_cents(gross[i]),
            discount: from_cents(gross[i] - nets[i]),
            net: from_cents(nets[i]),
            vat: from_cents(line_vat[i]),
            total: from_cents(nets[i] + line_vat[i]),
        })
        .collect();
    (priced, vat)
}

/// VAT per rate on the discounted bases (`nets`, in cents, with each line's rate), rounded once per
/// rate, then shared out to that rate's lines by largest remainder: `(by rate, per line in cents)`.
fn share_vat(rates: impl Iterator<Item = Decimal>, nets: &[i64]) -> (Vec<VatAmount>, Vec<i64>) {
    // Orders hold a handful of rates: short lists beat maps. Rates are compared by their
    // normalised digits (5.5 and 5.50 are one rate), each way of writing one normalised once.
    let mut distinct: Vec<Decimal> = Vec::new();
    let mut written: Vec<([u8; 16], usize)> = Vec::new();
    let rate_of: Vec<usize> = rates
        .map(|rate| {
            let bytes = rate.serialize();
            if let Some(&(_, group)) = written.iter().find(|(b, _)| *b == bytes) {
                return group;
            }
            let rate = rate.normalize();
            let same = |r: &Decimal| r.mantissa() == rate.mantissa() && r.scale() == rate.scale();
            let group = distinct.iter().position(same).unwrap_or_else(|| {
                distinct.push(rate);
                distinct.len() - 1
            });
            written.push((bytes, group));
            group
        })
        .collect();
    let mut order: Vec<usize> = (0..distinct.len()).collect();
    order.sort_by(|&a, &b| distinct[a].cmp(&distinct[b]));
    let mut line_vat = vec![0i64; nets.len()];
    let mut vat = Vec::with_capacity(distinct.len());
    let (mut members, mut weights, mut allocator) = (Vec::new(), Vec::new(), Allocator::default());
    for group in order {
        let rate = distinct[group];
        members.clear();
        members.extend((0..nets.len()).filter(|&i| rate_of[i] == group));
        weights.clear();
        weights.extend(members.iter().map(|&i| nets[i]));
        let base: i64 = weights.iter().sum();
        let amount = cents_times(shifted(rate, 4), base).max(0);
        for (&i, part) in members.iter().zip(allocator.allocate(amount, &weights, base)) {
            line_vat[i] = *part;
        }
        vat.push(VatAmount { rate, base: from_cents(base), amount: from_cents(amount) });
    }
    (vat, line_vat)
}

/// The amounts of an order already priced, from its lines as stored (quantity, unit price, VAT
/// rate and the discount each was given): the same figures pricing gave it.
pub fn amounts_of(lines: &[(i64, Decimal, Decimal, Decimal)]) -> (Vec<PricedLine>, Vec<VatAmount>) {
    let gross: Vec<i64> = lines.iter().map(|(q, price, _, _)| gross_cents_of(*q, *price)).collect();
    let nets: Vec<i64> =
        lines.iter().zip(&gross).map(|((_, _, _, discount), g)| (*g - cents(*discount)).clamp(0, *g)).collect();
    priced_lines(lines.iter().map(|(_, _, rate, _)| *rate), &gross, &nets)
}

/// For each rule with a tier above what the lines reach, how far that tier is.
pub fn next_tiers(currency: Currency, lines: &[CartLine], rules: &[Rule]) -> Vec<NextTier> {
    let gross: Vec<i64> = lines.iter().map(|l| gross_cents_of(l.quantity, l.unit_price)).collect();
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

mod allocation;
#[cfg(test)]
mod reference;

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

    fn rule_ids<'r>(priced: &PricedOrder, rules: &'r [Rule]) -> Vec<&'r str> {
        priced.applied.iter().map(|a| rules[a.rule].id.as_str()).collect()
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
        assert_eq!(priced.applied[0].rule, 0);
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
        let rules = [stack_a.clone(), stack_b.clone(), exclusive.clone()];
        assert_eq!(rule_ids(&price(Currency::Euro, &lines, &rules), &rules), ["exclusive"]);
        let stack_c = rule("c", &[("0", Effect::AmountOff(d("3")))]);
        let priced = price(Currency::Euro, &lines, &[stack_a, stack_b, stack_c, exclusive]);
        assert_eq!(priced.discount_total, d("10.00"));
        assert_eq!(priced.applied.len(), 3);
    }

    #[test]
    fn ties_go_to_the_stacking_rules_then_the_higher_priority() {
        let lines = [line("farm", 1, "100", "0")];
        let mut exclusive = rule("exclusive", &[("0", Effect::PercentOff(d("5")))]);
        exclusive.combination = Combination::Exclusive;
        let stacking = rule("stacking", &[("0", Effect::AmountOff(d("5")))]);
        let rules = [exclusive.clone(), stacking];
        assert_eq!(rule_ids(&price(Currency::Euro, &lines, &rules), &rules), ["stacking"]);
        let mut preferred = rule("preferred", &[("0", Effect::AmountOff(d("5")))]);
        preferred.combination = Combination::Exclusive;
        preferred.priority = 1;
        let rules = [exclusive, preferred];
        assert_eq!(rule_ids(&price(Currency::Euro, &lines, &rules), &rules), ["preferred"]);
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
            0u8..4,
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
                    2 => Metric::Quantity,
                    _ => Metric::WeightKg,
                };
                Rule {
                    id: format!("r{priority}{scope}{exclusive}{}", froms.len()),
                    name: "rule".into(),
                    currency: if currency == 0 { Currency::PoundSterling } else { Currency::Euro },
                    scope: match producers.get(scope) {
                        Some(p) if exclusive && priority % 2 == 0 => Scope::Products(BTreeSet::from([format!("p{p}")])),
                        Some(p) if priority % 2 == 0 => {
                            Scope::Products(BTreeSet::from([format!("p{p}"), "pdairy".into()]))
                        }
                        Some(p) if priority == 1 => Scope::Producers(BTreeSet::from([(*p).to_owned(), "dairy".into()])),
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
            // One rate written two ways, and one with more places than integer sums take.
            prop::sample::select(vec!["0", "5.5", "5.50", "10", "20", "2.12345"]),
            // Grams with more places than milligrams are summed as decimals.
            prop::option::of((1i64..5_000, prop_oneof![4 => Just(0u32), 1 => 0u32..6])),
        )
            .prop_map(|(producer, quantity, price, scale, vat, grams)| CartLine {
                producer: ["farm", "mill", "dairy"][producer].into(),
                // Few products, so that product scopes find lines and products repeat.
                product: format!("p{}", ["farm", "mill", "dairy"][(producer + usize::from(price % 2 == 0)) % 3]),
                quantity,
                unit_price: Decimal::new(price, scale),
                vat_rate: d(vat),
                unit_grams: grams.map(|(grams, places)| Decimal::new(grams, places)),
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
            prop_assert_eq!(&priced, &reference::price(Currency::Euro, &lines, &rules), "as the rules are stated");
            let line_discounts: Decimal = priced.lines.iter().map(|l| l.discount).sum();
            prop_assert_eq!(line_discounts, priced.discount_total);
            prop_assert_eq!(priced.applied.iter().map(|a| a.amount).sum::<Decimal>(), priced.discount_total);
            for applied in &priced.applied {
                prop_assert_eq!(priced.shares(applied).map(|(_, a)| a).sum::<Decimal>(), applied.amount);
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
            prop_assert!(priced.applied.iter().all(|a| rules[a.rule].currency == Currency::Euro));
        }
    }
}
