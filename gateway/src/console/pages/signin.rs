//! Signing in: by the agency's client certificate, or in the local demo by a one-time link and
//! a choice of agency; signing out; the language switch; and where each agency starts.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use casebridge_core::directory::AgencyKind;
use casebridge_core::ids::AgencyCode;
use serde::Deserialize;

use super::parts::{agency_label, forbidden};
use crate::console::html::{self, Lang, markup, page};
use crate::console::session::SESSION_COOKIE;
use crate::console::viewer::{State, Viewer, lang_of, session_of, signin_page};

#[derive(Debug, Deserialize)]
pub(super) struct SigninQuery {
    #[serde(default)]
    token: String,
}

pub(super) async fn signin(
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
        Err(crate::console::session::SessionError::UnknownLink) => signin_page(
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
pub(super) async fn chooser(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let Some(id) = session_of(&headers).filter(|id| state.sessions.get(id).is_some()) else {
        return signin_page(lang, None);
    };
    let token = state.sessions.form_token(id);
    let frame = html::Frame {
        lang,
        agency: None,
        kind: casebridge_core::directory::AgencyKind::Administrative,
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
            kind = agency_label(lang, &state.ctx.directory(), agency),
            code = agency.code.as_str(),
            token = token,
            act = lang.t("以此身份进入", "act as"),
        );
    }
    body.push(markup!("</table>"));
    Html(page(&frame, lang.t("选择机关", "Choose the agency"), &body).into_string()).into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct ChooseForm {
    form_token: String,
    agency: String,
}

pub(super) async fn choose(
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
pub(super) struct TokenForm {
    form_token: String,
}

pub(super) async fn signout(viewer: Viewer, Form(form): Form<TokenForm>) -> Response {
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
pub(super) struct LangQuery {
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
    "supervision",
    "transfers",
    "disputes",
    "opinions",
    "warnings",
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

pub(super) async fn switch_lang(Query(q): Query<LangQuery>) -> Response {
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

/// Each agency starts where its work is.
pub(super) async fn home(viewer: Viewer) -> Redirect {
    Redirect::to(match viewer.agency.kind {
        AgencyKind::Police => "/referrals",
        AgencyKind::Coordination => "/disputes",
        _ => "/board",
    })
}

pub(super) async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        html::CSS,
    )
}
