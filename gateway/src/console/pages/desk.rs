//! The case desk: the page that every family's desk fills in (the referral and dispute desks
//! today, the transfer and opinion desks next). A desk lists its cases; a case's page shows a
//! message (what was just done, or the refusal), the case's facts, what the desk adds (links,
//! the package, positions), a form per step the viewer may take now, and the steps so far. Each
//! form posts one step and comes back to the page.

use axum::response::{Html, IntoResponse, Redirect, Response};
use casebridge_proto::v1 as pb;
use serde::Deserialize;

use super::cases::cases_table;
use super::parts::{Look, history_table, status_text};
use crate::console::html::{self, Lang, Markup, markup, notice, page};
use crate::console::viewer::Viewer;

/// One of a case's facts: its label, the `id` of its value (which tests and links find), and
/// the value.
#[derive(Debug)]
pub(super) struct Fact {
    pub(super) label: &'static str,
    pub(super) id: Option<&'static str>,
    pub(super) value: Markup,
}

impl Fact {
    pub(super) fn new(label: &'static str, value: Markup) -> Fact {
        Fact {
            label,
            id: None,
            value,
        }
    }

    pub(super) fn with_id(label: &'static str, id: &'static str, value: Markup) -> Fact {
        Fact {
            label,
            id: Some(id),
            value,
        }
    }
}

/// A case as its desk shows it; the desk's page function fills it in.
#[derive(Debug)]
pub(super) struct CaseDesk<'a> {
    pub(super) title: String,
    pub(super) facts: Vec<Fact>,
    /// What the desk shows between the facts and the forms.
    pub(super) sections: Markup,
    /// A form per step the viewer may take now (see [`step_form`]).
    pub(super) actions: Vec<Markup>,
    pub(super) history: &'a [pb::HistoryEntry],
}

impl CaseDesk<'_> {
    /// The page's body, under `message`.
    pub(super) fn body(&self, look: &Look, message: Option<Markup>) -> Markup {
        let mut body = message.unwrap_or_default();
        body.push(markup!("<dl>"));
        for fact in &self.facts {
            match fact.id {
                Some(id) => markup_into!(
                    body,
                    "<dt>{}</dt><dd id=\"{}\">{}</dd>",
                    fact.label,
                    id,
                    fact.value
                ),
                None => markup_into!(body, "<dt>{}</dt><dd>{}</dd>", fact.label, fact.value),
            }
        }
        body.push(markup!("</dl>"));
        body.push(self.sections.clone());
        body.push(markup!("<div class=\"actions\">"));
        for form in &self.actions {
            body.push(form.clone());
        }
        body.push(markup!("</div>"));
        markup_into!(body, "<h2>{}</h2>", look.lang.t("办理过程", "Steps"));
        body.push(history_table(look, self.history));
        body
    }

    /// The whole page at `path`.
    pub(super) fn page(&self, viewer: &Viewer, path: &str, message: Option<Markup>) -> Response {
        let body = self.body(&Look::of(viewer), message);
        Html(page(&viewer.frame(path), &self.title, &body).into_string()).into_response()
    }
}

/// The hidden fields every form carries: its token and a fresh request id, so a form sent
/// twice (a double click, a reload) takes its step once.
fn form_fields(look: &Look) -> Markup {
    markup!(
        "<input type=\"hidden\" name=\"form_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"request_id\" value=\"{}\">",
        look.form_token,
        uuid::Uuid::new_v4()
    )
}

/// A form that takes `step` on the case at `base/id` (e.g. `/referrals/<id>/receipt`), with
/// the hidden fields every form carries.
pub(super) fn step_form(look: &Look, base: &str, id: &str, step: &str, inner: Markup) -> Markup {
    markup!(
        "<form method=\"post\" action=\"{base}/{id}/{step}\" id=\"form-{step}\">{fields}{inner}</form>",
        base = base,
        id = id,
        step = step,
        fields = form_fields(look),
        inner = inner
    )
}

/// Where a posted step goes: back to the case's page, saying what was done; or, refused, the
/// page again with the refusal.
pub(super) async fn after_step<Fut>(
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
pub(super) fn list(
    viewer: &Viewer,
    path: &str,
    title: &str,
    listed: Result<tonic::Response<pb::ListCasesResponse>, tonic::Status>,
) -> Response {
    let body = match listed {
        Ok(r) => cases_table(&Look::of(viewer), &r.into_inner().cases, path),
        Err(status) => notice("error", &status_text(&status)),
    };
    Html(page(&viewer.frame(path), title, &body).into_string()).into_response()
}

/// The fields of a posted form, checked for the viewer's token.
#[derive(Debug)]
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The fields, or `None` when the form's token is not the viewer's.
    pub(super) fn check(form: Vec<(String, String)>, viewer: &Viewer) -> Option<Fields> {
        let fields = Fields(form);
        viewer
            .state
            .sessions
            .form_token_is_valid(&viewer.identity, fields.get("form_token"))
            .then_some(fields)
    }

    pub(super) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub(super) fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn request_id(&self) -> String {
        self.get("request_id").to_owned()
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DoneQuery {
    #[serde(default)]
    done: String,
}

impl DoneQuery {
    /// What was just done, as the page says it.
    pub(super) fn message(&self, lang: Lang) -> Option<Markup> {
        done_text(lang, &self.done).map(|t| notice("ok", t))
    }
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
