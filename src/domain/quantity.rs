//! Order quantities: whole numbers of offer units, as every running DFC system orders them.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The most units one line may ask for. Anything above is a typo or an attack, not an order.
pub const MAX_LINE_QUANTITY: i64 = 1_000_000;

/// A count of offer units on an order line; zero means "no line" in a full replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

impl Quantity {
    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl TryFrom<Decimal> for Quantity {
    type Error = String;

    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(format!("quantity {value} is negative"));
        }
        if !value.fract().is_zero() {
            return Err(format!("quantity {value} is not a whole number of offer units"));
        }
        match value.to_i64() {
            Some(n) if n <= MAX_LINE_QUANTITY => Ok(Quantity(n)),
            _ => Err(format!("quantity {value} exceeds the maximum of {MAX_LINE_QUANTITY} per line")),
        }
    }
}

impl TryFrom<i64> for Quantity {
    type Error = String;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Quantity::try_from(Decimal::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn q(s: &str) -> Result<Quantity, String> {
        Quantity::try_from(Decimal::from_str(s).unwrap())
    }

    #[test]
    fn whole_non_negative_bounded_quantities_only() {
        assert_eq!(q("3").unwrap().get(), 3);
        assert_eq!(q("3.000").unwrap().get(), 3);
        assert!(q("0").unwrap().is_zero());
        assert!(q("-1").unwrap_err().contains("negative"));
        assert!(q("2.5").unwrap_err().contains("whole number"));
        assert!(q("1000001").unwrap_err().contains("maximum"));
        assert!(q("79228162514264337593543950335").is_err());
        assert_eq!(q("1000000").unwrap().get(), MAX_LINE_QUANTITY);
    }
}
