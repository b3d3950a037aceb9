//! The rectifications service's own migrations: none beyond the engine's case tables
//! (`rectifications_case_states`, `rectifications_case_parties`) and messaging tables.

use casebridge_platform::store::Migration;

/// The family's migrations, after the engine's.
pub fn migrations() -> Vec<Migration> {
    Vec::new()
}
