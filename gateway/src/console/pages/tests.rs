//! Markup through every field the pages show: whatever an agency (or the directory) writes into
//! a case reaches another agency's browser only as text.

use std::sync::Arc;

use casebridge_core::directory::{Agency, AgencyKind, Directory};
use casebridge_core::ids::AgencyCode;
use casebridge_proto::v1 as pb;

use super::board::{BoardQuery, board_filters, obligations_table};
use super::cases::{cases_table, receipts_table, timeline_head};
use super::disputes::dispute_desk;
use super::parts::{Look, history_table};
use super::referrals::referral_desk;
use super::stats::statistics;
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
        ..Default::default()
    };
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
        ..Default::default()
    };
    let frame = html::Frame {
        lang: look.lang,
        agency: Some((EVIL, EVIL)),
        demo: true,
        path: EVIL,
        form_token: EVIL.to_owned(),
    };
    let mut pages = vec![
        (
            "cases",
            cases_table(look, std::slice::from_ref(&summary), "/cases"),
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
        pages.push(("referral", desk.body(look, Some(notice("ok", EVIL)))));
    }
    for status in [
        pb::DisputeStatus::Referred,
        pb::DisputeStatus::Accepted,
        pb::DisputeStatus::Designated,
    ] {
        let dispute = dispute(status);
        let desk = dispute_desk(look, &dispute);
        pages.push(("dispute", desk.body(look, None)));
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
        ..Default::default()
    };
    let body = referral_desk(&look, &referral).body(&look, None);
    let body = body.as_str();
    assert!(body.contains("id=\"form-file\""), "{body}");
    assert!(body.contains("id=\"form-decline\""), "{body}");
    assert!(
        body.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover"),
        "{body}"
    );
}
