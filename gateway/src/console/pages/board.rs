//! The overdue board: the obligations the agency may see, overdue or due soon, with their due
//! times, how they were counted, and whose move it is.

use axum::extract::Query;
use axum::response::{Html, IntoResponse, Response};
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::monitor_service_server::MonitorService as _;
use serde::Deserialize;

use super::parts::{Look, option, status_text};
use crate::console::html::{self, Lang, Markup, markup, notice, page};
use crate::console::viewer::Viewer;

#[derive(Debug, Default, Deserialize)]
pub(super) struct BoardQuery {
    #[serde(default)]
    pub(super) view: String,
    #[serde(default)]
    pub(super) agency: String,
    #[serde(default)]
    pub(super) family: String,
    #[serde(default)]
    pub(super) rule: String,
    #[serde(default)]
    pub(super) region: String,
    #[serde(default)]
    pub(super) page: String,
}

/// Overdue and due-soon obligations the agency may see, each with its due time, why, how long
/// past due and whose move it is.
pub(super) async fn board(viewer: Viewer, Query(q): Query<BoardQuery>) -> Response {
    let lang = viewer.lang;
    let view = match q.view.as_str() {
        "due_soon" => pb::ObligationView::DueSoon,
        "open" => pb::ObligationView::Open,
        _ => pb::ObligationView::Overdue,
    };
    let request = pb::ListObligationsRequest {
        view: view as i32,
        as_of: None,
        due_within_hours: 0,
        agency: q.agency.clone(),
        family: q.family.clone(),
        rule: q.rule.clone(),
        region: q.region.clone(),
        case_id: String::new(),
        page_size: 100,
        page_token: q.page.clone(),
    };
    let look = Look::of(&viewer);
    let mut body = calendar_warning(&viewer);
    body.push(board_filters(&look, &q, view));
    match viewer
        .state
        .monitor
        .list_obligations(viewer.request(request))
        .await
    {
        Ok(response) => {
            let response = response.into_inner();
            body.push(obligations_table(&look, &response.obligations, true));
            if !response.next_page_token.is_empty() {
                markup_into!(
                    body,
                    "<p><a href=\"/board?view={}&amp;agency={}&amp;family={}&amp;rule={}&amp;region={}&amp;page={}\">{}</a></p>",
                    q.view,
                    html::url_value(&q.agency),
                    html::url_value(&q.family),
                    html::url_value(&q.rule),
                    html::url_value(&q.region),
                    html::url_value(&response.next_page_token),
                    lang.t("下一页", "next page")
                );
            }
        }
        // A bad filter is the user's to fix: show it above the form, keep the form.
        Err(status) => body.prepend(notice("error", &status_text(viewer.lang, &status))),
    }
    let title = lang.t("逾期与即将到期", "Overdue and due soon");
    Html(page(&viewer.frame("/board"), title, &body).into_string()).into_response()
}

/// The operator's warning, from 1 October, that a year's official holiday schedule is missing:
/// due times in that year are provisional until it is installed.
fn calendar_warning(viewer: &Viewer) -> Markup {
    viewer
        .state
        .ctx
        .missing_calendar_years()
        .into_iter()
        .map(|year| {
            let text = viewer.lang.t(
                &format!(
                    "{year}年国务院节假日安排尚未安装：{year}年内的期限暂按法定节假日计算（不含调休上班日），标为“暂定”；安装后自动重新计算并通知各方"
                ),
                &format!(
                    "The official {year} holiday schedule is not installed: due times in {year} are counted provisionally on the statutory holidays (no make-up working days) and marked provisional; installing it recounts them and tells the parties"
                ),
            )
            .to_owned();
            let (open, close) = (viewer.lang.t("（", " ("), viewer.lang.t("）。", ")."));
            markup!(
                "<p class=\"notice warning calendar-missing\" role=\"status\">{}{}<code>casebridge calendar install {}.toml</code>{}</p>",
                text,
                open,
                year,
                close
            )
        })
        .collect()
}

pub(super) fn board_filters(look: &Look, q: &BoardQuery, view: pb::ObligationView) -> Markup {
    let lang = look.lang;
    let choice = |value: &str, label: &str, current: &str| option(value, label, value == current);
    let current_view = match view {
        pb::ObligationView::DueSoon => "due_soon",
        pb::ObligationView::Open => "open",
        _ => "overdue",
    };
    let mut agencies = choice("", lang.t("全部", "all"), &q.agency);
    for a in look.directory.agencies() {
        agencies.push(choice(a.code.as_str(), &a.name, &q.agency));
    }
    let mut families = choice("", lang.t("全部", "all"), &q.family);
    for f in ["referral", "transfer", "dispute", "opinion"] {
        families.push(choice(f, html::family(lang, f), &q.family));
    }
    markup!(
        "<form class=\"filters\" method=\"get\" action=\"/board\">\
         <label>{lv}<select name=\"view\">{views}</select></label>\
         <label>{la}<select name=\"agency\">{agencies}</select></label>\
         <label>{lf}<select name=\"family\">{families}</select></label>\
         <label>{lr}<input name=\"rule\" value=\"{rule}\" size=\"8\" placeholder=\"S1-8\"></label>\
         <label>{lg}<input name=\"region\" value=\"{region}\" size=\"8\" placeholder=\"350100\"></label>\
         <button>{go}</button></form>",
        lv = lang.t("范围", "View"),
        views = [
            choice("overdue", lang.t("已逾期", "overdue"), current_view),
            choice(
                "due_soon",
                lang.t("24小时内到期", "due within 24 h"),
                current_view
            ),
            choice("open", lang.t("全部未办结", "all open"), current_view),
        ]
        .into_iter()
        .collect::<Markup>(),
        agencies = agencies,
        families = families,
        la = lang.t("办理机关", "Owing agency"),
        lf = lang.t("类别", "Family"),
        lr = lang.t("规则", "Rule"),
        rule = q.rule,
        lg = lang.t("行政区划", "Region"),
        region = q.region,
        go = lang.t("筛选", "Filter"),
    )
}

/// Obligations as a table; `link_case` adds a link to each case's timeline.
pub(super) fn obligations_table(
    look: &Look,
    obligations: &[pb::Obligation],
    link_case: bool,
) -> Markup {
    let lang = look.lang;
    if obligations.is_empty() {
        return markup!(
            "<p class=\"muted\" id=\"no-obligations\">{}</p>",
            lang.t("没有符合条件的期限。", "No deadlines match.")
        );
    }
    let count = match (lang, obligations.len()) {
        (Lang::Zh, n) => format!("共 {n} 项期限"),
        (Lang::En, 1) => "1 deadline".to_owned(),
        (Lang::En, n) => format!("{n} deadlines"),
    };
    let mut out = markup!(
        "<p>{}</p><table id=\"obligations\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        count,
        lang.t("案件", "Case"),
        lang.t("规则", "Rule"),
        lang.t("应办事项", "Step owed"),
        lang.t("当前由谁办理", "Whose move"),
        lang.t("期限届满", "Due"),
        lang.t("逾期时长", "Overdue by"),
        lang.t("监督机关", "Supervisor"),
        lang.t("状态", "Stage"),
    );
    for o in obligations {
        let case = if link_case {
            markup!(
                "<a class=\"case-link\" href=\"/cases/{id}\">{family}</a><br><span class=\"mono\">{id}</span>",
                id = o.case_id,
                family = html::family(lang, &o.family)
            )
        } else {
            Markup::text(html::family(lang, &o.family))
        };
        // The Chinese texts, where the deadlines service gave them (an older one gives none).
        let (step, lines) = match lang {
            Lang::Zh if !o.step_zh.is_empty() => (&o.step_zh, &o.explanation_zh),
            _ => (&o.step, &o.explanation),
        };
        let explanation: Markup = lines
            .iter()
            .map(|line| markup!("<li>{}</li>", line))
            .collect();
        markup_into!(
            out,
            "<tr class=\"{stage_class} obligation\" data-rule=\"{rule}\" data-case=\"{case_id}\">\
             <td>{case}</td><td>{rule}</td><td>{step}<details><summary>{why}</summary><ul>{explanation}</ul></details></td>\
             <td class=\"owed-by\">{owed_by}</td><td>{due}</td><td class=\"overdue\">{ageing}</td><td>{supervisor}</td><td>{stage}{late}</td></tr>",
            stage_class = o.stage,
            rule = o.rule,
            case_id = o.case_id,
            step = step,
            case = case,
            explanation = explanation,
            why = lang.t("期限如何计算", "how the due time was counted"),
            owed_by = o.owed_by_name,
            due = if o.provisional {
                markup!(
                    "{}<br><span class=\"provisional\" title=\"{}\">{}</span>",
                    html::time(o.due_at.as_ref()),
                    lang.t(
                        "该年度国务院节假日安排尚未发布，暂按法定节假日计算（不含调休上班日），发布后重新计算",
                        "the year's official holiday schedule is not yet published: counted on the statutory holidays, without make-up working days; recounted once it is installed"
                    ),
                    lang.t("暂定", "provisional")
                )
            } else {
                Markup::text(&html::time(o.due_at.as_ref()))
            },
            ageing = html::ageing(lang, o.overdue_hours),
            supervisor = look.agency_name(&o.supervisor),
            stage = html::stage(lang, &o.stage),
            late = if o.late {
                lang.t("（逾期办结）", " (late)")
            } else {
                ""
            },
        );
    }
    out.push(markup!("</table>"));
    out
}
