//! The case desk: the page that every family's desk fills in. A desk lists its cases; a case's
//! page shows a message (what was just done, or the refusal), the case's facts, what the desk
//! adds (links, the package, positions), a form per step the viewer may take now, and the steps
//! so far. Each form posts one step and comes back to the page; a decision that cannot be undone
//! is confirmed first, and a refused form comes back as it was filled in (see [`super::forms`]).

use std::future::Future;

use axum::Form;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use serde::Deserialize;

use super::forms::{Fields, Posted, StepForm};
use super::lists::{ListParams, family_page, role_tabs};
use super::parts::{Look, failed, forbidden, history_table, status_text};
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
    /// The desk's path, e.g. `/transfers`; the case's page is `base/id`.
    pub(super) base: &'static str,
    pub(super) id: &'a str,
    pub(super) title: String,
    pub(super) facts: Vec<Fact>,
    /// What the desk shows between the facts and the forms.
    pub(super) sections: Markup,
    /// A form per step the viewer may take now.
    pub(super) forms: Vec<StepForm>,
    pub(super) history: &'a [pb::HistoryEntry],
}

impl CaseDesk<'_> {
    /// The case page's path.
    pub(super) fn path(&self) -> String {
        format!("{}/{}", self.base, self.id)
    }

    /// Where the form of `step` posts.
    fn action(&self, step: &str) -> String {
        format!("{}/{}/{step}", self.base, html::url_value(self.id))
    }

    /// The page's body, under `message`; `posted` fills in the form it came from.
    pub(super) fn body(
        &self,
        look: &Look,
        message: Option<Markup>,
        posted: Option<&Posted>,
    ) -> Markup {
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
        for form in &self.forms {
            body.push(form.render(look, &self.action(form.step), posted));
        }
        body.push(markup!("</div>"));
        markup_into!(body, "<h2>{}</h2>", look.lang.t("办理过程", "Steps"));
        body.push(history_table(look, self.history));
        body
    }

    /// The whole page.
    pub(super) fn page(
        &self,
        viewer: &Viewer,
        message: Option<Markup>,
        posted: Option<&Posted>,
    ) -> Response {
        let body = self.body(&Look::of(viewer), message, posted);
        let path = self.path();
        Html(page(&viewer.frame(&path), &self.title, &body).into_string()).into_response()
    }
}

/// A family's desk: how its cases are read, shown and acted on.
pub(super) trait Desk {
    /// The desk's path, e.g. `/transfers`.
    const BASE: &'static str;
    /// The case as the gateway returns it.
    type Case: Send + Sync;

    /// Reads the case as the viewer.
    fn load(
        viewer: &Viewer,
        id: &str,
    ) -> impl Future<Output = Result<Self::Case, tonic::Status>> + Send;

    /// The case at the desk, as `look` sees it: its facts and the forms of the steps the
    /// viewer may take now.
    fn desk<'a>(look: &Look, case: &'a Self::Case) -> CaseDesk<'a>;

    /// Takes `step` with the posted fields; `None` when the desk has no such step.
    fn take(
        viewer: &Viewer,
        id: &str,
        step: &str,
        fields: &Fields,
    ) -> impl Future<Output = Option<Result<(), tonic::Status>>> + Send;
}

/// A case's page at its desk.
pub(super) async fn show<D: Desk>(
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    case_page::<D>(&viewer, &id, q.message(viewer.lang), None).await
}

async fn case_page<D: Desk>(
    viewer: &Viewer,
    id: &str,
    message: Option<Markup>,
    posted: Option<&Posted>,
) -> Response {
    match D::load(viewer, id).await {
        Ok(case) => D::desk(&Look::of(viewer), &case).page(viewer, message, posted),
        Err(status) => failed(viewer, &format!("{}/{id}", D::BASE), &status),
    }
}

/// A posted step: checked for the viewer's token and for blank required fields, confirmed when
/// it cannot be undone, then taken; refused, the page comes back with the form as it was filled.
pub(super) async fn post<D: Desk>(
    viewer: Viewer,
    Path((id, step)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let Some(fields) = Fields::check(form, &viewer) else {
        return forbidden(viewer.lang);
    };
    let posted = Posted {
        step: step.clone(),
        fields,
    };
    let look = Look::of(&viewer);
    let case = match D::load(&viewer, &id).await {
        Ok(case) => case,
        Err(status) => return failed(&viewer, &format!("{}/{id}", D::BASE), &status),
    };
    let desk = D::desk(&look, &case);
    if posted.fields.says("edit") {
        return desk.page(&viewer, None, Some(&posted));
    }
    // A step whose form the page no longer offers is still sent: the service says why not.
    if let Some(form) = desk.forms.iter().find(|f| f.step == step) {
        if let Some(missing) = form.missing(look.lang, &posted.fields) {
            return desk.page(&viewer, Some(notice("error", &missing)), Some(&posted));
        }
        if form.confirm.is_some() && !posted.fields.says("confirmed") {
            let body = form.confirmation(&look, &desk.action(&step), &posted);
            let title = format!(
                "{} · {}",
                look.lang.t("请确认", "Please confirm"),
                form.title
            );
            let path = desk.path();
            return Html(page(&viewer.frame(&path), &title, &body).into_string()).into_response();
        }
    }
    let Some(result) = D::take(&viewer, &id, &step, &posted.fields).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match result {
        Ok(()) => Redirect::to(&format!(
            "{}/{}?done={}",
            D::BASE,
            html::url_value(&id),
            html::url_value(&step)
        ))
        .into_response(),
        Err(status) => {
            // Read again rather than reuse `desk`: a refusal often means the case moved on
            // (another officer took the step), and the page must show where it stands now.
            let refusal = notice("error", &status_text(look.lang, &status));
            case_page::<D>(&viewer, &id, Some(refusal), Some(&posted)).await
        }
    }
}

/// A desk's list: tabs by the viewer's role (the first is the default), then a page of cases.
pub(super) async fn list(
    viewer: &Viewer,
    family: Family,
    path: &str,
    title: &str,
    tabs: &[(&str, &str, &str)],
    mut params: ListParams,
) -> Response {
    if params.role.is_empty() {
        params.role = tabs.first().map_or("", |t| t.0).to_owned();
    }
    let mut body = role_tabs(viewer.lang, path, &params.role, tabs);
    body.push(family_page(viewer, family, &params, path).await);
    Html(page(&viewer.frame(path), title, &body).into_string()).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DoneQuery {
    #[serde(default)]
    done: String,
}

impl DoneQuery {
    /// What was just done, as the page says it.
    pub(super) fn message(&self, lang: Lang) -> Option<Markup> {
        (!self.done.is_empty()).then(|| notice("ok", done_text(lang, &self.done)))
    }
}

/// What a step that was just taken is called on the page it comes back to.
fn done_text(lang: Lang, step: &str) -> &'static str {
    match step {
        "receipt" => lang.t("已签收回执。", "Receipt signed."),
        "supplement" => lang.t("已要求补充材料。", "Missing materials requested."),
        "file" => lang.t("已决定立案。", "The case is filed."),
        "decline" => lang.t("已决定不予立案。", "Filing declined."),
        "accept" => lang.t("已受理。", "Accepted."),
        "reply" => lang.t("已提交答复。", "Reply recorded."),
        "designate" => lang.t(
            "已指定管辖，争议结束。",
            "Agency designated; the dispute is closed.",
        ),
        "object" => lang.t(
            "已提出管辖异议，管辖争议已开启。",
            "Objection recorded; a jurisdiction dispute is open.",
        ),
        "outcome" => lang.t("已反馈办理情况。", "Outcome reported."),
        "contest" => lang.t(
            "已对不予立案提出异议，管辖争议已开启。",
            "Decision contested; a jurisdiction dispute is open.",
        ),
        "refuse" => lang.t("已不予受理。", "Request refused."),
        "material" => lang.t("已要求补充材料。", "Material requested."),
        "extend" => lang.t("已告知新的办结日期。", "The new date is announced."),
        "deliver" => lang.t("已出具意见。", "Opinion delivered."),
        "request_reasons" => lang.t("已要求说明不立案理由。", "Reasons requested."),
        "give_reasons" => lang.t("已说明不立案理由。", "Reasons given."),
        "explain" => lang.t("已作出说明。", "Explanation given."),
        "tell_agency" => lang.t("已告知移送机关。", "The agency is told."),
        "notify_filing" => lang.t("已通知公安机关立案。", "The police are notified to file."),
        "demand_explanation" => lang.t("已要求说明。", "Explanation demanded."),
        "correction" => lang.t("已发出纠正违法通知书。", "Correction notice issued."),
        "report_superior" => lang.t("已报上一级人民检察院。", "Reported to the next level."),
        "suggest_supervision" => lang.t("已建议立案监督。", "Supervision suggested."),
        "suggest" => lang.t(
            "已提出检察意见，建议移送。",
            "Opinion given: the case should be referred.",
        ),
        "close" => lang.t("已结束预警。", "Warning closed."),
        "link" => lang.t("已关联移送案件。", "Referral linked."),
        _ => lang.t("已办理。", "Done."),
    }
}
