//! The figures criminal thresholds are measured in ([`Measure`]), a record's figures
//! ([`Measures`]) and one figure's [`Value`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Amount, Number};

/// What a threshold reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "measure", rename_all = "snake_case")]
pub enum Measure {
    /// 销售金额: everything the seller got and was owed for the goods sold (2001 interpretation
    /// Art 2: 出售伪劣产品后所得和应得的全部违法收入).
    SalesAmount,
    /// 货值金额 of the goods not yet sold: their marked price, else the market middle price of
    /// conforming goods of the kind (2001 interpretation Art 2).
    GoodsValue,
    /// 违法所得.
    IllegalGains,
    /// A quantity in `unit` (千克, 株, 只 …). Units are compared as written: a record in grams
    /// does not meet a threshold in kilograms, so a table that reads a quantity names the unit
    /// the agencies record in.
    Quantity { unit: String },
}

impl Measure {
    /// The measure names the rule file uses for money; a quantity is `quantity` with a `unit`.
    pub const MONEY: [(&'static str, Measure); 3] = [
        ("sales_amount", Measure::SalesAmount),
        ("goods_value", Measure::GoodsValue),
        ("illegal_gains", Measure::IllegalGains),
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Measure::SalesAmount => "sales_amount",
            Measure::GoodsValue => "goods_value",
            Measure::IllegalGains => "illegal_gains",
            Measure::Quantity { .. } => "quantity",
        }
    }

    /// The legal term: 销售金额, 货值金额, 违法所得, 数量（千克）.
    pub fn label_zh(&self) -> String {
        match self {
            Measure::SalesAmount => "销售金额".to_owned(),
            Measure::GoodsValue => "货值金额".to_owned(),
            Measure::IllegalGains => "违法所得".to_owned(),
            Measure::Quantity { unit } => format!("数量（{unit}）"),
        }
    }

    /// Whether the measure is money (its values are [`Value::Money`]).
    pub fn is_money(&self) -> bool {
        !matches!(self, Measure::Quantity { .. })
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measure::Quantity { unit } => write!(f, "quantity in {unit}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// One figure: money, or a quantity in its measure's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Value {
    Money(Amount),
    Quantity(Number),
}

impl Value {
    /// Whether `self` reaches `threshold` (≥: 刑法 Art 99, 以上 includes the number itself).
    /// Money never reaches a quantity, nor the reverse.
    pub fn reaches(self, threshold: Value) -> bool {
        match (self, threshold) {
            (Value::Money(v), Value::Money(t)) => v >= t,
            (Value::Quantity(v), Value::Quantity(t)) => v >= t,
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    /// `50000.00 yuan`, `12.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Money(amount) => write!(f, "{amount} yuan"),
            Value::Quantity(number) => write!(f, "{number}"),
        }
    }
}

/// A quantity as recorded: a number and its unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quantity {
    pub unit: String,
    pub value: Number,
}

/// The figures a penalty case records for thresholds; a figure not established is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Measures {
    /// 销售金额.
    #[serde(default)]
    pub sales_amount: Option<Amount>,
    /// 货值金额 of the goods not yet sold.
    #[serde(default)]
    pub goods_value: Option<Amount>,
    /// 违法所得.
    #[serde(default)]
    pub illegal_gains: Option<Amount>,
    /// Quantities, one per unit.
    #[serde(default)]
    pub quantities: Vec<Quantity>,
}

impl Measures {
    /// The record's value of `measure`, if it has one.
    pub fn get(&self, measure: &Measure) -> Option<Value> {
        match measure {
            Measure::SalesAmount => self.sales_amount.map(Value::Money),
            Measure::GoodsValue => self.goods_value.map(Value::Money),
            Measure::IllegalGains => self.illegal_gains.map(Value::Money),
            Measure::Quantity { unit } => self
                .quantities
                .iter()
                .find(|q| q.unit == *unit)
                .map(|q| Value::Quantity(q.value)),
        }
    }
}
