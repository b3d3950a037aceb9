//! The dispute desk (coordination office): jurisdiction disputes, which the office accepts and
//! decides by designating the competent agency, and to which the other side replies.

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::dispute_service_server::DisputeService as _;

use super::desk::{self, CaseDesk, DoneQuery, Fact, Fields, after_step, step_form};
use super::parts::{Look, documents_list, enum_name, failed, forbidden};
use crate::console::html::{self, Markup, markup};
use crate::console::viewer::Viewer;

/// The disputes the agency is party to or rules on.
pub(super) async fn disputes(viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let request = pb::ListCasesRequest {
        status: String::new(),
        role: 0,
        page_size: 100,
        page_token: String::new(),
    };
    let listed = viewer
        .state
        .disputes
        .list_disputes(viewer.request(request))
        .await;
    desk::list(
        &viewer,
        "/disputes",
        lang.t("管辖争议", "Jurisdiction disputes"),
        listed,
    )
}

pub(super) async fn dispute(
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    dispute_page(&viewer, &id, q.message(viewer.lang)).await
}

async fn dispute_page(viewer: &Viewer, id: &str, message: Option<Markup>) -> Response {
    let path = format!("/disputes/{id}");
    match viewer
        .state
        .disputes
        .get_dispute(viewer.request(pb::GetDisputeRequest {
            dispute_id: id.to_owned(),
        }))
        .await
    {
        Ok(d) => dispute_desk(&Look::of(viewer), &d.into_inner()).page(viewer, &path, message),
        Err(status) => failed(viewer, &path, &status),
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
            lang.t("协调机关", "Coordination office"),
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
    sections.push(documents_list(&dispute.documents));

    let me = look.me.as_str();
    let form = |step: &str, inner: Markup| step_form(look, "/disputes", &dispute.id, step, inner);
    let mut actions = Vec::new();
    if dispute.office == me && status == pb::DisputeStatus::Referred {
        actions.push(form(
            "accept",
            markup!(
                "<b>{}</b><label>{}<textarea name=\"note\"></textarea></label><button>{}</button>",
                lang.t(
                    "受理争议（3个工作日内）",
                    "Accept the dispute (within 3 working days)"
                ),
                lang.t("说明", "Note"),
                lang.t("受理", "Accept"),
            ),
        ));
    }
    if dispute.respondent == me && status == pb::DisputeStatus::Accepted {
        actions.push(form(
            "reply",
            markup!(
                "<b>{}</b><label>{}<textarea name=\"position\"></textarea></label><button>{}</button>",
                lang.t("答复协调机关", "Reply to the office"),
                lang.t("本机关意见", "Our position"),
                lang.t("提交答复", "Reply"),
            ),
        ));
    }
    if dispute.office == me
        && matches!(
            status,
            pb::DisputeStatus::Accepted | pb::DisputeStatus::Replied
        )
    {
        let mut choices = Markup::new();
        let mut seen = Vec::new();
        for code in [&dispute.sender, &dispute.respondent, &dispute.raised_by] {
            if code.is_empty() || seen.contains(code) {
                continue;
            }
            seen.push(code.clone());
            markup_into!(
                choices,
                "<option value=\"{code}\">{}</option>",
                look.agency_name(code),
                code = code
            );
        }
        actions.push(form(
            "designate",
            markup!(
                "<b>{}</b><label>{}<select name=\"designated\">{choices}</select></label>\
                 <label>{}<textarea name=\"decision\"></textarea></label><button>{}</button>",
                lang.t(
                    "指定管辖（对各方具有约束力）",
                    "Designate the competent agency (binding)"
                ),
                lang.t("管辖机关", "Competent agency"),
                lang.t("决定书内容", "Decision"),
                lang.t("作出指定", "Designate"),
                choices = choices,
            ),
        ));
    }
    CaseDesk {
        title: lang.t("管辖争议", "Jurisdiction dispute").to_owned(),
        facts,
        sections,
        actions,
        history: &dispute.history,
    }
}

pub(super) async fn dispute_step(
    viewer: Viewer,
    Path((id, step)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let Some(fields) = Fields::check(form, &viewer) else {
        return forbidden(viewer.lang);
    };
    let grpc = &viewer.state.disputes;
    let (request_id, dispute_id) = (fields.request_id(), id.clone());
    let result = match step.as_str() {
        "accept" => grpc
            .accept_dispute(viewer.request(pb::AcceptDisputeRequest {
                request_id,
                dispute_id,
                note: fields.get("note").to_owned(),
            }))
            .await
            .map(drop),
        "reply" => grpc
            .reply_to_dispute(viewer.request(pb::ReplyToDisputeRequest {
                request_id,
                dispute_id,
                position: fields.get("position").to_owned(),
                documents: Vec::new(),
            }))
            .await
            .map(drop),
        "designate" => grpc
            .designate_agency(viewer.request(pb::DesignateAgencyRequest {
                request_id,
                dispute_id,
                designated: fields.get("designated").to_owned(),
                decision: fields.get("decision").to_owned(),
                documents: Vec::new(),
            }))
            .await
            .map(drop),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    after_step(result, "/disputes", &id, &step, |refused| {
        dispute_page(&viewer, &id, refused)
    })
    .await
}
