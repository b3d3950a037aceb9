//! The console's pages and forms. Each page asks the gateway's endpoints as the signed-in
//! agency and writes what they answer; each form takes one step and comes back to its page,
//! with the refusal (which names its rule) when the step was refused.

use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use casebridge_core::directory::AgencyKind;
use casebridge_core::ids::AgencyCode;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::case_service_server::CaseService as _;
use casebridge_proto::v1::deadline_service_server::DeadlineService as _;
use casebridge_proto::v1::dispute_service_server::DisputeService as _;
use casebridge_proto::v1::monitor_service_server::MonitorService as _;
use casebridge_proto::v1::referral_service_server::ReferralService as _;
use serde::Deserialize;

use super::html::{self, Lang, Markup, markup, notice, page};
use super::session::SESSION_COOKIE;
use super::{State, Viewer, lang_of, session_of};

/// `markup!` appended to `out`.
macro_rules! markup_into {
    ($out:expr, $($template:tt)+) => {
        $out.push(markup!($($template)+))
    };
}

/// Every route of the console.
pub(super) fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(home))
        .route("/console.css", get(css))
        .route("/signin", get(signin))
        .route("/choose", get(chooser).post(choose))
        .route("/signout", post(signout))
        .route("/lang", get(switch_lang))
        .route("/board", get(board))
        .route("/cases", get(cases))
        .route("/cases/{id}", get(timeline))
        .route("/referrals", get(referrals))
        .route("/referrals/{id}", get(referral))
        .route("/referrals/{id}/{step}", post(referral_step))
        .route("/disputes", get(disputes))
        .route("/disputes/{id}", get(dispute))
        .route("/disputes/{id}/{step}", post(dispute_step))
        .route("/stats", get(stats))
        .route("/reports", get(report))
}

// ---------------------------------------------------------------------------------------------
// Signing in

/// The page for a browser that is not signed in; `problem` says what went wrong.
pub(super) fn signin_page(lang: Lang, problem: Option<&str>) -> Response {
    let frame = html::Frame {
        lang,
        agency: None,
        demo: false,
        path: "/",
        form_token: String::new(),
    };
    let mut body = Markup::new();
    if let Some(problem) = problem {
        body.push(notice("error", problem));
    }
    body.push(markup!(
        "<p>{}</p><p>{}</p>",
        lang.t(
            "请使用本机关的客户端证书（证书密钥）访问：浏览器会在连接时请求证书。",
            "Sign in with your agency's client certificate: the browser asks for it when it connects."
        ),
        lang.t(
            "本地演示：使用 casebridge up 打印的一次性登录链接。",
            "Local demo: open the one-time sign-in link that casebridge up printed."
        ),
    ));
    let title = lang.t("登录", "Sign in");
    (
        StatusCode::UNAUTHORIZED,
        Html(page(&frame, title, &body).into_string()),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct SigninQuery {
    #[serde(default)]
    token: String,
}

async fn signin(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<SigninQuery>,
) -> Response {
    let lang = lang_of(&headers);
    if !state.demo_signin {
        return signin_page(
            lang,
            Some(lang.t(
                "本网关未开启一次性登录链接，请使用客户端证书",
                "this gateway does not accept sign-in links: use your client certificate",
            )),
        );
    }
    match state.sessions.redeem(&q.token) {
        Ok(id) => (
            [(
                header::SET_COOKIE,
                // A browser-session cookie: the gateway ends the session when it has been idle
                // for `console.session_idle`, however long the browser keeps the cookie.
                format!("{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict"),
            )],
            Redirect::to("/choose"),
        )
            .into_response(),
        Err(super::session::SessionError::UnknownLink) => signin_page(
            lang,
            Some(lang.t(
                "该登录链接无效、已使用或已过期，请重新获取",
                "this sign-in link is unknown, already used or expired: ask for a new one",
            )),
        ),
        Err(e) => signin_page(lang, Some(&e.to_string())),
    }
}

/// A demo session chooses which agency to act as.
async fn chooser(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let Some(id) = session_of(&headers).filter(|id| state.sessions.get(id).is_some()) else {
        return signin_page(lang, None);
    };
    let token = state.sessions.form_token(id);
    let frame = html::Frame {
        lang,
        agency: None,
        demo: true,
        path: "/choose",
        form_token: token.clone(),
    };
    let mut body = markup!(
        "<p>{}</p><table id=\"agencies\"><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr>",
        lang.t(
            "演示登录：选择以哪个机关的身份操作。正式环境中身份由客户端证书确定。",
            "Demo sign-in: choose the agency to act as. In production the client certificate decides."
        ),
        lang.t("机关", "Agency"),
        lang.t("类别", "Kind"),
        lang.t("代码", "Code"),
    );
    for agency in state.ctx.directory().agencies() {
        markup_into!(
            body,
            "<tr><td>{name}</td><td>{kind}</td><td class=\"mono\">{code}</td><td>\
             <form method=\"post\" action=\"/choose\"><input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
             <input type=\"hidden\" name=\"agency\" value=\"{code}\">\
             <button data-agency=\"{code}\">{act}</button></form></td></tr>",
            name = agency.name,
            kind = agency_kind(lang, agency.kind),
            code = agency.code.as_str(),
            token = token,
            act = lang.t("以此身份进入", "act as"),
        );
    }
    body.push(markup!("</table>"));
    Html(page(&frame, lang.t("选择机关", "Choose the agency"), &body).into_string()).into_response()
}

#[derive(Debug, Deserialize)]
struct ChooseForm {
    form_token: String,
    agency: String,
}

async fn choose(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Form(form): Form<ChooseForm>,
) -> Response {
    let lang = lang_of(&headers);
    let Some(id) = session_of(&headers) else {
        return signin_page(lang, None);
    };
    if !state.sessions.form_token_is_valid(id, &form.form_token) {
        return forbidden(lang);
    }
    let known = AgencyCode::parse(&form.agency)
        .ok()
        .filter(|code| state.ctx.directory().get(code).is_some());
    match known {
        Some(code) => {
            if state.sessions.choose(id, code) {
                Redirect::to("/").into_response()
            } else {
                signin_page(lang, None)
            }
        }
        None => (
            StatusCode::BAD_REQUEST,
            lang.t("机关名录中没有该机关", "no such agency in the directory"),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    form_token: String,
}

async fn signout(viewer: Viewer, Form(form): Form<TokenForm>) -> Response {
    if !viewer.demo {
        return Redirect::to("/").into_response();
    }
    if !viewer
        .state
        .sessions
        .form_token_is_valid(&viewer.identity, &form.form_token)
    {
        return forbidden(viewer.lang);
    }
    viewer.state.sessions.end(&viewer.identity);
    (
        [(
            header::SET_COOKIE,
            format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        Redirect::to("/signin"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    to: String,
    #[serde(default)]
    back: String,
}

/// The console's own pages a redirect may return to: the first segment of an allowed path.
const PAGES: &[&str] = &[
    "",
    "board",
    "cases",
    "referrals",
    "disputes",
    "stats",
    "reports",
    "choose",
];

/// `back` when it is a path to one of the console's pages, else `/`: never an open redirect.
/// Browsers treat `\` like `/` and ignore tabs and newlines, so `/\evil.example` would leave the
/// site (issue 12, D4): only the characters of the console's own paths and queries pass, and
/// non-ASCII ones (a filter value in Chinese) are percent-encoded for the `Location` header.
fn safe_back(back: &str) -> String {
    let Some(rest) = back.strip_prefix('/') else {
        return "/".to_owned();
    };
    let plain = back
        .chars()
        .all(|c| c.is_alphanumeric() || "/-_.~?=&%+,".contains(c));
    let page = rest.split(['/', '?']).next().unwrap_or_default();
    if !(plain && !rest.starts_with('/') && PAGES.contains(&page)) {
        return "/".to_owned();
    }
    let mut location = String::with_capacity(back.len());
    for c in back.chars() {
        if c.is_ascii() {
            location.push(c);
        } else {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                location.push_str(&format!("%{b:02X}"));
            }
        }
    }
    location
}

async fn switch_lang(Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::from_code(&q.to);
    let back = safe_back(&q.back);
    (
        [(
            header::SET_COOKIE,
            format!(
                "{}={}; Path=/; Secure; SameSite=Lax; Max-Age=31536000",
                Lang::COOKIE,
                lang.code()
            ),
        )],
        Redirect::to(&back),
    )
        .into_response()
}

fn forbidden(lang: Lang) -> Response {
    (
        StatusCode::FORBIDDEN,
        lang.t(
            "表单已失效，请返回页面重新提交",
            "this form has expired: go back, reload the page and try again",
        ),
    )
        .into_response()
}

/// Each agency starts where its work is.
async fn home(viewer: Viewer) -> Redirect {
    Redirect::to(match viewer.agency.kind {
        AgencyKind::Police => "/referrals",
        AgencyKind::Coordination => "/disputes",
        _ => "/board",
    })
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        html::CSS,
    )
}

// ---------------------------------------------------------------------------------------------
// What pages share

/// A refused or failed call, as the page shows it: the status and its message (which names
/// the rule that refused).
fn status_text(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// The page for a failed read.
fn failed(viewer: &Viewer, path: &str, status: &tonic::Status) -> Response {
    let code = match status.code() {
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
        tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    let title = viewer.lang.t("无法显示", "Cannot show this");
    let body = notice("error", &status_text(status));
    (
        code,
        Html(page(&viewer.frame(path), title, &body).into_string()),
    )
        .into_response()
}

/// An agency's name from the directory, or its code when unknown; empty stays empty.
fn agency_name(viewer: &Viewer, code: &str) -> String {
    if code.is_empty() {
        return String::new();
    }
    AgencyCode::parse(code)
        .ok()
        .and_then(|c| viewer.state.ctx.directory().get(&c).map(|a| a.name.clone()))
        .unwrap_or_else(|| code.to_owned())
}

fn agency_kind(lang: Lang, kind: AgencyKind) -> &'static str {
    match kind {
        AgencyKind::Administrative => lang.t("行政执法机关", "administrative agency"),
        AgencyKind::Police => lang.t("公安机关", "police"),
        AgencyKind::Procuratorate => lang.t("人民检察院", "procuratorate"),
        AgencyKind::Coordination => lang.t("协调机关", "coordination office"),
        AgencyKind::Expert => lang.t("认定/鉴定机构", "expert department"),
    }
}

/// A proto enum's name without its prefix, in snake case: `REFERRAL_STATUS_RECEIVED` → `received`.
fn enum_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// The hidden fields every form carries: its token and a fresh request id, so a form sent
/// twice (a double click, a reload) takes its step once.
fn form_fields(viewer: &Viewer) -> Markup {
    markup!(
        "<input type=\"hidden\" name=\"form_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"request_id\" value=\"{}\">",
        viewer.form_token(),
        uuid::Uuid::new_v4()
    )
}

/// A form that takes `step` on the case at `base/id` (e.g. `/referrals/<id>/receipt`), with
/// the hidden fields every form carries.
fn step_form(viewer: &Viewer, base: &str, id: &str, step: &str, inner: Markup) -> Markup {
    markup!(
        "<form method=\"post\" action=\"{base}/{id}/{step}\" id=\"form-{step}\">{fields}{inner}</form>",
        base = base,
        id = id,
        step = step,
        fields = form_fields(viewer),
        inner = inner
    )
}

/// Where a posted step goes: back to the case's page, saying what was done; or, refused, the
/// page again with the refusal.
async fn after_step<Fut>(
    result: Result<(), tonic::Status>,
    base: &str,
    id: &str,
    step: &str,
    page_with: impl FnOnce(Option<Markup>) -> Fut,
) -> Response
where
    Fut: std::future::Future<Output = Response>,
{
    match result {
        Ok(()) => {
            Redirect::to(&format!("{base}/{}?done={step}", html::url_value(id))).into_response()
        }
        Err(status) => page_with(Some(notice("error", &status_text(&status)))).await,
    }
}

/// A desk's list of cases: one listing call's page, or its refusal.
fn desk(
    viewer: &Viewer,
    path: &str,
    title: &str,
    listed: Result<tonic::Response<pb::ListCasesResponse>, tonic::Status>,
) -> Response {
    let body = match listed {
        Ok(r) => cases_table(viewer, &r.into_inner().cases, path),
        Err(status) => notice("error", &status_text(&status)),
    };
    Html(page(&viewer.frame(path), title, &body).into_string()).into_response()
}

/// The fields of a posted form, checked for the viewer's token.
#[derive(Debug)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The fields, or `None` when the form's token is not the viewer's.
    fn check(form: Vec<(String, String)>, viewer: &Viewer) -> Option<Fields> {
        let fields = Fields(form);
        viewer
            .state
            .sessions
            .form_token_is_valid(&viewer.identity, fields.get("form_token"))
            .then_some(fields)
    }

    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn request_id(&self) -> String {
        self.get("request_id").to_owned()
    }
}

fn documents_list(documents: &[pb::Document]) -> Markup {
    if documents.is_empty() {
        return Markup::new();
    }
    let mut out = markup!("<ul class=\"documents\">");
    for d in documents {
        let kind = pb::DocumentKind::try_from(d.kind)
            .map(|k| enum_name(k.as_str_name(), "DOCUMENT_KIND_"))
            .unwrap_or_default();
        markup_into!(
            out,
            "<li>{} <span class=\"muted\">({kind})</span>",
            d.title,
            kind = kind
        );
        if !d.sha256.is_empty() {
            markup_into!(out, " <span class=\"mono\">sha256 {}</span>", d.sha256);
        }
        out.push(markup!("</li>"));
    }
    out.push(markup!("</ul>"));
    out
}

fn history_table(viewer: &Viewer, history: &[pb::HistoryEntry]) -> Markup {
    let lang = viewer.lang;
    let mut out = markup!(
        "<table class=\"history\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("时间", "Time"),
        lang.t("机关", "Agency"),
        lang.t("步骤", "Step"),
        lang.t("说明与文书", "Note and documents"),
    );
    for entry in history {
        markup_into!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            html::time(entry.at.as_ref()),
            agency_name(viewer, &entry.actor),
            entry.step,
            entry.note,
            documents_list(&entry.documents),
        );
    }
    out.push(markup!("</table>"));
    out
}

// ---------------------------------------------------------------------------------------------
// The overdue board

#[derive(Debug, Default, Deserialize)]
struct BoardQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    agency: String,
    #[serde(default)]
    family: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    page: String,
}

/// Overdue and due-soon obligations the agency may see, each with its due time, why, how long
/// past due and whose move it is.
async fn board(viewer: Viewer, Query(q): Query<BoardQuery>) -> Response {
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
    let mut body = calendar_warning(&viewer);
    body.push(board_filters(&viewer, &q, view));
    match viewer
        .state
        .monitor
        .list_obligations(viewer.request(request))
        .await
    {
        Ok(response) => {
            let response = response.into_inner();
            body.push(obligations_table(&viewer, &response.obligations, true));
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
        Err(status) => body.prepend(notice("error", &status_text(&status))),
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
            notice(
                "warning calendar-missing",
                viewer.lang.t(
                    &format!(
                        "{year}年国务院节假日安排尚未安装：{year}年内的期限暂按法定节假日计算（不含调休上班日），标为“暂定”；安装后自动重新计算并通知各方（casebridge calendar install {year}.toml）。"
                    ),
                    &format!(
                        "The official {year} holiday schedule is not installed: due times in {year} are counted provisionally on the statutory holidays (no make-up working days) and marked provisional; installing it recounts them and tells the parties (casebridge calendar install {year}.toml)."
                    ),
                ),
            )
        })
        .collect()
}

fn board_filters(viewer: &Viewer, q: &BoardQuery, view: pb::ObligationView) -> Markup {
    let lang = viewer.lang;
    let option = |value: &str, label: &str, current: &str| {
        markup!(
            "<option value=\"{value}\"{selected}>{label}</option>",
            value = value,
            selected = if value == current { " selected" } else { "" },
            label = label
        )
    };
    let current_view = match view {
        pb::ObligationView::DueSoon => "due_soon",
        pb::ObligationView::Open => "open",
        _ => "overdue",
    };
    let mut agencies = option("", lang.t("全部", "all"), &q.agency);
    for a in viewer.state.ctx.directory().agencies() {
        agencies.push(option(a.code.as_str(), &a.name, &q.agency));
    }
    let mut families = option("", lang.t("全部", "all"), &q.family);
    for f in ["referral", "transfer", "dispute", "opinion"] {
        families.push(option(f, html::family(lang, f), &q.family));
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
            option("overdue", lang.t("已逾期", "overdue"), current_view),
            option(
                "due_soon",
                lang.t("24小时内到期", "due within 24 h"),
                current_view
            ),
            option("open", lang.t("全部未办结", "all open"), current_view),
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
fn obligations_table(viewer: &Viewer, obligations: &[pb::Obligation], link_case: bool) -> Markup {
    let lang = viewer.lang;
    if obligations.is_empty() {
        return markup!(
            "<p class=\"muted\" id=\"no-obligations\">{}</p>",
            lang.t("没有符合条件的期限。", "No deadlines match.")
        );
    }
    let mut out = markup!(
        "<p>{} {}</p><table id=\"obligations\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        obligations.len(),
        lang.t("项", "deadlines"),
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
        let explanation: Markup = o
            .explanation
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
            step = o.step,
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
            supervisor = agency_name(viewer, &o.supervisor),
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

// ---------------------------------------------------------------------------------------------
// Cases and their timelines

#[derive(Debug, Deserialize)]
struct CasesQuery {
    #[serde(default)]
    id: String,
}

/// Opens a case by id, and lists the agency's referrals and disputes.
async fn cases(viewer: Viewer, Query(q): Query<CasesQuery>) -> Response {
    let lang = viewer.lang;
    let id = q.id.trim();
    if !id.is_empty() {
        return Redirect::to(&format!("/cases/{}", html::url_value(id))).into_response();
    }
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
            Ok(r) => body.push(cases_table(&viewer, &r.into_inner().cases, "/cases")),
            Err(status) => body.push(notice("error", &status_text(&status))),
        }
    }
    Html(page(&viewer.frame("/cases"), lang.t("案件", "Cases"), &body).into_string())
        .into_response()
}

fn cases_table(viewer: &Viewer, cases: &[pb::CaseSummary], base: &str) -> Markup {
    let lang = viewer.lang;
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
async fn timeline(viewer: Viewer, Path(id): Path<String>) -> Response {
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
    body.push(history_table(&viewer, &history));

    markup_into!(body, "<h2>{}</h2>", lang.t("期限", "Deadlines"));
    match viewer
        .state
        .deadlines
        .list_case_deadlines(viewer.request(pb::ListCaseDeadlinesRequest {
            case_id: id.clone(),
        }))
        .await
    {
        Ok(d) => body.push(obligations_table(
            &viewer,
            &d.into_inner().obligations,
            false,
        )),
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
    body.push(receipts_table(&viewer, &timeline.receipts));
    let title = lang.t("案件全过程", "Case timeline");
    Html(page(&viewer.frame(&path), title, &body).into_string()).into_response()
}

fn receipts_table(viewer: &Viewer, receipts: &[pb::Receipt]) -> Markup {
    let lang = viewer.lang;
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
            actor = agency_name(viewer, &r.actor),
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

// ---------------------------------------------------------------------------------------------
// The referral desk (police)

/// The police's incoming referrals, newest change first.
async fn referrals(viewer: Viewer) -> Response {
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
    desk(
        &viewer,
        "/referrals",
        lang.t("收到的移送案件", "Incoming referrals"),
        listed,
    )
}

#[derive(Debug, Default, Deserialize)]
struct DoneQuery {
    #[serde(default)]
    done: String,
}

async fn referral(viewer: Viewer, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    let done = done_text(viewer.lang, &q.done).map(|t| notice("ok", t));
    referral_page(&viewer, &id, done).await
}

/// What a step that was just taken is called on the page it comes back to.
fn done_text(lang: Lang, step: &str) -> Option<&'static str> {
    Some(match step {
        "receipt" => lang.t("已签收回执。", "Receipt signed."),
        "supplement" => lang.t("已要求补充材料。", "Missing materials requested."),
        "decide" => lang.t("已作出立案决定。", "Filing decision recorded."),
        "file" => lang.t("已决定立案。", "The case is filed."),
        "decline" => lang.t("已决定不予立案。", "Filing declined."),
        "accept" => lang.t("已受理。", "Accepted."),
        "reply" => lang.t("已提交答复。", "Reply recorded."),
        "designate" => lang.t(
            "已指定管辖，争议结束。",
            "Agency designated; the dispute is closed.",
        ),
        _ => return None,
    })
}

async fn referral_page(viewer: &Viewer, id: &str, message: Option<Markup>) -> Response {
    let lang = viewer.lang;
    let path = format!("/referrals/{id}");
    let referral = match viewer
        .state
        .referrals
        .get_referral(viewer.request(pb::GetReferralRequest {
            referral_id: id.to_owned(),
        }))
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => return failed(viewer, &path, &status),
    };
    let status =
        pb::ReferralStatus::try_from(referral.status).unwrap_or(pb::ReferralStatus::Unspecified);
    let mut body = message.unwrap_or_default();
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
    markup_into!(
        body,
        "<dl><dt>{}</dt><dd id=\"referral-status\">{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        lang.t("状态", "Status"),
        html::status(lang, &enum_name(status.as_str_name(), "REFERRAL_STATUS_")),
        lang.t("移送机关", "Sent by"),
        agency_name(viewer, &referral.sender),
        lang.t("涉嫌罪名", "Suspected offence"),
        referral.suspected_offence,
        lang.t("案件基本情况", "Facts"),
        referral.summary,
        lang.t("移送时间", "Submitted"),
        html::time(referral.submitted_at.as_ref()),
        lang.t("抄送", "Copied to"),
        agency_name(viewer, &referral.procuratorate),
        lang.t("提示", "Flags"),
        flags.join("; "),
    );
    markup_into!(
        body,
        "<p><a href=\"/cases/{id}\">{}</a></p><h2>{}</h2>{}",
        lang.t("案件全过程与期限", "timeline and deadlines"),
        lang.t("移送材料", "Package"),
        documents_list(&referral.documents),
        id = referral.id,
    );
    body.push(markup!("<div class=\"actions\">"));
    let form =
        |step: &str, inner: Markup| step_form(viewer, "/referrals", &referral.id, step, inner);
    match status {
        pb::ReferralStatus::Submitted => body.push(form(
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
            body.push(form(
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
            body.push(form(
                "file",
                markup!(
                    "<b>{}</b><label>{}<textarea name=\"note\"></textarea></label><button>{}</button>",
                    lang.t("立案（310号令第8条，3日内）", "File the case (S1 Art 8, within 3 days)"),
                    lang.t("说明（可不填）", "Note (optional)"),
                    lang.t("决定立案", "File the case (立案)"),
                ),
            ));
            body.push(form(
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
    body.push(markup!("</div>"));
    markup_into!(body, "<h2>{}</h2>", lang.t("办理过程", "Steps"));
    body.push(history_table(viewer, &referral.history));
    let title = format!(
        "{} · {}",
        lang.t("移送案件", "Referral"),
        referral.suspected_offence
    );
    Html(page(&viewer.frame(&path), &title, &body).into_string()).into_response()
}

async fn referral_step(
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

// ---------------------------------------------------------------------------------------------
// The dispute desk (coordination office)

/// The disputes the agency is party to or rules on.
async fn disputes(viewer: Viewer) -> Response {
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
    desk(
        &viewer,
        "/disputes",
        lang.t("管辖争议", "Jurisdiction disputes"),
        listed,
    )
}

async fn dispute(viewer: Viewer, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    let done = done_text(viewer.lang, &q.done).map(|t| notice("ok", t));
    dispute_page(&viewer, &id, done).await
}

async fn dispute_page(viewer: &Viewer, id: &str, message: Option<Markup>) -> Response {
    let lang = viewer.lang;
    let path = format!("/disputes/{id}");
    let dispute = match viewer
        .state
        .disputes
        .get_dispute(viewer.request(pb::GetDisputeRequest {
            dispute_id: id.to_owned(),
        }))
        .await
    {
        Ok(d) => d.into_inner(),
        Err(status) => return failed(viewer, &path, &status),
    };
    let status =
        pb::DisputeStatus::try_from(dispute.status).unwrap_or(pb::DisputeStatus::Unspecified);
    let mut body = message.unwrap_or_default();
    markup_into!(
        body,
        "<dl><dt>{}</dt><dd id=\"dispute-status\">{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd id=\"competent\">{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        lang.t("状态", "Status"),
        html::status(lang, &enum_name(status.as_str_name(), "DISPUTE_STATUS_")),
        lang.t("争议事项", "Question"),
        dispute.question,
        lang.t("提请方", "Brought by"),
        agency_name(viewer, &dispute.sender),
        lang.t("另一方", "Other side"),
        agency_name(viewer, &dispute.respondent),
        lang.t("协调机关", "Coordination office"),
        agency_name(viewer, &dispute.office),
        lang.t("确定的管辖机关", "Competent agency"),
        agency_name(viewer, &dispute.competent),
        lang.t("决定", "Decision"),
        dispute.decision,
    );
    if !dispute.transfer_id.is_empty() {
        markup_into!(
            body,
            "<p><a href=\"/cases/{id}\">{}</a></p>",
            lang.t("所涉案件移送", "the transfer it is about"),
            id = dispute.transfer_id
        );
    }
    markup_into!(
        body,
        "<h2>{}</h2><table id=\"positions\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("各方意见", "Positions"),
        lang.t("机关", "Agency"),
        lang.t("意见", "Position"),
        lang.t("时间", "Time"),
    );
    for p in &dispute.positions {
        markup_into!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            agency_name(viewer, &p.agency),
            p.text,
            html::time(p.at.as_ref())
        );
    }
    body.push(markup!("</table>"));
    body.push(documents_list(&dispute.documents));

    let me = viewer.agency.code.as_str();
    let form = |step: &str, inner: Markup| step_form(viewer, "/disputes", &dispute.id, step, inner);
    body.push(markup!("<div class=\"actions\">"));
    if dispute.office == me && status == pb::DisputeStatus::Referred {
        body.push(form(
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
        body.push(form(
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
                agency_name(viewer, code),
                code = code
            );
        }
        body.push(form(
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
    body.push(markup!("</div>"));
    markup_into!(body, "<h2>{}</h2>", lang.t("办理过程", "Steps"));
    body.push(history_table(viewer, &dispute.history));
    let title = lang.t("管辖争议", "Jurisdiction dispute");
    Html(page(&viewer.frame(&path), title, &body).into_string()).into_response()
}

async fn dispute_step(
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

// ---------------------------------------------------------------------------------------------
// Statistics and reports

#[derive(Debug, Default, Deserialize)]
struct StatsQuery {
    /// First day, YYYY-MM-DD (CST); default: the first of this month.
    #[serde(default)]
    from: String,
    /// Last day, YYYY-MM-DD (CST), included; default: today.
    #[serde(default)]
    to: String,
}

/// A day's start in China Standard Time, as a wire timestamp.
fn day_start(day: chrono::NaiveDate) -> prost_types::Timestamp {
    let seconds = day
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
        - 8 * 3600;
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// Per-agency figures with charts, and the monthly, quarterly and annual reports as files.
async fn stats(viewer: Viewer, Query(q): Query<StatsQuery>) -> Response {
    use chrono::Datelike as _;
    let lang = viewer.lang;
    let today = viewer.state.ctx.clock.now().to_cst().date_naive();
    let first_of_month = today.with_day(1).unwrap_or(today);
    let parse =
        |s: &str, default| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(default);
    let (from, to) = (parse(&q.from, first_of_month), parse(&q.to, today));
    let mut body = markup!(
        "<form class=\"filters\" method=\"get\" action=\"/stats\"><label>{}<input type=\"date\" name=\"from\" value=\"{from}\"></label>\
         <label>{}<input type=\"date\" name=\"to\" value=\"{to}\"></label><button>{}</button></form>",
        lang.t("起", "From"),
        lang.t("止（含）", "To (included)"),
        lang.t("统计", "Show"),
        from = from,
        to = to,
    );
    let request = pb::GetStatisticsRequest {
        from: Some(day_start(from)),
        to: Some(day_start(to + chrono::Duration::days(1))),
        agency: String::new(),
    };
    match viewer
        .state
        .monitor
        .get_statistics(viewer.request(request))
        .await
    {
        Ok(r) => body.push(statistics(&viewer, &r.into_inner().agencies)),
        Err(status) => body.push(notice("error", &status_text(&status))),
    }
    let (year, month) = (today.year(), today.month());
    let quarter = (month - 1) / 3 + 1;
    markup_into!(
        body,
        "<h2>{}</h2><ul id=\"reports\">\
         <li><a href=\"/reports?kind=monthly&amp;year={year}&amp;month={month}&amp;format=csv\">{} {year}-{month:02} (CSV)</a> · \
         <a href=\"/reports?kind=monthly&amp;year={year}&amp;month={month}&amp;format=json\">JSON</a></li>\
         <li><a href=\"/reports?kind=quarterly&amp;year={year}&amp;quarter={quarter}&amp;format=csv\">{} {year} Q{quarter} (CSV)</a> · \
         <a href=\"/reports?kind=quarterly&amp;year={year}&amp;quarter={quarter}&amp;format=json\">JSON</a></li>\
         <li><a href=\"/reports?kind=annual&amp;year={year}&amp;format=csv\">{} {year} (CSV)</a> · \
         <a href=\"/reports?kind=annual&amp;year={year}&amp;format=json\">JSON</a></li></ul>",
        lang.t("报表下载", "Reports"),
        lang.t("月提示", "Monthly reminder"),
        lang.t("季通报", "Quarterly report"),
        lang.t("年度统计", "Annual statistics"),
        year = year,
        month = month,
        quarter = quarter,
    );
    Html(page(&viewer.frame("/stats"), lang.t("统计", "Statistics"), &body).into_string())
        .into_response()
}

fn statistics(viewer: &Viewer, rows: &[pb::AgencyStatistics]) -> Markup {
    let lang = viewer.lang;
    if rows.is_empty() {
        return markup!(
            "<p class=\"muted\">{}</p>",
            lang.t("该期间没有期限记录。", "No deadlines in this period.")
        );
    }
    let sum = |f: fn(&pb::AgencyStatistics) -> u64| rows.iter().map(f).sum::<u64>();
    let (on_time, late, open, overdue) = (
        sum(|r| r.answered_on_time),
        sum(|r| r.answered_late),
        sum(|r| r.still_open),
        sum(|r| r.overdue),
    );
    let mut out = markup!("<div class=\"cards\">");
    for (label, value) in [
        (lang.t("按时办结", "Answered on time"), on_time),
        (lang.t("逾期办结", "Answered late"), late),
        (lang.t("未办结", "Still open"), open),
        (lang.t("逾期未办", "Overdue"), overdue),
    ] {
        markup_into!(out, "<div class=\"card\">{}<b>{}</b></div>", label, value);
    }
    out.push(markup!("</div>"));
    // One bar per agency: the share of its answered steps that were on time.
    markup_into!(out, "<h2>{}</h2>", lang.t("按时办结率", "On-time rate"));
    let height = 24 * rows.len() + 10;
    markup_into!(
        out,
        "<svg id=\"on-time-chart\" width=\"720\" height=\"{height}\" role=\"img\">",
        height = height
    );
    for (i, r) in rows.iter().enumerate() {
        let answered = r.answered_on_time + r.answered_late;
        let rate = if answered == 0 {
            0.0
        } else {
            r.answered_on_time as f64 / answered as f64
        };
        let y = 24 * i + 5;
        markup_into!(
            out,
            "<text x=\"0\" y=\"{ty}\">{name}</text><rect x=\"260\" y=\"{y}\" width=\"{w:.0}\" height=\"16\" fill=\"#2e7d32\"></rect>\
             <rect x=\"{x2:.0}\" y=\"{y}\" width=\"{w2:.0}\" height=\"16\" fill=\"#e0e0e0\"></rect><text x=\"670\" y=\"{ty}\">{pct:.0}%</text>",
            y = y,
            ty = y + 13,
            name = r.name,
            w = 400.0 * rate,
            x2 = 260.0 + 400.0 * rate,
            w2 = 400.0 * (1.0 - rate),
            pct = rate * 100.0,
        );
    }
    out.push(markup!("</svg>"));
    markup_into!(
        out,
        "<table id=\"statistics\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("机关", "Agency"),
        lang.t("发出", "Sent"),
        lang.t("收到", "Received"),
        lang.t("按时办结", "On time"),
        lang.t("逾期办结", "Late"),
        lang.t("未办结", "Open"),
        lang.t("逾期未办", "Overdue"),
        lang.t("响应时间中位数（小时）", "Median response (h)"),
        lang.t("立案率", "Filing rate"),
    );
    for r in rows {
        let filing = if r.filing_decisions == 0 {
            "—".to_owned()
        } else {
            format!(
                "{:.0}% ({}/{})",
                r.filing_rate * 100.0,
                r.filed,
                r.filing_decisions
            )
        };
        markup_into!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"overdue\">{}</td><td>{:.1}</td><td>{}</td></tr>",
            r.name,
            r.sent,
            r.received,
            r.answered_on_time,
            r.answered_late,
            r.still_open,
            r.overdue,
            r.median_response_hours,
            filing,
        );
    }
    out.push(markup!("</table>"));
    out
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    kind: String,
    year: i32,
    #[serde(default)]
    month: u32,
    #[serde(default)]
    quarter: u32,
    #[serde(default)]
    format: String,
}

/// A report as a file to save.
async fn report(viewer: Viewer, Query(q): Query<ReportQuery>) -> Response {
    let kind = match q.kind.as_str() {
        "monthly" => pb::ReportKind::Monthly,
        "quarterly" => pb::ReportKind::Quarterly,
        "annual" => pb::ReportKind::Annual,
        _ => pb::ReportKind::Unspecified,
    };
    let format = if q.format == "json" {
        pb::ReportFormat::Json
    } else {
        pb::ReportFormat::Csv
    };
    let request = pb::GetReportRequest {
        kind: kind as i32,
        year: q.year,
        month: q.month,
        quarter: q.quarter,
        format: format as i32,
    };
    match viewer
        .state
        .monitor
        .get_report(viewer.request(request))
        .await
    {
        Ok(r) => {
            let r = r.into_inner();
            // The service names the file from its own figures (kind and period): safe to quote.
            let disposition = format!("attachment; filename=\"{}\"", r.file_name.replace('"', ""));
            let content_type = if r.content_type.is_empty() {
                "application/octet-stream".to_owned()
            } else {
                r.content_type
            };
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                r.content,
            )
                .into_response()
        }
        Err(status) => failed(&viewer, "/stats", &status),
    }
}
