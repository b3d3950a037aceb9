//! Criminal referral messages (referrals.proto).

use casebridge_core::ids::CaseId;
use casebridge_core::referral::{
    Flag, NonReferral, ReconsiderationOutcome, Referral, ReferralCommand, ReferralStatus,
    Submission,
};
use casebridge_proto::v1 as pb;

use super::{
    CaseStep, Converted, Violations, WireNames, documents, history, opt_code, parties, step,
    timestamp,
};

/// A step on a referral, ready for the referrals service.
pub type ReferralStep = Converted<ReferralCommand>;

const ID: &str = "referral_id";

impl WireNames for ReferralCommand {
    fn wire_field<'a>(&self, field: &'a str) -> &'a str {
        match (self, field) {
            (ReferralCommand::Forward { .. }, "to") => "to_police",
            (ReferralCommand::Decline { .. }, "reasons") => "decline.reasons",
            (ReferralCommand::File { .. }, "note") => "file.note",
            (ReferralCommand::HandBack { .. }, "to") => "to_agency",
            (_, f) => f,
        }
    }
}

pub fn submit(req: pb::SubmitReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::SubmitReferralRequest {
        request_id,
        police,
        suspected_offence,
        summary,
        report_received_at,
        approved_at,
        items_tested,
        penalty_imposed,
        documents,
        parties: raw_parties,
        case_officer,
        case_officer_phone,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let police = v.agency("police", &police);
    let report_received_at = v.timestamp("report_received_at", report_received_at);
    let approved_at = v.timestamp("approved_at", approved_at);
    let documents = v.documents("documents", documents);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(ReferralStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: ReferralCommand::Submit(Submission {
                    case_id,
                    police: police?,
                    suspected_offence,
                    summary,
                    report_received_at: report_received_at?,
                    approved_at: approved_at?,
                    items_tested,
                    penalty_imposed,
                    documents,
                    parties: parties(raw_parties),
                    case_officer,
                    case_officer_phone: casebridge_core::personal::PersonalData::new(
                        case_officer_phone,
                    ),
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn record_non_referral(req: pb::RecordNonReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::RecordNonReferralRequest {
        request_id,
        suspected_offence,
        summary,
        report_received_at,
        decided_at,
        approver,
        reasons,
        documents,
        parties: raw_parties,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let report_received_at = v.timestamp("report_received_at", report_received_at);
    let decided_at = v.timestamp("decided_at", decided_at);
    let documents = v.documents("documents", documents);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(ReferralStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: ReferralCommand::RecordNonReferral(NonReferral {
                    case_id,
                    suspected_offence,
                    summary,
                    report_received_at: report_received_at?,
                    decided_at: decided_at?,
                    approver,
                    reasons,
                    documents,
                    parties: parties(raw_parties),
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn sign_receipt(req: pb::SignReceiptRequest) -> Result<ReferralStep, Violations> {
    let pb::SignReceiptRequest {
        request_id,
        referral_id,
    } = req;
    let command = Some(ReferralCommand::SignReceipt);
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn request_supplement(req: pb::RequestSupplementRequest) -> Result<ReferralStep, Violations> {
    let pb::RequestSupplementRequest {
        request_id,
        referral_id,
        missing,
        note,
    } = req;
    let mut v = Violations::default();
    let missing: Option<Vec<_>> = missing
        .into_iter()
        .enumerate()
        .map(|(i, k)| v.document_kind(&format!("missing[{i}]"), k))
        .collect();
    let command = missing.map(|missing| ReferralCommand::RequestSupplement { missing, note });
    step(v, &request_id, ID, &referral_id, command)
}

pub fn supplement(req: pb::SupplementReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::SupplementReferralRequest {
        request_id,
        referral_id,
        documents,
        note,
    } = req;
    let mut v = Violations::default();
    let documents = v.documents("documents", documents);
    let command = Some(ReferralCommand::Supplement { documents, note });
    step(v, &request_id, ID, &referral_id, command)
}

pub fn forward(req: pb::ForwardReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::ForwardReferralRequest {
        request_id,
        referral_id,
        to_police,
        reason,
    } = req;
    let mut v = Violations::default();
    let command = v
        .agency("to_police", &to_police)
        .map(|to| ReferralCommand::Forward { to, reason });
    step(v, &request_id, ID, &referral_id, command)
}

pub fn return_referral(req: pb::ReturnReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::ReturnReferralRequest {
        request_id,
        referral_id,
        reasons,
    } = req;
    let command = Some(ReferralCommand::ReturnNotPoliceMatter { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn decide_filing(req: pb::DecideFilingRequest) -> Result<ReferralStep, Violations> {
    let pb::DecideFilingRequest {
        request_id,
        referral_id,
        decision,
    } = req;
    let mut v = Violations::default();
    let command = match decision {
        Some(pb::decide_filing_request::Decision::File(pb::FileCase { note })) => {
            Some(ReferralCommand::File { note })
        }
        Some(pb::decide_filing_request::Decision::Decline(pb::DeclineToFile { reasons })) => {
            Some(ReferralCommand::Decline { reasons })
        }
        None => {
            v.add("decision", "decision is required: either file or decline");
            None
        }
    };
    step(v, &request_id, ID, &referral_id, command)
}

pub fn hand_over_items(req: pb::HandOverItemsRequest) -> Result<ReferralStep, Violations> {
    let pb::HandOverItemsRequest {
        request_id,
        referral_id,
        documents,
        note,
    } = req;
    let mut v = Violations::default();
    let documents = v.documents("documents", documents);
    let command = Some(ReferralCommand::HandOverItems { documents, note });
    step(v, &request_id, ID, &referral_id, command)
}

pub fn request_reconsideration(
    req: pb::RequestReconsiderationRequest,
) -> Result<ReferralStep, Violations> {
    let pb::RequestReconsiderationRequest {
        request_id,
        referral_id,
        reasons,
    } = req;
    let command = Some(ReferralCommand::RequestReconsideration { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn decide_reconsideration(
    req: pb::DecideReconsiderationRequest,
) -> Result<ReferralStep, Violations> {
    let pb::DecideReconsiderationRequest {
        request_id,
        referral_id,
        outcome,
        reasons,
    } = req;
    let mut v = Violations::default();
    let outcome = match pb::ReconsiderationOutcome::try_from(outcome) {
        Ok(pb::ReconsiderationOutcome::File) => Some(ReconsiderationOutcome::File),
        Ok(pb::ReconsiderationOutcome::Uphold) => Some(ReconsiderationOutcome::Uphold),
        _ => {
            v.add(
                "outcome",
                "outcome is required: RECONSIDERATION_OUTCOME_FILE or _UPHOLD",
            );
            None
        }
    };
    let command =
        outcome.map(|outcome| ReferralCommand::DecideReconsideration { outcome, reasons });
    step(v, &request_id, ID, &referral_id, command)
}

pub fn suggest_supervision(req: pb::SuggestSupervisionRequest) -> Result<ReferralStep, Violations> {
    let pb::SuggestSupervisionRequest {
        request_id,
        referral_id,
        reasons,
    } = req;
    let command = Some(ReferralCommand::SuggestSupervision { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn request_reasons(req: pb::RequestReasonsRequest) -> Result<ReferralStep, Violations> {
    let pb::RequestReasonsRequest {
        request_id,
        referral_id,
        note,
    } = req;
    let command = Some(ReferralCommand::RequestReasons { note });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn give_reasons(req: pb::GiveReasonsRequest) -> Result<ReferralStep, Violations> {
    let pb::GiveReasonsRequest {
        request_id,
        referral_id,
        reasons,
    } = req;
    let command = Some(ReferralCommand::GiveReasons { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn tell_agency(req: pb::TellAgencyRequest) -> Result<ReferralStep, Violations> {
    let pb::TellAgencyRequest {
        request_id,
        referral_id,
        note,
    } = req;
    let command = Some(ReferralCommand::TellAgency { note });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn notify_filing(req: pb::NotifyFilingRequest) -> Result<ReferralStep, Violations> {
    let pb::NotifyFilingRequest {
        request_id,
        referral_id,
        reasons,
    } = req;
    let command = Some(ReferralCommand::NotifyFiling { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn demand_explanation(req: pb::DemandExplanationRequest) -> Result<ReferralStep, Violations> {
    let pb::DemandExplanationRequest {
        request_id,
        referral_id,
        note,
    } = req;
    let command = Some(ReferralCommand::DemandExplanation { note });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn issue_correction_notice(
    req: pb::IssueCorrectionNoticeRequest,
) -> Result<ReferralStep, Violations> {
    let pb::IssueCorrectionNoticeRequest {
        request_id,
        referral_id,
        reasons,
    } = req;
    let command = Some(ReferralCommand::IssueCorrectionNotice { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn report_to_superior(req: pb::ReportToSuperiorRequest) -> Result<ReferralStep, Violations> {
    let pb::ReportToSuperiorRequest {
        request_id,
        referral_id,
        note,
    } = req;
    let command = Some(ReferralCommand::ReportToSuperior { note });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn explain(req: pb::ExplainRequest) -> Result<ReferralStep, Violations> {
    let pb::ExplainRequest {
        request_id,
        referral_id,
        explanation,
    } = req;
    let command = Some(ReferralCommand::Explain { explanation });
    step(
        Violations::default(),
        &request_id,
        ID,
        &referral_id,
        command,
    )
}

pub fn transfer_case(req: pb::TransferCaseRequest) -> Result<ReferralStep, Violations> {
    let pb::TransferCaseRequest {
        request_id,
        referral_id,
        to_authority,
        reason,
        decided_at,
    } = req;
    let mut v = Violations::default();
    let command =
        v.timestamp("decided_at", decided_at)
            .map(|decided_at| ReferralCommand::TransferCase {
                to_authority,
                reason,
                decided_at,
            });
    step(v, &request_id, ID, &referral_id, command)
}

pub fn withdraw_case(req: pb::WithdrawCaseRequest) -> Result<ReferralStep, Violations> {
    let pb::WithdrawCaseRequest {
        request_id,
        referral_id,
        reasons,
        decided_at,
    } = req;
    let mut v = Violations::default();
    let command =
        v.timestamp("decided_at", decided_at)
            .map(|decided_at| ReferralCommand::WithdrawCase {
                reasons,
                decided_at,
            });
    step(v, &request_id, ID, &referral_id, command)
}

pub fn hand_back(req: pb::HandBackReferralRequest) -> Result<ReferralStep, Violations> {
    let pb::HandBackReferralRequest {
        request_id,
        referral_id,
        to_agency,
        reasons,
        documents,
    } = req;
    let mut v = Violations::default();
    let to = v.optional_agency("to_agency", &to_agency);
    let documents = v.documents("documents", documents);
    let command = to.map(|to| ReferralCommand::HandBack {
        to,
        reasons,
        documents,
    });
    step(v, &request_id, ID, &referral_id, command)
}

fn status(s: ReferralStatus) -> pb::ReferralStatus {
    use pb::ReferralStatus as W;
    match s {
        ReferralStatus::Submitted => W::Submitted,
        ReferralStatus::Received => W::Received,
        ReferralStatus::AwaitingSupplement => W::AwaitingSupplement,
        ReferralStatus::Filed => W::Filed,
        ReferralStatus::Declined => W::Declined,
        ReferralStatus::ReturnedNotPoliceMatter => W::ReturnedNotPoliceMatter,
        ReferralStatus::ReconsiderationRequested => W::ReconsiderationRequested,
        ReferralStatus::SupervisionSuggested => W::SupervisionSuggested,
        ReferralStatus::ReasonsRequested => W::ReasonsRequested,
        ReferralStatus::ReasonsGiven => W::ReasonsGiven,
        ReferralStatus::SupervisionClosed => W::SupervisionClosed,
        ReferralStatus::FilingNotified => W::FilingNotified,
        ReferralStatus::TransferredElsewhere => W::TransferredElsewhere,
        ReferralStatus::Withdrawn => W::Withdrawn,
        ReferralStatus::HandedBack => W::HandedBack,
        ReferralStatus::NotReferred => W::NotReferred,
    }
}

fn flag(f: &Flag) -> pb::ReferralFlag {
    use pb::referral_flag::Flag as F;
    let flag = match f {
        Flag::SubmittedLate {
            hours_after_approval,
        } => F::SubmittedLate(pb::SubmittedLate {
            hours_after_approval: *hours_after_approval,
        }),
        Flag::ApprovalLate { days_after_report } => F::ApprovalLate(pb::ApprovalLate {
            days_after_report: *days_after_report,
        }),
        Flag::NoProcuratorateInRegion => F::NoProcuratorateInRegion(pb::NoProcuratorateInRegion {}),
        Flag::StepLate {
            step,
            rule,
            due_at,
            at,
        } => F::StepLate(pb::StepLate {
            step: step.as_str().to_owned(),
            rule: rule.clone(),
            due_at: Some(timestamp(*due_at)),
            at: Some(timestamp(*at)),
        }),
    };
    pb::ReferralFlag { flag: Some(flag) }
}

/// A referral for one of its parties (personal data exposed on purpose: see `wire_parties`).
pub fn referral(r: &Referral) -> pb::Referral {
    pb::Referral {
        id: r.id.to_string(),
        sender: r.sender.to_string(),
        police: opt_code(r.police.as_ref()),
        procuratorate: opt_code(r.procuratorate.as_ref()),
        status: status(r.status).into(),
        suspected_offence: r.suspected_offence.clone(),
        summary: r.summary.clone(),
        report_received_at: Some(timestamp(r.report_received_at)),
        approved_at: Some(timestamp(r.approved_at)),
        submitted_at: Some(timestamp(r.submitted_at)),
        items_tested: r.items_tested,
        penalty_imposed: r.penalty_imposed,
        documents: documents(&r.documents),
        parties: super::wire_parties(&r.parties),
        case_officer: r.case_officer.clone(),
        case_officer_phone: r.case_officer_phone.expose().to_owned(),
        flags: r.flags.iter().map(flag).collect(),
        history: r.history.iter().map(history).collect(),
        version: r.version,
        former_police: r.former_police.iter().map(ToString::to_string).collect(),
        items_handed_over_at: r.items_handed_over_at.map(timestamp),
        reconsidered: r.reconsidered,
        explanation_demanded_at: r.explanation_demanded_at.map(timestamp),
        handed_to: r.handed_to.clone().unwrap_or_default(),
        review_overdue_at: r.review_overdue_at.map(timestamp),
        correction_notice_at: r.correction_notice_at.map(timestamp),
        reported_to: opt_code(r.reported_to.as_ref()),
        non_referral: r.non_referral.as_ref().map(|d| pb::NonReferralDecision {
            approver: d.approver.clone(),
            reasons: d.reasons.clone(),
        }),
    }
}

/// The wire result of an accepted referral step.
pub fn result(accepted: casebridge_platform::cases::Accepted<Referral>) -> pb::ReferralResult {
    pb::ReferralResult {
        referral: Some(referral(&accepted.case)),
        replayed: accepted.replayed,
        accepted_at: Some(timestamp(accepted.accepted_at)),
        receipt: Some(super::receipt(&accepted.receipt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_submit() -> pb::SubmitReferralRequest {
        pb::SubmitReferralRequest {
            request_id: "req-1".into(),
            police: "11350100MB01000064".into(),
            suspected_offence: "销售伪劣产品罪".into(),
            summary: "summary".into(),
            report_received_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            approved_at: Some(prost_types::Timestamp {
                seconds: 1_700_003_600,
                nanos: 0,
            }),
            items_tested: false,
            penalty_imposed: false,
            documents: vec![pb::Document {
                kind: pb::DocumentKind::ReferralLetter.into(),
                title: "移送书".into(),
                sha256: String::new(),
            }],
            parties: vec![],
            case_officer: "officer".into(),
            case_officer_phone: "13800000000".into(),
        }
    }

    #[test]
    fn a_valid_submission_converts_with_its_times() {
        let step = submit(valid_submit()).expect("valid");
        let ReferralCommand::Submit(s) = step.step.command else {
            panic!("not a submission")
        };
        assert_eq!(s.approved_at.as_millis(), 1_700_003_600_000);
        assert_eq!(s.case_id, step.step.case_id);
    }

    #[test]
    fn every_malformed_field_is_named_at_once() {
        let mut req = valid_submit();
        req.request_id = String::new();
        req.police = "not-a-code".into();
        req.approved_at = None;
        req.documents[0].kind = 0;
        req.documents[0].sha256 = "xyz".into();
        let violations = submit(req).expect_err("invalid");
        let fields: Vec<&str> = violations.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "request_id",
                "police",
                "approved_at",
                "documents[0].kind",
                "documents[0].sha256"
            ]
        );
    }

    #[test]
    fn a_decision_needs_one_of_file_or_decline() {
        let violations = decide_filing(pb::DecideFilingRequest {
            request_id: "r".into(),
            referral_id: CaseId::generate().to_string(),
            decision: None,
        })
        .expect_err("no decision");
        assert_eq!(violations.list[0].0, "decision");
    }

    #[test]
    fn a_reconsideration_needs_an_outcome_and_a_withdrawal_its_date() {
        let v = decide_reconsideration(pb::DecideReconsiderationRequest {
            request_id: "r".into(),
            referral_id: CaseId::generate().to_string(),
            outcome: 0,
            reasons: "x".into(),
        })
        .expect_err("no outcome");
        assert_eq!(v.list[0].0, "outcome");
        let v = withdraw_case(pb::WithdrawCaseRequest {
            request_id: "r".into(),
            referral_id: "nope".into(),
            reasons: "x".into(),
            decided_at: None,
        })
        .expect_err("no date");
        let fields: Vec<&str> = v.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["decided_at", "referral_id"]);
    }
}
