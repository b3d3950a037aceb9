//! Who a console page is for: the agency signed in by its client certificate or by a demo
//! session, in which language, with the state every page shares. A request that carries
//! neither gets the sign-in page instead of the page it asked for.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use casebridge_core::directory::{Agency, AgencyKind};
use casebridge_core::ids::AgencyCode;

use super::html::{self, Lang, Markup, markup, notice, page};
use super::session::{self, Sessions};
use crate::auth::ConsoleCaller;
use crate::cases::CasesGrpc;
use crate::context::Context;
use crate::disputes::DisputesGrpc;
use crate::leads::LeadsGrpc;
use crate::monitor::{DeadlinesGrpc, MonitorGrpc};
use crate::opinions::OpinionsGrpc;
use crate::penalties::PenaltiesGrpc;
use crate::rectifications::RectificationsGrpc;
use crate::referrals::ReferralsGrpc;
use crate::transfers::TransfersGrpc;

/// What every page shares.
#[derive(Debug)]
pub(super) struct State {
    pub(super) ctx: Arc<Context>,
    pub(super) sessions: Sessions,
    pub(super) demo_signin: bool,
    pub(super) referrals: ReferralsGrpc,
    pub(super) transfers: TransfersGrpc,
    pub(super) opinions: OpinionsGrpc,
    pub(super) penalties: PenaltiesGrpc,
    pub(super) leads: LeadsGrpc,
    pub(super) rectifications: RectificationsGrpc,
    pub(super) disputes: DisputesGrpc,
    pub(super) cases: CasesGrpc,
    pub(super) monitor: MonitorGrpc,
    pub(super) deadlines: DeadlinesGrpc,
}

/// The agency named by the client certificate of the connection a request came on, if any.
#[derive(Debug, Clone)]
pub(super) struct PeerAgency(pub(super) Option<AgencyCode>);

/// Who a page is for: the signed-in agency, the language, and the token its forms carry.
#[derive(Debug, Clone)]
pub(super) struct Viewer {
    pub(super) agency: Agency,
    pub(super) lang: Lang,
    /// Signed in through a demo session (may switch agency), not a certificate.
    pub(super) demo: bool,
    /// What [`Viewer::form_token`] is bound to: the session id, or the certificate's agency.
    pub(super) identity: String,
    pub(super) state: Arc<State>,
}

impl Viewer {
    /// `message` as a request from this agency, for the gateway's endpoints.
    pub(super) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .extensions_mut()
            .insert(ConsoleCaller(self.agency.code.clone()));
        request
    }

    pub(super) fn form_token(&self) -> String {
        self.state.sessions.form_token(&self.identity)
    }

    pub(super) fn frame<'a>(&'a self, path: &'a str) -> html::Frame<'a> {
        html::Frame {
            lang: self.lang,
            agency: Some((&self.agency.name, self.agency.code.as_str())),
            kind: self.agency.kind,
            demo: self.demo,
            path,
            form_token: if self.demo {
                self.form_token()
            } else {
                String::new()
            },
        }
    }
}

/// The page for a browser that is not signed in; `problem` says what went wrong.
pub(super) fn signin_page(lang: Lang, problem: Option<&str>) -> Response {
    let frame = html::Frame {
        lang,
        agency: None,
        kind: AgencyKind::Administrative,
        demo: false,
        path: "/",
        form_token: String::new(),
    };
    let mut body = Markup::new();
    if let Some(problem) = problem {
        body.push(notice("error", problem));
    }
    body.push(markup!(
        "<p>{}</p><p>{}<code>casebridge up</code>{}</p>",
        lang.t(
            "请使用本机关的客户端证书（证书密钥）访问：浏览器会在连接时请求证书。",
            "Sign in with your agency's client certificate: the browser asks for it when it connects."
        ),
        lang.t(
            "本地演示：使用 ",
            "Local demo: open the one-time sign-in link that "
        ),
        lang.t(" 打印的一次性登录链接。", " printed."),
    ));
    let title = lang.t("登录", "Sign in");
    (
        StatusCode::UNAUTHORIZED,
        Html(page(&frame, title, &body).into_string()),
    )
        .into_response()
}

/// The language a request asks for (its cookie), Chinese by default.
pub(super) fn lang_of(headers: &HeaderMap) -> Lang {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| session::cookie(c, Lang::COOKIE))
        .map_or(Lang::Zh, Lang::from_code)
}

/// The demo session a request carries, if any.
pub(super) fn session_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| session::cookie(c, session::SESSION_COOKIE))
}

impl FromRequestParts<Arc<State>> for Viewer {
    /// Not signed in: the sign-in page, or (a demo session without an agency) the chooser.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, Response> {
        let lang = lang_of(&parts.headers);
        let directory = &state.ctx.directory();
        let peer = parts
            .extensions
            .get::<PeerAgency>()
            .and_then(|p| p.0.clone());
        if let Some(code) = peer {
            return match directory.get(&code) {
                Some(agency) => Ok(Viewer {
                    agency: agency.clone(),
                    lang,
                    demo: false,
                    identity: code.to_string(),
                    state: state.clone(),
                }),
                None => Err(signin_page(
                    lang,
                    Some(&format!(
                        "{}: {code}",
                        lang.t(
                            "客户端证书所载机关不在机关名录中",
                            "the agency named by your client certificate is not in the directory"
                        )
                    )),
                )),
            };
        }
        let Some(id) = session_of(&parts.headers) else {
            return Err(signin_page(lang, None));
        };
        let Some(session) = state.sessions.get(id) else {
            return Err(signin_page(
                lang,
                Some(lang.t(
                    "会话已过期，请重新登录",
                    "your session has ended: sign in again",
                )),
            ));
        };
        match session
            .agency
            .and_then(|code| directory.get(&code).cloned())
        {
            Some(agency) => Ok(Viewer {
                agency,
                lang,
                demo: true,
                identity: id.to_owned(),
                state: state.clone(),
            }),
            None => Err(Redirect::to("/choose").into_response()),
        }
    }
}
