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
use crate::store::{Migration, StoreError, Value, Write, Writes};

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

    /// Reads the idempotency record of (`actor`, `request_id`) in `idempotency` (a
    /// [`Messaging`](crate::store::Messaging)'s table) and case `case_id` in one round trip:
    /// what every step reads first. The record is its digest, reply and time.
    pub async fn load_with_record<C: DeserializeOwned>(
        &self,
        conn: &mut sqlx::AnyConnection,
        idempotency: &str,
        actor: &str,
        request_id: &str,
        case_id: CaseId,
    ) -> Result<(Option<(String, Vec<u8>, i64)>, Option<C>), StoreError> {
        // One row whatever exists: each side is joined to a constant row, NULL when missing.
        let row = sqlx::query(&format!(
            "SELECT i.content_digest, i.reply, i.accepted_at, c.state FROM (SELECT 1 AS one) k \
             LEFT JOIN {idempotency} i ON i.actor = $1 AND i.request_id = $2 \
             LEFT JOIN {} c ON c.id = $3",
            self.states
        ))
        .bind(actor)
        .bind(request_id)
        .bind(case_id.to_string())
        .fetch_one(&mut *conn)
        .await?;
        let record = match row.try_get::<Option<String>, _>(0)? {
            Some(digest) => Some((digest, row.try_get(1)?, row.try_get(2)?)),
            None => None,
        };
        let case = row
            .try_get::<Option<Vec<u8>>, _>(3)?
            .map(|bytes| decode(case_id, &bytes))
            .transpose()?;
        Ok((record, case))
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
        let mut writes = Writes::default();
        self.save_writes(case, previous, now, &mut writes)?;
        writes.execute_each(conn).await
    }

    /// Adds to `writes` what [`CaseStore::save`] does: the case row (an insert, or an update
    /// that must find `previous`'s version, else [`StoreError::Conflict`]) and, when they
    /// changed, its party rows. No two of these writes touch the same row, so they may go in
    /// one statement.
    pub fn save_writes<C: Case + Serialize>(
        &self,
        case: &C,
        previous: Option<&C>,
        now: Timestamp,
        writes: &mut Writes,
    ) -> Result<(), StoreError> {
        let state = serde_json::to_vec(case).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let version = i64::try_from(case.version()).unwrap_or(i64::MAX);
        let id = case.id().to_string();
        let mut args = vec![
            Value::Text(id.clone()),
            Value::Text(case.status_name().to_owned()),
            Value::Int(version),
            Value::Bytes(state),
            Value::Int(now.as_millis()),
        ];
        let sql = match previous {
            None => format!(
                "INSERT INTO {} (id, status, version, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING",
                self.states
            ),
            Some(previous) => {
                args.push(Value::Int(
                    i64::try_from(previous.version()).unwrap_or(i64::MAX),
                ));
                format!(
                    "UPDATE {} SET status = $2, version = $3, state = $4, updated_at = $5 \
                     WHERE id = $1 AND version = $6",
                    self.states
                )
            }
        };
        writes.push(Write::new(sql, args).changing_one(format!("case {id}")));
        let parties = case.parties();
        if previous.map(Case::parties).as_ref() != Some(&parties) {
            self.party_writes(&id, &parties, previous.is_none(), writes);
        }
        Ok(())
    }

    /// Adds to `writes` what makes the party rows of case `id` say `parties`: a delete of
    /// the rows not among them (a new case has none), and one insert of them all that keeps
    /// the rows already there. The two touch different rows, so they may run in one
    /// statement; every statement is a round trip to the database.
    fn party_writes(&self, id: &str, parties: &Parties, new_case: bool, writes: &mut Writes) {
        let rows: Vec<(&AgencyCode, &str)> = parties
            .by_role
            .iter()
            .map(|(role, code)| (code, role.as_str()))
            .chain(parties.former.iter().map(|code| (code, FORMER)))
            .collect();
        if !new_case {
            let mut args = vec![Value::Text(id.to_owned())];
            let mut kept = Vec::with_capacity(rows.len());
            for (code, role) in &rows {
                let n = args.len();
                kept.push(format!("(agency = ${} AND role = ${})", n + 1, n + 2));
                args.push(Value::Text(code.as_str().to_owned()));
                args.push(Value::Text((*role).to_owned()));
            }
            let sql = if kept.is_empty() {
                format!("DELETE FROM {} WHERE case_id = $1", self.parties)
            } else {
                format!(
                    "DELETE FROM {} WHERE case_id = $1 AND NOT ({})",
                    self.parties,
                    kept.join(" OR ")
                )
            };
            writes.push(Write::new(sql, args));
        }
        if rows.is_empty() {
            return;
        }
        let values: Vec<String> = (0..rows.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let mut args = Vec::with_capacity(3 * rows.len());
        for (code, role) in rows {
            args.push(Value::Text(id.to_owned()));
            args.push(Value::Text(code.as_str().to_owned()));
            args.push(Value::Text(role.to_owned()));
        }
        writes.push(Write::new(
            format!(
                "INSERT INTO {} (case_id, agency, role) VALUES {} ON CONFLICT DO NOTHING",
                self.parties,
                values.join(", ")
            ),
            args,
        ));
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
