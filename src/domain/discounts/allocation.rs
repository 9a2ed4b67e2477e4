//! Largest remainder in whole cents: how a discount is shared out to the lines it touched, and a
//! rate's VAT to that rate's lines, so that the lines add up to the order exactly.

/// Division of many dividends by one divisor as a multiplication and a shift (Granlund and
/// Montgomery): a fraction of the cost of a division, and exact with no correction for any
/// dividend up to 2^62.
struct Divisor {
    magic: u64,
    shift: u32,
}

impl Divisor {
    /// For `total` from 2 to 2^32.
    fn new(total: u64) -> Option<Divisor> {
        if !(2..=1 << 32).contains(&total) {
            return None;
        }
        // 2^(shift + 1) <= total < 2^(shift + 2), so that magic = 2^(64 + shift) / total + e
        // (0 < e <= 1) is below 2^64, and the error it makes on a dividend p <= 2^62,
        // p x e / 2^(64 + shift) < 2^62 / 2^(64 + shift) < 1 / total, never carries the
        // quotient past the next whole.
        let shift = 62 - total.leading_zeros();
        let magic = ((1u128 << (64 + shift)) / u128::from(total)) as u64 + 1;
        Some(Divisor { magic, shift })
    }

    fn quotient(&self, dividend: u64) -> u64 {
        debug_assert!(dividend <= 1 << 62);
        (((u128::from(dividend) * u128::from(self.magic)) >> 64) as u64) >> self.shift
    }
}

/// Splits amounts over weights by largest remainder, with buffers kept from one split to the
/// next.
#[derive(Default)]
pub(super) struct Allocator {
    parts: Vec<i64>,
    sixty_fourths: Vec<u8>,
    keys: Vec<u64>,
    wide: Vec<u128>,
}

impl Allocator {
    /// Splits `amount` cents over `weights` (cents each, none below 0, `total` together) in
    /// proportion, by largest remainder (ties to the earlier weight): the parts add up to
    /// `amount`, and none exceeds its weight when `amount` does not exceed the total.
    pub(super) fn allocate(&mut self, amount: i64, weights: &[i64], total: i64) -> &[i64] {
        debug_assert!(weights.iter().all(|w| *w >= 0) && weights.iter().sum::<i64>() == total);
        self.parts.clear();
        if total <= 0 || amount <= 0 {
            self.parts.resize(weights.len(), 0);
            return &self.parts;
        }
        if amount == total {
            // All of it: each line gives what it has, with nothing left over to share.
            self.parts.extend_from_slice(weights);
            return &self.parts;
        }
        // 64 x amount x weight within 2^62 (amount x total within 2^56: any discount on up to
        // 2,684,354.56 in the currency), remainders below 2^32 and lines numbered in 32 bits:
        // one multiplication per line.
        let small = u64::try_from(amount).ok().and_then(|a| a.checked_mul(total as u64)).is_some_and(|p| p <= 1 << 56);
        let numbered = weights.len() < u32::MAX as usize;
        if let Some(divisor) = Divisor::new(total as u64).filter(|_| small && numbered) {
            return self.allocate_small(amount as u64, weights, total as u64, &divisor);
        }
        self.allocate_wide(amount, weights, total)
    }

    /// [`Self::allocate`] in 64 bits: each line's quotient in 64ths of a cent gives its whole
    /// cents and its remainder's 64ths of the total, which are in the order of the remainders.
    /// The cents left over go to the largest remainders: to the lines in the highest 64ths for
    /// sure, and to the few in the 64th where they run out by comparing their remainders.
    fn allocate_small(&mut self, amount: u64, weights: &[i64], total: u64, divisor: &Divisor) -> &[i64] {
        let (parts, sixty_fourths) = (&mut self.parts, &mut self.sixty_fourths);
        parts.resize(weights.len(), 0);
        sixty_fourths.clear();
        sixty_fourths.resize(weights.len(), 0);
        let mut histogram = [0usize; 64];
        let mut shared = 0;
        for ((&weight, part), share) in weights.iter().zip(parts.iter_mut()).zip(sixty_fourths.iter_mut()) {
            let in_64ths = divisor.quotient((amount * weight as u64) << 6);
            *part = (in_64ths >> 6) as i64;
            *share = (in_64ths & 63) as u8;
            shared += in_64ths >> 6;
            histogram[(in_64ths & 63) as usize] += 1;
        }
        // The remainders add up to (amount - shared) x total, each below the total: fewer lines
        // get a cent than have a remainder, and those above the boundary all have one.
        let left = usize::try_from(amount - shared).unwrap_or(0);
        let (mut above, mut boundary) = (0, 63);
        while boundary > 0 && above + histogram[boundary] < left {
            above += histogram[boundary];
            boundary -= 1;
        }
        self.keys.clear();
        for (i, ((part, &share), &weight)) in parts.iter_mut().zip(sixty_fourths.iter()).zip(weights).enumerate() {
            *part += i64::from(usize::from(share) > boundary);
            if usize::from(share) == boundary {
                // Complemented, so that the least key is the largest remainder, then the earlier
                // line.
                let remainder = amount * weight as u64 - *part as u64 * total;
                self.keys.push(!((remainder << 32) | u64::from(u32::MAX - i as u32)));
            }
        }
        for &key in smallest(&mut self.keys, left.saturating_sub(above)) {
            parts[(u32::MAX - !key as u32) as usize] += 1;
        }
        parts
    }

    /// [`Self::allocate`] in 128 bits.
    fn allocate_wide(&mut self, amount: i64, weights: &[i64], total: i64) -> &[i64] {
        let (parts, wide) = (&mut self.parts, &mut self.wide);
        wide.clear();
        let (amount, total) = (i128::from(amount), i128::from(total));
        for (i, &weight) in weights.iter().enumerate() {
            let product = amount * i128::from(weight);
            parts.push(i64::try_from(product / total).unwrap_or(i64::MAX));
            let remainder = product % total;
            if remainder > 0 {
                wide.push(!(((remainder as u128) << 64) | u128::from(u64::MAX - i as u64)));
            }
        }
        let left = i64::try_from(amount - parts.iter().map(|p| i128::from(*p)).sum::<i128>()).unwrap_or(0);
        for key in smallest(wide, usize::try_from(left).unwrap_or(0)) {
            parts[(u64::MAX - !*key as u64) as usize] += 1;
        }
        parts
    }
}

/// The `count` smallest keys, in no order: which lines get a cent, not in what order, is all
/// that matters, so a selection, not a sort. (Keys are stored complemented, so that the smallest
/// is the largest remainder.)
fn smallest<K: Ord>(keys: &mut [K], count: usize) -> &[K] {
    let count = count.min(keys.len());
    if count > 0 && count < keys.len() {
        keys.select_nth_unstable(count - 1);
    }
    &keys[..count]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::discounts::{from_cents, reference};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
        Allocator::default().allocate(amount, weights, weights.iter().sum()).to_vec()
    }

    proptest! {
        /// Shares at every size (64-bit keys, 128-bit keys, products past 53 bits) are the
        /// largest-remainder shares.
        #[test]
        fn allocation_is_largest_remainder_at_any_size(
            weights in prop::collection::vec(prop_oneof![0i64..1_000, 0i64..1 << 45], 0..20),
            percent in 0i64..=100,
        ) {
            let total: i64 = weights.iter().sum();
            let amount = i64::try_from(i128::from(total) * i128::from(percent) / 100).unwrap_or(0);
            let parts: Vec<Decimal> = allocate(amount, &weights).into_iter().map(from_cents).collect();
            let decimals: Vec<Decimal> = weights.iter().map(|w| from_cents(*w)).collect();
            prop_assert_eq!(parts, reference::allocate(from_cents(amount), &decimals));
        }

        /// Many lines, most of them alike: equal remainders share a 64th of the total, and the
        /// cents left over go to the earlier lines among them.
        #[test]
        fn allocation_breaks_ties_to_the_earlier_line(
            alike in 1usize..300,
            weight in 1i64..10_000,
            others in prop::collection::vec(0i64..10_000, 0..40),
            percent in 1i64..=100,
        ) {
            let mut weights = vec![weight; alike];
            weights.extend(others);
            weights.rotate_left(alike / 2);
            let total: i64 = weights.iter().sum();
            let amount = total * percent / 100;
            let parts: Vec<Decimal> = allocate(amount, &weights).into_iter().map(from_cents).collect();
            let decimals: Vec<Decimal> = weights.iter().map(|w| from_cents(*w)).collect();
            prop_assert_eq!(parts, reference::allocate(from_cents(amount), &decimals));
        }

        /// The multiplication that stands for a division is exact wherever it is used.
        #[test]
        fn a_divisor_divides_exactly(
            total in prop_oneof![2u64..1_000, 2u64..=1 << 32, (1u32..=32).prop_map(|b| 1u64 << b)],
            dividend in prop_oneof![0u64..=1 << 62, 0u64..1_000_000],
            near in -2i64..=2,
        ) {
            let divisor = Divisor::new(total).expect("a divisor for every total up to 2^32");
            // Around a multiple of the total, where a quotient is most easily off by one.
            let around = (dividend / total * total).saturating_add_signed(near).min(1 << 62);
            for dividend in [dividend, around, 1 << 62] {
                prop_assert_eq!(divisor.quotient(dividend), dividend / total, "{} / {}", dividend, total);
            }
        }
    }
}
