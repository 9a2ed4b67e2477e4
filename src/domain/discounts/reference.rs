//! The pricing rules as the module documentation states them, written as plainly as possible in
//! decimals and sorts, with no care for speed: the oracle the fast [`super::price`] must match.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{
    Applied, CartLine, Combination, Effect, Metric, PricedLine, PricedOrder, Rule, Scope, VatAmount, round_money,
};
use crate::domain::Currency;

fn covers(rule: &Rule, line: &CartLine) -> bool {
    match &rule.scope {
        Scope::Order => true,
        Scope::Producers(producers) => producers.contains(&line.producer),
        Scope::Products(products) => products.contains(&line.product),
    }
}

fn measure(rule: &Rule, lines: &[CartLine], gross: &[Decimal]) -> Decimal {
    let hundred = Decimal::ONE_HUNDRED;
    (0..lines.len())
        .filter(|&i| covers(rule, &lines[i]))
        .map(|i| {
            let line = &lines[i];
            match rule.metric {
                Metric::Value { vat_included: false } => gross[i],
                Metric::Value { vat_included: true } => gross[i] + gross[i] * line.vat_rate / hundred,
                Metric::Quantity => Decimal::from(line.quantity.max(0)),
                Metric::WeightKg => line
                    .unit_grams
                    .map_or(Decimal::ZERO, |g| Decimal::from(line.quantity.max(0)) * g / Decimal::ONE_THOUSAND),
            }
        })
        .sum()
}

/// Largest remainder in whole cents, ties to the earlier weight.
pub fn allocate(amount: Decimal, weights: &[Decimal]) -> Vec<Decimal> {
    let cents = |d: Decimal| (d * Decimal::ONE_HUNDRED).to_i128().unwrap_or(0);
    let (amount, weights): (i128, Vec<i128>) = (cents(amount), weights.iter().map(|w| cents(*w)).collect());
    let total: i128 = weights.iter().sum();
    if total <= 0 || amount <= 0 {
        return vec![Decimal::ZERO; weights.len()];
    }
    let mut parts: Vec<i128> = weights.iter().map(|w| amount * w / total).collect();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    by_remainder
        .sort_by(|&a, &b| ((amount * weights[b]) % total).cmp(&((amount * weights[a]) % total)).then(a.cmp(&b)));
    let left = amount - parts.iter().sum::<i128>();
    for &i in by_remainder.iter().take(usize::try_from(left).unwrap_or(0)) {
        parts[i] += 1;
    }
    parts.iter().map(|p| Decimal::from_i128_with_scale(*p, 2)).collect()
}

/// A discount as applied: the rule's place, the amount, and what it took from which line.
type Taken = (usize, Decimal, Vec<(usize, Decimal)>);

/// What one option gives: what is left of each line, and each discount.
type Run = (Vec<Decimal>, Vec<Taken>);

fn run(option: &[(usize, &Rule, Effect)], lines: &[CartLine], gross: &[Decimal]) -> Run {
    let mut left = gross.to_vec();
    let mut applied = Vec::new();
    for (place, rule, effect) in option {
        let scoped: Vec<usize> =
            (0..lines.len()).filter(|&i| covers(rule, &lines[i]) && left[i] > Decimal::ZERO).collect();
        let base: Decimal = scoped.iter().map(|&i| left[i]).sum();
        if base.is_zero() {
            continue;
        }
        let raw = match effect {
            Effect::PercentOff(p) => base * *p / Decimal::ONE_HUNDRED,
            Effect::AmountOff(a) => *a,
            Effect::AmountOffPerUnit(a) => *a * Decimal::from(scoped.iter().map(|&i| lines[i].quantity).sum::<i64>()),
        };
        let amount = round_money(rule.cap.map_or(raw, |cap| raw.min(cap))).min(base);
        if amount <= Decimal::ZERO {
            continue;
        }
        let weights: Vec<Decimal> = scoped.iter().map(|&i| left[i]).collect();
        let parts = allocate(amount, &weights);
        let mut touched = Vec::new();
        for (&i, part) in scoped.iter().zip(parts) {
            if part > Decimal::ZERO {
                left[i] -= part;
                touched.push((i, part));
            }
        }
        applied.push((*place, amount, touched));
    }
    (left, applied)
}

pub fn price(currency: Currency, lines: &[CartLine], rules: &[Rule]) -> PricedOrder {
    let gross: Vec<Decimal> =
        lines.iter().map(|l| round_money(Decimal::from(l.quantity.max(0)) * l.unit_price.max(Decimal::ZERO))).collect();
    let mut reached: Vec<(usize, &Rule, Effect)> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.currency == currency)
        .filter_map(|(place, r)| {
            let m = measure(r, lines, &gross);
            r.tiers.iter().rev().find(|t| m >= t.from).map(|t| (place, r, t.effect))
        })
        .collect();
    reached.sort_by(|a, b| b.1.priority.cmp(&a.1.priority).then_with(|| a.1.id.cmp(&b.1.id)));
    let stacking: Vec<_> = reached.iter().copied().filter(|(_, r, _)| r.combination == Combination::Stacks).collect();
    let total = |applied: &[Taken]| applied.iter().map(|a| a.1).sum::<Decimal>();
    let mut best = run(&stacking, lines, &gross);
    for exclusive in reached.iter().copied().filter(|(_, r, _)| r.combination == Combination::Exclusive) {
        let alone = run(&[exclusive], lines, &gross);
        if total(&alone.1) > total(&best.1) {
            best = alone;
        }
    }
    let (nets, taken) = best;
    let discount_total = total(&taken);
    let cents = |d: Decimal| (d * Decimal::ONE_HUNDRED).to_i64().unwrap_or(0);
    let mut shares = Vec::new();
    let applied = taken
        .into_iter()
        .map(|(rule, amount, touched)| {
            let start = shares.len();
            shares.extend(touched.into_iter().map(|(line, part)| (line as u32, cents(part))));
            Applied { rule, amount, shares: start..shares.len() }
        })
        .collect();
    let mut by_rate: BTreeMap<Decimal, Vec<usize>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        by_rate.entry(line.vat_rate.normalize()).or_default().push(i);
    }
    let mut line_vat = vec![Decimal::ZERO; lines.len()];
    let mut vat = Vec::new();
    for (rate, members) in by_rate {
        let weights: Vec<Decimal> = members.iter().map(|&i| nets[i]).collect();
        let base: Decimal = weights.iter().sum();
        let amount = round_money(base * rate / Decimal::ONE_HUNDRED).max(Decimal::ZERO);
        for (&i, part) in members.iter().zip(allocate(amount, &weights)) {
            line_vat[i] = part;
        }
        vat.push(VatAmount { rate, base, amount });
    }
    let priced: Vec<PricedLine> = (0..lines.len())
        .map(|i| PricedLine {
            gross: gross[i],
            discount: gross[i] - nets[i],
            net: nets[i],
            vat: line_vat[i],
            total: nets[i] + line_vat[i],
        })
        .collect();
    PricedOrder {
        currency,
        subtotal: gross.iter().sum(),
        discount_total,
        total: priced.iter().map(|l| l.total).sum(),
        lines: priced,
        applied,
        shares,
        vat,
    }
}
