//! The case tables of a family service, prefixed with its name:
//! - `<svc>_case_states`: the case value as JSON with its status and version; updates check the
//!   version read, so two replicas changing one case at once cannot both win (the loser gets
//!   [`StoreError::Conflict`] and the command is retried);
//! - `<svc>_case_parties`: one row per (case, agency, role), so an agency's cases can be listed
//!   and a read can be refused to non-parties without decoding the case.

use std::borrow::Cow;

use casebridge_core::case::{Case, Parties};
use casebridge_core::ids::{AgencyCode, CaseId};
use casebridge_core::time::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use super::api::{CaseSummary, ListPosition, ListQuery, summary_line};
use crate::store::{Migration, StoreError};

/// The role column's value for a former party.
const FORMER: &str = "former";

/// The case tables of `service` (migration version 2; 1 is the messaging tables).
pub fn migrations(service: &str) -> Vec<Migration> {
    let table = |blob: &str| {
        format!(
            "CREATE TABLE {s}_case_states (id TEXT PRIMARY KEY, status TEXT NOT NULL, \
               version BIGINT NOT NULL, state {blob} NOT NULL, created_at BIGINT NOT NULL, \
               updated_at BIGINT NOT NULL);\n\
             CREATE TABLE {s}_case_parties (case_id TEXT NOT NULL, agency TEXT NOT NULL, \
               role TEXT NOT NULL, PRIMARY KEY (case_id, agency, role));\n\
             CREATE INDEX {s}_case_parties_by_agency ON {s}_case_parties (agency, case_id);\n\
             CREATE INDEX {s}_case_states_by_update ON {s}_case_states (updated_at, id);",
            s = service
        )
    };
    vec![Migration {
        version: 2,
        description: Cow::Borrowed("case states and parties"),
        postgres: Cow::Owned(table("BYTEA")),
        sqlite: Cow::Owned(table("BLOB")),
    }]
}

/// The case tables of one service.
#[derive(Debug, Clone)]
pub struct CaseStore {
    states: String,
    parties: String,
}

impl CaseStore {
    pub fn new(service: &str) -> CaseStore {
        CaseStore {
            states: format!("{service}_case_states"),
            parties: format!("{service}_case_parties"),
        }
    }

    /// Reads a case.
    pub async fn load<C: DeserializeOwned>(
        &self,
        conn: &mut sqlx::AnyConnection,
        case_id: CaseId,
    ) -> Result<Option<C>, StoreError> {
        let row = sqlx::query(&format!("SELECT state FROM {} WHERE id = $1", self.states))
            .bind(case_id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|row| decode(case_id, &row.get::<Vec<u8>, _>(0)))
            .transpose()
    }

    /// Writes `case`: inserts it when `previous` is `None`, otherwise updates it if the stored
    /// version is still `previous`'s; then brings its parties up to date.
    pub async fn save<C: Case + Serialize>(
        &self,
        conn: &mut sqlx::AnyConnection,
        case: &C,
        previous: Option<&C>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let state = serde_json::to_vec(case).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let version = i64::try_from(case.version()).unwrap_or(i64::MAX);
        let id = case.id().to_string();
        let written = match previous {
            None => {
                sqlx::query(&format!(
                    "INSERT INTO {} (id, status, version, state, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING",
                    self.states
                ))
                .bind(&id)
                .bind(case.status_name())
                .bind(version)
                .bind(state)
                .bind(now.as_millis())
                .execute(&mut *conn)
                .await?
            }
            Some(previous) => {
                sqlx::query(&format!(
                    "UPDATE {} SET status = $2, version = $3, state = $4, updated_at = $5 \
                     WHERE id = $1 AND version = $6",
                    self.states
                ))
                .bind(&id)
                .bind(case.status_name())
                .bind(version)
                .bind(state)
                .bind(now.as_millis())
                .bind(i64::try_from(previous.version()).unwrap_or(i64::MAX))
                .execute(&mut *conn)
                .await?
            }
        };
        if written.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("case {id}")));
        }
        let parties = case.parties();
        if previous.map(Case::parties).as_ref() != Some(&parties) {
            self.replace_parties(conn, &id, &parties, previous.is_none())
                .await?;
        }
        Ok(())
    }

    /// Makes the party rows of case `id` say `parties`. A new case has none to remove; its
    /// rows go in one statement, since every statement is a round trip to the database.
    async fn replace_parties(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
        parties: &Parties,
        new_case: bool,
    ) -> Result<(), StoreError> {
        if !new_case {
            sqlx::query(&format!("DELETE FROM {} WHERE case_id = $1", self.parties))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        let rows: Vec<(&AgencyCode, &str)> = parties
            .by_role
            .iter()
            .map(|(role, code)| (code, role.as_str()))
            .chain(parties.former.iter().map(|code| (code, FORMER)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = (0..rows.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO {} (case_id, agency, role) VALUES {} ON CONFLICT DO NOTHING",
            self.parties,
            values.join(", ")
        );
        let mut insert = sqlx::query(&sql);
        for (code, role) in rows {
            insert = insert.bind(id).bind(code.as_str()).bind(role);
        }
        insert.execute(&mut *conn).await?;
        Ok(())
    }

    /// A page of the cases `agency` is a party to, newest change first.
    pub async fn list<C: Case + DeserializeOwned>(
        &self,
        conn: &mut sqlx::AnyConnection,
        agency: &AgencyCode,
        query: &ListQuery,
    ) -> Result<(Vec<CaseSummary>, Option<ListPosition>), StoreError> {
        let mut args = Args::default();
        let mut sql = format!(
            "SELECT s.id, s.state, s.updated_at FROM {} s WHERE s.id IN \
             (SELECT case_id FROM {} WHERE agency = {}",
            self.states,
            self.parties,
            args.text(agency.as_str())
        );
        if let Some(role) = query.role {
            sql.push_str(&format!(" AND role = {}", args.text(role.as_str())));
        }
        sql.push(')');
        if let Some(status) = &query.status {
            sql.push_str(&format!(" AND s.status = {}", args.text(status)));
        }
        if let Some(after) = &query.after {
            let at = args.int(after.updated_at.as_millis());
            let at_again = args.int(after.updated_at.as_millis());
            let id = args.text(&after.case_id.to_string());
            sql.push_str(&format!(
                " AND (s.updated_at < {at} OR (s.updated_at = {at_again} AND s.id < {id}))"
            ));
        }
        sql.push_str(&format!(
            " ORDER BY s.updated_at DESC, s.id DESC LIMIT {}",
            args.int(i64::from(query.limit) + 1)
        ));
        let rows = args
            .bind_all(sqlx::query(&sql))
            .fetch_all(&mut *conn)
            .await?;
        let mut cases = Vec::with_capacity(rows.len());
        for row in rows.iter().take(query.limit as usize) {
            let case_id = CaseId::parse(&row.get::<String, _>(0))
                .map_err(|e| StoreError::Corrupt(format!("case id: {e}")))?;
            let case: C = decode(case_id, &row.get::<Vec<u8>, _>(1))?;
            let opened = case.opened();
            cases.push(CaseSummary {
                case_id,
                status: case.status_name().to_owned(),
                version: case.version(),
                updated_at: Timestamp::from_millis(row.get(2)),
                roles: case.parties().roles_of(agency),
                headline: case.headline(),
                opened_by: opened.map(|(by, _)| by.clone()),
                opened_at: opened.map(|(_, at)| at),
                summary: summary_line(case.summary()),
            });
        }
        let next = (rows.len() > query.limit as usize)
            .then(|| cases.last())
            .flatten()
            .map(|last| ListPosition {
                updated_at: last.updated_at,
                case_id: last.case_id,
            });
        Ok((cases, next))
    }
}

/// Arguments of a statement built piece by piece: each value gets the next `$n`.
#[derive(Debug, Default)]
struct Args(Vec<Arg>);

#[derive(Debug)]
enum Arg {
    Text(String),
    Int(i64),
}

impl Args {
    fn text(&mut self, value: &str) -> String {
        self.0.push(Arg::Text(value.to_owned()));
        format!("${}", self.0.len())
    }

    fn int(&mut self, value: i64) -> String {
        self.0.push(Arg::Int(value));
        format!("${}", self.0.len())
    }

    fn bind_all<'q>(
        self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for arg in self.0 {
            query = match arg {
                Arg::Text(v) => query.bind(v),
                Arg::Int(v) => query.bind(v),
            };
        }
        query
    }
}

fn decode<C: DeserializeOwned>(case_id: CaseId, bytes: &[u8]) -> Result<C, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("case {case_id}: {e}")))
}
