//! The dispute desk: jurisdiction disputes (管辖争议), which the office that rules on them (the
//! parties' common superior, or the coordination office) accepts and decides by designating the
//! competent agency (指定管辖), and to which the other side replies.

use axum::extract::Query;
use axum::response::Response;
use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::dispute_service_server::DisputeService as _;

use super::desk::{self, CaseDesk, Desk, Fact};
use super::forms::{Field, Fields, StepForm};
use super::lists::ListParams;
use super::parts::{Look, documents_list, enum_name};
use crate::console::html::{self, Markup, markup};
use crate::console::viewer::Viewer;

/// The disputes the agency is party to or rules on.
pub(super) async fn disputes(viewer: Viewer, Query(params): Query<ListParams>) -> Response {
    let tabs = [
        ("", "全部", "All"),
        ("coordination", "由本机关裁决的", "We rule on"),
        ("sender", "本机关提出的", "Raised by us"),
        ("recipient", "针对本机关的", "Raised against us"),
    ];
    let title = viewer.lang.t("管辖争议", "Jurisdiction disputes");
    desk::list(&viewer, Family::Dispute, "/disputes", title, &tabs, params).await
}

/// The dispute desk.
pub(super) struct DisputeDesk;

impl Desk for DisputeDesk {
    const BASE: &'static str = "/disputes";
    type Case = pb::Dispute;

    async fn load(viewer: &Viewer, id: &str) -> Result<pb::Dispute, tonic::Status> {
        viewer
            .state
            .disputes
            .get_dispute(viewer.request(pb::GetDisputeRequest {
                dispute_id: id.to_owned(),
            }))
            .await
            .map(tonic::Response::into_inner)
    }

    fn desk<'a>(look: &Look, dispute: &'a pb::Dispute) -> CaseDesk<'a> {
        dispute_desk(look, dispute)
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

/// A dispute at its desk: the question, the parties' positions, and the steps the viewer's
/// agency may take (the office accepts and designates, the other side replies).
pub(super) fn dispute_desk<'a>(look: &Look, dispute: &'a pb::Dispute) -> CaseDesk<'a> {
    let lang = look.lang;
    let status =
        pb::DisputeStatus::try_from(dispute.status).unwrap_or(pb::DisputeStatus::Unspecified);
    let name = |code: &str| Markup::text(&look.agency_name(code));
    let facts = vec![
        Fact::with_id(
            lang.t("状态", "Status"),
            "dispute-status",
            html::status(lang, &enum_name(status.as_str_name(), "DISPUTE_STATUS_")),
        ),
        Fact::new(
            lang.t("争议事项", "Question"),
            Markup::text(&dispute.question),
        ),
        Fact::new(lang.t("提请方", "Brought by"), name(&dispute.sender)),
        Fact::new(lang.t("另一方", "Other side"), name(&dispute.respondent)),
        Fact::new(
            lang.t("裁决机关（指定管辖）", "Ruling office (designates)"),
            name(&dispute.office),
        ),
        Fact::with_id(
            lang.t("确定的管辖机关", "Competent agency"),
            "competent",
            name(&dispute.competent),
        ),
        Fact::new(lang.t("决定", "Decision"), Markup::text(&dispute.decision)),
    ];
    let mut sections = Markup::new();
    if !dispute.transfer_id.is_empty() {
        markup_into!(
            sections,
            "<p><a href=\"/cases/{id}\">{}</a></p>",
            lang.t("所涉案件移送", "the transfer it is about"),
            id = dispute.transfer_id
        );
    }
    markup_into!(
        sections,
        "<h2>{}</h2><table id=\"positions\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("各方意见", "Positions"),
        lang.t("机关", "Agency"),
        lang.t("意见", "Position"),
        lang.t("时间", "Time"),
    );
    for p in &dispute.positions {
        markup_into!(
            sections,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            look.agency_name(&p.agency),
            p.text,
            html::time(p.at.as_ref())
        );
    }
    sections.push(markup!("</table>"));
    sections.push(documents_list(lang, &dispute.documents));

    let me = look.me.as_str();
    let mut forms = Vec::new();
    if dispute.office == me && status == pb::DisputeStatus::Referred {
        forms.push(
            StepForm::new(
                "accept",
                lang.t(
                    "受理争议（3个工作日内）",
                    "Accept the dispute (within 3 working days)",
                ),
                lang.t("受理", "Accept"),
            )
            .field(Field::text("note", lang.t("说明", "Note"))),
        );
    }
    if dispute.respondent == me && status == pb::DisputeStatus::Accepted {
        forms.push(
            StepForm::new(
                "reply",
                lang.t("答复协调机关", "Reply to the office"),
                lang.t("提交答复", "Reply"),
            )
            .field(Field::text("position", lang.t("本机关意见", "Our position")).required()),
        );
    }
    if dispute.office == me
        && matches!(
            status,
            pb::DisputeStatus::Accepted | pb::DisputeStatus::Replied
        )
    {
        let mut choices: Vec<(String, String)> = Vec::new();
        for code in [&dispute.sender, &dispute.respondent, &dispute.raised_by] {
            if code.is_empty() || choices.iter().any(|(c, _)| c == code) {
                continue;
            }
            choices.push((code.clone(), look.agency_name(code)));
        }
        forms.push(
            StepForm::new(
                "designate",
                lang.t(
                    "指定管辖（对各方具有约束力）",
                    "Designate the competent agency (binding)",
                ),
                lang.t("作出指定", "Designate"),
            )
            .field(Field::choice(
                "designated",
                lang.t("管辖机关", "Competent agency"),
                choices,
            ))
            .field(Field::text("decision", lang.t("决定书内容", "Decision")).required())
            .confirm(lang.t(
                "指定管辖：被指定的机关必须办理，不得再提出异议或不予立案，争议就此结束。",
                "Designate: the agency named must handle the case, may neither object nor decline, and the dispute closes.",
            )),
        );
    }
    CaseDesk {
        base: DisputeDesk::BASE,
        id: &dispute.id,
        title: lang.t("管辖争议", "Jurisdiction dispute").to_owned(),
        facts,
        sections,
        forms,
        history: &dispute.history,
    }
}

/// The dispute step a form posts, sent as the viewer.
async fn take(
    viewer: &Viewer,
    id: &str,
    step: &str,
    fields: &Fields,
) -> Option<Result<tonic::Response<pb::DisputeResult>, tonic::Status>> {
    let grpc = &viewer.state.disputes;
    let (request_id, dispute_id) = (fields.request_id().to_owned(), id.to_owned());
    Some(match step {
        "accept" => {
            grpc.accept_dispute(viewer.request(pb::AcceptDisputeRequest {
                request_id,
                dispute_id,
                note: fields.get("note").to_owned(),
            }))
            .await
        }
        "reply" => {
            grpc.reply_to_dispute(viewer.request(pb::ReplyToDisputeRequest {
                request_id,
                dispute_id,
                position: fields.get("position").to_owned(),
                documents: Vec::new(),
            }))
            .await
        }
        "designate" => {
            grpc.designate_agency(viewer.request(pb::DesignateAgencyRequest {
                request_id,
                dispute_id,
                designated: fields.get("designated").to_owned(),
                decision: fields.get("decision").to_owned(),
                documents: Vec::new(),
            }))
            .await
        }
        _ => return None,
    })
}
