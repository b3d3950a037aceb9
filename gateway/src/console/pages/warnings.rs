//! The warning desk (移送预警): penalty-case records that met a criminal threshold and were not
//! referred (docs/screening.md). A procuratorate sees the warnings raised to it, with the rule,
//! the figure, the threshold and the source of each hit, and gives its opinion that the case be
//! referred (检察意见 / 建议移送) or closes the warning; an agency sees its own records and warnings
//! and answers an opinion by naming its referral or its recorded decision not to refer.

use axum::extract::Query;
use axum::response::Response;
use casebridge_core::directory::AgencyKind;
use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::penalty_service_server::PenaltyService as _;

use super::desk::{self, CaseDesk, Desk, Fact};
use super::forms::{Field, Fields, StepForm};
use super::lists::ListParams;
use super::parts::{Look, documents_list, enum_name};
use crate::console::html::{self, Lang, Markup, markup};
use crate::console::viewer::Viewer;

/// The viewer's records: for a procuratorate the warnings raised to it, for an agency its own.
pub(super) async fn warnings(viewer: Viewer, Query(params): Query<ListParams>) -> Response {
    let raised = [
        ("procuratorate", "收到的移送预警", "Warnings raised to us"),
        ("", "全部", "All"),
    ];
    let own = [
        ("sender", "本机关的处罚案件", "Our penalty cases"),
        ("", "全部", "All"),
    ];
    let tabs = if viewer.agency.kind == AgencyKind::Procuratorate {
        &raised
    } else {
        &own
    };
    let title = viewer.lang.t("移送预警", "Referral warnings");
    desk::list(&viewer, Family::Penalty, "/warnings", title, tabs, params).await
}

/// The warning desk.
pub(super) struct WarningDesk;

impl Desk for WarningDesk {
    const BASE: &'static str = "/warnings";
    type Case = pb::PenaltyRecord;

    async fn load(viewer: &Viewer, id: &str) -> Result<pb::PenaltyRecord, tonic::Status> {
        viewer
            .state
            .penalties
            .get_penalty_record(viewer.request(pb::GetPenaltyRecordRequest {
                record_id: id.to_owned(),
            }))
            .await
            .map(tonic::Response::into_inner)
    }

    fn desk<'a>(look: &Look, record: &'a pb::PenaltyRecord) -> CaseDesk<'a> {
        warning_desk(look, record)
    }

    async fn take(
        viewer: &Viewer,
        id: &str,
        step: &str,
        fields: &Fields,
    ) -> Option<Result<(), tonic::Status>> {
        take(viewer, id, step, fields).await
    }
}

/// The grounds of 高检发释字〔2001〕4号 item 12, as the opinion form offers them.
fn grounds(lang: Lang) -> Vec<(String, String)> {
    [
        (
            pb::ReferralGround::PenaltyInsteadOfProsecution,
            lang.t(
                "以行政处罚代替刑事追究而不移送",
                "a penalty instead of prosecution",
            ),
        ),
        (
            pb::ReferralGround::FoundNotReferred,
            lang.t(
                "检察机关发现应当移送而不移送",
                "found by the procuratorate, not referred",
            ),
        ),
        (
            pb::ReferralGround::ReportedNotReferred,
            lang.t("经举报应当移送而不移送", "reported, not referred"),
        ),
        (
            pb::ReferralGround::ItemsConcealed,
            lang.t(
                "隐匿、销毁涉案物品或者私分涉案财物",
                "items concealed, destroyed or shared out",
            ),
        ),
    ]
    .into_iter()
    .map(|(g, label)| {
        (
            enum_name(g.as_str_name(), "REFERRAL_GROUND_"),
            label.to_owned(),
        )
    })
    .collect()
}

/// The hits, each with its rule, figure, threshold and source, and whether the source was read.
fn hits_list(lang: Lang, hits: &[pb::ThresholdHit]) -> Markup {
    if hits.is_empty() {
        return Markup::text(lang.t("未达到任何移送标准", "meets no threshold"));
    }
    let mut out = markup!("<ul class=\"hits\">");
    for hit in hits {
        markup_into!(
            out,
            "<li class=\"hit\" data-rule=\"{rule}\"><strong>{rule}</strong> {offence}{attempt}: \
             {found} {value}; {standard} {threshold} \
             <span class=\"muted\">[{source}{unverified}]</span></li>",
            rule = hit.rule,
            offence = hit.offence,
            attempt = if hit.attempt {
                lang.t("（未遂）", " (attempt)")
            } else {
                ""
            },
            found = lang.t("案件数额", "found"),
            value = if hit.value.is_empty() {
                lang.t("不论数额", "any amount")
            } else {
                hit.value.as_str()
            },
            standard = lang.t("移送标准", "threshold"),
            threshold = if hit.measure.is_empty() {
                lang.t("不论数额", "any amount")
            } else {
                hit.threshold.as_str()
            },
            source = hit.source,
            unverified = if hit.verified {
                ""
            } else {
                lang.t("，出处未核实", ", source not verified")
            },
        );
    }
    out.push(markup!("</ul>"));
    out
}

/// The threshold table a version was last screened under: its version line and the start of
/// its digest, or `None` when not recorded.
fn screened_under(v: &pb::PenaltyVersion) -> Option<String> {
    let short = v
        .screened_under_digest
        .get(..12)
        .unwrap_or(&v.screened_under_digest);
    match (v.screened_under.as_str(), short) {
        ("", "") => None,
        ("", short) => Some(format!("sha256 {short}")),
        (version, "") => Some(version.to_owned()),
        (version, short) => Some(format!("{version} (sha256 {short})")),
    }
}

/// A record at its desk.
pub(super) fn warning_desk<'a>(look: &Look, record: &'a pb::PenaltyRecord) -> CaseDesk<'a> {
    let lang = look.lang;
    let status =
        pb::PenaltyStatus::try_from(record.status).unwrap_or(pb::PenaltyStatus::Unspecified);
    let name = |code: &str| Markup::text(&look.agency_name(code));
    let current = record.versions.last().and_then(|v| v.case.as_ref());
    let mut facts = vec![
        Fact::with_id(
            lang.t("状态", "Status"),
            "warning-status",
            html::status(lang, &enum_name(status.as_str_name(), "PENALTY_STATUS_")),
        ),
        Fact::new(lang.t("执法机关", "Agency"), name(&record.agency)),
    ];
    if let Some(case) = current {
        facts.push(Fact::new(
            lang.t("案件编号", "Case number"),
            Markup::text(&case.case_number),
        ));
        facts.push(Fact::new(
            lang.t("违法行为", "Violation"),
            Markup::text(&case.violation),
        ));
        if let Some(decision) = &case.decision {
            facts.push(Fact::new(
                lang.t("处罚决定", "Penalty decision"),
                Markup::text(&format!(
                    "{} ({}): {}",
                    decision.number, decision.decided_on, decision.penalty
                )),
            ));
        }
    }
    facts.push(Fact::with_id(
        lang.t("筛查结果", "Screening"),
        "hits",
        hits_list(lang, &record.hits),
    ));
    if let Some(table) = record.versions.last().and_then(screened_under) {
        facts.push(Fact::with_id(
            lang.t("筛查所依阈值表", "Screened under"),
            "screened-under",
            Markup::text(&table),
        ));
    }
    let warning = record.warnings.last();
    if let Some(w) = warning {
        facts.push(Fact::new(
            lang.t("预警发送", "Warning to"),
            name(&w.procuratorate),
        ));
        if let Some(due) = &w.answer_due {
            facts.push(Fact::with_id(
                lang.t("答复期限", "Answer due"),
                "answer-due",
                Markup::text(&html::time(Some(due))),
            ));
        }
        if !w.reasons.is_empty() {
            facts.push(Fact::new(
                lang.t("检察机关理由", "The procuratorate's reasons"),
                Markup::text(&w.reasons),
            ));
        }
    }
    if !record.referral_id.is_empty() {
        facts.push(Fact::new(
            lang.t("移送案件", "Referral"),
            markup!("<a href=\"/cases/{id}\">{id}</a>", id = record.referral_id),
        ));
    }
    let mut sections = markup!(
        "<p><a href=\"/cases/{id}\">{}</a></p>",
        lang.t("案件全过程与期限", "timeline and deadlines"),
        id = record.id,
    );
    if let Some(w) = warning.filter(|w| !w.documents.is_empty()) {
        markup_into!(
            sections,
            "<h2>{}</h2>{}",
            lang.t("材料", "Documents"),
            documents_list(lang, &w.documents)
        );
    }
    let me = look.me.as_str();
    let mut forms = Vec::new();
    if warning.is_some_and(|w| w.procuratorate == me) && status == pb::PenaltyStatus::WarningRaised
    {
        forms.extend(procuratorate_forms(lang));
    }
    if record.agency == me {
        forms.extend(agency_forms(lang, status));
    }
    CaseDesk {
        base: WarningDesk::BASE,
        id: &record.id,
        title: format!(
            "{} · {}",
            lang.t("移送预警", "Referral warning"),
            current.map_or("", |c| c.case_number.as_str())
        ),
        facts,
        sections,
        forms,
        history: &record.history,
    }
}

/// The procuratorate's steps on a raised warning.
fn procuratorate_forms(lang: Lang) -> Vec<StepForm> {
    vec![
        StepForm::new(
            "suggest",
            lang.t(
                "提出检察意见，建议移送（执法机关须移送或书面说明理由）",
                "Give the opinion that the case be referred (the agency must refer or explain)",
            ),
            lang.t("提出检察意见", "Suggest referral"),
        )
        .field(Field::choice("ground", lang.t("情形", "Ground"), grounds(lang)))
        .field(Field::text("reasons", lang.t("理由", "Reasons")).required())
        .confirm(lang.t(
            "提出检察意见：执法机关应当在期限内移送，或者书面说明不移送的理由。",
            "Suggest referral: the agency must refer, or explain in writing why not, within its period.",
        )),
        StepForm::new(
            "close",
            lang.t("结束预警（说明理由）", "Close the warning (with reasons)"),
            lang.t("结束预警", "Close"),
        )
        .field(Field::text("reasons", lang.t("理由", "Reasons")).required()),
    ]
}

/// The agency's answers.
fn agency_forms(lang: Lang, status: pb::PenaltyStatus) -> Vec<StepForm> {
    use pb::PenaltyStatus as S;
    let mut forms = Vec::new();
    if matches!(
        status,
        S::AgencyWarned | S::WarningRaised | S::ReferralSuggested | S::AnswerOverdue
    ) {
        forms.push(
            StepForm::new(
                "link",
                lang.t(
                    "已移送：填写移送案件编号（本机关移送的涉嫌犯罪案件）",
                    "Referred: the id of the referral your agency sent",
                ),
                lang.t("关联移送案件", "Link the referral"),
            )
            .field(Field::line("referral", lang.t("移送案件编号", "Referral id")).required()),
        );
    }
    if matches!(status, S::ReferralSuggested | S::AnswerOverdue) {
        forms.push(
            StepForm::new(
                "explain",
                lang.t(
                    "书面说明不移送的理由（须先记录不移送决定）",
                    "Explain in writing why not (record the decision not to refer first)",
                ),
                lang.t("提交说明", "Explain"),
            )
            .field(
                Field::line(
                    "non_referral",
                    lang.t("不移送决定记录编号", "Decision-not-to-refer id"),
                )
                .required(),
            )
            .field(Field::text("explanation", lang.t("不移送理由", "Explanation")).required()),
        );
    }
    forms
}

/// The step a form posts, sent as the viewer.
async fn take(
    viewer: &Viewer,
    id: &str,
    step: &str,
    fields: &Fields,
) -> Option<Result<(), tonic::Status>> {
    let grpc = &viewer.state.penalties;
    let (request_id, record_id) = (fields.request_id().to_owned(), id.to_owned());
    let text = |name: &str| fields.get(name).trim().to_owned();
    let result = match step {
        "suggest" => {
            let ground = pb::ReferralGround::from_str_name(&format!(
                "REFERRAL_GROUND_{}",
                fields.get("ground").to_ascii_uppercase()
            ))
            .unwrap_or(pb::ReferralGround::Unspecified);
            grpc.suggest_referral(viewer.request(pb::SuggestReferralRequest {
                request_id,
                record_id,
                ground: ground as i32,
                reasons: text("reasons"),
                documents: Vec::new(),
            }))
            .await
            .map(drop)
        }
        "close" => grpc
            .close_warning(viewer.request(pb::CloseWarningRequest {
                request_id,
                record_id,
                reasons: text("reasons"),
            }))
            .await
            .map(drop),
        "link" => grpc
            .link_referral(viewer.request(pb::LinkReferralRequest {
                request_id,
                record_id,
                referral_id: text("referral"),
            }))
            .await
            .map(drop),
        "explain" => grpc
            .explain_non_referral(viewer.request(pb::ExplainNonReferralRequest {
                request_id,
                record_id,
                non_referral_id: text("non_referral"),
                explanation: text("explanation"),
                documents: Vec::new(),
            }))
            .await
            .map(drop),
        _ => return None,
    };
    Some(result)
}
