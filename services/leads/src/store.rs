//! The leads service's own migrations: none beyond the engine's case tables
//! (`leads_case_states`, `leads_case_parties`) and messaging tables.

use casebridge_platform::store::Migration;

/// The family's migrations, after the engine's.
pub fn migrations() -> Vec<Migration> {
    Vec::new()
}
