//! The authorization table: which agency may take which step of which family in which state,
//! and who may read a case. Every family's state machine asks [`authorize`] first, so a refusal
//! for the wrong role, the wrong party or the wrong state always comes from this one table and
//! names the legal basis of the permission it failed.
//!
//! Reading a case, and hearing of its steps, is for its parties only: sender, receiver, copied
//! procuratorate, ruling office, asked expert, and agencies that held one of those roles before
//! ([`may_read`]).

use crate::case::{Parties, Rejection};
use crate::directory::{Agency, AgencyKind};
use crate::notice::{Family, Role};

use AgencyKind::{Administrative as ADMIN, Coordination as COORD, Expert as EXPERT};
use AgencyKind::{Police as POLICE, Procuratorate as PROC};

/// Who among the agencies may take a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Any agency of the permitted kinds, opening a new case (it becomes the sender).
    Opens,
    /// The agency holding this role in the case.
    Role(Role),
    /// The agency holding any of these roles.
    AnyOf(&'static [Role]),
    /// Never a caller: the step follows from another case's event (a referral handed back
    /// arrives as a transfer; an objection or a contested decline opens a dispute; a designation
    /// restarts a transfer).
    Reaction,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub family: Family,
    /// The step's snake_case name, as the family's step enum spells it.
    pub step: &'static str,
    /// The kinds of agency that may take it; empty for any kind.
    pub kinds: &'static [AgencyKind],
    /// Who among them.
    pub actor: Actor,
    /// The case statuses that allow it; empty for a step that opens a case.
    pub states: &'static [&'static str],
    /// The legal basis, as docs/law.md cites it.
    pub basis: &'static str,
}

const fn row(
    family: Family,
    step: &'static str,
    kinds: &'static [AgencyKind],
    actor: Actor,
    states: &'static [&'static str],
    basis: &'static str,
) -> Permission {
    Permission {
        family,
        step,
        kinds,
        actor,
        states,
        basis,
    }
}

use Actor::{AnyOf, Opens, Reaction};
use Family::Transfer as T;
use Family::{Dispute as D, Lead as L, Opinion as O, Rectification as C, Referral as R};
use Role::{Coordination as OFFICE, Expert as ASKED, Procuratorate as CC};
use Role::{Recipient as RECEIVER, Sender as SENDER};

const fn by(role: Role) -> Actor {
    Actor::Role(role)
}

/// Every step of every family. A test checks that each family's step enum has exactly one row
/// and that every state named here is a status of that family.
#[rustfmt::skip]
pub const TABLE: &[Permission] = &[
    // ---- A. Criminal referral (涉嫌犯罪案件移送) ------------------------------------------------
    row(R, "submit", &[ADMIN], Opens, &[], "S1 Arts 3, 5, 6"),
    row(R, "record_non_referral", &[ADMIN], Opens, &[], "S1 Art 5"),
    row(R, "sign_receipt", &[POLICE], by(RECEIVER), &["submitted"], "S1 Art 7"),
    row(R, "request_supplement", &[POLICE], by(RECEIVER), &["received"], "S2 Art 180"),
    row(R, "supplement", &[ADMIN], by(SENDER), &["awaiting_supplement"], "S2 Art 180"),
    row(R, "forward", &[POLICE], by(RECEIVER), &["received"], "S1 Art 7"),
    row(R, "return_not_police_matter", &[POLICE], by(RECEIVER), &["received"], "S2 Art 180"),
    row(R, "file", &[POLICE], by(RECEIVER), &["received", "filing_notified"], "S1 Art 8; S5 Art 563"),
    row(R, "decline", &[POLICE], by(RECEIVER), &["received"], "S1 Art 8"),
    row(R, "hand_over_items", &[ADMIN], by(SENDER), &["filed"], "S1 Art 12"),
    row(R, "request_reconsideration", &[ADMIN], by(SENDER), &["declined"], "S1 Art 9"),
    row(R, "decide_reconsideration", &[POLICE], by(RECEIVER), &["reconsideration_requested"], "S1 Art 9"),
    row(R, "suggest_supervision", &[ADMIN], by(SENDER), &["declined"], "S1 Art 9"),
    row(R, "request_reasons", &[PROC], by(CC), &["declined", "supervision_suggested"], "S5 Art 560; S2 Art 182"),
    row(R, "give_reasons", &[POLICE], by(RECEIVER), &["reasons_requested"], "S5 Art 560"),
    row(R, "tell_agency", &[PROC], by(CC), &["reasons_given"], "S5 Art 561"),
    row(R, "notify_filing", &[PROC], by(CC), &["reasons_given"], "S5 Art 563"),
    row(R, "mark_review_overdue", &[POLICE], Reaction, &["received", "awaiting_supplement"], "S1 Art 8; S5 Art 562"),
    row(R, "demand_explanation", &[PROC], by(CC), &["received", "awaiting_supplement"], "S5 Art 562"),
    row(R, "explain", &[POLICE], by(RECEIVER), &["received", "awaiting_supplement", "filed", "declined"], "S5 Art 562"),
    row(R, "issue_correction_notice", &[PROC], by(CC), &["filing_notified"], "S5 Art 564"),
    row(R, "report_to_superior", &[PROC], by(CC), &["filing_notified"], "S5 Art 564"),
    row(R, "transfer_case", &[POLICE], by(RECEIVER), &["filed"], "S2 Art 184"),
    row(R, "withdraw_case", &[POLICE], by(RECEIVER), &["filed"], "S2 Art 189"),
    row(R, "hand_back", &[POLICE], by(RECEIVER), &["declined", "supervision_closed", "filed", "withdrawn"], "S1 Art 13; S3 Art 27"),
    // ---- F. Case transfer between administrative agencies (行政执法案件移送) ---------------------
    row(T, "send", &[ADMIN], Opens, &[], "S4 Arts 14, 17"),
    row(T, "hand_back", &[POLICE], Reaction, &[], "S1 Art 13 (反向衔接)"),
    row(T, "sign_receipt", &[ADMIN], by(RECEIVER), &["sent"], "回执, docs/law.md §3 cross-cutting"),
    row(T, "accept", &[ADMIN], by(RECEIVER), &["sent", "received"], "S4 Art 18"),
    row(T, "object", &[ADMIN], by(RECEIVER), &["sent", "received"], "S4 Art 14"),
    row(T, "report_outcome", &[ADMIN], by(RECEIVER), &["accepted"], "S3 Art 60; notices/003"),
    row(T, "decline", &[ADMIN], by(RECEIVER), &["sent", "received"], "S4 Arts 18, 20; notices/003"),
    row(T, "contest_decline", &[ADMIN], by(SENDER), &["declined"], "notices/003; S3 Art 25"),
    row(T, "suspend", &[ADMIN], by(RECEIVER), &["accepted"], "S4 Art 64; notices/000 二"),
    row(T, "resume", &[ADMIN], by(RECEIVER), &["suspended"], "S4 Art 64; notices/000 二"),
    row(T, "restart", &[], Reaction, &["objected", "decline_contested"], "S4 Art 16; S3 Art 25"),
    // ---- G. Jurisdiction dispute (管辖争议 / 执法争议协调) ---------------------------------------
    row(D, "raise", &[ADMIN], Opens, &[], "S3 Art 25"),
    row(D, "raise_from_objection", &[ADMIN], Reaction, &[], "S4 Art 14; notices/003"),
    row(D, "designate_directly", &[COORD, ADMIN], Opens, &[], "S3 Art 25"),
    row(D, "record_minutes", &[ADMIN], AnyOf(&[SENDER, RECEIVER]), &["negotiating"], "S4 Art 13"),
    row(D, "refer", &[ADMIN], AnyOf(&[SENDER, RECEIVER]), &["negotiating"], "S3 Art 25"),
    row(D, "accept", &[COORD, ADMIN], by(OFFICE), &["referred"], "V2 S26"),
    row(D, "reply", &[ADMIN], by(RECEIVER), &["accepted"], "V2 S26"),
    row(D, "designate", &[COORD, ADMIN], by(OFFICE), &["accepted", "replied"], "S4 Art 16"),
    // ---- H. Expert-opinion and assistance requests (认定、检验、鉴定 / 协助调查) ------------------
    row(O, "request", &[ADMIN, POLICE], Opens, &[], "S3 Art 26; S4 Art 45"),
    row(O, "accept", &[EXPERT, ADMIN], by(ASKED), &["requested"], "S15 Art 13"),
    row(O, "refuse", &[EXPERT, ADMIN], by(ASKED), &["requested"], "S15 Art 13"),
    row(O, "request_material", &[EXPERT, ADMIN], by(ASKED), &["accepted"], "S15 Art 28"),
    row(O, "supply_material", &[ADMIN, POLICE], by(SENDER), &["awaiting_material"], "S15 Art 28"),
    row(O, "deliver", &[EXPERT, ADMIN], by(ASKED), &["accepted"], "S4 Art 45; S15 Art 28; notices/003"),
    // ---- I. Leads between agencies (线索互告) -----------------------------------------------------
    row(L, "send", &[ADMIN, POLICE], Opens, &[], "notices/000 三"),
    row(L, "acknowledge", &[ADMIN, POLICE], by(RECEIVER), &["sent"], "notices/000 三"),
    row(L, "answer", &[ADMIN, POLICE], by(RECEIVER), &["sent", "acknowledged"], "notices/000 三"),
    // ---- J. Rectification requests (整改通知 / 整改报告) --------------------------------------------
    // Who may ask depends on the addressee (an administrative agency only its subordinates): the
    // state machine checks it first, on the field `to` (RECT-WHO); this row names the kinds.
    row(C, "request", &[COORD, PROC, ADMIN], Opens, &[], "notices/003 (督促整改); S25"),
    row(C, "report", &[ADMIN], by(RECEIVER), &["requested", "returned"], "notices/003 (督促整改)"),
    row(C, "accept", &[COORD, PROC, ADMIN], by(SENDER), &["reported"], "notices/003 (复查整改情况)"),
    row(C, "return", &[COORD, PROC, ADMIN], by(SENDER), &["reported"], "notices/003 (复查整改情况)"),
    row(C, "mark_overdue", &[ADMIN], Reaction, &["requested", "returned"], "RECT-REPORT"),
];

/// The row for `family`'s `step`.
pub fn permission(family: Family, step: &str) -> Option<&'static Permission> {
    TABLE.iter().find(|p| p.family == family && p.step == step)
}

/// The case a step is taken on, as the table needs it.
#[derive(Debug, Clone, Copy)]
pub struct On<'a> {
    pub case_id: crate::ids::CaseId,
    pub parties: &'a Parties,
    pub status: &'static str,
}

/// Checks that `actor` may take `step` on `case` (`None` when the step opens a case).
///
/// On an existing case: first the party (only the agency in the step's role; a party in another
/// role is told whose step it is, anyone else that it is not a party), then its kind, then the
/// status. On a new case: the kind. A step reserved to reactions is refused to callers by the
/// family's API not exposing it; here it passes the kind check only.
pub fn authorize(
    family: Family,
    step: &'static str,
    actor: &Agency,
    case: Option<On<'_>>,
) -> Result<&'static Permission, Rejection> {
    let Some(permission) = permission(family, step) else {
        return Err(Rejection::Forbidden {
            rule: "AUTHZ",
            field: None,
            reason: format!("the authorization table has no row for {family} step {step}"),
        });
    };
    let kind_ok = permission.kinds.is_empty() || permission.kinds.contains(&actor.kind);
    let wrong_role = || Rejection::WrongRole {
        step,
        required: permission.kinds,
        actual: actor.kind,
        basis: permission.basis,
    };
    match (case, permission.actor) {
        (None, Actor::Opens | Actor::Reaction) => {}
        (None, _) => return Err(Rejection::NotFound { step }),
        (Some(on), Actor::Opens) => {
            if !kind_ok {
                return Err(wrong_role());
            }
            return Err(Rejection::AlreadyExists {
                case_id: on.case_id,
            });
        }
        (Some(on), Actor::Role(role)) => holds(step, actor, on.parties, &[role], permission)?,
        (Some(on), Actor::AnyOf(roles)) => holds(step, actor, on.parties, roles, permission)?,
        (Some(_), Actor::Reaction) => {}
    }
    if !kind_ok {
        return Err(wrong_role());
    }
    if let Some(on) = case
        && !permission.states.contains(&on.status)
    {
        return Err(Rejection::WrongState {
            step,
            status: on.status,
            allowed: permission.states,
        });
    }
    Ok(permission)
}

fn holds(
    step: &'static str,
    actor: &Agency,
    parties: &Parties,
    roles: &[Role],
    permission: &Permission,
) -> Result<(), Rejection> {
    if roles
        .iter()
        .any(|role| parties.get(*role) == Some(&actor.code))
    {
        return Ok(());
    }
    if !parties.contains(&actor.code) {
        return Err(Rejection::NotAParty { step });
    }
    // A party in another role: say whose step it is.
    let (role, expected) = roles
        .iter()
        .find_map(|role| parties.get(*role).map(|code| (*role, Some(code.clone()))))
        .unwrap_or((roles[0], None));
    Err(Rejection::NotAddressee {
        step,
        role,
        expected,
        basis: permission.basis,
    })
}

/// Whether `agency` may read a case with these parties and hear of its steps.
pub fn may_read(parties: &Parties, agency: &crate::ids::AgencyCode) -> bool {
    parties.contains(agency)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    use crate::{dispute, lead, opinion, rectification, referral, transfer};

    #[test]
    fn every_row_is_unique_names_a_basis_and_opens_a_case_only_without_states() {
        let mut seen = BTreeSet::new();
        for p in TABLE {
            assert!(
                seen.insert((p.family.as_str(), p.step)),
                "{} {} twice",
                p.family,
                p.step
            );
            assert!(!p.basis.is_empty(), "{} {} has no basis", p.family, p.step);
            if p.actor == Actor::Opens {
                assert!(p.states.is_empty(), "{} {} opens a case", p.family, p.step);
            }
            if p.states.is_empty() {
                assert!(
                    matches!(p.actor, Actor::Opens | Actor::Reaction),
                    "{} {}: a step on an existing case names its states",
                    p.family,
                    p.step
                );
            }
        }
    }

    /// Checks that `steps` are exactly the table's rows of `family` and that every state the
    /// table names for it is one of `statuses`.
    fn family_matches(family: Family, steps: &[&str], statuses: &[&str]) {
        let rows: BTreeSet<&str> = TABLE
            .iter()
            .filter(|p| p.family == family)
            .map(|p| p.step)
            .collect();
        assert_eq!(rows, steps.iter().copied().collect(), "{family} steps");
        for p in TABLE.iter().filter(|p| p.family == family) {
            for state in p.states {
                assert!(
                    statuses.contains(state),
                    "{family} {}: {state} is not a status",
                    p.step
                );
            }
        }
    }

    #[test]
    fn the_table_has_exactly_one_row_per_step_of_each_family_and_only_real_states() {
        family_matches(
            Family::Referral,
            &referral::Step::ALL.map(|s| s.as_str()),
            &referral::ReferralStatus::ALL.map(|s| s.as_str()),
        );
        family_matches(
            Family::Transfer,
            &transfer::Step::ALL.map(|s| s.as_str()),
            &transfer::TransferStatus::ALL.map(|s| s.as_str()),
        );
        family_matches(
            Family::Dispute,
            &dispute::Step::ALL.map(|s| s.as_str()),
            &dispute::DisputeStatus::ALL.map(|s| s.as_str()),
        );
        family_matches(
            Family::Opinion,
            &opinion::Step::ALL.map(|s| s.as_str()),
            &opinion::OpinionStatus::ALL.map(|s| s.as_str()),
        );
        family_matches(
            Family::Lead,
            &lead::Step::ALL.map(|s| s.as_str()),
            &lead::LeadStatus::ALL.map(|s| s.as_str()),
        );
        family_matches(
            Family::Rectification,
            &rectification::Step::ALL.map(|s| s.as_str()),
            &rectification::RectificationStatus::ALL.map(|s| s.as_str()),
        );
    }

    #[test]
    fn statuses_serialise_as_the_names_the_table_uses() {
        for s in referral::ReferralStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in transfer::TransferStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in dispute::DisputeStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in opinion::OpinionStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in lead::LeadStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in rectification::RectificationStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
