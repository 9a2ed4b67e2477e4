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

    /// Converts `value` of this unit into `target`, exactly; None across dimensions or on overflow.
    pub fn convert(&self, value: Decimal, target: &Unit) -> Option<Decimal> {
        let (from_dim, from) = self.base_factor()?;
        let (to_dim, to) = target.base_factor()?;
        if from_dim != to_dim {
            return None;
        }
        value.checked_mul(from)?.checked_div(to).map(|d| d.normalize())
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
