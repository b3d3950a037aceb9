//! The opinion desk: requests for a determination, test, forensic opinion or assistance
//! (认定、检验、鉴定 / 协助调查). The department accepts or refuses, asks for material, announces a
//! new date (an extension with its approval) and delivers the written opinion; the requester
//! supplies the material asked for.

use axum::extract::Query;
use axum::response::Response;
use casebridge_core::directory::AgencyKind;
use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::deadline_service_server::DeadlineService as _;
use casebridge_proto::v1::opinion_service_server::OpinionService as _;

use super::desk::{self, CaseDesk, Desk, Fact};
use super::forms::{Field, Fields, StepForm};
use super::lists::ListParams;
use super::parts::{Look, documents_list, enum_name};
use crate::console::html::{self, Lang, Markup, markup};
use crate::console::viewer::Viewer;

/// The agency's requests: for a department those it was asked, for others those it made.
pub(super) async fn opinions(viewer: Viewer, Query(params): Query<ListParams>) -> Response {
    let asked = [
        ("expert", "收到的委托", "Asked of us"),
        ("sender", "本机关的委托", "Our requests"),
        ("", "全部", "All"),
    ];
    let made = [
        ("sender", "本机关的委托", "Our requests"),
        ("expert", "收到的委托", "Asked of us"),
        ("", "全部", "All"),
    ];
    let tabs = if viewer.agency.kind == AgencyKind::Expert {
        &asked
    } else {
        &made
    };
    let title = viewer.lang.t("认定、检验、鉴定", "Expert opinions");
    desk::list(&viewer, Family::Opinion, "/opinions", title, tabs, params).await
}

/// The opinion desk.
pub(super) struct OpinionDesk;

impl Desk for OpinionDesk {
    const BASE: &'static str = "/opinions";
    type Case = pb::OpinionRequest;

    async fn load(viewer: &Viewer, id: &str) -> Result<pb::OpinionRequest, tonic::Status> {
        viewer
            .state
            .opinions
            .get_opinion(viewer.request(pb::GetOpinionRequest {
                opinion_id: id.to_owned(),
            }))
            .await
            .map(tonic::Response::into_inner)
    }

    fn desk<'a>(look: &Look, request: &'a pb::OpinionRequest) -> CaseDesk<'a> {
        opinion_desk(look, request)
    }

    async fn take(
        viewer: &Viewer,
        id: &str,
        step: &str,
        fields: &Fields,
    ) -> Option<Result<(), tonic::Status>> {
        take(viewer, id, step, fields).await
    }
}

/// An opinion kind's name.
fn kind_name(lang: Lang, kind: pb::OpinionKind) -> &'static str {
    match kind {
        pb::OpinionKind::Unspecified => lang.t("未注明", "unspecified"),
        pb::OpinionKind::Determination => lang.t("认定", "determination"),
        pb::OpinionKind::Test => lang.t("检验", "test"),
        pb::OpinionKind::Forensic => lang.t("鉴定", "forensic opinion"),
        pb::OpinionKind::Assistance => lang.t("协助调查", "assistance"),
    }
}

/// What an opinion may conclude, as the deliver form offers it.
fn findings(lang: Lang) -> Vec<(String, String)> {
    [
        (
            pb::OpinionFinding::Affirmative,
            lang.t(
                "是 / 属于 / 符合",
                "yes: it is, belongs, meets the standard",
            ),
        ),
        (
            pb::OpinionFinding::Negative,
            lang.t("否 / 不属于 / 不符合", "no"),
        ),
        (
            pb::OpinionFinding::Quantified,
            lang.t(
                "数额或数量（见结论）",
                "a measured quantity (in the conclusion)",
            ),
        ),
        (
            pb::OpinionFinding::AssistanceGiven,
            lang.t("已协助（协助调查）", "assistance given"),
        ),
    ]
    .into_iter()
    .map(|(f, label)| {
        (
            enum_name(f.as_str_name(), "OPINION_FINDING_"),
            label.to_owned(),
        )
    })
    .collect()
}

/// A request at its desk.
pub(super) fn opinion_desk<'a>(look: &Look, request: &'a pb::OpinionRequest) -> CaseDesk<'a> {
    let lang = look.lang;
    let status =
        pb::OpinionStatus::try_from(request.status).unwrap_or(pb::OpinionStatus::Unspecified);
    let kind = pb::OpinionKind::try_from(request.kind).unwrap_or(pb::OpinionKind::Unspecified);
    let name = |code: &str| Markup::text(&look.agency_name(code));
    let mut facts = vec![
        Fact::with_id(
            lang.t("状态", "Status"),
            "opinion-status",
            html::status(lang, &enum_name(status.as_str_name(), "OPINION_STATUS_")),
        ),
        Fact::new(lang.t("委托机关", "Requested by"), name(&request.requester)),
        Fact::new(lang.t("受托机构", "Department"), name(&request.expert)),
        Fact::new(lang.t("事项", "Kind"), Markup::text(kind_name(lang, kind))),
        Fact::new(
            lang.t("委托事项", "Question"),
            Markup::text(&request.question),
        ),
        Fact::new(
            lang.t("委托时间", "Requested"),
            Markup::text(&html::time(request.requested_at.as_ref())),
        ),
    ];
    if !request.refusal.is_empty() {
        facts.push(Fact::new(
            lang.t("不予受理理由", "Reasons for refusing"),
            Markup::text(&request.refusal),
        ));
    }
    if let Some(opinion) = &request.opinion {
        facts.push(Fact::with_id(
            lang.t("结论", "Conclusion"),
            "conclusion",
            Markup::text(&opinion.conclusion),
        ));
    }
    let mut sections = markup!(
        "<p><a href=\"/cases/{id}\">{}</a></p>",
        lang.t("案件全过程与期限", "timeline and deadlines"),
        id = request.id,
    );
    if !request.under_case_id.is_empty() {
        markup_into!(
            sections,
            "<p><a href=\"/cases/{id}\">{}</a></p>",
            lang.t(
                "所涉案件（期限中止计算）",
                "the case it is for (its clock is stopped)"
            ),
            id = request.under_case_id
        );
    }
    markup_into!(
        sections,
        "<h2>{}</h2>{}",
        lang.t("材料与意见", "Material and opinion"),
        documents_list(lang, &request.documents)
    );
    let me = look.me.as_str();
    let mut forms = Vec::new();
    if request.expert == me {
        forms.extend(department_forms(lang, status));
    }
    if request.requester == me && status == pb::OpinionStatus::AwaitingMaterial {
        forms.push(
            StepForm::new(
                "supply",
                lang.t("补充材料", "Supply the material"),
                lang.t("提交材料", "Supply"),
            )
            .field(Field::line("document", lang.t("材料名称", "Document title")).required())
            .field(Field::text("note", lang.t("说明", "Note"))),
        );
    }
    CaseDesk {
        base: OpinionDesk::BASE,
        id: &request.id,
        title: format!("{} · {}", lang.t("委托", "Request"), kind_name(lang, kind)),
        facts,
        sections,
        forms,
        history: &request.history,
    }
}

/// The department's steps.
fn department_forms(lang: Lang, status: pb::OpinionStatus) -> Vec<StepForm> {
    let mut forms = Vec::new();
    match status {
        pb::OpinionStatus::Requested => {
            forms.push(
                StepForm::new(
                    "accept",
                    lang.t("受理（7个工作日内）", "Accept (within 7 working days)"),
                    lang.t("受理", "Accept"),
                )
                .field(Field::text("note", lang.t("说明", "Note"))),
            );
            forms.push(
                StepForm::new(
                    "refuse",
                    lang.t("不予受理（说明理由）", "Refuse (with reasons)"),
                    lang.t("不予受理", "Refuse"),
                )
                .field(Field::text("reasons", lang.t("理由", "Reasons")).required()),
            );
        }
        pb::OpinionStatus::Accepted => {
            forms.push(
                StepForm::new(
                    "material",
                    lang.t(
                        "要求补充材料（期限暂停计算）",
                        "Ask for material (the clock stops)",
                    ),
                    lang.t("发出要求", "Ask"),
                )
                .field(Field::text("needed", lang.t("所需材料", "What is needed")).required()),
            );
            forms.push(
                StepForm::new(
                    "extend",
                    lang.t(
                        "告知新的办结日期（延长，须经批准）",
                        "Announce a new date (an extension, approved)",
                    ),
                    lang.t("告知", "Announce"),
                )
                .field(Field::date("until", lang.t("新的办结日期", "New date")).required())
                .field(Field::text("reason", lang.t("延长理由", "Reason")).required())
                .field(
                    Field::line("approval", lang.t("批准文号", "Approval reference")).required(),
                ),
            );
            forms.push(
                StepForm::new(
                    "deliver",
                    lang.t("出具书面意见", "Deliver the written opinion"),
                    lang.t("出具意见", "Deliver"),
                )
                .field(Field::choice(
                    "finding",
                    lang.t("结论类型", "Finding"),
                    findings(lang),
                ))
                .field(Field::text("conclusion", lang.t("结论", "Conclusion")).required())
                .field(Field::text("basis", lang.t("检验情况（可不填）", "Basis (optional)")))
                .field(Field::line(
                    "document",
                    lang.t("意见书名称（可不填）", "Opinion document title (optional)"),
                ))
                .confirm(lang.t(
                    "出具意见：结论将送达委托机关，出具后不能修改。",
                    "Deliver the opinion: the conclusion goes to the requester and cannot be changed.",
                )),
            );
        }
        _ => {}
    }
    forms
}

/// The opinion step a form posts, sent as the viewer.
async fn take(
    viewer: &Viewer,
    id: &str,
    step: &str,
    fields: &Fields,
) -> Option<Result<(), tonic::Status>> {
    let grpc = &viewer.state.opinions;
    let (request_id, opinion_id) = (fields.request_id().to_owned(), id.to_owned());
    let text = |name: &str| fields.get(name).to_owned();
    let document = |kind: pb::DocumentKind| {
        let title = fields.get("document").trim();
        (!title.is_empty()).then(|| pb::Document {
            kind: kind as i32,
            title: title.to_owned(),
            sha256: String::new(),
        })
    };
    let result = match step {
        "accept" => grpc
            .accept_opinion_request(viewer.request(pb::AcceptOpinionRequestRequest {
                request_id,
                opinion_id,
                note: text("note"),
            }))
            .await
            .map(drop),
        "refuse" => grpc
            .refuse_opinion_request(viewer.request(pb::RefuseOpinionRequestRequest {
                request_id,
                opinion_id,
                reasons: text("reasons"),
            }))
            .await
            .map(drop),
        "material" => grpc
            .request_material(viewer.request(pb::RequestMaterialRequest {
                request_id,
                opinion_id,
                needed: text("needed"),
            }))
            .await
            .map(drop),
        "supply" => grpc
            .supply_material(viewer.request(pb::SupplyMaterialRequest {
                request_id,
                opinion_id,
                documents: document(pb::DocumentKind::Other).into_iter().collect(),
                note: text("note"),
            }))
            .await
            .map(drop),
        "deliver" => {
            let finding = pb::OpinionFinding::from_str_name(&format!(
                "OPINION_FINDING_{}",
                fields.get("finding").to_ascii_uppercase()
            ))
            .unwrap_or(pb::OpinionFinding::Unspecified);
            grpc.deliver_opinion(viewer.request(pb::DeliverOpinionRequest {
                request_id,
                opinion_id,
                opinion: Some(pb::Opinion {
                    finding: finding as i32,
                    conclusion: text("conclusion"),
                    basis: text("basis"),
                    documents: document(pb::DocumentKind::Opinion).into_iter().collect(),
                }),
            }))
            .await
            .map(drop)
        }
        "extend" => extend(viewer, id, &request_id, fields).await,
        _ => return None,
    };
    Some(result)
}

/// Announces a new date: extends the deadline the department owes on the request now, the one
/// for the opinion itself (of its open deadlines, the one due last: the receipt's 7 working days
/// may still be open beside it).
async fn extend(
    viewer: &Viewer,
    id: &str,
    request_id: &str,
    fields: &Fields,
) -> Result<(), tonic::Status> {
    let deadlines = &viewer.state.deadlines;
    let owed = deadlines
        .list_case_deadlines(viewer.request(pb::ListCaseDeadlinesRequest {
            case_id: id.to_owned(),
        }))
        .await?
        .into_inner()
        .obligations;
    let me = viewer.agency.code.as_str();
    let Some(rule) = owed
        .iter()
        .filter(|o| o.owed_by == me && o.closed_at.is_none())
        .max_by_key(|o| o.due_at.as_ref().map_or(i64::MAX, |d| d.seconds))
        .map(|o| o.rule.clone())
    else {
        return Err(tonic::Status::failed_precondition(viewer.lang.t(
            "本机关在此委托上没有未届满的期限可以延长",
            "this department owes no open deadline on the request to extend",
        )));
    };
    deadlines
        .extend_deadline(viewer.request(pb::ExtendDeadlineRequest {
            request_id: request_id.to_owned(),
            case_id: id.to_owned(),
            rule,
            target: Some(pb::extend_deadline_request::Target::Until(
                fields.get("until").trim().to_owned(),
            )),
            approval_reference: fields.get("approval").to_owned(),
            reason: fields.get("reason").to_owned(),
        }))
        .await
        .map(drop)
}
