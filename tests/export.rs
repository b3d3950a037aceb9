//! The export feed for a supervision platform (docs/export.md), end to end through the real
//! binary: on the embedded default and as separate processes on RabbitMQ and PostgreSQL.
//!
//! The market bureau sends a criminal referral, then records a penalty case over a criminal
//! threshold that names a person; the agency is warned and (WARN-RAISE set to 0 hours by the
//! documented `deadlines.rules` setting, so nobody waits five working days) the warning is raised
//! to the procuratorate. The procuratorate pages the feed two lines at a time to the end and gets
//! every expected line exactly once, in order, each valid against its kind's JSON Schema in
//! `docs/export/`, and none naming the person; a stranger agency gets none; the same cursor gives
//! the same lines; a cursor kept from before a new step gets only the new line.

use std::collections::BTreeSet;
use std::time::Duration;

use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::{System, penalty_record, rules_with_periods, submission, workspace_root};
use serde_json::Value;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

const WAIT: Duration = Duration::from_secs(30);

/// The person the penalty record names: never on the feed.
const PERSON: &str = "王小五";
const PERSON_ID: &str = "350102198805057777";

/// A case of counterfeit goods (伪劣产品) against a person, with 60,000 yuan of sales: over the
/// CL-140 threshold.
fn record(request_id: &str) -> pb::RecordPenaltyRequest {
    penalty_record(
        request_id,
        "60000",
        pb::Party {
            name: PERSON.into(),
            id_number: PERSON_ID.into(),
        },
    )
}

/// One page of the feed as `agency` reads it.
async fn page(
    system: &System,
    agency: &str,
    after: &str,
    limit: u32,
) -> anyhow::Result<pb::ExportResponse> {
    let client = casebridge_proto::v1::export_service_client::ExportServiceClient::new(
        system.channel(agency).await?,
    );
    Ok(client
        .clone()
        .export(pb::ExportRequest {
            kinds: Vec::new(),
            after_cursor: after.into(),
            limit,
        })
        .await?
        .into_inner())
}

fn lines(page: &pb::ExportResponse) -> Vec<Value> {
    let text = std::str::from_utf8(&page.lines).expect("UTF-8 lines");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Every line after `after`, `limit` at a time, to the end: the lines and the last cursor.
async fn to_the_end(
    system: &System,
    agency: &str,
    after: &str,
    limit: u32,
) -> anyhow::Result<(Vec<Value>, String)> {
    let mut all = Vec::new();
    let mut cursor = after.to_owned();
    for _ in 0..100 {
        let p = page(system, agency, &cursor, limit).await?;
        assert_eq!(p.content_type, "application/x-ndjson");
        let got = lines(&p);
        assert!(got.len() <= limit as usize, "{} lines", got.len());
        assert_eq!(got.len(), p.count as usize);
        if let Some(last) = got.last() {
            assert_eq!(last["cursor"], p.next_cursor.as_str());
        } else {
            assert_eq!(p.next_cursor, cursor, "no line, no move");
        }
        all.extend(got);
        cursor = p.next_cursor;
        if !p.more {
            return Ok((all, cursor));
        }
    }
    panic!("the feed never ended");
}

/// The (family, event) of each line.
fn events(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| {
            (
                l["family"].as_str().unwrap_or_default().to_owned(),
                l["event"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn feed(system: &System) -> anyhow::Result<()> {
    // 1. A referral sent; the procuratorate is copied.
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("exp-referral"))
        .await?
        .into_inner()
        .referral
        .expect("referral");
    system.heard(PROCURATORATE, &referral.id, "submitted").await;

    // 2. A penalty record over the threshold, naming a person: warned, then raised.
    let recorded = system
        .penalties(MARKET_BUREAU)
        .await?
        .record_penalty(record("exp-1"))
        .await?
        .into_inner()
        .record
        .expect("record");
    system.heard(PROCURATORATE, &recorded.id, "raised").await;

    // 3. The procuratorate pages the feed, two lines at a time, once everything is on it.
    let expected = [
        ("referral", "submitted"),
        ("penalty", "recorded"),
        ("penalty", "agency_warned"),
        ("penalty", "raised"),
    ];
    let (all, end) = eventually("every line on the feed", WAIT, || async {
        let (all, end) = to_the_end(system, PROCURATORATE, "", 2).await.ok()?;
        (all.len() >= expected.len()).then_some((all, end))
    })
    .await;
    let got = events(&all);
    assert_eq!(got.len(), expected.len(), "{got:?}");
    // The referral was heard before the record was made; the record's two events leave in one
    // step and may be consumed in either order; the raise comes after both.
    assert_eq!(got[0], ("referral".into(), "submitted".into()));
    let middle: BTreeSet<&(String, String)> = got[1..3].iter().collect();
    assert_eq!(
        middle,
        BTreeSet::from([
            &("penalty".into(), "recorded".into()),
            &("penalty".into(), "agency_warned".into())
        ])
    );
    assert_eq!(got[3], ("penalty".into(), "raised".into()));
    let ids: BTreeSet<&str> = all.iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(ids.len(), all.len(), "each line exactly once");
    let cursors: Vec<&str> = all.iter().filter_map(|l| l["cursor"].as_str()).collect();
    assert_eq!(cursors.len(), all.len());

    // What the lines say.
    assert_eq!(all[0]["kind"], "referral");
    assert_eq!(all[0]["case_id"], referral.id.as_str());
    assert_eq!(all[0]["actor"], MARKET_BUREAU);
    let roles: BTreeSet<(&str, &str)> = all[0]["parties"]
        .as_array()
        .expect("parties")
        .iter()
        .filter_map(|p| Some((p["role"].as_str()?, p["agency"].as_str()?)))
        .collect();
    assert!(roles.contains(&("recipient", CITY_POLICE)), "{roles:?}");
    assert!(
        roles.contains(&("procuratorate", PROCURATORATE)),
        "{roles:?}"
    );
    let record_line = all
        .iter()
        .find(|l| l["event"] == "recorded")
        .expect("record line");
    assert_eq!(record_line["schema"], "casebridge.export.record.v1");
    assert_eq!(record_line["version"], 1);
    assert_eq!(record_line["thresholds_met"], serde_json::json!(["CL-140"]));
    let opened = all
        .iter()
        .find(|l| l["event"] == "agency_warned")
        .expect("warning line");
    assert_eq!(opened["step"], "opened");
    assert!(opened["due_at"].is_string(), "{opened}");
    assert_eq!(all[3]["step"], "raised");

    // Every line validates against its kind's schema, and names no person.
    let raw: String = all.iter().map(Value::to_string).collect();
    for secret in [
        PERSON,
        PERSON_ID,
        "张三",
        "350102199001011234",
        "李四",
        "13800000000",
    ] {
        assert!(!raw.contains(secret), "{secret} on the feed");
    }
    for line in &all {
        let kind = line["kind"].as_str().expect("kind");
        let schema = schema(kind);
        if let Err(problem) = validate(&schema, line, "$") {
            panic!("a {kind} line is not valid: {problem}\n{line}");
        }
    }

    // 4. The same cursor twice gives the same lines.
    let second = all[1]["cursor"].as_str().expect("cursor").to_owned();
    let once = page(system, PROCURATORATE, &second, 2).await?;
    let twice = page(system, PROCURATORATE, &second, 2).await?;
    assert_eq!(once.lines, twice.lines);
    assert_eq!(once.next_cursor, twice.next_cursor);
    assert_eq!(lines(&once), all[2..4]);

    // 5. Who sees what: the coordination office (a supervisor) all; the market bureau its own
    // (it took every step); the police the referral only; a stranger nothing, not even a cursor.
    let (justice, _) = to_the_end(system, JUSTICE_BUREAU, "", 500).await?;
    assert_eq!(justice, all);
    let (bureau, _) = to_the_end(system, MARKET_BUREAU, "", 500).await?;
    assert_eq!(bureau, all);
    let (police, _) = to_the_end(system, CITY_POLICE, "", 500).await?;
    assert_eq!(police, all[..1]);
    let stranger = page(system, ENVIRONMENT_BUREAU, "", 500).await?;
    assert!(stranger.lines.is_empty());
    assert_eq!(stranger.count, 0);
    assert_eq!(stranger.next_cursor, "e1-0");
    assert!(!stranger.more);

    // 6. A new step: from the kept cursor, only its line.
    system
        .penalties(PROCURATORATE)
        .await?
        .suggest_referral(pb::SuggestReferralRequest {
            request_id: "exp-1-suggest".into(),
            record_id: recorded.id.clone(),
            ground: pb::ReferralGround::PenaltyInsteadOfProsecution.into(),
            reasons: format!("{PERSON}销售金额六万元，已达立案追诉标准"),
            documents: Vec::new(),
        })
        .await?;
    let (new, _) = eventually("the new line", WAIT, || async {
        let (new, next) = to_the_end(system, PROCURATORATE, &end, 2).await.ok()?;
        (!new.is_empty()).then_some((new, next))
    })
    .await;
    assert_eq!(
        events(&new),
        [("penalty".to_owned(), "referral_suggested".to_owned())]
    );
    assert_eq!(new[0]["step"], "suggested");
    assert!(new[0]["due_at"].is_string(), "{}", new[0]);
    assert!(
        !new[0].to_string().contains(PERSON),
        "the opinion's reasons are not exported"
    );
    validate(&schema("warning"), &new[0], "$").expect("a valid warning line");

    // 7. Refusals on their field.
    for (request, field) in [
        (
            pb::ExportRequest {
                after_cursor: "42".into(),
                ..Default::default()
            },
            "after_cursor",
        ),
        (
            pb::ExportRequest {
                kinds: vec![0],
                ..Default::default()
            },
            "kinds[0]",
        ),
        (
            pb::ExportRequest {
                limit: 5001,
                ..Default::default()
            },
            "limit",
        ),
    ] {
        let refused = casebridge_proto::v1::export_service_client::ExportServiceClient::new(
            system.channel(PROCURATORATE).await?,
        )
        .export(request)
        .await
        .expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(violated(&refused), [field], "{}", refused.message());
    }
    Ok(())
}

/// The fields a refusal's google.rpc.BadRequest names.
fn violated(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// `docs/export/<kind>.v1.json`.
fn schema(kind: &str) -> Value {
    let path = workspace_root()
        .join("docs/export")
        .join(format!("{kind}.v1.json"));
    let text = std::fs::read_to_string(&path).expect("the kind's schema");
    serde_json::from_str(&text).expect("a JSON schema")
}

/// The JSON Schema keywords the export schemas use: `type` (one or a list), `const`, `enum`,
/// `required`, `properties`, `additionalProperties: false`, `items`, `minimum`. (`pattern` and
/// `format` are not checked: no JSON Schema crate is in the workspace, and these four files
/// need no more.)
fn validate(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(expected) = schema.get("const")
        && value != expected
    {
        return Err(format!("{at}: {value} is not {expected}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let is = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.iter().any(|t| is(t)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let (Some(minimum), Some(n)) = (
        schema.get("minimum").and_then(Value::as_i64),
        value.as_i64(),
    ) && n < minimum
    {
        return Err(format!("{at}: {n} is below {minimum}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(required) {
                return Err(format!("{at}: {required} is missing"));
            }
        }
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => validate(sub, item, &format!("{at}.{key}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: {key} is not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

const RAISE_AT_ONCE: &[(&str, u32, &str)] = &[("WARN-RAISE", 0, "hours")];

async fn run(distributed: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let settings = rules_with_periods(dir.path(), RAISE_AT_ONCE)?;
    let system = if distributed {
        System::distributed_with(settings, "info").await?
    } else {
        System::embedded_with(settings, "info").await?
    };
    feed(&system).await?;
    system.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_supervisor_pages_the_feed_and_a_stranger_gets_nothing() -> anyhow::Result<()> {
    run(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_supervisor_pages_the_feed_and_a_stranger_gets_nothing() -> anyhow::Result<()>
{
    run(true).await
}

/// `casebridge export` with a cursor file, as a cron job runs it: the lines on stdout, the
/// cursor kept, and a second run that prints only what is new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_exports_json_lines_and_keeps_its_cursor_in_a_file() -> anyhow::Result<()> {
    let system = System::embedded().await?;
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("exp-cli"))
        .await?
        .into_inner()
        .referral
        .expect("referral");
    system.heard(PROCURATORATE, &referral.id, "submitted").await;
    let dir = tempfile::tempdir()?;
    let cursor_file = dir.path().join("cursor");
    let cursor_arg = cursor_file.to_string_lossy().into_owned();
    let args = [
        "export",
        "--kind",
        "referral",
        "--kind",
        "outcome",
        "--cursor-file",
        &cursor_arg,
    ];
    let out = eventually("the referral on the feed", WAIT, || async {
        let (code, out, err) = system.cli_as(PROCURATORATE, &args).await.ok()?;
        assert_eq!(code, Some(0), "{out}{err}");
        (!out.is_empty()).then_some(out)
    })
    .await;
    let first: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(first.len(), 1, "{out}");
    assert_eq!(first[0]["schema"], "casebridge.export.referral.v1");
    assert_eq!(first[0]["case_id"], referral.id.as_str());
    let kept = std::fs::read_to_string(&cursor_file)?;
    assert_eq!(kept.trim(), first[0]["cursor"].as_str().expect("cursor"));

    // Nothing new: nothing printed, the cursor on stderr unchanged.
    let (code, out, err) = system.cli_as(PROCURATORATE, &args).await?;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(kept.trim()), "{err}");

    // A bad kind is refused by the command line; a bad cursor by the gateway, on its field.
    let (code, _, err) = system
        .cli_as(PROCURATORATE, &["export", "--after", "nonsense"])
        .await?;
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("after_cursor"), "{err}");
    system.stop().await
}
