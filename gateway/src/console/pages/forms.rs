//! The desks' forms. Each step the viewer may take now is a [`StepForm`]: a title, a help line,
//! its fields and its button, in the page's language. Three promises hold for every form:
//!
//! - **Nothing typed is lost.** A form that is refused (by a rule, or for a blank required
//!   field) comes back with every choice and every word as they were posted ([`Posted`]).
//! - **A decision that cannot be undone is confirmed.** Filing or declining a referral,
//!   designating the competent agency, delivering an opinion: the form's `confirm` sentence
//!   spells the choice out on a page of its own, with what was entered, before anything is sent.
//! - **A form sent twice takes its step once.** Every form carries its viewer's token and a
//!   request id; the confirmation page carries the same id on.

use super::parts::{Look, option};
use crate::console::html::{Lang, Markup, markup};
use crate::console::viewer::Viewer;

/// One field of a form.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) kind: FieldKind,
    pub(super) required: bool,
}

/// How a field is entered.
#[derive(Debug, Clone)]
pub(super) enum FieldKind {
    /// One line of text.
    Line,
    /// Free text over several lines.
    Text,
    /// A day (`YYYY-MM-DD`).
    Date,
    /// One of the options: value and label.
    Choice(Vec<(String, String)>),
    /// Any of the options.
    Checks(Vec<(String, String)>),
}

impl Field {
    fn new(name: &'static str, label: &'static str, kind: FieldKind) -> Field {
        Field {
            name,
            label,
            kind,
            required: false,
        }
    }

    pub(super) fn line(name: &'static str, label: &'static str) -> Field {
        Field::new(name, label, FieldKind::Line)
    }

    pub(super) fn text(name: &'static str, label: &'static str) -> Field {
        Field::new(name, label, FieldKind::Text)
    }

    pub(super) fn date(name: &'static str, label: &'static str) -> Field {
        Field::new(name, label, FieldKind::Date)
    }

    pub(super) fn choice(
        name: &'static str,
        label: &'static str,
        options: Vec<(String, String)>,
    ) -> Field {
        Field::new(name, label, FieldKind::Choice(options))
    }

    pub(super) fn checks(
        name: &'static str,
        label: &'static str,
        options: Vec<(String, String)>,
    ) -> Field {
        Field::new(name, label, FieldKind::Checks(options))
    }

    /// The field must not be left blank (a check list: at least one ticked).
    pub(super) fn required(mut self) -> Field {
        self.required = true;
        self
    }

    /// Whether the posted form leaves it blank.
    fn is_blank(&self, fields: &Fields) -> bool {
        fields.all(self.name).all(|v| v.trim().is_empty())
    }

    /// The posted value as the confirmation page shows it: a choice by its label.
    fn shown(&self, fields: &Fields) -> String {
        let label_of = |options: &[(String, String)], value: &str| {
            options
                .iter()
                .find(|(v, _)| v == value)
                .map_or_else(|| value.to_owned(), |(_, label)| label.clone())
        };
        match &self.kind {
            FieldKind::Choice(options) => label_of(options, fields.get(self.name)),
            FieldKind::Checks(options) => fields
                .all(self.name)
                .map(|v| label_of(options, v))
                .collect::<Vec<_>>()
                .join("、"),
            _ => fields.get(self.name).to_owned(),
        }
    }

    fn render(&self, posted: Option<&Fields>) -> Markup {
        let value = posted.map_or("", |p| p.get(self.name));
        let name = self.name;
        let input = match &self.kind {
            FieldKind::Line => markup!("<input name=\"{}\" value=\"{}\">", name, value),
            FieldKind::Date => {
                markup!(
                    "<input type=\"date\" name=\"{}\" value=\"{}\">",
                    name,
                    value
                )
            }
            FieldKind::Text => markup!("<textarea name=\"{}\">{}</textarea>", name, value),
            FieldKind::Choice(options) => {
                let mut out = markup!("<select name=\"{}\">", name);
                for (v, label) in options {
                    out.push(option(v, label, posted.is_some() && v == value));
                }
                out.push(markup!("</select>"));
                out
            }
            FieldKind::Checks(options) => {
                let mut out = Markup::new();
                for (v, label) in options {
                    let checked = if posted.is_some_and(|p| p.all(name).any(|c| c == v)) {
                        markup!(" checked")
                    } else {
                        Markup::new()
                    };
                    markup_into!(
                        out,
                        "<label class=\"check\"><span><input type=\"checkbox\" name=\"{}\" value=\"{}\"{}> {}</span></label>",
                        name,
                        v,
                        checked,
                        label
                    );
                }
                return markup!(
                    "<fieldset><legend>{}</legend>{}</fieldset>",
                    self.label,
                    out
                );
            }
        };
        markup!("<label>{}{}</label>", self.label, input)
    }
}

/// A step the viewer may take, as a form.
#[derive(Debug, Clone)]
pub(super) struct StepForm {
    /// The step's path segment, e.g. `decline`; the form's id is `form-<step>`.
    pub(super) step: &'static str,
    pub(super) title: &'static str,
    pub(super) help: Option<&'static str>,
    pub(super) fields: Vec<Field>,
    pub(super) button: &'static str,
    /// For a decision that cannot be undone: the sentence that spells it out, asked to be
    /// confirmed before the step is sent.
    pub(super) confirm: Option<&'static str>,
}

impl StepForm {
    pub(super) fn new(step: &'static str, title: &'static str, button: &'static str) -> StepForm {
        StepForm {
            step,
            title,
            help: None,
            fields: Vec::new(),
            button,
            confirm: None,
        }
    }

    pub(super) fn help(mut self, help: &'static str) -> StepForm {
        self.help = Some(help);
        self
    }

    pub(super) fn field(mut self, field: Field) -> StepForm {
        self.fields.push(field);
        self
    }

    pub(super) fn confirm(mut self, sentence: &'static str) -> StepForm {
        self.confirm = Some(sentence);
        self
    }

    /// The form posting to `action`; `posted` fills it in as it was sent when this is the
    /// form that was refused.
    pub(super) fn render(&self, look: &Look, action: &str, posted: Option<&Posted>) -> Markup {
        let mine = posted.filter(|p| p.step == self.step).map(|p| &p.fields);
        let mut inner = markup!("<b>{}</b>", self.title);
        if let Some(help) = self.help {
            markup_into!(inner, "<p class=\"muted\">{}</p>", help);
        }
        for field in &self.fields {
            inner.push(field.render(mine));
        }
        markup_into!(inner, "<button>{}</button>", self.button);
        markup!(
            "<form method=\"post\" action=\"{}\" id=\"form-{}\">{}{}</form>",
            action,
            self.step,
            hidden_fields(&look.form_token, &uuid::Uuid::new_v4().to_string()),
            inner
        )
    }

    /// What a posted form leaves blank that it must not, as the refusal says it; `None` when
    /// nothing is missing.
    pub(super) fn missing(&self, lang: Lang, fields: &Fields) -> Option<String> {
        let blank: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| f.required && f.is_blank(fields))
            .map(|f| f.label)
            .collect();
        (!blank.is_empty()).then(|| {
            format!(
                "{}{}",
                lang.t("请填写：", "Please fill in: "),
                blank.join(lang.t("、", ", "))
            )
        })
    }

    /// The confirmation of a posted decision: the sentence, what was entered, and two buttons,
    /// one that sends the step (`#confirm`), one that goes back to the form as it was (`#edit`).
    pub(super) fn confirmation(&self, look: &Look, action: &str, posted: &Posted) -> Markup {
        let lang = look.lang;
        let sentence = self.confirm.unwrap_or(self.title);
        let mut body = markup!(
            "<p class=\"notice warning\" id=\"confirm-text\">{}</p><dl>",
            sentence
        );
        for field in &self.fields {
            markup_into!(
                body,
                "<dt>{}</dt><dd>{}</dd>",
                field.label,
                field.shown(&posted.fields)
            );
        }
        body.push(markup!("</dl><div class=\"actions\">"));
        let carried = posted.fields.carried();
        let request_id = posted.fields.request_id();
        for (id, flag, button) in [
            (
                "confirm",
                "confirmed",
                format!("{}{}", lang.t("确认：", "Confirm: "), self.button),
            ),
            (
                "edit",
                "edit",
                lang.t("返回修改", "Go back and change it").to_owned(),
            ),
        ] {
            markup_into!(
                body,
                "<form method=\"post\" action=\"{}\" id=\"{}\">{}{}<input type=\"hidden\" name=\"{}\" value=\"yes\"><button>{}</button></form>",
                action,
                id,
                hidden_fields(&look.form_token, request_id),
                carried.clone(),
                flag,
                button
            );
        }
        body.push(markup!("</div>"));
        body
    }
}

/// The hidden fields every form carries: its viewer's token and a request id, so that a form
/// sent twice (a double click, a reload) takes its step once.
fn hidden_fields(form_token: &str, request_id: &str) -> Markup {
    markup!(
        "<input type=\"hidden\" name=\"form_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"request_id\" value=\"{}\">",
        form_token,
        request_id
    )
}

/// The fields of a posted form, checked for the viewer's token.
#[derive(Debug, Clone)]
pub(super) struct Fields(Vec<(String, String)>);

/// The fields the console adds to a form, which a confirmation does not carry on as entered.
const OWN_FIELDS: [&str; 4] = ["form_token", "request_id", "confirmed", "edit"];

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

    /// Fields as a test posts them.
    #[cfg(test)]
    pub(super) fn from_pairs(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// The first value of `name`; empty when absent.
    pub(super) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name` (a check list).
    pub(super) fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn request_id(&self) -> &str {
        self.get("request_id")
    }

    /// Whether the form says `flag=yes` (`confirmed`, `edit`).
    pub(super) fn says(&self, flag: &str) -> bool {
        self.get(flag) == "yes"
    }

    /// What was entered, as hidden fields, for the confirmation's two forms.
    fn carried(&self) -> Markup {
        self.0
            .iter()
            .filter(|(k, _)| !OWN_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| markup!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", k, v))
            .collect()
    }
}

/// A form as it was posted: its step and fields, to fill it in again.
#[derive(Debug, Clone)]
pub(super) struct Posted {
    pub(super) step: String,
    pub(super) fields: Fields,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_pairs(pairs)
    }

    fn decline() -> StepForm {
        StepForm::new("decline", "不予立案", "决定不予立案")
            .field(Field::text("reasons", "理由").required())
            .field(Field::choice(
                "basis",
                "依据",
                vec![("a".into(), "甲".into()), ("b".into(), "乙".into())],
            ))
            .confirm("本案将不予立案")
    }

    fn look() -> Look {
        Look {
            lang: Lang::Zh,
            directory: std::sync::Arc::new(
                casebridge_core::directory::Directory::from_agencies(Vec::new())
                    .expect("an empty directory"),
            ),
            me: String::new(),
            form_token: "tok".into(),
        }
    }

    #[test]
    fn a_refused_form_comes_back_as_it_was_posted_and_others_stay_empty() {
        let posted = Posted {
            step: "decline".into(),
            fields: fields(&[("reasons", "证据<不足>"), ("basis", "b")]),
        };
        let form = decline().render(&look(), "/referrals/x/decline", Some(&posted));
        let form = form.as_str();
        assert!(form.contains(">证据&lt;不足&gt;</textarea>"), "{form}");
        assert!(form.contains("<option value=\"b\" selected>乙"), "{form}");
        assert!(!form.contains("value=\"a\" selected"), "{form}");
        let other = StepForm::new("file", "立案", "决定立案").field(Field::text("reasons", "说明"));
        let other = other.render(&look(), "/referrals/x/file", Some(&posted));
        assert!(
            other
                .as_str()
                .contains("<textarea name=\"reasons\"></textarea>")
        );
    }

    #[test]
    fn a_blank_required_field_is_named() {
        let blank = fields(&[("reasons", "   ")]);
        assert_eq!(
            decline().missing(Lang::Zh, &blank).as_deref(),
            Some("请填写：理由")
        );
        assert_eq!(
            decline().missing(Lang::En, &fields(&[("reasons", "x")])),
            None
        );
    }

    #[test]
    fn a_confirmation_spells_out_the_choice_and_carries_the_same_request() {
        let posted = Posted {
            step: "decline".into(),
            fields: fields(&[
                ("form_token", "old"),
                ("request_id", "req-1"),
                ("reasons", "证据不足"),
                ("basis", "a"),
            ]),
        };
        let page = decline().confirmation(&look(), "/referrals/x/decline", &posted);
        let page = page.as_str();
        assert!(page.contains("本案将不予立案"), "{page}");
        assert!(
            page.contains("<dd>甲</dd>"),
            "the choice by its label: {page}"
        );
        assert!(page.contains("name=\"confirmed\" value=\"yes\""), "{page}");
        assert!(page.contains("name=\"edit\" value=\"yes\""), "{page}");
        assert_eq!(page.matches("value=\"req-1\"").count(), 2, "{page}");
        assert_eq!(
            page.matches("value=\"tok\"").count(),
            2,
            "the viewer's token: {page}"
        );
        assert!(!page.contains("value=\"old\""), "{page}");
    }
}
