//! Exact figures: [`Amount`] of money in fen (分) and [`Number`] for quantities. Thresholds are
//! compared at the boundary (刑法 Art 99: 以上 includes the amount itself), so a float that
//! rounds 50,000 down to 49,999.999… would hide a case that must be screened: no floats here.
//! Both are written as decimal strings, on the wire and in the rule file.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a decimal string is not an amount or a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error(
        "must be a non-negative decimal number with at most {places} decimal places, e.g. \
         50000 or 50000.00, not {text:?}"
    )]
    Malformed { text: String, places: u32 },
    #[error("is too large: {text:?}")]
    TooLarge { text: String },
}

/// Parses a non-negative decimal with at most `places` decimal places into units of
/// 10^-`places`: `"50000.5"` with 2 places is 5,000,050. No sign, exponent, separator or blank.
fn parse_scaled(text: &str, places: u32) -> Result<i64, AmountError> {
    let malformed = || AmountError::Malformed {
        text: text.to_owned(),
        places,
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return Err(malformed()),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > places as usize {
        return Err(malformed());
    }
    let too_large = || AmountError::TooLarge {
        text: text.to_owned(),
    };
    let scale = 10i64.pow(places);
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    let mut fraction_units: i64 = 0;
    for (i, b) in fraction.bytes().enumerate() {
        let place = 10i64.pow(places - 1 - i as u32);
        fraction_units += i64::from(b - b'0') * place;
    }
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction_units))
        .ok_or_else(too_large)
}

/// `units` of 10^-`places` as a decimal string with exactly `places` places (`places` > 0).
fn write_scaled(f: &mut fmt::Formatter<'_>, units: i64, places: u32) -> fmt::Result {
    let scale = 10i64.pow(places);
    write!(
        f,
        "{}.{:0width$}",
        units / scale,
        units % scale,
        width = places as usize
    )
}

/// An amount of money in yuan, held exactly in fen (分, 0.01 yuan); never negative.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// `fen` fen; `None` if negative.
    pub fn from_fen(fen: i64) -> Option<Amount> {
        (fen >= 0).then_some(Amount(fen))
    }

    /// `yuan` whole yuan; `None` if negative or too large.
    pub fn from_yuan(yuan: i64) -> Option<Amount> {
        yuan.checked_mul(100).and_then(Amount::from_fen)
    }

    /// Parses yuan written as a decimal with at most two places: `50000`, `50000.5`, `49999.99`.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        parse_scaled(text, 2).map(Amount)
    }

    pub fn fen(self) -> i64 {
        self.0
    }

    /// `self × factor`, `None` on overflow (the 3× of the 2001 interpretation, Art 2).
    pub fn times(self, factor: i64) -> Option<Amount> {
        self.0.checked_mul(factor).and_then(Amount::from_fen)
    }
}

impl fmt::Display for Amount {
    /// Yuan with two decimals: `50000.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_scaled(f, self.0, 2)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self} yuan)")
    }
}

impl TryFrom<String> for Amount {
    type Error = AmountError;
    fn try_from(text: String) -> Result<Amount, AmountError> {
        Amount::parse(&text)
    }
}

impl From<Amount> for String {
    fn from(amount: Amount) -> String {
        amount.to_string()
    }
}

/// A non-negative quantity held exactly in thousandths (a weight to the gram in kilograms, a
/// count of plants); the unit travels beside it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Number(i64);

impl Number {
    /// Parses a decimal with at most three places: `12`, `0.5`, `2.125`.
    pub fn parse(text: &str) -> Result<Number, AmountError> {
        parse_scaled(text, 3).map(Number)
    }

    /// The number in thousandths.
    pub fn thousandths(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Number {
    /// Without trailing zeros: `12`, `0.5`, `2.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / 1000, self.0 % 1000);
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let fraction = format!("{fraction:03}");
        write!(f, "{whole}.{}", fraction.trim_end_matches('0'))
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl TryFrom<String> for Number {
    type Error = AmountError;
    fn try_from(text: String) -> Result<Number, AmountError> {
        Number::parse(&text)
    }
}

impl From<Number> for String {
    fn from(number: Number) -> String {
        number.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_to_the_fen_and_read_back_as_written() {
        assert_eq!(Amount::parse("50000").unwrap().fen(), 5_000_000);
        assert_eq!(Amount::parse("49999.99").unwrap().fen(), 4_999_999);
        assert_eq!(Amount::parse("0.5").unwrap().fen(), 50);
        assert_eq!(Amount::parse("50000.5").unwrap().to_string(), "50000.50");
        // 0.1 + 0.2 is 0.3 here, as it is not in binary floating point.
        let sum = Amount::parse("0.1").unwrap().fen() + Amount::parse("0.2").unwrap().fen();
        assert_eq!(Amount::from_fen(sum), Some(Amount::parse("0.3").unwrap()));
        let json = serde_json::to_string(&Amount::parse("150000").unwrap()).unwrap();
        assert_eq!(json, "\"150000.00\"");
        assert_eq!(
            serde_json::from_str::<Amount>(&json).unwrap(),
            Amount::from_yuan(150_000).unwrap()
        );
    }

    #[test]
    fn a_malformed_or_negative_amount_is_refused() {
        for text in [
            "",
            "-1",
            "+1",
            "1e5",
            "50,000",
            "50000.001",
            "1.",
            ".5",
            " 1",
            "五万",
            "0x10",
        ] {
            assert!(Amount::parse(text).is_err(), "{text:?} parsed");
        }
        assert!(matches!(
            Amount::parse("99999999999999999999"),
            Err(AmountError::TooLarge { .. })
        ));
        assert_eq!(Amount::from_fen(-1), None);
        assert!(serde_json::from_str::<Amount>("\"-3\"").is_err());
        assert!(
            serde_json::from_str::<Amount>("3.5").is_err(),
            "a JSON number"
        );
    }

    #[test]
    fn numbers_keep_three_places_and_print_without_trailing_zeros() {
        assert_eq!(Number::parse("2.125").unwrap().thousandths(), 2125);
        assert_eq!(Number::parse("12").unwrap().to_string(), "12");
        assert_eq!(Number::parse("0.50").unwrap().to_string(), "0.5");
        assert!(Number::parse("0.0001").is_err());
        assert!(Number::parse("-2").is_err());
    }
}
