//! What every service's reply enum shares: it may be a refusal, and it has a kind.
//!
//! A caller asks for one kind of answer (a case, a page, an acknowledgement) and takes it with
//! a picker such as [`crate::cases::Reply::found`]. Any other reply is either a refusal, which
//! goes back to the caller's own caller as it is, or a bug on one side of the bus, reported by
//! its kind alone (never by its content, which may hold personal data).

use casebridge_core::refusal::Refusal;

/// A service's reply enum.
pub trait ServiceReply: Sized {
    /// The refusal, when the reply is one; else the reply, unchanged.
    fn into_refusal(self) -> Result<Refusal, Self>;

    /// The variant's name (`found`, `listed`), for the error that an unexpected reply is.
    fn kind(&self) -> &'static str;
}
