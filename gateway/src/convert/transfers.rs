//! Case transfer messages (transfers.proto).

use casebridge_core::ids::CaseId;
use casebridge_core::personal::PersonalData;
use casebridge_core::transfer::{Sending, Suspension, Transfer, TransferCommand, TransferStatus};
use casebridge_platform::cases::Accepted;
use casebridge_proto::v1 as pb;

use super::{
    CaseStep, Converted, Violations, WireNames, document, documents, history, opt_code, opt_id,
    parties, step, timestamp, wire_parties,
};

/// A step on a transfer, ready for the transfers service.
pub type TransferStep = Converted<TransferCommand>;

impl WireNames for TransferCommand {
    fn wire_field<'a>(&self, field: &'a str) -> &'a str {
        match (self, field) {
            (TransferCommand::Send(_), "previous") => "previous_transfer_id",
            (_, f) => f,
        }
    }
}

const ID: &str = "transfer_id";

pub fn send(req: pb::SendTransferRequest) -> Result<TransferStep, Violations> {
    let pb::SendTransferRequest {
        request_id,
        receiver,
        suspected_violation,
        summary,
        jurisdiction_grounds,
        urgent,
        documents,
        parties: raw_parties,
        case_officer,
        case_officer_phone,
        previous_transfer_id,
    } = req;
    let mut v = Violations::default();
    let request_id = v.request_id(&request_id);
    let receiver = v.agency("receiver", &receiver);
    let documents = v.documents("documents", documents);
    let previous = v.optional_case_id("previous_transfer_id", &previous_transfer_id);
    let case_id = CaseId::generate();
    let attachments = v.take_attachments();
    let step = (|| {
        Some(TransferStep {
            step: CaseStep {
                request_id: request_id?,
                case_id,
                command: TransferCommand::Send(Sending {
                    case_id,
                    receiver: receiver?,
                    suspected_violation,
                    summary,
                    jurisdiction_grounds,
                    urgent,
                    documents,
                    parties: parties(raw_parties),
                    case_officer,
                    case_officer_phone: PersonalData::new(case_officer_phone),
                    previous: previous?,
                }),
            },
            attachments,
        })
    })();
    v.finish(step)
}

pub fn sign_receipt(req: pb::SignTransferReceiptRequest) -> Result<TransferStep, Violations> {
    let pb::SignTransferReceiptRequest {
        request_id,
        transfer_id,
    } = req;
    let command = Some(TransferCommand::SignReceipt);
    step(
        Violations::default(),
        &request_id,
        ID,
        &transfer_id,
        command,
    )
}

pub fn accept(req: pb::AcceptTransferRequest) -> Result<TransferStep, Violations> {
    let pb::AcceptTransferRequest {
        request_id,
        transfer_id,
        case_number,
        note,
    } = req;
    let command = Some(TransferCommand::Accept { case_number, note });
    step(
        Violations::default(),
        &request_id,
        ID,
        &transfer_id,
        command,
    )
}

pub fn object(req: pb::ObjectToTransferRequest) -> Result<TransferStep, Violations> {
    let pb::ObjectToTransferRequest {
        request_id,
        transfer_id,
        reasons,
    } = req;
    let command = Some(TransferCommand::Object { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &transfer_id,
        command,
    )
}

pub fn report_outcome(req: pb::ReportOutcomeRequest) -> Result<TransferStep, Violations> {
    let pb::ReportOutcomeRequest {
        request_id,
        transfer_id,
        outcome,
        documents,
    } = req;
    let mut v = Violations::default();
    let documents = v.documents("documents", documents);
    let command = Some(TransferCommand::ReportOutcome { outcome, documents });
    step(v, &request_id, ID, &transfer_id, command)
}

pub fn decline(req: pb::DeclineTransferRequest) -> Result<TransferStep, Violations> {
    let pb::DeclineTransferRequest {
        request_id,
        transfer_id,
        reasons,
    } = req;
    let command = Some(TransferCommand::Decline { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &transfer_id,
        command,
    )
}

pub fn contest_decline(req: pb::ContestDeclineRequest) -> Result<TransferStep, Violations> {
    let pb::ContestDeclineRequest {
        request_id,
        transfer_id,
        reasons,
    } = req;
    let command = Some(TransferCommand::ContestDecline { reasons });
    step(
        Violations::default(),
        &request_id,
        ID,
        &transfer_id,
        command,
    )
}

/// A missing `approval` reaches the state machine, which refuses it on that field.
pub fn suspend(req: pb::SuspendTransferRequest) -> Result<TransferStep, Violations> {
    let pb::SuspendTransferRequest {
        request_id,
        transfer_id,
        reason,
        approval,
    } = req;
    let mut v = Violations::default();
    let approval = v.document("approval", approval);
    let command = approval.map(|approval| TransferCommand::Suspend { reason, approval });
    step(v, &request_id, ID, &transfer_id, command)
}

pub fn resume(req: pb::ResumeTransferRequest) -> Result<TransferStep, Violations> {
    let pb::ResumeTransferRequest {
        request_id,
        transfer_id,
        note,
    } = req;
    let command = Some(TransferCommand::Resume { note });
    step(
        Violations::default(),
        &request_id,
        ID,
        &transfer_id,
        command,
    )
}

fn status(s: TransferStatus) -> pb::TransferStatus {
    use pb::TransferStatus as W;
    match s {
        TransferStatus::Sent => W::Sent,
        TransferStatus::Received => W::Received,
        TransferStatus::Accepted => W::Accepted,
        TransferStatus::Objected => W::Objected,
        TransferStatus::OutcomeReported => W::OutcomeReported,
        TransferStatus::Declined => W::Declined,
        TransferStatus::DeclineContested => W::DeclineContested,
        TransferStatus::Suspended => W::Suspended,
    }
}

fn suspension(s: &Suspension) -> pb::TransferSuspension {
    pb::TransferSuspension {
        reason: s.reason.clone(),
        approval: Some(document(&s.approval)),
        since: Some(timestamp(s.since)),
    }
}

/// A transfer for one of its parties.
pub fn transfer(t: &Transfer) -> pb::Transfer {
    pb::Transfer {
        id: t.id.to_string(),
        sender: t.sender.to_string(),
        receiver: t.receiver.to_string(),
        former_receivers: t.former_receivers.iter().map(ToString::to_string).collect(),
        office: opt_code(t.office.as_ref()),
        status: status(t.status).into(),
        suspected_violation: t.suspected_violation.clone(),
        summary: t.summary.clone(),
        jurisdiction_grounds: t.jurisdiction_grounds.clone(),
        urgent: t.urgent,
        documents: documents(&t.documents),
        parties: wire_parties(&t.parties),
        case_officer: t.case_officer.clone(),
        case_officer_phone: t.case_officer_phone.expose().to_owned(),
        sent_at: Some(timestamp(t.sent_at)),
        from_referral: opt_id(t.from_referral),
        previous_transfer_id: opt_id(t.previous),
        case_number: t.case_number.clone().unwrap_or_default(),
        objection: t.objection.clone().unwrap_or_default(),
        designated_by: opt_id(t.designated_by),
        outcome: t.outcome.clone().unwrap_or_default(),
        history: t.history.iter().map(history).collect(),
        version: t.version,
        decline_reasons: t.decline.clone().unwrap_or_default(),
        decline_contest: t.decline_contest.clone().unwrap_or_default(),
        suspension: t.suspension.as_ref().map(suspension),
    }
}

/// The wire result of an accepted transfer step.
pub fn result(accepted: Accepted<Transfer>) -> pb::TransferResult {
    pb::TransferResult {
        transfer: Some(transfer(&accepted.case)),
        replayed: accepted.replayed,
        accepted_at: Some(timestamp(accepted.accepted_at)),
        receipt: Some(super::receipt(&accepted.receipt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_s_approval_is_named_by_its_own_path() {
        let v = suspend(pb::SuspendTransferRequest {
            request_id: "r".into(),
            transfer_id: CaseId::generate().to_string(),
            reason: "当事人下落不明".into(),
            approval: Some(pb::Document {
                kind: 0,
                title: "中止审批表".into(),
                sha256: "not-a-digest".into(),
            }),
        })
        .expect_err("malformed");
        let fields: Vec<&str> = v.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["approval.kind", "approval.sha256"]);

        // Without an approval the step goes on to the state machine, which requires it.
        let step = suspend(pb::SuspendTransferRequest {
            request_id: "r".into(),
            transfer_id: CaseId::generate().to_string(),
            reason: "当事人下落不明".into(),
            approval: None,
        })
        .expect("well-formed");
        assert!(matches!(
            step.step.command,
            TransferCommand::Suspend { approval: None, .. }
        ));
    }

    #[test]
    fn a_malformed_previous_transfer_id_and_receiver_are_both_named() {
        let v = send(pb::SendTransferRequest {
            request_id: "r".into(),
            receiver: "bad".into(),
            previous_transfer_id: "not-a-uuid".into(),
            ..Default::default()
        })
        .expect_err("malformed");
        let fields: Vec<&str> = v.list.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["receiver", "previous_transfer_id"]);
    }
}
