//! Identifiers and validated values: agency codes, region codes, case and message ids,
//! idempotency keys and SHA-256 digests.
//!
//! Every type here is built only through `parse` (or `TryFrom`), so a value that exists is valid.
//! All of them travel as strings in serde.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The 31 symbols of GB 32100-2015, in index order (no I, O, S, V, Z).
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1..=17: 3^(i-1) mod 31 (GB 32100-2015 §5).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Length of an agency code, check character included.
const USCC_LEN: usize = 18;

/// Why a string is not a valid agency code. Positions are 1-based, as in the standard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgencyCodeError {
    /// The code does not have 18 characters (17 for [`AgencyCode::check_char`]).
    #[error("agency code must have 18 characters (17 before the check character), it has {len}")]
    WrongLength {
        /// Number of characters found.
        len: usize,
    },
    /// A character outside the GB 32100 set, a lowercase letter, or a non-digit in the region part.
    #[error(
        "agency code has invalid character {ch:?} at position {position}: only 0-9 and uppercase \
         A-Y without I, O, S, V, Z are allowed (lowercase is rejected), and positions 3 to 8 \
         (the region code) must be digits"
    )]
    InvalidChar {
        /// 1-based position of the offending character.
        position: usize,
        /// The offending character.
        ch: char,
    },
    /// The 18th character is not the check character of the first 17.
    #[error("agency code check character is {found:?} but should be {expected:?}")]
    CheckMismatch {
        /// The check character computed from positions 1..=17.
        expected: char,
        /// The check character given.
        found: char,
    },
}

/// An agency's unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters,
/// position 1 the registration authority, 2 the organisation type, 3–8 the region code,
/// 9–17 the organisation code and 18 the check character.
///
/// Only uppercase input is accepted; callers normalise case at the edge if they want to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgencyCode(String);

impl AgencyCode {
    /// Parses and validates an agency code, check character included.
    pub fn parse(s: &str) -> Result<AgencyCode, AgencyCodeError> {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != USCC_LEN {
            return Err(AgencyCodeError::WrongLength { len: chars.len() });
        }
        let expected = check_char_of(&chars[..USCC_LEN - 1])?;
        let found = chars[USCC_LEN - 1];
        // The check character itself must be a symbol of the set; report that first so
        // a lowercase final letter reads as a case problem rather than a checksum problem.
        if uscc_index(found).is_none() {
            return Err(AgencyCodeError::InvalidChar {
                position: USCC_LEN,
                ch: found,
            });
        }
        if found != expected {
            return Err(AgencyCodeError::CheckMismatch { expected, found });
        }
        Ok(AgencyCode(s.to_owned()))
    }

    /// Computes the check character (position 18) for the first 17 characters of a code.
    ///
    /// Used to build valid codes for fixtures and example data.
    pub fn check_char(first17: &str) -> Result<char, AgencyCodeError> {
        let chars: Vec<char> = first17.chars().collect();
        if chars.len() != USCC_LEN - 1 {
            return Err(AgencyCodeError::WrongLength { len: chars.len() });
        }
        check_char_of(&chars)
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The region code embedded in positions 3 to 8.
    pub fn region(&self) -> RegionCode {
        // Positions 3..=8 were checked to be ASCII digits in `parse`.
        RegionCode(self.0[2..8].to_owned())
    }
}

/// Index of a character in the GB 32100 set, if it belongs to it.
fn uscc_index(ch: char) -> Option<u32> {
    let byte = u8::try_from(ch).ok()?;
    USCC_CHARSET
        .iter()
        .position(|&c| c == byte)
        .and_then(|i| u32::try_from(i).ok())
}

/// Validates 17 characters and returns their check character.
fn check_char_of(chars: &[char]) -> Result<char, AgencyCodeError> {
    let mut sum: u32 = 0;
    for (i, (&ch, weight)) in chars.iter().zip(USCC_WEIGHTS).enumerate() {
        let position = i + 1;
        let index = uscc_index(ch).ok_or(AgencyCodeError::InvalidChar { position, ch })?;
        // GB 32100: positions 3–8 carry the administrative division code (GB/T 2260), digits only.
        if (3..=8).contains(&position) && !ch.is_ascii_digit() {
            return Err(AgencyCodeError::InvalidChar { position, ch });
        }
        sum += index * weight;
    }
    let check_index = (31 - sum % 31) % 31;
    Ok(char::from(USCC_CHARSET[check_index as usize]))
}

impl fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AgencyCode {
    type Err = AgencyCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgencyCode::parse(s)
    }
}

impl TryFrom<String> for AgencyCode {
    type Error = AgencyCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AgencyCode::parse(&s)
    }
}

impl From<AgencyCode> for String {
    fn from(code: AgencyCode) -> String {
        code.0
    }
}

impl AsRef<str> for AgencyCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a value is not a valid identifier. Messages do not name the field, so callers can
/// prefix them: `format!("request_id {err}")`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not six ASCII digits.
    #[error("must be 6 ASCII digits (an administrative division code)")]
    InvalidRegionCode,
    /// Not a UUID.
    #[error("must be a UUID such as 0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7b")]
    InvalidUuid,
    /// Not a valid client idempotency key.
    #[error("must be 1 to 128 characters of A-Z a-z 0-9 . _ : -")]
    InvalidRequestId,
    /// Not 64 lowercase hexadecimal characters.
    #[error("must be 64 lowercase hexadecimal characters (a SHA-256 digest)")]
    InvalidDigest,
}

/// An administrative division code (行政区划代码, GB/T 2260): six ASCII digits, e.g. `350100`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// Parses six ASCII digits.
    pub fn parse(s: &str) -> Result<RegionCode, IdError> {
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(RegionCode(s.to_owned()))
        } else {
            Err(IdError::InvalidRegionCode)
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RegionCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCode::parse(s)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RegionCode::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> String {
        code.0
    }
}

/// Defines a UUID-backed identifier with the same shape: `generate` (v7, time-ordered),
/// `parse`, hyphenated lowercase Display, serde as a string.
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered id (UUID v7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses a UUID (hyphenated, simple, braced or URN form).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                Uuid::parse_str(s).map(Self).map_err(|_| IdError::InvalidUuid)
            }

            /// Wraps an existing UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

uuid_id!(
    /// Identifies one case (one referral, transfer, dispute or request) across all agencies.
    CaseId
);

uuid_id!(
    /// Identifies one message exchanged between agencies.
    MessageId
);

/// Longest accepted idempotency key.
const REQUEST_ID_MAX: usize = 128;

/// A client-chosen idempotency key: 1 to 128 characters of `[A-Za-z0-9._:-]`.
/// Resending a command with the same key must not act twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    /// Parses an idempotency key.
    pub fn parse(s: &str) -> Result<RequestId, IdError> {
        let ok = (1..=REQUEST_ID_MAX).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(RequestId(s.to_owned()))
        } else {
            Err(IdError::InvalidRequestId)
        }
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RequestId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestId::parse(s)
    }
}

impl TryFrom<String> for RequestId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RequestId::parse(&s)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.0
    }
}

/// A SHA-256 digest of a document, written as 64 lowercase hexadecimal characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Parses 64 lowercase hexadecimal characters (uppercase is rejected so that one digest
    /// has exactly one spelling).
    pub fn parse(s: &str) -> Result<Sha256Digest, IdError> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(IdError::InvalidDigest);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| IdError::InvalidDigest)?;
        Ok(Sha256Digest(bytes))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256Digest(bytes)
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hexadecimal characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl FromStr for Sha256Digest {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sha256Digest::parse(s)
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Sha256Digest::parse(&s)
    }
}

impl From<Sha256Digest> for String {
    fn from(digest: Sha256Digest) -> String {
        digest.to_hex()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STANDARD_EXAMPLE: &str = "91350100M000100Y43";

    #[test]
    fn the_standards_own_example_is_valid() {
        let code = AgencyCode::parse(STANDARD_EXAMPLE).unwrap();
        assert_eq!(code.as_str(), STANDARD_EXAMPLE);
        assert_eq!(code.region().as_str(), "350100");
        assert_eq!(code.to_string(), STANDARD_EXAMPLE);
    }

    #[test]
    fn check_char_reproduces_the_standards_example() {
        assert_eq!(AgencyCode::check_char(&STANDARD_EXAMPLE[..17]), Ok('3'));
    }

    #[test]
    fn changing_any_single_character_makes_the_code_invalid() {
        let original: Vec<char> = STANDARD_EXAMPLE.chars().collect();
        let mut tried = 0;
        for position in 0..original.len() {
            for &symbol in USCC_CHARSET {
                let symbol = char::from(symbol);
                if symbol == original[position] {
                    continue;
                }
                let mut changed = original.clone();
                changed[position] = symbol;
                let changed: String = changed.into_iter().collect();
                assert!(
                    AgencyCode::parse(&changed).is_err(),
                    "{changed} should be invalid"
                );
                tried += 1;
            }
        }
        assert_eq!(tried, 18 * 30);
    }

    #[test]
    fn lowercase_letters_are_rejected_with_a_message_saying_uppercase_only() {
        let err = AgencyCode::parse("91350100m000100Y43").unwrap_err();
        assert_eq!(
            err,
            AgencyCodeError::InvalidChar {
                position: 9,
                ch: 'm'
            }
        );
        assert!(err.to_string().contains("lowercase is rejected"));
        assert!(matches!(
            AgencyCode::parse("91350100M000100y43"),
            Err(AgencyCodeError::InvalidChar { position: 16, .. })
        ));
    }

    #[test]
    fn a_code_of_the_wrong_length_reports_its_length() {
        let err = AgencyCode::parse("91350100M000100Y4").unwrap_err();
        assert_eq!(err, AgencyCodeError::WrongLength { len: 17 });
        assert!(err.to_string().contains("it has 17"));
        // Lengths are counted in characters, not bytes.
        assert_eq!(
            AgencyCode::parse("福州"),
            Err(AgencyCodeError::WrongLength { len: 2 })
        );
    }

    #[test]
    fn excluded_letters_are_rejected() {
        for ch in ['I', 'O', 'S', 'V', 'Z'] {
            let s = format!("91350100{ch}000100Y43");
            assert_eq!(
                AgencyCode::parse(&s),
                Err(AgencyCodeError::InvalidChar { position: 9, ch })
            );
        }
    }

    #[test]
    fn a_letter_inside_the_region_part_is_rejected() {
        let first17 = "913501A0M000100Y4";
        let check = AgencyCode::check_char(first17);
        assert_eq!(
            check,
            Err(AgencyCodeError::InvalidChar {
                position: 7,
                ch: 'A'
            })
        );
    }

    #[test]
    fn a_wrong_check_character_reports_the_expected_one() {
        let err = AgencyCode::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(
            err,
            AgencyCodeError::CheckMismatch {
                expected: '3',
                found: '4'
            }
        );
        assert!(err.to_string().contains("should be '3'"));
    }

    #[test]
    fn agency_codes_travel_as_plain_strings_in_json() {
        let code = AgencyCode::parse(STANDARD_EXAMPLE).unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, format!("\"{STANDARD_EXAMPLE}\""));
        let back: AgencyCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<AgencyCode>("\"91350100M000100Y44\"").is_err());
    }

    proptest! {
        #[test]
        fn any_seventeen_symbols_with_their_check_character_parse_and_any_change_breaks_them(
            body in proptest::collection::vec(0usize..31, 17),
            region in "[0-9]{6}",
            position in 0usize..18,
            replacement in 0usize..31,
        ) {
            let mut first17: Vec<char> =
                body.iter().map(|&i| char::from(USCC_CHARSET[i])).collect();
            for (i, d) in region.chars().enumerate() {
                first17[2 + i] = d;
            }
            let first17: String = first17.into_iter().collect();
            let check = AgencyCode::check_char(&first17).unwrap();
            let full = format!("{first17}{check}");
            let code = AgencyCode::parse(&full).unwrap();
            prop_assert_eq!(code.region().to_string(), region);

            let mut changed: Vec<char> = full.chars().collect();
            let symbol = char::from(USCC_CHARSET[replacement]);
            prop_assume!(changed[position] != symbol);
            changed[position] = symbol;
            let changed: String = changed.into_iter().collect();
            prop_assert!(AgencyCode::parse(&changed).is_err());
        }
    }

    #[test]
    fn region_codes_are_six_digits() {
        assert_eq!(RegionCode::parse("350100").unwrap().as_str(), "350100");
        for bad in ["35010", "3501000", "35010a", "", "３５０１００"] {
            assert_eq!(RegionCode::parse(bad), Err(IdError::InvalidRegionCode));
        }
        let json = serde_json::to_string(&RegionCode::parse("350102").unwrap()).unwrap();
        assert_eq!(json, "\"350102\"");
    }

    #[test]
    fn case_ids_display_as_lowercase_hyphenated_uuids_and_round_trip() {
        let id = CaseId::parse("0190B8A2-4F6E-7C3D-9A1B-2C3D4E5F6A7B").unwrap();
        assert_eq!(id.to_string(), "0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7b");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7b\"");
        assert_eq!(serde_json::from_str::<CaseId>(&json).unwrap(), id);
        assert_eq!(CaseId::parse("not-a-uuid"), Err(IdError::InvalidUuid));
    }

    #[test]
    fn generated_ids_are_version_seven_and_distinct() {
        let a = MessageId::generate();
        let b = MessageId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert_eq!(MessageId::parse(&a.to_string()), Ok(a));
    }

    #[test]
    fn request_ids_accept_the_documented_alphabet_and_length() {
        assert!(RequestId::parse("client-1:retry_2.a").is_ok());
        assert!(RequestId::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            RequestId::parse(&"a".repeat(129)),
            Err(IdError::InvalidRequestId)
        );
        assert_eq!(RequestId::parse(""), Err(IdError::InvalidRequestId));
        assert_eq!(RequestId::parse("a b"), Err(IdError::InvalidRequestId));
        assert_eq!(RequestId::parse("é"), Err(IdError::InvalidRequestId));
        assert_eq!(
            IdError::InvalidRequestId.to_string(),
            "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -"
        );
    }

    #[test]
    fn digests_are_computed_parsed_and_printed_as_lowercase_hex() {
        let digest = Sha256Digest::of(b"abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(digest.to_hex(), hex);
        assert_eq!(digest.to_string(), hex);
        assert_eq!(Sha256Digest::parse(hex), Ok(digest));
        assert_eq!(
            Sha256Digest::parse(&hex.to_uppercase()),
            Err(IdError::InvalidDigest)
        );
        assert_eq!(Sha256Digest::parse(&hex[..63]), Err(IdError::InvalidDigest));
        assert_eq!(
            serde_json::to_string(&digest).unwrap(),
            format!("\"{hex}\"")
        );
    }
}
