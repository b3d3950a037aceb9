//! The referral desk: criminal referrals (涉嫌犯罪案件移送) as each party works them. The police
//! sign the receipt, ask for missing materials and decide to file or not (310号令); the copied
//! procuratorate supervises the filing (its own list is [`supervision`]); the sender suggests
//! supervision after a refusal to file.

use axum::extract::Query;
use axum::response::Response;
use casebridge_core::directory::AgencyKind;
use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::referral_service_server::ReferralService as _;

use super::desk::{self, CaseDesk, Desk, Fact};
use super::forms::{Field, Fields, StepForm};
use super::lists::ListParams;
use super::parts::{Look, document_kind, documents_list, enum_name};
use crate::console::html::{self, Markup, markup};
use crate::console::viewer::Viewer;

/// The agency's referrals: for the police those they received, for an agency those it sent.
pub(super) async fn referrals(viewer: Viewer, Query(params): Query<ListParams>) -> Response {
    let lang = viewer.lang;
    let received = [
        ("recipient", "收到的", "Received"),
        ("sender", "移送的", "Sent"),
        ("", "全部", "All"),
    ];
    let sent = [
        ("sender", "移送的", "Sent"),
        ("recipient", "收到的", "Received"),
        ("", "全部", "All"),
    ];
    let (title, tabs) = match viewer.agency.kind {
        AgencyKind::Police => (lang.t("移送受理", "Incoming referrals"), &received),
        _ => (lang.t("涉嫌犯罪案件移送", "Criminal referrals"), &sent),
    };
    desk::list(&viewer, Family::Referral, "/referrals", title, tabs, params).await
}

/// The procuratorate's supervision desk: the referrals it is copied on (抄送), to supervise their
/// filing (立案监督), and those reported to it from the level below.
pub(super) async fn supervision(viewer: Viewer, Query(params): Query<ListParams>) -> Response {
    let lang = viewer.lang;
    let tabs = [
        ("procuratorate", "抄送本院的", "Copied to us"),
        ("superior_procuratorate", "下级院报告的", "Reported to us"),
    ];
    let title = lang.t("立案监督", "Filing supervision");
    // Each case links to the referral desk, where the procuratorate's steps are.
    desk::list(
        &viewer,
        Family::Referral,
        "/supervision",
        title,
        &tabs,
        params,
    )
    .await
}

/// The referral desk.
pub(super) struct ReferralDesk;

impl Desk for ReferralDesk {
    const BASE: &'static str = "/referrals";
    type Case = pb::Referral;

    async fn load(viewer: &Viewer, id: &str) -> Result<pb::Referral, tonic::Status> {
        viewer
            .state
            .referrals
            .get_referral(viewer.request(pb::GetReferralRequest {
                referral_id: id.to_owned(),
            }))
            .await
            .map(tonic::Response::into_inner)
    }

    fn desk<'a>(look: &Look, referral: &'a pb::Referral) -> CaseDesk<'a> {
        referral_desk(look, referral)
    }

    async fn take(
        viewer: &Viewer,
        id: &str,
        step: &str,
        fields: &Fields,
    ) -> Option<Result<(), tonic::Status>> {
        Some(take(viewer, id, step, fields).await?.map(drop))
    }
}

/// The document kinds a police organ may ask to be supplied.
const PACKAGE: [pb::DocumentKind; 6] = [
    pb::DocumentKind::ReferralLetter,
    pb::DocumentKind::InvestigationReport,
    pb::DocumentKind::SeizedItemsList,
    pb::DocumentKind::TestReport,
    pb::DocumentKind::PenaltyDecision,
    pb::DocumentKind::Other,
];

/// A referral at its desk: its facts and package, and the steps the viewer may take.
pub(super) fn referral_desk<'a>(look: &Look, referral: &'a pb::Referral) -> CaseDesk<'a> {
    let lang = look.lang;
    let status =
        pb::ReferralStatus::try_from(referral.status).unwrap_or(pb::ReferralStatus::Unspecified);
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
    let facts = vec![
        Fact::with_id(
            lang.t("状态", "Status"),
            "referral-status",
            html::status(lang, &enum_name(status.as_str_name(), "REFERRAL_STATUS_")),
        ),
        Fact::new(
            lang.t("移送机关", "Sent by"),
            Markup::text(&look.agency_name(&referral.sender)),
        ),
        Fact::new(
            lang.t("公安机关", "Police"),
            Markup::text(&look.agency_name(&referral.police)),
        ),
        Fact::new(
            lang.t("涉嫌罪名", "Suspected offence"),
            Markup::text(&referral.suspected_offence),
        ),
        Fact::new(
            lang.t("案件基本情况", "Facts"),
            Markup::text(&referral.summary),
        ),
        Fact::new(
            lang.t("移送时间", "Submitted"),
            Markup::text(&html::time(referral.submitted_at.as_ref())),
        ),
        Fact::new(
            lang.t("抄送", "Copied to"),
            Markup::text(&look.agency_name(&referral.procuratorate)),
        ),
        Fact::new(lang.t("提示", "Flags"), Markup::text(&flags.join("; "))),
    ];
    let sections = markup!(
        "<p><a href=\"/cases/{id}\">{}</a></p><h2>{}</h2>{}",
        lang.t("案件全过程与期限", "timeline and deadlines"),
        lang.t("移送材料", "Package"),
        documents_list(lang, &referral.documents),
        id = referral.id,
    );
    let me = look.me.as_str();
    let mut forms = Vec::new();
    if referral.police == me {
        forms.extend(police_forms(look, referral, status));
    }
    if referral.procuratorate == me {
        forms.extend(procuratorate_forms(look, referral, status));
    }
    if referral.sender == me && status == pb::ReferralStatus::Declined {
        forms.push(
            StepForm::new(
                "suggest_supervision",
                lang.t(
                    "建议人民检察院立案监督（3日内）",
                    "Suggest filing supervision to the procuratorate (within 3 days)",
                ),
                lang.t("提出建议", "Suggest supervision"),
            )
            .field(Field::text("reasons", lang.t("理由", "Reasons")).required()),
        );
    }
    CaseDesk {
        base: ReferralDesk::BASE,
        id: &referral.id,
        title: format!(
            "{} · {}",
            lang.t("移送案件", "Referral"),
            referral.suspected_offence
        ),
        facts,
        sections,
        forms,
        history: &referral.history,
    }
}

/// The police's steps: receipt, missing materials, the filing decision, and the answers the
/// procuratorate asks for.
fn police_forms(look: &Look, referral: &pb::Referral, status: pb::ReferralStatus) -> Vec<StepForm> {
    let lang = look.lang;
    let mut forms = Vec::new();
    match status {
        pb::ReferralStatus::Submitted => forms.push(
            StepForm::new(
                "receipt",
                lang.t("签收回执", "Sign the receipt"),
                lang.t("签收回执", "Sign the receipt"),
            )
            .help(lang.t(
                "签收回执即确认收到移送材料（310号令第7条）。",
                "Signing the receipt confirms the package arrived (S1 Art 7).",
            )),
        ),
        pb::ReferralStatus::Received | pb::ReferralStatus::AwaitingSupplement => {
            let kinds = PACKAGE
                .iter()
                .map(|k| {
                    (
                        enum_name(k.as_str_name(), "DOCUMENT_KIND_"),
                        document_kind(lang, *k).to_owned(),
                    )
                })
                .collect();
            forms.push(
                StepForm::new(
                    "supplement",
                    lang.t("要求补充材料", "Request missing materials"),
                    lang.t("发出补充材料要求", "Send the request"),
                )
                .field(Field::checks("missing", lang.t("缺少的材料", "Missing"), kinds).required())
                .field(Field::text("note", lang.t("说明", "Note"))),
            );
            // Two forms, each with its own button and its own confirmation: the decision is
            // what the officer clicks, never a preselected choice that a refused form could
            // reset (issue 15: declining without reasons was refused, the choice went back to
            // 立案, and the next click filed).
            forms.push(
                StepForm::new(
                    "file",
                    lang.t("立案（310号令第8条，3日内）", "File the case (S1 Art 8, within 3 days)"),
                    lang.t("决定立案", "File the case"),
                )
                .field(Field::text("note", lang.t("说明（可不填）", "Note (optional)")))
                .confirm(lang.t(
                    "决定立案：本案将立案侦查，移送机关和人民检察院将收到通知。此决定作出后不能撤回。",
                    "File the case: it will be investigated, and the sender and the procuratorate are told. This decision cannot be withdrawn.",
                )),
            );
            forms.push(
                StepForm::new(
                    "decline",
                    lang.t(
                        "不予立案（须说明理由，退回材料）",
                        "Decline to file (reasons required; materials returned)",
                    ),
                    lang.t("决定不予立案", "Decline to file"),
                )
                .field(Field::text("reasons", lang.t("不予立案的理由", "Reasons")).required())
                .confirm(lang.t(
                    "决定不予立案：材料将退回移送机关，移送机关可申请复议，人民检察院可以监督。此决定作出后不能撤回。",
                    "Decline to file: the materials go back to the sender, who may ask for reconsideration, and the procuratorate may supervise. This decision cannot be withdrawn.",
                )),
            );
            if referral.explanation_demanded_at.is_some() {
                forms.push(
                    StepForm::new(
                        "explain",
                        lang.t(
                            "向人民检察院说明未作立案决定的情况（7日内）",
                            "Explain the missing decision to the procuratorate (within 7 days)",
                        ),
                        lang.t("提交说明", "Explain"),
                    )
                    .field(Field::text("explanation", lang.t("说明", "Explanation")).required()),
                );
            }
        }
        pb::ReferralStatus::ReasonsRequested => forms.push(
            StepForm::new(
                "give_reasons",
                lang.t(
                    "说明不立案理由（7日内）",
                    "Give the reasons for not filing (within 7 days)",
                ),
                lang.t("提交理由", "Give reasons"),
            )
            .field(Field::text("reasons", lang.t("理由", "Reasons")).required()),
        ),
        _ => {}
    }
    forms
}

/// The copied procuratorate's steps of filing supervision (立案监督).
fn procuratorate_forms(
    look: &Look,
    referral: &pb::Referral,
    status: pb::ReferralStatus,
) -> Vec<StepForm> {
    let lang = look.lang;
    let mut forms = Vec::new();
    match status {
        pb::ReferralStatus::Declined | pb::ReferralStatus::SupervisionSuggested => forms.push(
            StepForm::new(
                "request_reasons",
                lang.t(
                    "要求公安机关说明不立案理由",
                    "Ask the police for their reasons for not filing",
                ),
                lang.t("发出要求", "Ask for reasons"),
            )
            .field(Field::text("note", lang.t("说明", "Note"))),
        ),
        pb::ReferralStatus::ReasonsGiven => {
            forms.push(
                StepForm::new(
                    "tell_agency",
                    lang.t(
                        "理由成立，告知移送机关（10日内）",
                        "The reasons stand: tell the agency (within 10 days)",
                    ),
                    lang.t("告知", "Tell the agency"),
                )
                .field(Field::text("note", lang.t("告知内容", "What to tell")).required()),
            );
            forms.push(
                StepForm::new(
                    "notify_filing",
                    lang.t(
                        "理由不成立，通知公安机关立案",
                        "The reasons do not stand: notify the police to file",
                    ),
                    lang.t("通知立案", "Notify filing"),
                )
                .field(Field::text("reasons", lang.t("理由", "Reasons")).required())
                .confirm(lang.t(
                    "通知立案：公安机关须在15日内立案。",
                    "Notify filing: the police must file within 15 days.",
                )),
            );
        }
        pb::ReferralStatus::Received | pb::ReferralStatus::AwaitingSupplement
            if referral.review_overdue_at.is_some()
                && referral.explanation_demanded_at.is_none() =>
        {
            forms.push(
                StepForm::new(
                    "demand_explanation",
                    lang.t(
                        "审查期限已过，要求公安机关说明",
                        "The review period ran out: demand an explanation",
                    ),
                    lang.t("要求说明", "Demand an explanation"),
                )
                .field(Field::text("note", lang.t("说明", "Note"))),
            );
        }
        pb::ReferralStatus::FilingNotified => {
            if referral.correction_notice_at.is_none() {
                forms.push(
                    StepForm::new(
                        "correction",
                        lang.t(
                            "发出纠正违法通知书（通知立案后15日未立案）",
                            "Issue a correction notice (not filed 15 days after the notice)",
                        ),
                        lang.t("发出通知书", "Issue the notice"),
                    )
                    .field(Field::text("reasons", lang.t("理由", "Reasons")).required()),
                );
            } else if referral.reported_to.is_empty() {
                forms.push(
                    StepForm::new(
                        "report_superior",
                        lang.t(
                            "仍不纠正，报上一级人民检察院",
                            "Still not corrected: report to the next-level procuratorate",
                        ),
                        lang.t("报告", "Report"),
                    )
                    .field(Field::text("note", lang.t("说明", "Note"))),
                );
            }
        }
        _ => {}
    }
    forms
}

/// The referral step a form posts, sent as the viewer.
async fn take(
    viewer: &Viewer,
    id: &str,
    step: &str,
    fields: &Fields,
) -> Option<Result<tonic::Response<pb::ReferralResult>, tonic::Status>> {
    let grpc = &viewer.state.referrals;
    let (request_id, referral_id) = (fields.request_id().to_owned(), id.to_owned());
    let text = |name: &str| fields.get(name).to_owned();
    Some(match step {
        "receipt" => {
            grpc.sign_receipt(viewer.request(pb::SignReceiptRequest {
                request_id,
                referral_id,
            }))
            .await
        }
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
                note: text("note"),
            }))
            .await
        }
        "file" | "decline" => {
            let decision = if step == "decline" {
                pb::decide_filing_request::Decision::Decline(pb::DeclineToFile {
                    reasons: text("reasons"),
                })
            } else {
                pb::decide_filing_request::Decision::File(pb::FileCase { note: text("note") })
            };
            grpc.decide_filing(viewer.request(pb::DecideFilingRequest {
                request_id,
                referral_id,
                decision: Some(decision),
            }))
            .await
        }
        "explain" => {
            grpc.explain(viewer.request(pb::ExplainRequest {
                request_id,
                referral_id,
                explanation: text("explanation"),
            }))
            .await
        }
        "give_reasons" => {
            grpc.give_reasons(viewer.request(pb::GiveReasonsRequest {
                request_id,
                referral_id,
                reasons: text("reasons"),
            }))
            .await
        }
        "suggest_supervision" => {
            grpc.suggest_supervision(viewer.request(pb::SuggestSupervisionRequest {
                request_id,
                referral_id,
                reasons: text("reasons"),
            }))
            .await
        }
        "request_reasons" => {
            grpc.request_reasons(viewer.request(pb::RequestReasonsRequest {
                request_id,
                referral_id,
                note: text("note"),
            }))
            .await
        }
        "tell_agency" => {
            grpc.tell_agency(viewer.request(pb::TellAgencyRequest {
                request_id,
                referral_id,
                note: text("note"),
            }))
            .await
        }
        "notify_filing" => {
            grpc.notify_filing(viewer.request(pb::NotifyFilingRequest {
                request_id,
                referral_id,
                reasons: text("reasons"),
            }))
            .await
        }
        "demand_explanation" => {
            grpc.demand_explanation(viewer.request(pb::DemandExplanationRequest {
                request_id,
                referral_id,
                note: text("note"),
            }))
            .await
        }
        "correction" => {
            grpc.issue_correction_notice(viewer.request(pb::IssueCorrectionNoticeRequest {
                request_id,
                referral_id,
                reasons: text("reasons"),
            }))
            .await
        }
        "report_superior" => {
            grpc.report_to_superior(viewer.request(pb::ReportToSuperiorRequest {
                request_id,
                referral_id,
                note: text("note"),
            }))
            .await
        }
        _ => return None,
    })
}
