//! The referral desk (police): incoming referrals of suspected crimes, a receipt, a request for
//! missing materials, and the decision to file or not (310号令).

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::referral_service_server::ReferralService as _;

use super::desk::{self, CaseDesk, DoneQuery, Fact, Fields, after_step, step_form};
use super::parts::{Look, documents_list, enum_name, failed, forbidden};
use crate::console::html::{self, Markup, markup};
use crate::console::viewer::Viewer;

/// The police's incoming referrals, newest change first.
pub(super) async fn referrals(viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let request = pb::ListCasesRequest {
        status: String::new(),
        role: pb::PartyRole::Recipient as i32,
        page_size: 100,
        page_token: String::new(),
    };
    let listed = viewer
        .state
        .referrals
        .list_referrals(viewer.request(request))
        .await;
    desk::list(
        &viewer,
        "/referrals",
        lang.t("收到的移送案件", "Incoming referrals"),
        listed,
    )
}

pub(super) async fn referral(
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    referral_page(&viewer, &id, q.message(viewer.lang)).await
}

async fn referral_page(viewer: &Viewer, id: &str, message: Option<Markup>) -> Response {
    let path = format!("/referrals/{id}");
    match viewer
        .state
        .referrals
        .get_referral(viewer.request(pb::GetReferralRequest {
            referral_id: id.to_owned(),
        }))
        .await
    {
        Ok(r) => referral_desk(&Look::of(viewer), &r.into_inner()).page(viewer, &path, message),
        Err(status) => failed(viewer, &path, &status),
    }
}

/// A referral at the police's desk: its facts and package, and the steps the police may take.
pub(super) fn referral_desk<'a>(look: &Look, referral: &'a pb::Referral) -> CaseDesk<'a> {
    let lang = look.lang;
    let status =
        pb::ReferralStatus::try_from(referral.status).unwrap_or(pb::ReferralStatus::Unspecified);
    let flags: Vec<&str> = referral
        .flags
        .iter()
        .filter_map(|f| f.flag.as_ref())
        .map(|f| match f {
            pb::referral_flag::Flag::SubmittedLate(_) => lang.t(
                "批准后超过24小时移送 (S1-5c)",
                "sent over 24 h after approval (S1-5c)",
            ),
            pb::referral_flag::Flag::ApprovalLate(_) => {
                lang.t("超过3日批准 (S1-5b)", "approved after 3 days (S1-5b)")
            }
            pb::referral_flag::Flag::NoProcuratorateInRegion(_) => lang.t(
                "同级无人民检察院可抄送",
                "no procuratorate in the region to copy",
            ),
            pb::referral_flag::Flag::StepLate(_) => {
                lang.t("有步骤逾期办理", "a step was taken late")
            }
        })
        .collect();
    let facts = vec![
        Fact::with_id(
            lang.t("状态", "Status"),
            "referral-status",
            html::status(lang, &enum_name(status.as_str_name(), "REFERRAL_STATUS_")),
        ),
        Fact::new(
            lang.t("移送机关", "Sent by"),
            Markup::text(&look.agency_name(&referral.sender)),
        ),
        Fact::new(
            lang.t("涉嫌罪名", "Suspected offence"),
            Markup::text(&referral.suspected_offence),
        ),
        Fact::new(
            lang.t("案件基本情况", "Facts"),
            Markup::text(&referral.summary),
        ),
        Fact::new(
            lang.t("移送时间", "Submitted"),
            Markup::text(&html::time(referral.submitted_at.as_ref())),
        ),
        Fact::new(
            lang.t("抄送", "Copied to"),
            Markup::text(&look.agency_name(&referral.procuratorate)),
        ),
        Fact::new(lang.t("提示", "Flags"), Markup::text(&flags.join("; "))),
    ];
    let sections = markup!(
        "<p><a href=\"/cases/{id}\">{}</a></p><h2>{}</h2>{}",
        lang.t("案件全过程与期限", "timeline and deadlines"),
        lang.t("移送材料", "Package"),
        documents_list(&referral.documents),
        id = referral.id,
    );
    let mut actions = Vec::new();
    let form = |step: &str, inner: Markup| step_form(look, "/referrals", &referral.id, step, inner);
    match status {
        pb::ReferralStatus::Submitted => actions.push(form(
            "receipt",
            markup!(
                "<p>{}</p><button>{}</button>",
                lang.t(
                    "签收回执即确认收到移送材料（310号令第7条）。",
                    "Signing the receipt confirms the package arrived (S1 Art 7)."
                ),
                lang.t("签收回执", "Sign the receipt")
            ),
        )),
        pb::ReferralStatus::Received | pb::ReferralStatus::AwaitingSupplement => {
            let mut kinds = Markup::new();
            for kind in [
                pb::DocumentKind::ReferralLetter,
                pb::DocumentKind::InvestigationReport,
                pb::DocumentKind::SeizedItemsList,
                pb::DocumentKind::TestReport,
                pb::DocumentKind::PenaltyDecision,
                pb::DocumentKind::Other,
            ] {
                let name = enum_name(kind.as_str_name(), "DOCUMENT_KIND_");
                markup_into!(
                    kinds,
                    "<label class=\"check\"><span><input type=\"checkbox\" name=\"missing\" value=\"{name}\"> {name}</span></label>",
                    name = name
                );
            }
            actions.push(form(
                "supplement",
                markup!(
                    "<b>{}</b>{kinds}<label>{}<textarea name=\"note\"></textarea></label><button>{}</button>",
                    lang.t("要求补充材料", "Request missing materials"),
                    lang.t("说明", "Note"),
                    lang.t("发出补充材料要求", "Send the request"),
                    kinds = kinds,
                ),
            ));
            // Two forms, each with its own button: the decision is what the officer clicks,
            // never a preselected choice that a refused form could reset (issue 15: declining
            // without reasons was refused, the choice went back to 立案, and the next click filed).
            actions.push(form(
                "file",
                markup!(
                    "<b>{}</b><label>{}<textarea name=\"note\"></textarea></label><button>{}</button>",
                    lang.t("立案（310号令第8条，3日内）", "File the case (S1 Art 8, within 3 days)"),
                    lang.t("说明（可不填）", "Note (optional)"),
                    lang.t("决定立案", "File the case (立案)"),
                ),
            ));
            actions.push(form(
                "decline",
                markup!(
                    "<b>{}</b><label>{}<textarea name=\"reasons\" required></textarea></label><button>{}</button>",
                    lang.t("不予立案（须说明理由，退回材料）", "Decline to file (reasons required; materials returned)"),
                    lang.t("不予立案的理由", "Reasons"),
                    lang.t("决定不予立案", "Decline to file (不予立案)"),
                ),
            ));
        }
        _ => {}
    }
    CaseDesk {
        title: format!(
            "{} · {}",
            lang.t("移送案件", "Referral"),
            referral.suspected_offence
        ),
        facts,
        sections,
        actions,
        history: &referral.history,
    }
}

pub(super) async fn referral_step(
    viewer: Viewer,
    Path((id, step)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let Some(fields) = Fields::check(form, &viewer) else {
        return forbidden(viewer.lang);
    };
    let grpc = &viewer.state.referrals;
    let (request_id, referral_id) = (fields.request_id(), id.clone());
    let result = match step.as_str() {
        "receipt" => grpc
            .sign_receipt(viewer.request(pb::SignReceiptRequest {
                request_id,
                referral_id,
            }))
            .await
            .map(drop),
        "supplement" => {
            let missing = fields
                .all("missing")
                .map(|name| {
                    pb::DocumentKind::from_str_name(&format!(
                        "DOCUMENT_KIND_{}",
                        name.to_ascii_uppercase()
                    ))
                    .map_or(0, |k| k as i32)
                })
                .collect();
            grpc.request_supplement(viewer.request(pb::RequestSupplementRequest {
                request_id,
                referral_id,
                missing,
                note: fields.get("note").to_owned(),
            }))
            .await
            .map(drop)
        }
        "decide" | "file" | "decline" => {
            // The decision is named by the form (or, on the older single form, by `decision`);
            // nothing is ever filed by default.
            let chosen = match step.as_str() {
                "decide" => fields.get("decision"),
                other => other,
            };
            let decision = match chosen {
                "decline" => Some(pb::decide_filing_request::Decision::Decline(
                    pb::DeclineToFile {
                        reasons: fields.get("reasons").to_owned(),
                    },
                )),
                "file" => Some(pb::decide_filing_request::Decision::File(pb::FileCase {
                    note: [fields.get("note"), fields.get("reasons")].concat(),
                })),
                _ => None,
            };
            match decision {
                Some(decision) => grpc
                    .decide_filing(viewer.request(pb::DecideFilingRequest {
                        request_id,
                        referral_id,
                        decision: Some(decision),
                    }))
                    .await
                    .map(drop),
                None => Err(tonic::Status::invalid_argument(
                    "decision: choose 立案 (file) or 不予立案 (decline); nothing was decided",
                )),
            }
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    after_step(result, "/referrals", &id, &step, |refused| {
        referral_page(&viewer, &id, refused)
    })
    .await
}
