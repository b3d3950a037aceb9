//! What the pages share: the [`Look`] of a viewer, refusals as a page shows them, and the
//! documents and history tables every timeline has.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use casebridge_core::directory::{AgencyKind, Directory};
use casebridge_core::ids::AgencyCode;
use casebridge_proto::v1 as pb;

use crate::console::html::{self, Lang, Markup, markup, notice, page};
use crate::console::viewer::Viewer;

/// What a page's markup needs to know of its viewer: the language, the directory (for agency
/// names), the agency and its form token. Apart from the [`Viewer`], so that pages can be
/// rendered from crafted data in tests.
#[derive(Debug, Clone)]
pub(super) struct Look {
    pub(super) lang: Lang,
    pub(super) directory: Arc<Directory>,
    /// The viewer's agency code.
    pub(super) me: String,
    /// The token the viewer's forms carry.
    pub(super) form_token: String,
}

impl Look {
    pub(super) fn of(viewer: &Viewer) -> Look {
        Look {
            lang: viewer.lang,
            directory: viewer.state.ctx.directory(),
            me: viewer.agency.code.as_str().to_owned(),
            form_token: viewer.form_token(),
        }
    }

    /// An agency's name from the directory, or its code when unknown; empty stays empty.
    pub(super) fn agency_name(&self, code: &str) -> String {
        if code.is_empty() {
            return String::new();
        }
        AgencyCode::parse(code)
            .ok()
            .and_then(|c| self.directory.get(&c).map(|a| a.name.clone()))
            .unwrap_or_else(|| code.to_owned())
    }
}

/// A refused or failed call, as the page shows it: the status and its message (which names
/// the rule that refused).
pub(super) fn status_text(status: &tonic::Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// The page for a failed read.
pub(super) fn failed(viewer: &Viewer, path: &str, status: &tonic::Status) -> Response {
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

pub(super) fn agency_kind(lang: Lang, kind: AgencyKind) -> &'static str {
    match kind {
        AgencyKind::Administrative => lang.t("行政执法机关", "administrative agency"),
        AgencyKind::Police => lang.t("公安机关", "police"),
        AgencyKind::Procuratorate => lang.t("人民检察院", "procuratorate"),
        AgencyKind::Coordination => lang.t("协调机关", "coordination office"),
        AgencyKind::Expert => lang.t("认定/鉴定机构", "expert department"),
    }
}

/// A proto enum's name without its prefix, in snake case: `REFERRAL_STATUS_RECEIVED` → `received`.
pub(super) fn enum_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

pub(super) fn documents_list(documents: &[pb::Document]) -> Markup {
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

pub(super) fn history_table(look: &Look, history: &[pb::HistoryEntry]) -> Markup {
    let lang = look.lang;
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
            look.agency_name(&entry.actor),
            entry.step,
            entry.note,
            documents_list(&entry.documents),
        );
    }
    out.push(markup!("</table>"));
    out
}

/// The answer to a form without the page's token.
pub(super) fn forbidden(lang: Lang) -> Response {
    (
        StatusCode::FORBIDDEN,
        lang.t(
            "表单已失效，请返回页面重新提交",
            "this form has expired: go back, reload the page and try again",
        ),
    )
        .into_response()
}
