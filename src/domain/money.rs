//! Money is `rust_decimal::Decimal` with an explicit currency; floats never hold an amount.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// The currencies the DFC measures taxonomy defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Currency {
    Euro,
    PoundSterling,
    UsDollar,
    CanadianDollar,
    AustralianDollar,
}

impl Currency {
    pub const ALL: [Currency; 5] = [
        Currency::Euro,
        Currency::PoundSterling,
        Currency::UsDollar,
        Currency::CanadianDollar,
        Currency::AustralianDollar,
    ];

    pub fn iso_code(self) -> &'static str {
        match self {
            Currency::Euro => "EUR",
            Currency::PoundSterling => "GBP",
            Currency::UsDollar => "USD",
            Currency::CanadianDollar => "CAD",
            Currency::AustralianDollar => "AUD",
        }
    }

    /// The local name of the `dfc-m:` concept.
    pub fn dfc_name(self) -> &'static str {
        match self {
            Currency::Euro => "Euro",
            Currency::PoundSterling => "PoundSterling",
            Currency::UsDollar => "USDollar",
            Currency::CanadianDollar => "CanadianDollar",
            Currency::AustralianDollar => "AustralianDollar",
        }
    }

    /// Accepts the DFC concept name or the ISO code (some suites send `dfc-m:GBP`).
    pub fn from_name(name: &str) -> Option<Currency> {
        Currency::ALL
            .into_iter()
            .find(|c| c.dfc_name().eq_ignore_ascii_case(name) || c.iso_code().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iso_code())
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_name(s).ok_or_else(|| format!("unknown currency `{s}`"))
    }
}

/// The price of one offer unit, VAT excluded, with its VAT rate in percent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub amount: Decimal,
    pub currency: Currency,
    pub vat_rate: Decimal,
}

impl Price {
    /// Prices are never negative and VAT rates lie in 0..=100.
    pub fn new(amount: Decimal, currency: Currency, vat_rate: Decimal) -> Result<Price, String> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(format!("price {amount} is negative"));
        }
        if vat_rate < Decimal::ZERO || vat_rate > Decimal::ONE_HUNDRED {
            return Err(format!("VAT rate {vat_rate} is not a percentage between 0 and 100"));
        }
        Ok(Price { amount, currency, vat_rate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_accepts_dfc_names_and_iso_codes() {
        for currency in Currency::ALL {
            assert_eq!(Currency::from_name(currency.dfc_name()), Some(currency));
            assert_eq!(Currency::from_name(currency.iso_code()), Some(currency));
        }
        assert_eq!(Currency::from_name("GBP"), Some(Currency::PoundSterling));
        assert_eq!(Currency::from_name("Yen"), None);
    }

    #[test]
    fn price_rejects_negative_amounts_and_impossible_vat() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert!(Price::new(d("-0.01"), Currency::Euro, d("0")).is_err());
        assert!(Price::new(d("1"), Currency::Euro, d("100.5")).is_err());
        assert!(Price::new(d("1"), Currency::Euro, d("-1")).is_err());
        let price = Price::new(d("6.25"), Currency::PoundSterling, d("20")).unwrap();
        assert_eq!(price.amount.to_string(), "6.25");
    }
}
