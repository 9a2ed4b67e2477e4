//! DFC measure units (`dfc-m:`), with exact conversion between weights and between volumes.

use rust_decimal::Decimal;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Milligram,
    Gram,
    Kilogram,
    Tonne,
    PoundMass,
    Millilitre,
    Centilitre,
    Decilitre,
    Litre,
    Gallon,
    Piece,
    Pair,
    HalfDozen,
    Dozen,
    /// Any other `dfc-m:` unit (Bottle, Box, Crate, ...), kept by its local name.
    Other(String),
}

/// What a unit measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    Weight,
    Volume,
    Count,
    Other,
}

impl Unit {
    pub fn from_name(name: &str) -> Unit {
        match name {
            "Milligram" => Unit::Milligram,
            "Gram" => Unit::Gram,
            "Kilogram" => Unit::Kilogram,
            "Tonne" => Unit::Tonne,
            "PoundMass" => Unit::PoundMass,
            "Millilitre" => Unit::Millilitre,
            "Centilitre" => Unit::Centilitre,
            "Decilitre" => Unit::Decilitre,
            "Litre" => Unit::Litre,
            "Gallon" => Unit::Gallon,
            "Piece" => Unit::Piece,
            "Pair" => Unit::Pair,
            "HalfDozen" => Unit::HalfDozen,
            "Dozen" => Unit::Dozen,
            other => Unit::Other(other.to_owned()),
        }
    }

    pub fn dfc_name(&self) -> &str {
        match self {
            Unit::Milligram => "Milligram",
            Unit::Gram => "Gram",
            Unit::Kilogram => "Kilogram",
            Unit::Tonne => "Tonne",
            Unit::PoundMass => "PoundMass",
            Unit::Millilitre => "Millilitre",
            Unit::Centilitre => "Centilitre",
            Unit::Decilitre => "Decilitre",
            Unit::Litre => "Litre",
            Unit::Gallon => "Gallon",
            Unit::Piece => "Piece",
            Unit::Pair => "Pair",
            Unit::HalfDozen => "HalfDozen",
            Unit::Dozen => "Dozen",
            Unit::Other(name) => name,
        }
    }

    /// The unit's size in its dimension's base unit: grams, millilitres or pieces.
    pub fn base_factor(&self) -> Option<(Dimension, Decimal)> {
        let (dimension, mantissa, scale) = match self {
            Unit::Milligram => (Dimension::Weight, 1, 3),
            Unit::Gram => (Dimension::Weight, 1, 0),
            Unit::Kilogram => (Dimension::Weight, 1_000, 0),
            Unit::Tonne => (Dimension::Weight, 1_000_000, 0),
            // The international avoirdupois pound, exactly.
            Unit::PoundMass => (Dimension::Weight, 45_359_237, 5),
            Unit::Millilitre => (Dimension::Volume, 1, 0),
            Unit::Centilitre => (Dimension::Volume, 10, 0),
            Unit::Decilitre => (Dimension::Volume, 100, 0),
            Unit::Litre => (Dimension::Volume, 1_000, 0),
            // The imperial gallon, exactly.
            Unit::Gallon => (Dimension::Volume, 454_609, 2),
            Unit::Piece => (Dimension::Count, 1, 0),
            Unit::Pair => (Dimension::Count, 2, 0),
            Unit::HalfDozen => (Dimension::Count, 6, 0),
            Unit::Dozen => (Dimension::Count, 12, 0),
            Unit::Other(_) => return None,
        };
        Some((dimension, Decimal::new(mantissa, scale)))
    }

    pub fn dimension(&self) -> Dimension {
        self.base_factor().map_or(Dimension::Other, |(d, _)| d)
    }

    /// Converts `value` of this unit into `target`, exactly; None across dimensions, on overflow,
    /// or when the result has no exact decimal form (1 g in pounds): a rounded weight would drift.
    pub fn convert(&self, value: Decimal, target: &Unit) -> Option<Decimal> {
        let (from_dim, from) = self.base_factor()?;
        let (to_dim, to) = target.base_factor()?;
        if from_dim != to_dim {
            return None;
        }
        let base = value.checked_mul(from)?;
        let converted = base.checked_div(to)?;
        (converted.checked_mul(to)? == base).then(|| converted.normalize())
    }

    /// `value` of this unit in grams, when it is a weight. Always exact: every weight unit is a
    /// terminating decimal number of grams.
    pub fn grams(&self, value: Decimal) -> Option<Decimal> {
        match self.base_factor()? {
            (Dimension::Weight, factor) => value.checked_mul(factor).map(|g| g.normalize()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn weights_convert_exactly() {
        assert_eq!(Unit::Gram.convert(d("500"), &Unit::Kilogram), Some(d("0.5")));
        assert_eq!(Unit::Kilogram.convert(d("25"), &Unit::Gram), Some(d("25000")));
        assert_eq!(Unit::PoundMass.convert(d("1"), &Unit::Gram), Some(d("453.59237")));
        assert_eq!(Unit::Milligram.convert(d("1500"), &Unit::Gram), Some(d("1.5")));
        assert_eq!(Unit::Tonne.convert(d("0.001"), &Unit::Kilogram), Some(d("1")));
        assert_eq!(Unit::Gallon.convert(d("1"), &Unit::Litre), Some(d("4.54609")));
    }

    #[test]
    fn a_conversion_without_an_exact_result_is_refused() {
        assert_eq!(Unit::Gram.convert(d("1"), &Unit::PoundMass), None);
        assert_eq!(Unit::Gram.convert(d("453.59237"), &Unit::PoundMass), Some(d("1")));
        assert_eq!(Unit::PoundMass.grams(d("2")), Some(d("907.18474")));
        assert_eq!(Unit::Litre.grams(d("1")), None);
    }

    const WEIGHTS: [Unit; 5] = [Unit::Milligram, Unit::Gram, Unit::Kilogram, Unit::Tonne, Unit::PoundMass];

    proptest::proptest! {
        /// Any weight converts to any other weight unit and back to exactly what it was, whenever
        /// the conversion is defined; between metric units it always is.
        #[test]
        fn weight_conversions_round_trip_exactly(
            mantissa in 0i64..1_000_000_000_000,
            scale in 0u32..10,
            from in 0usize..5,
            to in 0usize..5,
        ) {
            let value = Decimal::new(mantissa, scale);
            let (from, to) = (&WEIGHTS[from], &WEIGHTS[to]);
            let converted = from.convert(value, to);
            if *from != Unit::PoundMass && *to != Unit::PoundMass {
                proptest::prop_assert!(converted.is_some(), "{value} {from:?} -> {to:?}");
            }
            if let Some(converted) = converted {
                proptest::prop_assert_eq!(to.convert(converted, from), Some(value.normalize()));
            }
            // Through grams, every unit (pounds included) comes back exactly.
            let grams = from.grams(value).expect("a weight has grams");
            proptest::prop_assert_eq!(Unit::Gram.convert(grams, from), Some(value.normalize()));
        }
    }

    #[test]
    fn different_dimensions_do_not_convert() {
        assert_eq!(Unit::Gram.convert(d("1"), &Unit::Litre), None);
        assert_eq!(Unit::Other("Bottle".into()).convert(d("1"), &Unit::Piece), None);
    }

    #[test]
    fn names_round_trip() {
        for name in ["Gram", "Kilogram", "PoundMass", "Litre", "Piece", "Dozen", "Bottle"] {
            assert_eq!(Unit::from_name(name).dfc_name(), name);
        }
    }
}
