//! Cases: the agency's referrals and disputes, and a case's timeline with its deadlines and
//! the signed receipts that prove its steps.

use axum::extract::{Path, Query};
use axum::response::{Html, IntoResponse, Redirect, Response};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::case_service_server::CaseService as _;
use casebridge_proto::v1::deadline_service_server::DeadlineService as _;
use casebridge_proto::v1::dispute_service_server::DisputeService as _;
use casebridge_proto::v1::referral_service_server::ReferralService as _;
use serde::Deserialize;

use super::board::obligations_table;
use super::parts::{Look, enum_name, failed, history_table, status_text};
use crate::console::html::{self, Markup, markup, notice, page};
use crate::console::viewer::Viewer;

#[derive(Debug, Deserialize)]
pub(super) struct CasesQuery {
    #[serde(default)]
    id: String,
}

/// Opens a case by id, and lists the agency's referrals and disputes.
pub(super) async fn cases(viewer: Viewer, Query(q): Query<CasesQuery>) -> Response {
    let lang = viewer.lang;
    let id = q.id.trim();
    if !id.is_empty() {
        return Redirect::to(&format!("/cases/{}", html::url_value(id))).into_response();
    }
    let look = Look::of(&viewer);
    let mut body = markup!(
        "<form class=\"filters\" method=\"get\" action=\"/cases\"><label>{}<input name=\"id\" size=\"40\"></label><button>{}</button></form>",
        lang.t("案件编号", "Case id"),
        lang.t("打开", "Open"),
    );
    let listing = pb::ListCasesRequest {
        status: String::new(),
        role: 0,
        page_size: 50,
        page_token: String::new(),
    };
    let referrals = viewer
        .state
        .referrals
        .list_referrals(viewer.request(listing.clone()))
        .await;
    let disputes = viewer
        .state
        .disputes
        .list_disputes(viewer.request(listing))
        .await;
    for (title, listed) in [
        (lang.t("涉嫌犯罪案件移送", "Criminal referrals"), referrals),
        (lang.t("管辖争议", "Jurisdiction disputes"), disputes),
    ] {
        markup_into!(body, "<h2>{}</h2>", title);
        match listed {
            Ok(r) => body.push(cases_table(&look, &r.into_inner().cases, "/cases")),
            Err(status) => body.push(notice("error", &status_text(&status))),
        }
    }
    Html(page(&viewer.frame("/cases"), lang.t("案件", "Cases"), &body).into_string())
        .into_response()
}

pub(super) fn cases_table(look: &Look, cases: &[pb::CaseSummary], base: &str) -> Markup {
    let lang = look.lang;
    if cases.is_empty() {
        return markup!("<p class=\"muted\">{}</p>", lang.t("暂无。", "None."));
    }
    let mut out = markup!(
        "<table class=\"cases\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("案件", "Case"),
        lang.t("状态", "Status"),
        lang.t("最近更新", "Last step"),
        lang.t("编号", "Id"),
    );
    for c in cases {
        markup_into!(
            out,
            "<tr><td><a class=\"case\" href=\"{base}/{id}\">{headline}</a></td><td class=\"status\">{status}</td><td>{at}</td><td class=\"mono\">{id}</td></tr>",
            base = base,
            id = c.case_id,
            headline = c.headline,
            status = html::status(lang, &c.status),
            at = html::time(c.updated_at.as_ref()),
        );
    }
    out.push(markup!("</table>"));
    out
}

/// Every step, document and deadline of a case, and the signed receipts that prove its steps.
pub(super) async fn timeline(viewer: Viewer, Path(id): Path<String>) -> Response {
    let lang = viewer.lang;
    let path = format!("/cases/{id}");
    let timeline = match viewer
        .state
        .cases
        .get_timeline(viewer.request(pb::GetTimelineRequest {
            case_id: id.clone(),
        }))
        .await
    {
        Ok(t) => t.into_inner(),
        Err(status) => return failed(&viewer, &path, &status),
    };
    let look = Look::of(&viewer);
    let mut body = timeline_head(&look, &timeline);

    markup_into!(body, "<h2>{}</h2>", lang.t("期限", "Deadlines"));
    match viewer
        .state
        .deadlines
        .list_case_deadlines(viewer.request(pb::ListCaseDeadlinesRequest {
            case_id: id.clone(),
        }))
        .await
    {
        Ok(d) => body.push(obligations_table(&look, &d.into_inner().obligations, false)),
        Err(status) if status.code() == tonic::Code::NotFound => {
            markup_into!(
                body,
                "<p class=\"muted\">{}</p>",
                lang.t("无期限记录。", "No deadlines recorded.")
            );
        }
        Err(status) => body.push(notice("error", &status_text(&status))),
    }

    markup_into!(
        body,
        "<h2>{}</h2><p class=\"muted\">{}</p>",
        lang.t("回执与全过程记录", "Receipts and the full-process record"),
        lang.t(
            "每个已受理步骤的签名回执：内容摘要、受理时间、在哈希链中的位置及运营方签名。可用 casebridge ledger verify-receipt 离线验证。",
            "The signed receipt of every accepted step: digest of what was accepted, when, its place in the hash chain, and the operator's signature. Check one offline with casebridge ledger verify-receipt."
        ),
    );
    body.push(receipts_table(&look, &timeline.receipts));
    let title = lang.t("案件全过程", "Case timeline");
    Html(page(&viewer.frame(&path), title, &body).into_string()).into_response()
}

pub(super) fn receipts_table(look: &Look, receipts: &[pb::Receipt]) -> Markup {
    let lang = look.lang;
    if receipts.is_empty() {
        return markup!(
            "<p class=\"muted\">{}</p>",
            lang.t("暂无回执。", "No receipts.")
        );
    }
    let mut out = markup!(
        "<table id=\"receipts\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("步骤", "Step"),
        lang.t("机关", "Agency"),
        lang.t("受理时间", "Accepted"),
        lang.t("记录位置", "Record"),
        lang.t("链哈希 / 签名密钥", "Chain hash / key"),
    );
    for r in receipts {
        markup_into!(
            out,
            "<tr><td>{step}</td><td>{actor}</td><td>{at}</td><td>{service} #{first}–{last}</td>\
             <td class=\"mono\">{hash}<br>{key}</td></tr>",
            step = r.step,
            actor = look.agency_name(&r.actor),
            at = html::time(r.accepted_at.as_ref()),
            service = r.service,
            first = r.first_seq,
            last = r.last_seq,
            hash = r.chain_hash,
            key = r.key_id,
        );
    }
    out.push(markup!("</table>"));
    out
}

/// The top of a case's timeline: what it is, who the parties are, and its steps.
pub(super) fn timeline_head(look: &Look, timeline: &pb::CaseTimeline) -> Markup {
    let lang = look.lang;
    let mut body = markup!(
        "<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id=\"case-status\">{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd class=\"mono\">{}</dd></dl>",
        lang.t("类别", "Family"),
        html::family(lang, &timeline.family),
        lang.t("状态", "Status"),
        html::status(lang, &timeline.status),
        lang.t("概要", "Summary"),
        timeline.headline,
        lang.t("编号", "Id"),
        timeline.case_id,
    );
    let desk = match timeline.family.as_str() {
        "referral" => Some("/referrals"),
        "dispute" => Some("/disputes"),
        _ => None,
    };
    if let Some(desk) = desk {
        markup_into!(
            body,
            "<p><a href=\"{desk}/{id}\">{}</a></p>",
            lang.t("办理此案件", "act on this case"),
            desk = desk,
            id = timeline.case_id
        );
    }
    markup_into!(body, "<h2>{}</h2><ul>", lang.t("当事机关", "Parties"));
    for p in &timeline.parties {
        let role = pb::PartyRole::try_from(p.role)
            .map(|r| enum_name(r.as_str_name(), "PARTY_ROLE_"))
            .unwrap_or_default();
        markup_into!(
            body,
            "<li>{} <span class=\"muted\">{}</span></li>",
            p.name,
            role
        );
    }
    body.push(markup!("</ul>"));
    markup_into!(body, "<h2>{}</h2>", lang.t("办理过程", "Steps"));
    let history: Vec<pb::HistoryEntry> = timeline
        .steps
        .iter()
        .filter_map(|s| s.entry.clone())
        .collect();
    body.push(history_table(look, &history));
    body
}
