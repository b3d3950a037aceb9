//! What the pages share: the [`Look`] of a viewer, refusals as a page shows them, and the
//! documents and history tables every timeline has.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use casebridge_core::directory::{Agency, AgencyKind, Directory};
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

/// A refused or failed call, as the page shows it, naming the rule that refused: in Chinese the
/// status's zh-CN `LocalizedMessage` (the rule's legal wording), in English its code and message.
pub(super) fn status_text(lang: Lang, status: &tonic::Status) -> String {
    use tonic_types::StatusExt as _;
    match (lang, status.get_details_localized_message()) {
        (Lang::Zh, Some(zh)) => format!("{}{}", zh_code(status.code()), zh.message),
        _ => format!("{:?}: {}", status.code(), status.message()),
    }
}

/// How a Chinese page introduces a refusal of each kind.
fn zh_code(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::InvalidArgument => "填写有误：",
        tonic::Code::FailedPrecondition => "当前不能办理：",
        tonic::Code::PermissionDenied => "无权办理：",
        tonic::Code::NotFound => "未找到：",
        tonic::Code::AlreadyExists => "重复提交：",
        tonic::Code::Unavailable => "暂时无法办理，请稍后重试：",
        _ => "",
    }
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
    let body = notice("error", &status_text(viewer.lang, status));
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
        AgencyKind::Coordination => lang.t(
            "执法监督与争议协调机构（司法行政部门）",
            "enforcement supervision and dispute coordination (justice bureau)",
        ),
        AgencyKind::Expert => lang.t("认定/鉴定机构", "expert department"),
    }
}

/// What an agency is, as the sign-in page and the directory show it: its kind, and for an
/// agency that others in the directory report to, that it rules on their jurisdiction disputes
/// as their common superior (共同的上一级行政机关, S3 Art 25), which is who disputes go to.
pub(super) fn agency_label(lang: Lang, directory: &Directory, agency: &Agency) -> String {
    let kind = agency_kind(lang, agency.kind);
    let rules_on_disputes = agency.kind == AgencyKind::Administrative
        && directory.agencies().any(|a| {
            a.kind == AgencyKind::Administrative && a.superior.as_ref() == Some(&agency.code)
        });
    if rules_on_disputes {
        format!(
            "{kind}{}",
            lang.t(
                "；下属机关管辖争议的共同上级（指定管辖）",
                "; common superior that rules on its agencies' jurisdiction disputes (designates)",
            )
        )
    } else {
        kind.to_owned()
    }
}

/// A proto enum's name without its prefix, in snake case: `REFERRAL_STATUS_RECEIVED` → `received`.
pub(super) fn enum_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// A document kind's name in the page's language (the legal document's own name in Chinese).
pub(super) fn document_kind(lang: Lang, kind: pb::DocumentKind) -> &'static str {
    use pb::DocumentKind as K;
    match kind {
        K::Unspecified => lang.t("未注明", "unspecified"),
        K::ReferralLetter => lang.t("涉嫌犯罪案件移送书", "referral letter"),
        K::InvestigationReport => lang.t("涉嫌犯罪案件情况的调查报告", "investigation report"),
        K::SeizedItemsList => lang.t("涉案物品清单", "list of seized items"),
        K::TestReport => lang.t("检验报告或鉴定意见", "test report or forensic opinion"),
        K::PenaltyDecision => lang.t("行政处罚决定书", "penalty decision"),
        K::Other => lang.t("其他有关材料", "other material"),
        K::TransferLetter => lang.t("案件移送函", "transfer letter"),
        K::Evidence => lang.t("证据材料", "evidence"),
        K::Decision => lang.t("决定书", "decision"),
        K::Minutes => lang.t("协商纪要", "minutes of agreement"),
        K::Designation => lang.t("指定管辖决定书", "designation"),
        K::Opinion => lang.t("认定、检验或鉴定意见", "expert opinion"),
        K::HandoverList => lang.t("移交清单", "hand-over list"),
    }
}

/// A party role's name in the page's language.
pub(super) fn role_name(lang: Lang, role: pb::PartyRole) -> &'static str {
    use pb::PartyRole as R;
    match role {
        R::Unspecified => lang.t("原当事机关", "former party"),
        R::Sender => lang.t("发起机关", "sender"),
        R::Recipient => lang.t("接收机关", "recipient"),
        R::Procuratorate => lang.t("抄送的人民检察院", "copied procuratorate"),
        R::Coordination => lang.t("指定管辖机关", "designating office"),
        R::Expert => lang.t("认定/鉴定机构", "expert department"),
        R::SuperiorProcuratorate => lang.t("上一级人民检察院", "next-level procuratorate"),
    }
}

/// A step's name (snake_case, as every family's history names it) in the page's language,
/// with the code beside it in Chinese so that it reads the same as in the API.
pub(super) fn step_name(lang: Lang, step: &str) -> Markup {
    let (zh, en) = match step {
        "submit" => ("移送", "submitted"),
        "record_non_referral" => ("记录不移送决定", "decision not to refer recorded"),
        "sign_receipt" => ("签收回执", "receipt signed"),
        "request_supplement" => ("要求补充材料", "missing materials requested"),
        "supplement" => ("补充材料", "materials supplemented"),
        "forward" => ("转送", "forwarded"),
        "return_not_police_matter" | "return" => ("退回", "returned"),
        "decide_filing" | "decide" => ("作出立案决定", "filing decided"),
        "file" => ("立案", "filed"),
        "decline" => ("不予立案", "declined"),
        "hand_over_items" => ("移交涉案物品", "items handed over"),
        "request_reconsideration" => ("申请复议", "reconsideration requested"),
        "decide_reconsideration" => ("作出复议决定", "reconsideration decided"),
        "suggest_supervision" => ("建议立案监督", "supervision suggested"),
        "request_reasons" => ("要求说明不立案理由", "reasons requested"),
        "give_reasons" => ("说明不立案理由", "reasons given"),
        "tell_agency" => ("告知移送机关", "agency told"),
        "notify_filing" => ("通知立案", "filing notified"),
        "demand_explanation" => ("要求说明", "explanation demanded"),
        "explain" => ("作出说明", "explained"),
        "issue_correction_notice" => ("发出纠正违法通知书", "correction notice issued"),
        "report_to_superior" => ("报上一级人民检察院", "reported to the next level"),
        "transfer_case" => ("移送其他机关", "transferred elsewhere"),
        "withdraw_case" => ("撤案", "withdrawn"),
        "hand_back" => ("反向移送", "handed back"),
        "send" => ("移送", "sent"),
        "accept" => ("受理", "accepted"),
        "object" => ("提出管辖异议", "objected"),
        "report_outcome" => ("反馈办理情况", "outcome reported"),
        "contest_decline" => ("对不予立案提出异议", "decision contested"),
        "suspend" => ("中止", "suspended"),
        "resume" => ("恢复", "resumed"),
        "restart" => ("重新移送", "restarted"),
        "raise" => ("提出争议", "dispute raised"),
        "raise_from_objection" => ("因管辖异议开启争议", "dispute opened by an objection"),
        "mark_review_overdue" => ("审查期限届满", "review period ran out"),
        "record_minutes" => ("记录协商纪要", "minutes recorded"),
        "refer" => ("提请协调", "referred to the office"),
        "reply" => ("答复", "replied"),
        "designate" | "designate_directly" => ("指定管辖", "designated"),
        "request" => ("申请", "requested"),
        "refuse" => ("不予受理", "refused"),
        "request_material" => ("要求补充材料", "material requested"),
        "supply_material" => ("补充材料", "material supplied"),
        "deliver" => ("出具意见", "opinion delivered"),
        "record" => ("录入行政处罚案件信息", "penalty case recorded"),
        "correct" => ("更正案件信息", "record corrected"),
        "open" => ("提示执法机关", "agency warned"),
        "clear" => ("解除预警", "warning cleared"),
        "rescreen" => ("阈值表调整后重新筛查", "re-screened under a changed table"),
        "raise_warning" => ("发出移送预警", "warning raised"),
        "suggest_referral" => ("提出检察意见（建议移送）", "referral suggested"),
        "close" => ("结束预警", "warning closed"),
        "link_referral" => ("关联移送案件", "referral linked"),
        "mark_overdue" => ("逾期未答复", "answer overdue"),
        _ => return Markup::text(step),
    };
    match lang {
        Lang::Zh => markup!("{} <span class=\"muted code\">{}</span>", zh, step),
        Lang::En => Markup::text(en),
    }
}

pub(super) fn documents_list(lang: Lang, documents: &[pb::Document]) -> Markup {
    if documents.is_empty() {
        return Markup::new();
    }
    let mut out = markup!("<ul class=\"documents\">");
    for d in documents {
        let kind = document_kind(
            lang,
            pb::DocumentKind::try_from(d.kind).unwrap_or(pb::DocumentKind::Unspecified),
        );
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
            step_name(lang, &entry.step),
            entry.note,
            documents_list(lang, &entry.documents),
        );
    }
    out.push(markup!("</table>"));
    out
}

/// One `<option>` of a `<select>`, chosen when `selected`.
pub(super) fn option(value: &str, label: &str, selected: bool) -> Markup {
    markup!(
        "<option value=\"{}\"{}>{}</option>",
        value,
        if selected { " selected" } else { "" },
        label
    )
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
