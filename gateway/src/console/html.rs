//! Plain HTML for the console: escaping, the page frame, the two languages, and how times,
//! ageing and agencies are shown. No template engine, but escaping by construction: markup is a
//! [`Markup`], made only from literal templates ([`markup!`](crate::console::html::markup)) and
//! escaped values, so text from a case can reach a page only escaped.

use std::fmt;

use casebridge_core::directory::AgencyKind;
use casebridge_core::time::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The language of the pages: Chinese by default, English on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// The cookie that keeps the choice.
    pub const COOKIE: &'static str = "cb_lang";

    pub fn from_code(code: &str) -> Lang {
        if code == "en" { Lang::En } else { Lang::Zh }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Trusted markup: the only thing a page is made of. It is built from literal templates by
/// [`markup!`], whose every argument is escaped unless it is itself `Markup`, or from text by
/// [`Markup::text`]; nothing else makes one, so a string from a case cannot reach a page
/// unescaped. Only `Markup` implements `Display`-as-markup: the escaping happens in [`Render`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    /// No markup.
    pub const fn new() -> Markup {
        Markup(String::new())
    }

    /// `text`, escaped.
    pub fn text(text: &str) -> Markup {
        Markup(esc(text))
    }

    /// Only for [`markup!`]: the output of a template whose arguments were all rendered.
    #[doc(hidden)]
    pub fn from_template(rendered: String) -> Markup {
        Markup(rendered)
    }

    /// Appends more markup (text must go through [`Markup::text`] or [`markup!`] first).
    pub fn push(&mut self, more: impl Into<Markup>) {
        self.0.push_str(&more.into().0);
    }

    /// Puts markup at the front.
    pub fn prepend(&mut self, before: Markup) {
        self.0.insert_str(0, &before.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The page's bytes, for the response.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Markup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromIterator<Markup> for Markup {
    fn from_iter<I: IntoIterator<Item = Markup>>(iter: I) -> Markup {
        Markup(iter.into_iter().map(|m| m.0).collect())
    }
}

/// How a value goes into a template: text and strings escaped, numbers as they are, markup as
/// it is.
pub trait Render {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Render for Markup {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Render for str {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&esc(self))
    }
}

impl Render for String {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().render(f)
    }
}

impl<T: Render + ?Sized> Render for &T {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).render(f)
    }
}

macro_rules! render_as_displayed {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    )*};
}
// Numbers, dates and ids have no HTML-significant characters.
render_as_displayed!(
    u32,
    u64,
    i32,
    i64,
    usize,
    f64,
    uuid::Uuid,
    chrono::NaiveDate
);

/// A value in a template, rendered by its [`Render`].
#[doc(hidden)]
#[derive(Debug)]
pub struct Rendered<'a, T: ?Sized>(pub &'a T);

impl<T: Render + ?Sized> fmt::Display for Rendered<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f)
    }
}

/// Markup from a literal template, `format!`-style: `markup!("<td>{}</td>", case.headline)`.
/// Every argument is escaped unless it is [`Markup`]. The template goes through `concat!`, so it
/// cannot capture a variable by name (`"{headline}"` without `headline = …` does not compile):
/// every value passes through [`Render`].
macro_rules! markup {
    ($template:literal $(,)?) => {
        $crate::console::html::Markup::from_template(format!(concat!($template)))
    };
    ($template:literal, $($args:tt)+) => {
        $crate::console::html::markup!(@args [$template] [] $($args)+)
    };
    (@args [$template:literal] [$($done:tt)*] $name:ident = $value:expr $(, $($rest:tt)*)?) => {
        $crate::console::html::markup!(
            @args [$template]
            [$($done)* $name = $crate::console::html::Rendered(&$value),]
            $($($rest)*)?
        )
    };
    (@args [$template:literal] [$($done:tt)*] $value:expr $(, $($rest:tt)*)?) => {
        $crate::console::html::markup!(
            @args [$template]
            [$($done)* $crate::console::html::Rendered(&$value),]
            $($($rest)*)?
        )
    };
    (@args [$template:literal] [$($done:tt)*]) => {
        $crate::console::html::Markup::from_template(format!(concat!($template), $($done)*))
    };
}
pub(crate) use markup;

/// `text` with the five HTML-significant characters escaped; safe in text and quoted attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a query value keeps as it is: RFC 3986's unreserved characters. Everything else,
/// `&`, `=` and `#` included, is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `text` percent-encoded for a URL query value.
pub fn url_value(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// A wire timestamp in China Standard Time, in which every legal deadline is stated
/// (docs/law.md §2), e.g. `2026-02-24 18:00`; "—" when unset or out of range.
pub fn time(at: Option<&prost_types::Timestamp>) -> String {
    let Some(at) = at else {
        return "—".into();
    };
    let Some(millis) = at.seconds.checked_mul(1000) else {
        return "—".into();
    };
    let Ok(at) = Timestamp::try_from_millis(millis) else {
        return "—".into();
    };
    // A deadline at midnight is the end of the day before: say so, as the law counts it.
    casebridge_core::calendar::law_minute(at)
}

/// How long past due, e.g. "3 天 4 小时" / "3 d 4 h"; empty when not overdue.
pub fn ageing(lang: Lang, overdue_hours: f64) -> String {
    if overdue_hours <= 0.0 {
        return String::new();
    }
    // Whole hours are the board's resolution.
    let hours = overdue_hours.floor() as u64;
    let (days, hours) = (hours / 24, hours % 24);
    match (lang, days) {
        (Lang::Zh, 0) if hours == 0 => "不足 1 小时".into(),
        (Lang::En, 0) if hours == 0 => "< 1 h".into(),
        (Lang::Zh, 0) => format!("{hours} 小时"),
        (Lang::Zh, d) => format!("{d} 天 {hours} 小时"),
        (Lang::En, 0) => format!("{hours} h"),
        (Lang::En, d) => format!("{d} d {hours} h"),
    }
}

/// A family's name.
pub fn family(lang: Lang, family: &str) -> &'static str {
    match family {
        "referral" => lang.t("涉嫌犯罪案件移送", "criminal referral"),
        "transfer" => lang.t("行政执法案件移送", "case transfer"),
        "dispute" => lang.t("管辖争议", "jurisdiction dispute"),
        "opinion" => lang.t("认定/检验/鉴定", "expert opinion"),
        _ => lang.t("其他", "other"),
    }
}

/// A case's status (snake_case, as every family names it) in the page's language: in Chinese
/// the legal term with the code beside it, so a status reads the same in the API and the console.
pub fn status(lang: Lang, status: &str) -> Markup {
    let zh = match status {
        "submitted" => "已移送",
        "sent" => "已发出",
        "received" => "已签收",
        "awaiting_supplement" => "待补充材料",
        "filed" => "已立案",
        "declined" => "不予立案",
        "returned_not_police_matter" => "已退回（不属公安管辖）",
        "reconsideration_requested" => "已申请复议",
        "supervision_suggested" => "已建议立案监督",
        "reasons_requested" => "已要求说明不立案理由",
        "reasons_given" => "已说明理由",
        "supervision_closed" => "立案监督结束",
        "filing_notified" => "已通知立案",
        "transferred_elsewhere" => "已移送其他机关",
        "withdrawn" => "已撤案",
        "handed_back" => "已反向移送",
        "not_referred" => "决定不移送",
        "accepted" => "已受理",
        "objected" => "有管辖异议",
        "outcome_reported" => "已反馈办理情况",
        "decline_contested" => "对不予立案有异议",
        "suspended" => "已中止",
        "negotiating" => "协商中",
        "agreed" => "协商一致",
        "referred" => "已提请协调",
        "replied" => "已答复",
        "designated" => "已指定管辖",
        "requested" => "已申请",
        "refused" => "已拒绝",
        "awaiting_material" => "待补充材料",
        "delivered" => "已出具意见",
        "recorded" => "已录入",
        "agency_warned" => "已提示执法机关",
        "warning_raised" => "已发出移送预警",
        "referral_suggested" => "已提出检察意见（建议移送）",
        "answer_overdue" => "逾期未答复",
        "referral_linked" => "已移送",
        "non_referral_explained" => "已书面说明不移送理由",
        "warning_closed" => "检察机关已结束预警",
        "warning_cleared" => "更正或阈值表调整后未达移送标准",
        _ => "",
    };
    match lang {
        Lang::Zh if !zh.is_empty() => {
            markup!("{} <span class=\"muted code\">{}</span>", zh, status)
        }
        _ => Markup::text(&status.replace('_', " ")),
    }
}

/// An obligation's stage.
pub fn stage(lang: Lang, stage: &str) -> &'static str {
    match stage {
        "open" => lang.t("办理中", "open"),
        "warned" => lang.t("即将到期", "warned"),
        "missed" => lang.t("已逾期", "overdue"),
        "closed" => lang.t("已办结", "closed"),
        _ => lang.t("未知", "unknown"),
    }
}

/// A navigation entry: path, Chinese, English.
type NavEntry = (&'static str, &'static str, &'static str);

const BOARD: NavEntry = ("/board", "逾期看板", "Overdue");
const CASES: NavEntry = ("/cases", "案件", "Cases");
const STATS: NavEntry = ("/stats", "统计", "Statistics");
const REFERRALS: NavEntry = ("/referrals", "涉罪移送", "Referrals");
const INCOMING: NavEntry = ("/referrals", "移送受理", "Referrals");
const SUPERVISION: NavEntry = ("/supervision", "立案监督", "Supervision");
const TRANSFERS: NavEntry = ("/transfers", "案件移送", "Transfers");
const DISPUTES: NavEntry = ("/disputes", "管辖争议", "Disputes");
const OPINIONS: NavEntry = ("/opinions", "认定鉴定", "Opinions");
const WARNINGS: NavEntry = ("/warnings", "移送预警", "Warnings");

/// The desks an agency of `kind` works at, and the pages every agency has.
fn nav(kind: AgencyKind) -> &'static [NavEntry] {
    match kind {
        AgencyKind::Administrative => &[
            BOARD, REFERRALS, TRANSFERS, DISPUTES, OPINIONS, WARNINGS, CASES, STATS,
        ],
        AgencyKind::Police => &[BOARD, INCOMING, TRANSFERS, OPINIONS, CASES, STATS],
        AgencyKind::Procuratorate => &[BOARD, SUPERVISION, WARNINGS, CASES, STATS],
        AgencyKind::Coordination => &[BOARD, DISPUTES, TRANSFERS, CASES, STATS],
        AgencyKind::Expert => &[BOARD, OPINIONS, CASES, STATS],
    }
}

/// Who is signed in, as the frame shows it.
#[derive(Debug)]
pub struct Frame<'a> {
    pub lang: Lang,
    /// The agency's name and code; `None` on the sign-in pages.
    pub agency: Option<(&'a str, &'a str)>,
    /// The agency's kind, which decides the desks in the navigation.
    pub kind: AgencyKind,
    /// A demo session may switch agencies.
    pub demo: bool,
    /// The current path, for the language switch to come back to.
    pub path: &'a str,
    /// The form token of the signed-in session, for the sign-out form; empty when signed out.
    pub form_token: String,
}

/// A whole page: the frame around `body`.
pub fn page(frame: &Frame<'_>, title: &str, body: &Markup) -> Markup {
    let lang = frame.lang;
    let mut out = markup!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · CaseBridge</title><link rel=\"stylesheet\" href=\"/console.css\"></head><body>\
         <header><a class=\"brand\" href=\"/\" title=\"{product}\">CaseBridge <span>{product}</span></a>",
        code = if lang == Lang::Zh { "zh-CN" } else { "en" },
        title = title,
        product = lang.t("两法衔接与执法协作", "enforcement hand-offs"),
    );
    if frame.agency.is_some() {
        out.push(markup!("<nav>"));
        for (path, zh, en) in nav(frame.kind) {
            let current = if frame.path.starts_with(path) {
                markup!(" class=\"current\"")
            } else {
                Markup::new()
            };
            out.push(markup!(
                "<a href=\"{}\"{}>{}</a>",
                path,
                current,
                lang.t(zh, en)
            ));
        }
        out.push(markup!("</nav>"));
    }
    out.push(markup!("<div class=\"who\">"));
    if let Some((name, code)) = frame.agency {
        out.push(markup!(
            "<span id=\"signed-in\" title=\"{code}\">{name}</span>",
            name = name,
            code = code
        ));
        if frame.demo {
            out.push(markup!(
                " <a href=\"/choose\">{}</a>",
                lang.t("切换机关", "switch")
            ));
            out.push(markup!(
                " <form method=\"post\" action=\"/signout\" class=\"inline\">\
                 <input type=\"hidden\" name=\"form_token\" value=\"{}\"><button>{}</button></form>",
                frame.form_token,
                lang.t("退出", "sign out")
            ));
        }
    }
    // The switch is named in the language it switches to, and says so (`lang`).
    let (other, tag, label) = match lang {
        Lang::Zh => ("en", "en", "English"),
        Lang::En => ("zh", "zh-CN", "中文"),
    };
    out.push(markup!(
        " <a id=\"lang\" lang=\"{tag}\" href=\"/lang?to={other}&amp;back={back}\">{label}</a></div></header><main>",
        other = other,
        tag = tag,
        back = url_value(frame.path),
        label = label
    ));
    out.push(markup!("<h1>{}</h1>", title));
    out.push(body.clone());
    out.push(markup!("</main></body></html>"));
    out
}

/// A message box: `kind` is "error" or "ok".
pub fn notice(kind: &str, text: &str) -> Markup {
    markup!("<p class=\"notice {}\" role=\"status\">{}</p>", kind, text)
}

/// The stylesheet: plain, readable, printable.
pub const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 "PingFang SC","Noto Sans CJK SC","Microsoft YaHei",system-ui,sans-serif;color:#1d2430;background:#f5f6f8}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.8rem;padding:.6rem 1.2rem;background:#123a63;color:#fff}
header a{color:#fff;text-decoration:none}
.brand{font-weight:700}.brand span{font-weight:400;opacity:.8;margin-left:.4rem}@media (max-width:1440px){.brand span{display:none}}
nav{display:flex;gap:.1rem;flex:1}nav a{padding:.3rem .55rem;border-radius:4px;white-space:nowrap}.who a,.who span{white-space:nowrap}nav a.current,nav a:hover{background:#2a5a8c}
.who{display:flex;gap:.6rem;align-items:center}.who button{background:none;border:1px solid #fff;color:#fff;border-radius:4px;cursor:pointer}
main{padding:1rem 1.5rem;max-width:1400px}
h1{font-size:1.4rem;margin:.4rem 0 1rem}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #dde1e6;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}tr.missed td:first-child{border-left:4px solid #c62828}tr.warned td:first-child{border-left:4px solid #ef8f00}
.overdue{color:#c62828;font-weight:600}.muted{color:#667}.mono{font-family:ui-monospace,monospace;font-size:.85em;word-break:break-all}
details summary{cursor:pointer;color:#123a63}details ul{margin:.3rem 0;padding-left:1.2rem}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin-bottom:1rem}
label{display:flex;flex-direction:column;font-size:.85rem;gap:.15rem}
input,select,textarea{font:inherit;padding:.3rem .4rem;border:1px solid #b8c0cc;border-radius:4px;background:#fff}
textarea{width:100%;min-height:4rem}
button{font:inherit;padding:.35rem .9rem;border-radius:4px;border:1px solid #123a63;background:#123a63;color:#fff;cursor:pointer}
form.inline{display:inline}.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:1rem;margin:1rem 0}
.actions form{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8rem;display:flex;flex-direction:column;gap:.5rem}
.notice{padding:.6rem .8rem;border-radius:4px}.notice.error{background:#fdecea;color:#8e1b1b}.notice.ok{background:#e8f5e9;color:#1b5e20}.notice.warning{background:#fff4e5;color:#7a4100}.provisional{font-size:.8rem;color:#7a4100}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin-bottom:1rem}.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
.card b{display:block;font-size:1.5rem}
svg text{font-size:12px;fill:#1d2430}
.tabs{display:flex;gap:1rem;margin:.2rem 0 .8rem}.tabs a.current{font-weight:700;color:#1d2430;text-decoration:none;border-bottom:2px solid #123a63}
.pager{display:flex;gap:1rem;align-items:center;margin:.8rem 0}fieldset{border:1px solid #dde1e6;border-radius:4px}legend{font-size:.85rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;padding:.8rem;border:1px solid #dde1e6;border-radius:6px}dt{color:#556}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            markup!("<b title=\"{}\">{}</b>{}", "\"x", "<i>", Markup::text("&")).as_str(),
            "<b title=\"&quot;x\">&lt;i&gt;</b>&amp;"
        );
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            url_value("/board?x=1&y=逾期"),
            "%2Fboard%3Fx%3D1%26y%3D%E9%80%BE%E6%9C%9F"
        );
    }

    #[test]
    fn a_deadline_at_midnight_reads_as_24_00_of_the_last_day() {
        // 2026-02-24 24:00 CST is 2026-02-24T16:00:00Z.
        let due = prost_types::Timestamp {
            seconds: 1_771_948_800,
            nanos: 0,
        };
        assert_eq!(time(Some(&due)), "2026-02-24 24:00");
        let afternoon = prost_types::Timestamp {
            seconds: 1_771_948_800 - 6 * 3600,
            nanos: 0,
        };
        assert_eq!(time(Some(&afternoon)), "2026-02-24 18:00");
        assert_eq!(time(None), "—");
    }

    #[test]
    fn a_status_reads_as_its_legal_term_with_its_code() {
        assert_eq!(
            status(Lang::Zh, "designated").as_str(),
            "已指定管辖 <span class=\"muted code\">designated</span>"
        );
        assert_eq!(
            status(Lang::En, "awaiting_supplement").as_str(),
            "awaiting supplement"
        );
        assert_eq!(status(Lang::Zh, "<new>").as_str(), "&lt;new&gt;");
    }

    #[test]
    fn ageing_reads_in_days_and_hours() {
        assert_eq!(ageing(Lang::Zh, 0.0), "");
        assert_eq!(ageing(Lang::En, 0.2), "< 1 h");
        assert_eq!(ageing(Lang::Zh, 5.5), "5 小时");
        assert_eq!(ageing(Lang::En, 52.0), "2 d 4 h");
    }
}
