//! Penalty-record messages (penalties.proto).

use casebridge_core::case::{Case, TimelineEntry};
use casebridge_core::ids::CaseId;
use casebridge_core::screening::file::{PenaltyCommand, PenaltyFile};
use casebridge_core::screening::warning::{
    EarlyWarning, OpinionGround, WarningCommand, WarningStatus,
};
use casebridge_core::screening::{
    Amount, Hit, Measures, Number, PenaltyCase, PenaltyDecision, Quantity, RecordVersion,
    Threshold, ViolationType,
};
use casebridge_platform::cases::Accepted;
use casebridge_proto::v1 as pb;

use super::{
    CaseStep, Converted, Violations, WireNames, documents, opt_code, opt_id, parties, step,
    timestamp, wire_parties,
};

/// A step on a penalty record, ready for the penalties service.
pub type PenaltyStep = Converted<PenaltyCommand>;

impl WireNames for PenaltyCommand {
    fn wire_field<'a>(&self, field: &'a str) -> &'a str {
        // The state machine names the case's fields bare; the wire nests them under `case`.
        match (self, field) {
            (PenaltyCommand::Record { .. } | PenaltyCommand::Correct { .. }, f) => match f {
                "case_number" => "case.case_number",
                "legal_basis" => "case.legal_basis",
                "parties" => "case.parties",
                "parties.name" => "case.parties.name",
                "parties.id_number" => "case.parties.id_number",
                "measures.quantities.unit" => "case.measures.quantities.unit",
                "decision.number" => "case.decision.number",
                "decision.penalty" => "case.decision.penalty",
                "decision.decided_on" => "case.decision.decided_on",
                "evidence" => "case.evidence",
                other => other,
            },
            (_, f) => f,
        }
    }
}

const ID: &str = "record_id";

/// A money field: `None` when absent, a violation when not an exact amount.
fn money(v: &mut Violations, field: &str, raw: Option<pb::Money>) -> Option<Amount> {
    let raw = raw?;
    Amount::parse(&raw.yuan)
        .map_err(|e| v.add(format!("{field}.yuan"), format!("{field}.yuan {e}")))
        .ok()
}

/// The case of a record or correction, every field checked that the wire can check; the state
/// machine checks the rest (text lengths, parties, the decision's date against today).
fn penalty_case(v: &mut Violations, raw: Option<pb::PenaltyCase>) -> Option<PenaltyCase> {
    let Some(pb::PenaltyCase {
        case_number,
        violation,
        legal_basis,
        parties: raw_parties,
        measures,
        decision,
        evidence,
    }) = raw
    else {
        v.add("case", "case is required");
        return None;
    };
    let violation = ViolationType::parse(&violation)
        .map_err(|e| v.add("case.violation", format!("case.violation {e}")))
        .ok();
    let pb::Measures {
        sales_amount,
        goods_value,
        illegal_gains,
        quantities,
    } = measures.unwrap_or_default();
    let mut measures = Measures {
        sales_amount: money(v, "case.measures.sales_amount", sales_amount),
        goods_value: money(v, "case.measures.goods_value", goods_value),
        illegal_gains: money(v, "case.measures.illegal_gains", illegal_gains),
        quantities: Vec::new(),
    };
    for (i, pb::Quantity { unit, value }) in quantities.into_iter().enumerate() {
        let field = format!("case.measures.quantities[{i}].value");
        match Number::parse(&value) {
            Ok(value) => measures.quantities.push(Quantity { unit, value }),
            Err(e) => v.add(field.clone(), format!("{field} {e}")),
        }
    }
    let decision = match decision {
        None => {
            v.add("case.decision", "case.decision is required");
            None
        }
        Some(pb::PenaltyDecision {
            number,
            decided_on,
            penalty,
            fine,
        }) => {
            let decided_on = chrono::NaiveDate::parse_from_str(&decided_on, "%Y-%m-%d")
                .map_err(|_| {
                    v.add(
                        "case.decision.decided_on",
                        format!(
                            "case.decision.decided_on must be a date as YYYY-MM-DD, not \
                             {decided_on:?}"
                        ),
                    )
                })
                .ok();
            let fine = money(v, "case.decision.fine", fine);
            decided_on.map(|decided_on| PenaltyDecision {
                number,
                decided_on,
                penalty,
                fine,
            })
        }
    };
    let evidence = evidence
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| v.sha256(&format!("case.evidence[{i}]"), raw))
        .collect();
    Some(PenaltyCase {
        case_number,
        violation: violation?,
        legal_basis,
        parties: parties(raw_parties),
        measures,
        decision: decision?,
        evidence,
    })
}

pub fn record(req: pb::RecordPenaltyRequest) -> Result<PenaltyStep, Violations> {
    let pb::RecordPenaltyRequest {
        request_id,
        case,
        referral_id,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let case = penalty_case(&mut v, case);
    let referral = v.optional_case_id("referral_id", &referral_id);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(PenaltyStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: PenaltyCommand::Record {
                    case_id,
                    case: case?,
                    referral: referral?,
                },
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn correct(req: pb::CorrectPenaltyRequest) -> Result<PenaltyStep, Violations> {
    let pb::CorrectPenaltyRequest {
        request_id,
        record_id,
        case,
        reason,
    } = req;
    let mut v = Violations::default();
    let command = penalty_case(&mut v, case).map(|case| PenaltyCommand::Correct { case, reason });
    step(v, &request_id, ID, &record_id, command)
}

fn ground(v: &mut Violations, raw: i32) -> Option<OpinionGround> {
    match pb::ReferralGround::try_from(raw) {
        Ok(pb::ReferralGround::FoundNotReferred) => Some(OpinionGround::FoundNotReferred),
        Ok(pb::ReferralGround::ReportedNotReferred) => Some(OpinionGround::ReportedNotReferred),
        Ok(pb::ReferralGround::ItemsConcealed) => Some(OpinionGround::ItemsConcealed),
        Ok(pb::ReferralGround::PenaltyInsteadOfProsecution) => {
            Some(OpinionGround::PenaltyInsteadOfProsecution)
        }
        _ => {
            v.add(
                "ground",
                "ground is required: one of the four situations of 高检发释字〔2001〕4号 item 12, \
                 e.g. REFERRAL_GROUND_PENALTY_INSTEAD_OF_PROSECUTION",
            );
            None
        }
    }
}

pub fn suggest_referral(req: pb::SuggestReferralRequest) -> Result<PenaltyStep, Violations> {
    let pb::SuggestReferralRequest {
        request_id,
        record_id,
        ground: raw_ground,
        reasons,
        documents,
    } = req;
    let mut v = Violations::default();
    let ground = ground(&mut v, raw_ground);
    let documents = v.documents("documents", documents);
    let command = ground.map(|ground| {
        PenaltyCommand::Warning(WarningCommand::SuggestReferral {
            ground,
            reasons,
            documents,
        })
    });
    step(v, &request_id, ID, &record_id, command)
}

pub fn close(req: pb::CloseWarningRequest) -> Result<PenaltyStep, Violations> {
    let pb::CloseWarningRequest {
        request_id,
        record_id,
        reasons,
    } = req;
    let command = Some(PenaltyCommand::Warning(WarningCommand::Close { reasons }));
    step(Violations::default(), &request_id, ID, &record_id, command)
}

pub fn link_referral(req: pb::LinkReferralRequest) -> Result<PenaltyStep, Violations> {
    let pb::LinkReferralRequest {
        request_id,
        record_id,
        referral_id,
    } = req;
    let mut v = Violations::default();
    let command = v
        .case_id("referral_id", &referral_id)
        .map(|referral| PenaltyCommand::Warning(WarningCommand::LinkReferral { referral }));
    step(v, &request_id, ID, &record_id, command)
}

pub fn explain(req: pb::ExplainNonReferralRequest) -> Result<PenaltyStep, Violations> {
    let pb::ExplainNonReferralRequest {
        request_id,
        record_id,
        non_referral_id,
        explanation,
        documents,
    } = req;
    let mut v = Violations::default();
    let non_referral = v.case_id("non_referral_id", &non_referral_id);
    let documents = v.documents("documents", documents);
    let command = non_referral.map(|non_referral| {
        PenaltyCommand::Warning(WarningCommand::Explain {
            non_referral,
            explanation,
            documents,
        })
    });
    step(v, &request_id, ID, &record_id, command)
}

fn money_wire(a: Option<Amount>) -> Option<pb::Money> {
    a.map(|a| pb::Money {
        yuan: a.to_string(),
    })
}

fn case_wire(c: &PenaltyCase) -> pb::PenaltyCase {
    pb::PenaltyCase {
        case_number: c.case_number.clone(),
        violation: c.violation.to_string(),
        legal_basis: c.legal_basis.clone(),
        parties: wire_parties(&c.parties),
        measures: Some(pb::Measures {
            sales_amount: money_wire(c.measures.sales_amount),
            goods_value: money_wire(c.measures.goods_value),
            illegal_gains: money_wire(c.measures.illegal_gains),
            quantities: c
                .measures
                .quantities
                .iter()
                .map(|q| pb::Quantity {
                    unit: q.unit.clone(),
                    value: q.value.to_string(),
                })
                .collect(),
        }),
        decision: Some(pb::PenaltyDecision {
            number: c.decision.number.clone(),
            decided_on: c.decision.decided_on.format("%Y-%m-%d").to_string(),
            penalty: c.decision.penalty.clone(),
            fine: money_wire(c.decision.fine),
        }),
        evidence: c.evidence.iter().map(|d| d.to_hex()).collect(),
    }
}

fn version_wire(f: &PenaltyFile, v: &RecordVersion) -> pb::PenaltyVersion {
    let screening = f.screened_under(v.number);
    pb::PenaltyVersion {
        number: v.number,
        case: Some(case_wire(&v.case)),
        recorded_by: v.recorded_by.to_string(),
        recorded_at: Some(timestamp(v.recorded_at)),
        supersedes: v.supersedes().unwrap_or(0),
        correction_reason: v
            .correction
            .as_ref()
            .map(|c| c.reason.clone())
            .unwrap_or_default(),
        late_since: v.late_since.map(timestamp),
        digest: v.digest().to_hex(),
        screened_under: screening
            .and_then(|s| s.table.version.clone())
            .unwrap_or_default(),
        screened_under_digest: screening
            .map(|s| s.table.digest.clone())
            .unwrap_or_default(),
        screened_at: screening.map(|s| timestamp(s.at)),
    }
}

/// A hit for the wire.
pub fn hit(h: &Hit) -> pb::ThresholdHit {
    pb::ThresholdHit {
        rule: h.rule.clone(),
        offence: format!("{} ({})", h.offence.name_zh, h.offence.article),
        measure: h
            .measure
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        value: h.value.map(|v| v.to_string()).unwrap_or_default(),
        threshold: match &h.threshold {
            Threshold::Any => "any case".to_owned(),
            t => t.to_string(),
        },
        attempt: h.attempt,
        source: h.source.clone(),
        verified: h.verified,
        description: h.describe(),
    }
}

/// The wire status of a warning status.
pub fn warning_status(s: WarningStatus) -> pb::PenaltyStatus {
    use pb::PenaltyStatus as W;
    match s {
        WarningStatus::AgencyWarned => W::AgencyWarned,
        WarningStatus::WarningRaised => W::WarningRaised,
        WarningStatus::ReferralSuggested => W::ReferralSuggested,
        WarningStatus::AnswerOverdue => W::AnswerOverdue,
        WarningStatus::ReferralLinked => W::ReferralLinked,
        WarningStatus::NonReferralExplained => W::NonReferralExplained,
        WarningStatus::WarningClosed => W::WarningClosed,
        WarningStatus::WarningCleared => W::WarningCleared,
    }
}

fn ground_wire(g: OpinionGround) -> pb::ReferralGround {
    match g {
        OpinionGround::FoundNotReferred => pb::ReferralGround::FoundNotReferred,
        OpinionGround::ReportedNotReferred => pb::ReferralGround::ReportedNotReferred,
        OpinionGround::ItemsConcealed => pb::ReferralGround::ItemsConcealed,
        OpinionGround::PenaltyInsteadOfProsecution => {
            pb::ReferralGround::PenaltyInsteadOfProsecution
        }
    }
}

fn warning_wire(w: &EarlyWarning) -> pb::EarlyWarning {
    let opinion = w.opinion.as_ref();
    pb::EarlyWarning {
        status: warning_status(w.status).into(),
        procuratorate: w.procuratorate.to_string(),
        supervisor: opt_code(w.supervisor.as_ref()),
        record_version: w.record_version,
        hits: w.hits.iter().map(hit).collect(),
        opened_at: Some(timestamp(w.opened_at)),
        raise_due: Some(timestamp(w.raise_due)),
        raised_at: w.raised_at.map(timestamp),
        ground: opinion
            .map_or(pb::ReferralGround::Unspecified, |o| ground_wire(o.ground))
            .into(),
        reasons: opinion
            .map(|o| o.reasons.clone())
            .or_else(|| w.closing_reasons.clone())
            .unwrap_or_default(),
        answer_due: w.answer_due.map(timestamp),
        referral_id: opt_id(w.referral),
        non_referral_id: opt_id(w.non_referral),
        explanation: w.explanation.clone().unwrap_or_default(),
        answered_late: w.answered_late.map(timestamp),
        documents: documents(&w.documents),
    }
}

fn timeline_wire(e: &TimelineEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        step: e.step.clone(),
        actor: e.actor.to_string(),
        at: Some(timestamp(e.at)),
        note: e.note.clone(),
        documents: documents(&e.documents),
    }
}

/// The wire status of a file.
pub fn status(f: &PenaltyFile) -> pb::PenaltyStatus {
    f.warning()
        .map_or(pb::PenaltyStatus::Recorded, |w| warning_status(w.status))
}

/// A record for one of its parties.
pub fn penalty_record(f: &PenaltyFile) -> pb::PenaltyRecord {
    pb::PenaltyRecord {
        id: f.record.id.to_string(),
        agency: f.record.agency.to_string(),
        status: status(f).into(),
        versions: f
            .record
            .versions()
            .iter()
            .map(|v| version_wire(f, v))
            .collect(),
        hits: f.hits.iter().map(hit).collect(),
        referral_id: opt_id(f.referral),
        warnings: f.warnings.iter().map(warning_wire).collect(),
        history: f.timeline().iter().map(timeline_wire).collect(),
        version: f.version,
    }
}

/// The wire result of an accepted step on a record.
pub fn result(accepted: Accepted<PenaltyFile>) -> pb::PenaltyResult {
    pb::PenaltyResult {
        record: Some(penalty_record(&accepted.case)),
        replayed: accepted.replayed,
        accepted_at: Some(timestamp(accepted.accepted_at)),
        receipt: Some(super::receipt(&accepted.receipt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> pb::PenaltyCase {
        pb::PenaltyCase {
            case_number: "榕市监处〔2026〕1号".into(),
            violation: "fake_or_substandard_product".into(),
            legal_basis: "《中华人民共和国产品质量法》第五十条".into(),
            parties: vec![pb::Party {
                name: "某某公司".into(),
                id_number: String::new(),
            }],
            measures: Some(pb::Measures {
                sales_amount: Some(pb::Money {
                    yuan: "60000".into(),
                }),
                ..Default::default()
            }),
            decision: Some(pb::PenaltyDecision {
                number: "榕市监罚〔2026〕1号".into(),
                decided_on: "2026-11-30".into(),
                penalty: "罚款".into(),
                fine: None,
            }),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn every_malformed_figure_is_named_by_its_wire_path_at_once() {
        let mut bad = case();
        bad.violation = "Fake Product".into();
        bad.measures = Some(pb::Measures {
            sales_amount: Some(pb::Money { yuan: "5e4".into() }),
            goods_value: Some(pb::Money {
                yuan: "1.234".into(),
            }),
            quantities: vec![pb::Quantity {
                unit: "千克".into(),
                value: "many".into(),
            }],
            ..Default::default()
        });
        if let Some(d) = bad.decision.as_mut() {
            d.decided_on = "30/11/2026".into();
        }
        let refused = record(pb::RecordPenaltyRequest {
            request_id: "r1".into(),
            case: Some(bad),
            referral_id: "not-a-uuid".into(),
        })
        .expect_err("refused");
        let fields: Vec<&str> = refused.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "case.violation",
                "case.measures.sales_amount.yuan",
                "case.measures.goods_value.yuan",
                "case.measures.quantities[0].value",
                "case.decision.decided_on",
                "referral_id",
            ]
        );
    }

    #[test]
    fn a_record_converts_with_its_exact_amount_and_no_referral() {
        let step = record(pb::RecordPenaltyRequest {
            request_id: "r1".into(),
            case: Some(case()),
            referral_id: String::new(),
        })
        .expect("converted");
        let PenaltyCommand::Record { case, referral, .. } = step.step.command else {
            panic!("a record");
        };
        assert_eq!(referral, None);
        assert_eq!(case.measures.sales_amount, Amount::from_yuan(60_000));
    }

    #[test]
    fn an_unspecified_ground_is_refused_on_its_field() {
        let refused = suggest_referral(pb::SuggestReferralRequest {
            request_id: "r1".into(),
            record_id: CaseId::generate().to_string(),
            ground: 0,
            reasons: "够罪".into(),
            documents: Vec::new(),
        })
        .expect_err("refused");
        assert_eq!(refused.list[0].0, "ground");
    }
}
