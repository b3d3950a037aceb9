//! Personal data of parties (names, identity numbers, phone numbers).
//!
//! Personal data never reaches logs in clear: [`PersonalData`] prints as `«redacted»` through
//! both `Debug` and `Display`, and the value is read only through [`PersonalData::expose`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// What `Debug` and `Display` print instead of personal data.
pub const REDACTED: &str = "«redacted»";

/// A name, identity number or phone number of a party or case officer.
///
/// Personal data never reaches logs in clear: formatting prints `«redacted»`. The value is
/// stored and sent on the wire as a plain string (serde transparent) because the receiving
/// agency needs it; call [`PersonalData::expose`] to read it deliberately.
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonalData(String);

impl PersonalData {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> PersonalData {
        PersonalData(value.into())
    }

    /// The value in clear. Call this only to store, send or show it to an authorised person.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper and returns the value in clear.
    pub fn into_exposed(self) -> String {
        self.0
    }

    /// Whether the value is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for PersonalData {
    fn from(value: String) -> Self {
        PersonalData(value)
    }
}

impl From<&str> for PersonalData {
    fn from(value: &str) -> Self {
        PersonalData(value.to_owned())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests {
    use super::*;

    #[test]
    fn personal_data_never_prints_its_content() {
        let phone = PersonalData::new("13800000000");
        assert_eq!(format!("{phone}"), "«redacted»");
        assert_eq!(format!("{phone:?}"), "«redacted»");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            phone: PersonalData,
        }
        let holder = format!("{:?}", Holder { phone });
        assert!(!holder.contains("138"));
    }

    #[test]
    fn personal_data_is_sent_on_the_wire_in_clear() {
        let name = PersonalData::from("张三");
        assert_eq!(name.expose(), "张三");
        let json = serde_json::to_string(&name).unwrap();
        assert_eq!(json, "\"张三\"");
        assert_eq!(serde_json::from_str::<PersonalData>(&json).unwrap(), name);
    }
}
