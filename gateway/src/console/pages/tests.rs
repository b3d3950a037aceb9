//! Markup through every field the pages show: whatever an agency (or the directory) writes into
//! a case reaches another agency's browser only as text.

use std::sync::Arc;

use casebridge_core::directory::{Agency, AgencyKind, Directory};
use casebridge_core::ids::AgencyCode;
use casebridge_proto::v1 as pb;

use super::board::{BoardQuery, board_filters, obligations_table};
use super::cases::{receipts_table, timeline_head};
use super::disputes::dispute_desk;
use super::forms::Posted;
use super::lists::cases_table;
use super::opinions::opinion_desk;
use super::parts::{Look, history_table, step_name};
use super::referrals::referral_desk;
use super::stats::statistics;
use super::transfers::transfer_desk;
use super::warnings::warning_desk;
use crate::console::html::{self, Lang, Markup, notice};

/// Breaks out of text, out of a quoted attribute, and tests double escaping.
const EVIL: &str = "<script>alert(1)</script>\"onmouseover=alert(2) x='y' &amp;";

/// A known agency (its name from the directory is hostile too).
const KNOWN: &str = "11350100MB01000064";

fn look(lang: Lang) -> Look {
    let code = AgencyCode::parse(KNOWN).expect("a valid code");
    let directory = Directory::from_agencies(vec![Agency {
        region: code.region(),
        code,
        name: format!("福州市公安局{EVIL}"),
        kind: AgencyKind::Police,
        superior: None,
        domains: Vec::new(),
    }])
    .expect("a valid directory");
    Look {
        lang,
        directory: Arc::new(directory),
        // The viewer is the dispute's office, so that the dispute's forms show.
        me: EVIL.to_owned(),
        form_token: EVIL.to_owned(),
    }
}

fn at() -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: 1_771_948_800,
        nanos: 0,
    })
}

fn documents() -> Vec<pb::Document> {
    vec![pb::Document {
        title: EVIL.to_owned(),
        sha256: EVIL.to_owned(),
        ..Default::default()
    }]
}

fn history() -> Vec<pb::HistoryEntry> {
    [EVIL, KNOWN]
        .into_iter()
        .map(|actor| pb::HistoryEntry {
            at: at(),
            actor: actor.to_owned(),
            step: EVIL.to_owned(),
            note: EVIL.to_owned(),
            documents: documents(),
        })
        .collect()
}

/// Every piece of the pages that shows data, rendered from hostile data.
fn every_page(look: &Look) -> Vec<(&'static str, Markup)> {
    let obligation = pb::Obligation {
        case_id: EVIL.to_owned(),
        family: EVIL.to_owned(),
        rule: EVIL.to_owned(),
        step: EVIL.to_owned(),
        owed_by_name: EVIL.to_owned(),
        supervisor: KNOWN.to_owned(),
        stage: EVIL.to_owned(),
        explanation: vec![EVIL.to_owned(), EVIL.to_owned()],
        due_at: at(),
        provisional: true,
        overdue_hours: 30.0,
        ..Default::default()
    };
    let timeline = pb::CaseTimeline {
        case_id: EVIL.to_owned(),
        family: "referral".to_owned(),
        status: EVIL.to_owned(),
        headline: EVIL.to_owned(),
        parties: vec![pb::CaseParty {
            name: EVIL.to_owned(),
            ..Default::default()
        }],
        steps: history()
            .into_iter()
            .map(|entry| pb::TimelineStep {
                entry: Some(entry),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let referral = |status: pb::ReferralStatus| pb::Referral {
        id: EVIL.to_owned(),
        status: status as i32,
        sender: EVIL.to_owned(),
        police: EVIL.to_owned(),
        procuratorate: KNOWN.to_owned(),
        suspected_offence: EVIL.to_owned(),
        summary: EVIL.to_owned(),
        documents: documents(),
        history: history(),
        ..Default::default()
    };
    let dispute = |status: pb::DisputeStatus| pb::Dispute {
        id: EVIL.to_owned(),
        status: status as i32,
        question: EVIL.to_owned(),
        sender: KNOWN.to_owned(),
        respondent: EVIL.to_owned(),
        office: EVIL.to_owned(),
        raised_by: "another <i onclick=x>".to_owned(),
        competent: EVIL.to_owned(),
        decision: EVIL.to_owned(),
        transfer_id: EVIL.to_owned(),
        positions: vec![pb::DisputePosition {
            agency: EVIL.to_owned(),
            text: EVIL.to_owned(),
            at: at(),
        }],
        documents: documents(),
        history: history(),
        ..Default::default()
    };
    let query = BoardQuery {
        view: EVIL.to_owned(),
        agency: EVIL.to_owned(),
        family: EVIL.to_owned(),
        rule: EVIL.to_owned(),
        region: EVIL.to_owned(),
        page: EVIL.to_owned(),
    };
    let summary = pb::CaseSummary {
        case_id: EVIL.to_owned(),
        headline: EVIL.to_owned(),
        status: EVIL.to_owned(),
        updated_at: at(),
        opened_by: EVIL.to_owned(),
        opened_at: at(),
        summary: EVIL.to_owned(),
        ..Default::default()
    };
    let due = std::collections::HashMap::from([(EVIL.to_owned(), at().expect("a time"))]);
    let receipt = pb::Receipt {
        step: EVIL.to_owned(),
        actor: EVIL.to_owned(),
        service: EVIL.to_owned(),
        chain_hash: EVIL.to_owned(),
        key_id: EVIL.to_owned(),
        accepted_at: at(),
        ..Default::default()
    };
    let row = pb::AgencyStatistics {
        name: EVIL.to_owned(),
        answered_on_time: 1,
        filing_decisions: 1,
        cases: vec![pb::FamilyCaseCounts {
            family: EVIL.to_owned(),
            cases_received: 1,
            answered_on_time: 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    let frame = html::Frame {
        lang: look.lang,
        agency: Some((EVIL, EVIL)),
        kind: AgencyKind::Administrative,
        demo: true,
        path: EVIL,
        form_token: EVIL.to_owned(),
    };
    let mut pages = vec![
        (
            "cases",
            cases_table(look, std::slice::from_ref(&summary), "/cases", &due, 0),
        ),
        ("timeline", timeline_head(look, &timeline)),
        ("history", history_table(look, &history())),
        (
            "board",
            obligations_table(look, std::slice::from_ref(&obligation), true),
        ),
        (
            "deadlines",
            obligations_table(look, std::slice::from_ref(&obligation), false),
        ),
        (
            "filters",
            board_filters(look, &query, pb::ObligationView::Overdue),
        ),
        (
            "receipts",
            receipts_table(look, std::slice::from_ref(&receipt)),
        ),
        ("statistics", statistics(look, std::slice::from_ref(&row))),
        ("notice", notice("error", EVIL)),
        ("frame", html::page(&frame, EVIL, &notice("ok", EVIL))),
    ];
    for status in [
        pb::ReferralStatus::Submitted,
        pb::ReferralStatus::Received,
        pb::ReferralStatus::Filed,
    ] {
        let referral = referral(status);
        let desk = referral_desk(look, &referral);
        assert!(
            desk.title.contains(EVIL),
            "the title is escaped by the frame"
        );
        pages.push(("referral", desk.body(look, Some(notice("ok", EVIL)), None)));
    }
    for status in [
        pb::DisputeStatus::Referred,
        pb::DisputeStatus::Accepted,
        pb::DisputeStatus::Designated,
    ] {
        let dispute = dispute(status);
        let desk = dispute_desk(look, &dispute);
        pages.push(("dispute", desk.body(look, None, None)));
    }
    let transfer = |status: pb::TransferStatus| pb::Transfer {
        id: EVIL.to_owned(),
        status: status as i32,
        sender: EVIL.to_owned(),
        receiver: EVIL.to_owned(),
        suspected_violation: EVIL.to_owned(),
        summary: EVIL.to_owned(),
        jurisdiction_grounds: EVIL.to_owned(),
        case_number: EVIL.to_owned(),
        objection: EVIL.to_owned(),
        decline_reasons: EVIL.to_owned(),
        outcome: EVIL.to_owned(),
        documents: documents(),
        history: history(),
        ..Default::default()
    };
    for status in [
        pb::TransferStatus::Sent,
        pb::TransferStatus::Accepted,
        pb::TransferStatus::Declined,
    ] {
        let transfer = transfer(status);
        let desk = transfer_desk(look, &transfer);
        // A refused form comes back with what was typed: hostile text too, as text.
        let posted = Posted {
            step: "decline".into(),
            fields: super::forms::Fields::from_pairs(&[("reasons", EVIL)]),
        };
        pages.push(("transfer", desk.body(look, None, Some(&posted))));
        if let Some(form) = desk.forms.iter().find(|f| f.confirm.is_some()) {
            pages.push(("confirmation", form.confirmation(look, EVIL, &posted)));
        }
    }
    let opinion = |status: pb::OpinionStatus| pb::OpinionRequest {
        id: EVIL.to_owned(),
        status: status as i32,
        requester: EVIL.to_owned(),
        expert: EVIL.to_owned(),
        question: EVIL.to_owned(),
        refusal: EVIL.to_owned(),
        under_case_id: EVIL.to_owned(),
        opinion: Some(pb::Opinion {
            conclusion: EVIL.to_owned(),
            ..Default::default()
        }),
        documents: documents(),
        history: history(),
        ..Default::default()
    };
    for status in [pb::OpinionStatus::Requested, pb::OpinionStatus::Accepted] {
        let opinion = opinion(status);
        pages.push((
            "opinion",
            opinion_desk(look, &opinion).body(look, None, None),
        ));
    }
    let hit = pb::ThresholdHit {
        rule: EVIL.to_owned(),
        offence: EVIL.to_owned(),
        value: EVIL.to_owned(),
        threshold: EVIL.to_owned(),
        source: EVIL.to_owned(),
        ..Default::default()
    };
    for status in [
        pb::PenaltyStatus::WarningRaised,
        pb::PenaltyStatus::ReferralSuggested,
    ] {
        let record = pb::PenaltyRecord {
            id: EVIL.to_owned(),
            agency: EVIL.to_owned(),
            status: status as i32,
            versions: vec![pb::PenaltyVersion {
                case: Some(pb::PenaltyCase {
                    case_number: EVIL.to_owned(),
                    violation: EVIL.to_owned(),
                    decision: Some(pb::PenaltyDecision {
                        number: EVIL.to_owned(),
                        decided_on: EVIL.to_owned(),
                        penalty: EVIL.to_owned(),
                        fine: None,
                    }),
                    ..Default::default()
                }),
                screened_under: EVIL.to_owned(),
                screened_under_digest: EVIL.to_owned(),
                ..Default::default()
            }],
            hits: vec![hit.clone()],
            referral_id: EVIL.to_owned(),
            warnings: vec![pb::EarlyWarning {
                procuratorate: EVIL.to_owned(),
                reasons: EVIL.to_owned(),
                hits: vec![hit.clone()],
                documents: documents(),
                ..Default::default()
            }],
            history: history(),
            ..Default::default()
        };
        pages.push((
            "warning",
            warning_desk(look, &record).body(look, None, None),
        ));
    }
    pages
}

#[test]
fn markup_in_any_field_reaches_the_page_as_text() {
    for lang in [Lang::Zh, Lang::En] {
        for (name, page) in every_page(&look(lang)) {
            let page = page.as_str();
            let lower = page.to_ascii_lowercase();
            assert!(!lower.contains("<script"), "{name}: {page}");
            assert!(!lower.contains("<i onclick"), "{name}: {page}");
            assert!(!page.contains("\"onmouseover"), "{name}: {page}");
            assert!(!page.contains("'y'"), "{name}: {page}");
            // `&amp;` in the data is shown as typed: escaped once more, never taken as markup.
            assert!(
                !page.contains(" &amp;<") && !page.contains(" &amp;\""),
                "{name}: {page}"
            );
            assert!(
                page.contains("&lt;script&gt;"),
                "{name} shows the data: {page}"
            );
            assert!(page.contains("&amp;amp;"), "{name}: {page}");
        }
    }
}

#[test]
fn the_forms_of_a_desk_carry_the_token_escaped() {
    let look = look(Lang::En);
    let referral = pb::Referral {
        id: EVIL.to_owned(),
        status: pb::ReferralStatus::Received as i32,
        police: EVIL.to_owned(),
        ..Default::default()
    };
    let body = referral_desk(&look, &referral).body(&look, None, None);
    let body = body.as_str();
    assert!(body.contains("id=\"form-file\""), "{body}");
    assert!(body.contains("id=\"form-decline\""), "{body}");
    assert!(
        body.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover"),
        "{body}"
    );
}

/// Every value of a wire enum but the unspecified one.
fn every<T: TryFrom<i32>>() -> impl Iterator<Item = T> {
    (1..64).filter_map(|n| T::try_from(n).ok())
}

/// Whether `text` holds a Chinese character.
fn has_cjk(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn every_step_and_status_of_every_family_has_its_chinese_name() {
    use casebridge_core::screening::warning::{Step as WarningStep, WarningStatus};
    use casebridge_core::{dispute, opinion, referral, transfer};
    let steps: Vec<&str> = referral::Step::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(transfer::Step::ALL.iter().map(|s| s.as_str()))
        .chain(dispute::Step::ALL.iter().map(|s| s.as_str()))
        .chain(opinion::Step::ALL.iter().map(|s| s.as_str()))
        .chain(WarningStep::ALL.iter().map(|s| s.as_str()))
        .chain(["record", "correct", "link_referral"])
        .collect();
    for step in steps {
        assert!(has_cjk(step_name(Lang::Zh, step).as_str()), "step {step}");
        assert!(!has_cjk(step_name(Lang::En, step).as_str()), "step {step}");
    }
    let statuses: Vec<&str> = referral::ReferralStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(transfer::TransferStatus::ALL.iter().map(|s| s.as_str()))
        .chain(dispute::DisputeStatus::ALL.iter().map(|s| s.as_str()))
        .chain(opinion::OpinionStatus::ALL.iter().map(|s| s.as_str()))
        .chain(WarningStatus::ALL.iter().map(|s| s.as_str()))
        .chain(["recorded"])
        .collect();
    for status in statuses {
        assert!(
            has_cjk(html::status(Lang::Zh, status).as_str()),
            "status {status}"
        );
        assert!(
            !has_cjk(html::status(Lang::En, status).as_str()),
            "status {status}"
        );
    }
}

/// The text a reader sees in `page`: the text between tags, without what is code (the
/// `code` and `mono` elements: status codes, ids, digests, commands) and without attributes.
fn reader_text(page: &str) -> String {
    let mut out = String::new();
    let mut rest = page;
    // Depth inside elements whose text is code, by their closing tag.
    let mut code: Vec<&str> = Vec::new();
    while let Some(open) = rest.find('<') {
        if code.is_empty() {
            out.push_str(&rest[..open]);
            out.push(' ');
        }
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open + 1..open + close];
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default();
        if tag.starts_with('/') {
            if code.last() == Some(&name) {
                code.pop();
            }
        } else if !code.is_empty() && !tag.ends_with('/') && !matches!(name, "br" | "input") {
            if code.last() == Some(&name) {
                code.push(name);
            }
        } else if tag.contains("class=\"muted code\"")
            || tag.contains("class=\"mono")
            || tag.contains("mono\"")
            || name == "code"
            || name == "title"
        {
            code.push(name);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Words of English in Chinese text, apart from those a Chinese page keeps as they are: rule
/// ids and codes (with a digit, or all capitals), the product's name and the language switch.
fn english_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic() && !c.is_ascii_digit() && c != '-')
        .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 3)
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
        .filter(|w| !w.chars().all(|c| c.is_ascii_uppercase() || c == '-'))
        .filter(|w| !["CaseBridge", "English"].contains(w))
        .map(str::to_owned)
        .collect()
}

/// Every desk in every state, with the viewer a party in every role, from data in the page's
/// own language: what is left of the other language is the console's own text, untranslated.
fn desks_in(look: &Look, data: &str) -> Vec<(&'static str, Markup)> {
    let me = look.me.clone();
    let text = data.to_owned();
    let mut pages = Vec::new();
    let history = vec![pb::HistoryEntry {
        at: at(),
        actor: me.clone(),
        step: "decline".into(),
        note: text.clone(),
        documents: vec![pb::Document {
            kind: pb::DocumentKind::ReferralLetter as i32,
            title: text.clone(),
            sha256: String::new(),
        }],
    }];
    for status in every::<pb::ReferralStatus>() {
        let referral = pb::Referral {
            id: "0190c0de-0000-7000-8000-000000000001".into(),
            status: status as i32,
            sender: me.clone(),
            police: me.clone(),
            procuratorate: me.clone(),
            suspected_offence: text.clone(),
            summary: text.clone(),
            submitted_at: at(),
            review_overdue_at: at(),
            explanation_demanded_at: None,
            history: history.clone(),
            ..Default::default()
        };
        pages.push((
            "referral",
            referral_desk(look, &referral).body(look, None, None),
        ));
    }
    for status in every::<pb::TransferStatus>() {
        let transfer = pb::Transfer {
            id: "t".into(),
            status: status as i32,
            sender: me.clone(),
            receiver: me.clone(),
            suspected_violation: text.clone(),
            summary: text.clone(),
            jurisdiction_grounds: text.clone(),
            outcome: text.clone(),
            history: history.clone(),
            ..Default::default()
        };
        pages.push((
            "transfer",
            transfer_desk(look, &transfer).body(look, None, None),
        ));
    }
    for status in every::<pb::OpinionStatus>() {
        let opinion = pb::OpinionRequest {
            id: "o".into(),
            status: status as i32,
            requester: me.clone(),
            expert: me.clone(),
            kind: pb::OpinionKind::Test as i32,
            question: text.clone(),
            history: history.clone(),
            ..Default::default()
        };
        let desk = opinion_desk(look, &opinion);
        for form in desk.forms.iter().filter(|f| f.confirm.is_some()) {
            let posted = Posted {
                step: form.step.to_owned(),
                fields: super::forms::Fields::from_pairs(&[("conclusion", data)]),
            };
            pages.push(("confirmation", form.confirmation(look, "/o", &posted)));
        }
        pages.push(("opinion", desk.body(look, None, None)));
    }
    for status in every::<pb::DisputeStatus>() {
        let dispute = pb::Dispute {
            id: "d".into(),
            status: status as i32,
            question: text.clone(),
            office: me.clone(),
            respondent: me.clone(),
            sender: me.clone(),
            history: history.clone(),
            ..Default::default()
        };
        pages.push((
            "dispute",
            dispute_desk(look, &dispute).body(look, None, None),
        ));
    }
    pages
}

/// Issue 15: statuses, steps, document kinds, roles and labels in English inside the Chinese
/// pages. (The browser test scans the served pages too.)
#[test]
fn no_desk_mixes_the_two_languages() {
    // The viewer is every party; its name is known in Chinese only.
    let viewer = |lang: Lang, name: &str| {
        let code = AgencyCode::parse(KNOWN).expect("a valid code");
        let agency = Agency {
            region: code.region(),
            code,
            name: name.to_owned(),
            kind: AgencyKind::Police,
            superior: None,
            domains: Vec::new(),
        };
        Look {
            lang,
            directory: Arc::new(Directory::from_agencies(vec![agency]).expect("a directory")),
            me: KNOWN.to_owned(),
            form_token: "token".into(),
        }
    };
    let look_zh = viewer(Lang::Zh, "福州市公安局");
    for (name, page) in desks_in(&look_zh, "案情") {
        let words = english_words(&reader_text(page.as_str()));
        assert!(words.is_empty(), "{name}: English {words:?} in {page}");
    }
    let look_en = viewer(Lang::En, "City police");
    for (name, page) in desks_in(&look_en, "facts") {
        let text = reader_text(page.as_str());
        assert!(!has_cjk(&text), "{name}: Chinese in {text}");
    }
}

#[test]
fn reader_text_leaves_out_codes_and_tags() {
    let text = reader_text(
        "<p title=\"x\">已签收 <span class=\"muted code\">received</span> <td class=\"mono\">abc<br>def</td> 完</p>",
    );
    assert_eq!(english_words(&text), Vec::<String>::new(), "{text}");
    assert_eq!(english_words("规则 S1-8 与 the 期限"), ["the"]);
}

/// Issue 15, item 5: the statistics page says what it counts: cases (案件, each once) per
/// family, and deadlines (期限, each step once) apart.
#[test]
fn the_statistics_label_cases_and_deadlines_apart() {
    let row = pb::AgencyStatistics {
        agency: KNOWN.to_owned(),
        name: "福州市市场监督管理局".to_owned(),
        sent: 13,
        received: 1,
        answered_late: 1,
        penalty_over_threshold: 2,
        penalty_referred: 1,
        referral_rate: Some(0.5),
        cases: vec![
            pb::FamilyCaseCounts {
                family: "referral".to_owned(),
                cases_sent: 3,
                ..Default::default()
            },
            pb::FamilyCaseCounts {
                family: "transfer".to_owned(),
                cases_sent: 2,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let zh = statistics(&look(Lang::Zh), std::slice::from_ref(&row));
    let zh = zh.as_str();
    for label in [
        "发出案件",
        "收到案件",
        "按时办结",
        "逾期办结",
        "未办结",
        "逾期未办",
    ] {
        assert!(zh.contains(&format!("<th>{label}</th>")), "{label}: {zh}");
    }
    assert!(zh.contains("<h2>期限（每个步骤计一次）</h2>"), "{zh}");
    assert!(zh.contains("<th>他方应办期限</th>"), "{zh}");
    assert!(zh.contains("<th>移送率</th>"), "{zh}");
    assert!(zh.contains("<td>50% (1/2)</td>"), "移送率 of the row: {zh}");
    assert!(
        zh.contains("<td>涉嫌犯罪案件移送</td><td>3</td><td>0</td>"),
        "one row per family: {zh}"
    );
    let en = statistics(&look(Lang::En), std::slice::from_ref(&row));
    let en = en.as_str();
    for label in [
        "Cases sent",
        "Cases received",
        "Deadlines owed to it",
        "Deadlines it owed",
    ] {
        assert!(en.contains(&format!("<th>{label}</th>")), "{label}: {en}");
    }
    assert!(en.contains("<td>case transfer</td><td>2</td>"), "{en}");
    assert!(
        en.contains("<td>福州市市场监督管理局</td><td>13</td><td>1</td>"),
        "the deadline counts as before: {en}"
    );
    assert!(!en.contains("<th>Sent</th>"), "no bare 'sent': {en}");
}
