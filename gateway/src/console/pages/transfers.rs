//! The transfer desk: case transfers between administrative agencies (行政执法案件移送). The
//! receiver signs the receipt, opens a case (立案) or declines to (不予立案), objects to
//! jurisdiction, suspends and resumes, and reports the outcome; the sender contests a decline.

use axum::extract::Query;
use axum::response::Response;
use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::transfer_service_server::TransferService as _;

use super::desk::{self, CaseDesk, Desk, Fact};
use super::forms::{Field, Fields, StepForm};
use super::lists::ListParams;
use super::parts::{Look, documents_list, enum_name};
use crate::console::html::{self, Markup, markup};
use crate::console::viewer::Viewer;

/// The agency's transfers, received first.
pub(super) async fn transfers(viewer: Viewer, Query(params): Query<ListParams>) -> Response {
    let tabs = [
        ("recipient", "收到的", "Received"),
        ("sender", "移送的", "Sent"),
        ("", "全部", "All"),
    ];
    let title = viewer.lang.t("行政执法案件移送", "Case transfers");
    desk::list(
        &viewer,
        Family::Transfer,
        "/transfers",
        title,
        &tabs,
        params,
    )
    .await
}

/// The transfer desk.
pub(super) struct TransferDesk;

impl Desk for TransferDesk {
    const BASE: &'static str = "/transfers";
    type Case = pb::Transfer;

    async fn load(viewer: &Viewer, id: &str) -> Result<pb::Transfer, tonic::Status> {
        viewer
            .state
            .transfers
            .get_transfer(viewer.request(pb::GetTransferRequest {
                transfer_id: id.to_owned(),
            }))
            .await
            .map(tonic::Response::into_inner)
    }

    fn desk<'a>(look: &Look, transfer: &'a pb::Transfer) -> CaseDesk<'a> {
        transfer_desk(look, transfer)
    }

    async fn take(
        viewer: &Viewer,
        id: &str,
        step: &str,
        fields: &Fields,
    ) -> Option<Result<(), tonic::Status>> {
        Some(take(viewer, id, step, fields).await?.map(drop))
    }
}

/// A transfer at its desk.
pub(super) fn transfer_desk<'a>(look: &Look, transfer: &'a pb::Transfer) -> CaseDesk<'a> {
    let lang = look.lang;
    let status =
        pb::TransferStatus::try_from(transfer.status).unwrap_or(pb::TransferStatus::Unspecified);
    let name = |code: &str| Markup::text(&look.agency_name(code));
    let text = |t: &str| Markup::text(t);
    let mut facts = vec![
        Fact::with_id(
            lang.t("状态", "Status"),
            "transfer-status",
            html::status(lang, &enum_name(status.as_str_name(), "TRANSFER_STATUS_")),
        ),
        Fact::new(lang.t("移送机关", "Sent by"), name(&transfer.sender)),
        Fact::new(lang.t("接收机关", "Sent to"), name(&transfer.receiver)),
        Fact::new(
            lang.t("涉嫌违法行为", "Suspected violation"),
            text(&transfer.suspected_violation),
        ),
        Fact::new(lang.t("案件基本情况", "Facts"), text(&transfer.summary)),
        Fact::new(
            lang.t("管辖依据", "Grounds of jurisdiction"),
            text(&transfer.jurisdiction_grounds),
        ),
        Fact::new(
            lang.t("紧急移送", "Urgent"),
            text(if transfer.urgent {
                lang.t("是（2小时内回执）", "yes (receipt within 2 hours)")
            } else {
                lang.t("否", "no")
            }),
        ),
        Fact::new(
            lang.t("移送时间", "Sent"),
            text(&html::time(transfer.sent_at.as_ref())),
        ),
    ];
    for (label, value) in [
        (lang.t("立案编号", "Case number"), &transfer.case_number),
        (lang.t("管辖异议", "Objection"), &transfer.objection),
        (
            lang.t("不予立案理由", "Reasons for declining"),
            &transfer.decline_reasons,
        ),
        (
            lang.t("对不予立案的异议", "Contest of the decline"),
            &transfer.decline_contest,
        ),
        (lang.t("办理情况", "Outcome"), &transfer.outcome),
    ] {
        if !value.is_empty() {
            facts.push(Fact::new(label, text(value)));
        }
    }
    if let Some(suspension) = &transfer.suspension {
        facts.push(Fact::new(
            lang.t("中止", "Suspended"),
            text(&format!(
                "{} ({})",
                suspension.reason,
                html::time(suspension.since.as_ref())
            )),
        ));
    }
    let sections = markup!(
        "<p><a href=\"/cases/{id}\">{}</a></p><h2>{}</h2>{}",
        lang.t("案件全过程与期限", "timeline and deadlines"),
        lang.t("移送材料", "Documents"),
        documents_list(lang, &transfer.documents),
        id = transfer.id,
    );
    let me = look.me.as_str();
    let mut forms = Vec::new();
    if transfer.receiver == me {
        forms.extend(receiver_forms(look, transfer, status));
    }
    if transfer.sender == me && status == pb::TransferStatus::Declined {
        forms.push(
            StepForm::new(
                "contest",
                lang.t(
                    "对不予立案提出异议（提请协调机关裁决）",
                    "Contest the decision not to open a case (the office rules)",
                ),
                lang.t("提出异议", "Contest"),
            )
            .field(Field::text("reasons", lang.t("理由", "Reasons")).required()),
        );
    }
    CaseDesk {
        base: TransferDesk::BASE,
        id: &transfer.id,
        title: format!(
            "{} · {}",
            lang.t("案件移送", "Transfer"),
            transfer.suspected_violation
        ),
        facts,
        sections,
        forms,
        history: &transfer.history,
    }
}

/// The receiver's steps.
fn receiver_forms(
    look: &Look,
    transfer: &pb::Transfer,
    status: pb::TransferStatus,
) -> Vec<StepForm> {
    let lang = look.lang;
    let designated = !transfer.designated_by.is_empty();
    let mut forms = Vec::new();
    if status == pb::TransferStatus::Sent {
        forms.push(
            StepForm::new(
                "receipt",
                lang.t("签收回执", "Sign the receipt"),
                lang.t("签收回执", "Sign the receipt"),
            )
            .help(lang.t(
                "回执确认收到移送材料；紧急移送须在2小时内签收。",
                "The receipt confirms the documents arrived; an urgent transfer is due within 2 hours.",
            )),
        );
    }
    if matches!(
        status,
        pb::TransferStatus::Sent | pb::TransferStatus::Received
    ) {
        forms.push(
            StepForm::new(
                "accept",
                lang.t(
                    "立案（收到后15个工作日内）",
                    "Open a case (within 15 working days of receipt)",
                ),
                lang.t("决定立案", "Open the case"),
            )
            .field(Field::line(
                "case_number",
                lang.t("立案编号", "Case number"),
            ))
            .field(Field::text(
                "note",
                lang.t("说明（可不填）", "Note (optional)"),
            ))
            .confirm(lang.t(
                "决定立案：本机关将办理此案，并在90日内反馈办理情况。",
                "Open the case: this agency handles it and reports the outcome within 90 days.",
            )),
        );
        if !designated {
            forms.push(
                StepForm::new(
                    "decline",
                    lang.t(
                        "不予立案（理由将反馈移送机关）",
                        "Decline to open a case (the reasons go back to the sender)",
                    ),
                    lang.t("决定不予立案", "Decline to open a case"),
                )
                .field(Field::text("reasons", lang.t("不予立案的理由", "Reasons")).required())
                .confirm(lang.t(
                    "决定不予立案：理由将反馈移送机关，移送机关可以提出异议。此决定作出后不能撤回。",
                    "Decline to open a case: the sender is told the reasons and may contest them. This decision cannot be withdrawn.",
                )),
            );
            forms.push(
                StepForm::new(
                    "object",
                    lang.t(
                        "提出管辖异议（开启管辖争议）",
                        "Object to jurisdiction (opens a dispute)",
                    ),
                    lang.t("提出异议", "Object"),
                )
                .field(Field::text("reasons", lang.t("异议理由", "Reasons")).required()),
            );
        }
    }
    match status {
        pb::TransferStatus::Accepted => {
            forms.push(
                StepForm::new(
                    "outcome",
                    lang.t("反馈办理情况", "Report the outcome"),
                    lang.t("反馈", "Report"),
                )
                .field(Field::text("outcome", lang.t("办理情况", "Outcome")).required())
                .field(Field::line(
                    "document",
                    lang.t("决定书名称（可不填）", "Decision document title (optional)"),
                )),
            );
            forms.push(
                StepForm::new(
                    "suspend",
                    lang.t("中止办理（经批准）", "Suspend the case (approved)"),
                    lang.t("中止", "Suspend"),
                )
                .field(Field::text("reason", lang.t("中止理由", "Reason")).required())
                .field(
                    Field::line(
                        "approval",
                        lang.t("批准文书名称", "Approval document title"),
                    )
                    .required(),
                ),
            );
        }
        pb::TransferStatus::Suspended => forms.push(
            StepForm::new(
                "resume",
                lang.t("恢复办理", "Resume the case"),
                lang.t("恢复", "Resume"),
            )
            .field(Field::text("note", lang.t("说明", "Note"))),
        ),
        _ => {}
    }
    forms
}

/// A decision document named by its title, or none.
fn decision(title: &str) -> Option<pb::Document> {
    let title = title.trim();
    (!title.is_empty()).then(|| pb::Document {
        kind: pb::DocumentKind::Decision as i32,
        title: title.to_owned(),
        sha256: String::new(),
    })
}

/// The transfer step a form posts, sent as the viewer.
async fn take(
    viewer: &Viewer,
    id: &str,
    step: &str,
    fields: &Fields,
) -> Option<Result<tonic::Response<pb::TransferResult>, tonic::Status>> {
    let grpc = &viewer.state.transfers;
    let (request_id, transfer_id) = (fields.request_id().to_owned(), id.to_owned());
    let text = |name: &str| fields.get(name).to_owned();
    Some(match step {
        "receipt" => {
            grpc.sign_transfer_receipt(viewer.request(pb::SignTransferReceiptRequest {
                request_id,
                transfer_id,
            }))
            .await
        }
        "accept" => {
            grpc.accept_transfer(viewer.request(pb::AcceptTransferRequest {
                request_id,
                transfer_id,
                case_number: text("case_number"),
                note: text("note"),
            }))
            .await
        }
        "decline" => {
            grpc.decline_transfer(viewer.request(pb::DeclineTransferRequest {
                request_id,
                transfer_id,
                reasons: text("reasons"),
            }))
            .await
        }
        "object" => {
            grpc.object_to_transfer(viewer.request(pb::ObjectToTransferRequest {
                request_id,
                transfer_id,
                reasons: text("reasons"),
            }))
            .await
        }
        "outcome" => {
            grpc.report_outcome(viewer.request(pb::ReportOutcomeRequest {
                request_id,
                transfer_id,
                outcome: text("outcome"),
                documents: decision(fields.get("document")).into_iter().collect(),
            }))
            .await
        }
        "suspend" => {
            grpc.suspend_transfer(viewer.request(pb::SuspendTransferRequest {
                request_id,
                transfer_id,
                reason: text("reason"),
                approval: decision(fields.get("approval")),
            }))
            .await
        }
        "resume" => {
            grpc.resume_transfer(viewer.request(pb::ResumeTransferRequest {
                request_id,
                transfer_id,
                note: text("note"),
            }))
            .await
        }
        "contest" => {
            grpc.contest_decline(viewer.request(pb::ContestDeclineRequest {
                request_id,
                transfer_id,
                reasons: text("reasons"),
            }))
            .await
        }
        _ => return None,
    })
}
