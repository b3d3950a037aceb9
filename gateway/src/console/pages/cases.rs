//! Cases: the agency's cases of every family, and a case's timeline with its deadlines and the
//! signed receipts that prove its steps.

use axum::extract::{Path, Query};
use axum::response::{Html, IntoResponse, Redirect, Response};
use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::case_service_server::CaseService as _;
use casebridge_proto::v1::deadline_service_server::DeadlineService as _;
use serde::Deserialize;

use super::board::obligations_table;
use super::lists::{ListParams, desk_of, family_page};
use super::parts::{
    Look, enum_name, failed, history_table, option, role_name, status_text, step_name,
};
use crate::console::html::{self, Lang, Markup, markup, notice, page};
use crate::console::viewer::Viewer;

/// `/cases`: opens a case by id, or lists the agency's cases: of every family (the first page of
/// each), or of one, filtered by status and role and paged.
pub(super) async fn cases(viewer: Viewer, Query(q): Query<CasesQuery>) -> Response {
    let lang = viewer.lang;
    let id = q.id.trim();
    if !id.is_empty() {
        return Redirect::to(&format!("/cases/{}", html::url_value(id))).into_response();
    }
    let params = q.list;
    let mut body = filters(lang, &params);
    let families: Vec<Family> = match Family::parse(&params.family) {
        Some(one) => vec![one],
        None => Family::ALL.to_vec(),
    };
    for family in &families {
        markup_into!(
            body,
            "<h2 id=\"family-{}\">{}</h2>",
            family.as_str(),
            html::family(lang, family.as_str())
        );
        let mut one = params.clone();
        one.family = family.as_str().to_owned();
        body.push(family_page(&viewer, *family, &one, "/cases").await);
    }
    Html(page(&viewer.frame("/cases"), lang.t("案件", "Cases"), &body).into_string())
        .into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct CasesQuery {
    #[serde(default)]
    id: String,
    #[serde(flatten)]
    list: ListParams,
}

/// The filters of `/cases`: a case id to open, the family, the status and the viewer's role.
fn filters(lang: Lang, params: &ListParams) -> Markup {
    let choice = |value: &str, label: &str, current: &str| option(value, label, value == current);
    let mut families = choice("", lang.t("全部", "All"), &params.family);
    for family in Family::ALL {
        families.push(choice(
            family.as_str(),
            html::family(lang, family.as_str()),
            &params.family,
        ));
    }
    let mut roles = choice("", lang.t("任意", "Any"), &params.role);
    for role in [
        pb::PartyRole::Sender,
        pb::PartyRole::Recipient,
        pb::PartyRole::Procuratorate,
        pb::PartyRole::Coordination,
        pb::PartyRole::Expert,
        pb::PartyRole::SuperiorProcuratorate,
    ] {
        let name = enum_name(role.as_str_name(), "PARTY_ROLE_");
        roles.push(choice(&name, role_name(lang, role), &params.role));
    }
    markup!(
        "<form class=\"filters\" method=\"get\" action=\"/cases\"><label>{}<input name=\"id\" size=\"38\"></label><button>{}</button></form>\
         <form class=\"filters\" method=\"get\" action=\"/cases\" id=\"case-filters\"><label>{}<select name=\"family\">{}</select></label>\
         <label>{}<input name=\"status\" value=\"{}\" placeholder=\"received\"></label><label>{}<select name=\"role\">{}</select></label><button>{}</button></form>",
        lang.t("案件编号", "Case id"),
        lang.t("打开", "Open"),
        lang.t("类别", "Family"),
        families,
        lang.t("状态代码", "Status code"),
        params.status,
        lang.t("本机关角色", "Our role"),
        roles,
        lang.t("筛选", "Filter"),
    )
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
        Err(status) => body.push(notice("error", &status_text(lang, &status))),
    }

    markup_into!(
        body,
        "<h2>{}</h2><p class=\"muted\">{}<code>casebridge ledger verify-receipt</code>{}</p>",
        lang.t("回执与全过程记录", "Receipts and the full-process record"),
        lang.t(
            "每个已受理步骤的签名回执：内容摘要、受理时间、在哈希链中的位置及运营方签名。可用 ",
            "The signed receipt of every accepted step: digest of what was accepted, when, its place in the hash chain, and the operator's signature. Check one offline with "
        ),
        lang.t(" 离线验证。", "."),
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
            step = step_name(lang, &r.step),
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
    let desk = Family::parse(&timeline.family).map(desk_of);
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
        let role = role_name(
            lang,
            pb::PartyRole::try_from(p.role).unwrap_or(pb::PartyRole::Unspecified),
        );
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
