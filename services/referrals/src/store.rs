//! The referrals service's own migrations. The engine owns the case tables
//! (`referrals_case_states`, `referrals_case_parties`); before it existed, referrals lived in
//! `referrals_cases`, which migration 101 moves into them.

use casebridge_platform::store::Migration;

/// The family's migrations, after the engine's.
pub fn migrations() -> Vec<Migration> {
    vec![
        // The first layout, kept so that databases created with it migrate forward.
        Migration::portable(
            100,
            "referral cases (first layout)",
            "CREATE TABLE referrals_cases (id TEXT PRIMARY KEY, sender TEXT NOT NULL, \
               police TEXT NOT NULL, procuratorate TEXT, status TEXT NOT NULL, \
               version BIGINT NOT NULL, state BYTEA NOT NULL, submitted_at BIGINT NOT NULL, \
               updated_at BIGINT NOT NULL)",
        )
        .with_sqlite(
            "CREATE TABLE referrals_cases (id TEXT PRIMARY KEY, sender TEXT NOT NULL, \
               police TEXT NOT NULL, procuratorate TEXT, status TEXT NOT NULL, \
               version BIGINT NOT NULL, state BLOB NOT NULL, submitted_at BIGINT NOT NULL, \
               updated_at BIGINT NOT NULL)",
        ),
        // Police organs a referral was forwarded from are not in the old layout's columns;
        // they regain read access with the referral's next step.
        Migration::portable(
            101,
            "move referral cases into the engine's case tables",
            "INSERT INTO referrals_case_states (id, status, version, state, created_at, updated_at) \
               SELECT id, status, version, state, submitted_at, updated_at FROM referrals_cases;
             INSERT INTO referrals_case_parties (case_id, agency, role) \
               SELECT id, sender, 'sender' FROM referrals_cases;
             INSERT INTO referrals_case_parties (case_id, agency, role) \
               SELECT id, police, 'recipient' FROM referrals_cases;
             INSERT INTO referrals_case_parties (case_id, agency, role) \
               SELECT id, procuratorate, 'procuratorate' FROM referrals_cases \
               WHERE procuratorate IS NOT NULL;
             DROP TABLE referrals_cases;",
        ),
    ]
}
