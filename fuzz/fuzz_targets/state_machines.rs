//! Target `state_machines`: one case of one family (referral, transfer, dispute, opinion) driven
//! through its pure state machine (`decide`) by an arbitrary sequence of commands, actors and
//! times, on the shipped directory and law; beside it, a model of the deadlines service opening
//! and closing obligations on the accepted steps' events, as `services/deadlines` does.
//!
//! Invariants, after every command:
//! - no panic;
//! - a command the authorization table (`authz::TABLE`) does not allow the actor (wrong kind,
//!   not in the role, wrong status, opening an existing case, unknown agency) is refused, and a
//!   refused command leaves the case as it was;
//! - an accepted command adds one version and one history entry (its step, actor and time) to
//!   the same case, and its events are about that case, by that actor, at that time, addressed to
//!   parties of the case and never to the actor;
//! - the deadline plan stays coherent: every obligation an event opens is owed by a role some
//!   party holds after the step (else the deadlines service opens nothing and the deadline is
//!   lost), has a due time on the shipped calendar that is after its start, and every open
//!   obligation is owed by a party of the case, current or former.
#![no_main]

use std::sync::LazyLock;

use arbitrary::{Result, Unstructured};
use casebridge_core::authz::{self, Actor};
use casebridge_core::case::{Case, CaseEvent, EventName, HistoryEntry, Rejection, StepName};
use casebridge_core::deadline::{Obligation, Rule};
use casebridge_core::directory::{Agency, Directory};
use casebridge_core::dispute::{self, DisputeCommand, DisputePolicy};
use casebridge_core::document::{Document, DocumentKind, Party};
use casebridge_core::ids::{AgencyCode, CaseId, Sha256Digest};
use casebridge_core::law::Law;
use casebridge_core::notice::{Family, Role};
use casebridge_core::opinion::{self, OpinionCommand};
use casebridge_core::personal::PersonalData;
use casebridge_core::referral::{self, ReferralCommand, ReferralPolicy};
use casebridge_core::time::Timestamp;
use casebridge_core::transfer::{self, TransferCommand};
use libfuzzer_sys::fuzz_target;

const DIRECTORY: &str = include_str!("../../deploy/directory.toml");

/// The shipped directory and law, and every agency to act as (one of them unknown).
struct World {
    directory: Directory,
    law: Law,
    referral_policy: ReferralPolicy,
    dispute_policy: DisputePolicy,
    agencies: Vec<Agency>,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let directory = Directory::from_toml_str(DIRECTORY).expect("the shipped directory loads");
    let mut agencies: Vec<Agency> = directory.agencies().cloned().collect();
    agencies.sort_by(|a, b| a.code.cmp(&b.code));
    // A well-formed code the directory does not list: every step must refuse it.
    let mut stranger = agencies[0].clone();
    stranger.code = unknown_code(&directory);
    agencies.push(stranger);
    World {
        law: Law::shipped().expect("the shipped law loads"),
        referral_policy: ReferralPolicy::default(),
        dispute_policy: DisputePolicy::default(),
        directory,
        agencies,
    }
});

/// A well-formed agency code the directory does not hold.
fn unknown_code(directory: &Directory) -> AgencyCode {
    (0..=9)
        .filter_map(|d| {
            let base = format!("11350100MB010009{d}");
            let check = AgencyCode::check_char(&base).ok()?;
            AgencyCode::parse(&format!("{base}{check}")).ok()
        })
        .find(|code| directory.get(code).is_none())
        .expect("an unlisted code")
}

/// The case under test and the cases its commands may name.
fn case_ids() -> [CaseId; 3] {
    [
        "0190b8a2-4f6e-7c3d-9a1b-000000000001",
        "0190b8a2-4f6e-7c3d-9a1b-000000000002",
        "0190b8a2-4f6e-7c3d-9a1b-000000000003",
    ]
    .map(|s| CaseId::parse(s).expect("a case id"))
}

/// Every kind of document a step requires: a referral's items 1–5 (S1 Art 6) and the
/// hand-over list (移交清单).
const PACKAGE: [DocumentKind; 6] = [
    DocumentKind::ReferralLetter,
    DocumentKind::InvestigationReport,
    DocumentKind::SeizedItemsList,
    DocumentKind::TestReport,
    DocumentKind::PenaltyDecision,
    DocumentKind::HandoverList,
];

/// 2026-03-02 09:00 CST, a Monday: the walk starts up to ten years after it.
const EPOCH_MS: i64 = 1_772_413_200_000;
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let world = &*WORLD;
    let mut walk = Walk {
        now: Timestamp::from_millis(EPOCH_MS + i64::from(u.int_in_range(0..=3650u16)?) * DAY_MS),
        open: Vec::new(),
    };
    match u.int_in_range(0..=3u8)? {
        0 => walk.drive::<ReferralFamily>(u, world),
        1 => walk.drive::<TransferFamily>(u, world),
        2 => walk.drive::<DisputeFamily>(u, world),
        _ => walk.drive::<OpinionFamily>(u, world),
    }
}

/// One obligation the deadlines service holds open.
#[derive(Debug, Clone)]
struct Open {
    rule: String,
    owed_by: AgencyCode,
}

struct Walk {
    now: Timestamp,
    open: Vec<Open>,
}

/// An accepted step: the case after it and the events to deliver.
type Accepted<C, K> = (C, Vec<CaseEvent<K>>);

/// What the walk needs of a family: its case, command and event types and its `decide`.
trait Machine {
    type Case: Case + Clone + PartialEq + std::fmt::Debug;
    type Step: StepName + PartialEq + std::fmt::Debug;
    type Command;
    type Event: EventName + serde::Serialize;
    const FAMILY: Family;

    fn command(u: &mut Unstructured<'_>, ctx: &Gen<'_>) -> Result<Self::Command>;
    fn step(command: &Self::Command) -> Self::Step;
    fn decide(
        current: Option<&Self::Case>,
        command: &Self::Command,
        actor: &Agency,
        world: &World,
        now: Timestamp,
    ) -> std::result::Result<Accepted<Self::Case, Self::Event>, Rejection>;
    fn history(case: &Self::Case) -> &[HistoryEntry<Self::Step>];
    /// The event's detail as the family service sends it to the deadlines service.
    fn detail(event: &Self::Event, case: &Self::Case) -> serde_json::Value {
        let _ = case;
        serde_json::to_value(event).unwrap_or_default()
    }
}

impl Walk {
    fn drive<M: Machine>(&mut self, u: &mut Unstructured<'_>, world: &World) -> Result<()> {
        let mut case: Option<M::Case> = None;
        for _ in 0..48 {
            if u.is_empty() {
                break;
            }
            // Time moves on by up to a week, in minutes; now and then by months.
            let minutes = if u.ratio(1, 16)? {
                u.int_in_range(0..=200_000u32)?
            } else {
                u.int_in_range(0..=10_080u32)?
            };
            self.now =
                Timestamp::from_millis(self.now.as_millis() + i64::from(minutes) * MINUTE_MS);
            let actor = pick_actor(u, world, case.as_ref())?;
            let generator = Gen {
                world,
                now: self.now,
                parties: case.as_ref().map(Case::parties).unwrap_or_default(),
            };
            let command = M::command(u, &generator)?;
            let before = case.clone();
            let result = M::decide(case.as_ref(), &command, actor, world, self.now);
            let step = M::step(&command);
            if !allowed(M::FAMILY, step.name(), actor, world, before.as_ref()) {
                assert!(
                    result.is_err(),
                    "{} step {} by {} ({:?}) in {:?} was accepted against the authorization table",
                    M::FAMILY,
                    step.name(),
                    actor.code,
                    actor.kind,
                    before.as_ref().map(Case::status_name),
                );
            }
            match result {
                Err(rejection) => {
                    assert!(!rejection.rule().is_empty(), "a refusal names no rule");
                    assert_eq!(case, before, "a refused command changed the case");
                }
                Ok((next, events)) => {
                    self.accepted::<M>(before.as_ref(), &next, &events, step, actor, world);
                    case = Some(next);
                }
            }
        }
        Ok(())
    }

    fn accepted<M: Machine>(
        &mut self,
        before: Option<&M::Case>,
        next: &M::Case,
        events: &[CaseEvent<M::Event>],
        step: M::Step,
        actor: &Agency,
        world: &World,
    ) {
        let (version, entries) = before.map_or((0, 0), |b| (b.version(), M::history(b).len()));
        assert_eq!(
            next.version(),
            version + 1,
            "an accepted step adds one version"
        );
        if let Some(before) = before {
            assert_eq!(next.id(), before.id(), "a step moved to another case");
        }
        let history = M::history(next);
        assert_eq!(
            history.len(),
            entries + 1,
            "an accepted step adds one history entry"
        );
        let last = &history[entries];
        assert_eq!(
            (last.step, &last.actor, last.at),
            (step, &actor.code, self.now)
        );
        let parties = next.parties();
        for event in events {
            assert_eq!(event.case_id, next.id(), "an event about another case");
            assert_eq!((&event.actor, event.at), (&actor.code, self.now));
            for recipient in &event.recipients {
                assert_ne!(recipient, &actor.code, "the actor is told of its own step");
                assert!(
                    parties.contains(recipient),
                    "{recipient} is told but is no party"
                );
            }
            self.plan(
                M::FAMILY,
                event.kind.name(),
                &M::detail(&event.kind, next),
                next,
                world,
            );
        }
        for open in &self.open {
            assert!(
                parties.contains(&open.owed_by),
                "obligation {} is owed by {}, no longer a party",
                open.rule,
                open.owed_by
            );
        }
    }

    /// What the deadlines service does with one event: close the obligations it fulfils, then
    /// open those it triggers (`services/deadlines/src/handler.rs`, `apply` and `open`).
    fn plan(
        &mut self,
        family: Family,
        event: &str,
        detail: &serde_json::Value,
        case: &impl Case,
        world: &World,
    ) {
        let event = format!("{family}.{event}");
        let rules = &world.law.rules;
        let closing: Vec<&Rule> = rules.closed_by(&event).collect();
        self.open
            .retain(|o| !closing.iter().any(|r| r.id == o.rule));
        let parties = case.parties();
        for rule in rules.opened_by(&event).filter(|r| r.applies_to(detail)) {
            let Some(role) = rule.owed_by else { continue };
            let Some(obligation) = Obligation::under(rule, self.now) else {
                continue;
            };
            let Some(owed_by) = parties.get(role) else {
                panic!(
                    "{event} opens {} owed by the {role}, whom the case does not name",
                    rule.id
                );
            };
            let calendar = world.law.calendar.current();
            match obligation.due(&calendar) {
                Ok(due) => assert!(
                    due.at > self.now,
                    "{} opened at {} is due at {}, not after",
                    rule.id,
                    self.now,
                    due.at
                ),
                Err(error) => panic!(
                    "{} opened at {} has no due time: {error}",
                    rule.id, self.now
                ),
            }
            self.open.push(Open {
                rule: rule.id.clone(),
                owed_by: owed_by.clone(),
            });
        }
    }
}

/// Whether the authorization table lets `actor` take `step` on `case` (`None`: no case yet),
/// read from `TABLE` as `authz::authorize` documents it.
fn allowed(
    family: Family,
    step: &str,
    actor: &Agency,
    world: &World,
    case: Option<&impl Case>,
) -> bool {
    let Some(listed) = world.directory.get(&actor.code) else {
        return false;
    };
    let Some(row) = authz::TABLE
        .iter()
        .find(|p| p.family == family && p.step == step)
    else {
        return false;
    };
    let kind_ok = row.kinds.is_empty() || row.kinds.contains(&listed.kind);
    let Some(case) = case else {
        return kind_ok && matches!(row.actor, Actor::Opens | Actor::Reaction);
    };
    let parties = case.parties();
    let holds = |roles: &[Role]| roles.iter().any(|r| parties.get(*r) == Some(&actor.code));
    let party_ok = match row.actor {
        Actor::Opens => false,
        Actor::Role(role) => holds(&[role]),
        Actor::AnyOf(roles) => holds(roles),
        Actor::Reaction => true,
    };
    party_ok && kind_ok && row.states.contains(&case.status_name())
}

/// Mostly a party of the case in some role, else any agency of the directory or the stranger.
fn pick_actor<'w>(
    u: &mut Unstructured<'_>,
    world: &'w World,
    case: Option<&impl Case>,
) -> Result<&'w Agency> {
    if let Some(case) = case
        && u.ratio(3, 4)?
    {
        let parties = case.parties().all();
        if !parties.is_empty() {
            let code = u.choose(&parties)?;
            if let Some(agency) = world.agencies.iter().find(|a| a.code == *code) {
                return Ok(agency);
            }
        }
    }
    u.choose(&world.agencies)
}

/// Builds command parts from the input.
struct Gen<'w> {
    world: &'w World,
    now: Timestamp,
    parties: casebridge_core::case::Parties,
}

impl Gen<'_> {
    /// An agency code: a party of the case, a listed agency or the stranger.
    fn agency(&self, u: &mut Unstructured<'_>) -> Result<AgencyCode> {
        let parties = self.parties.all();
        if !parties.is_empty() && u.ratio(1, 2)? {
            return Ok(u.choose(&parties)?.clone());
        }
        Ok(u.choose(&self.world.agencies)?.code.clone())
    }

    fn case_id(&self, u: &mut Unstructured<'_>) -> Result<CaseId> {
        Ok(*u.choose(&case_ids())?)
    }

    /// Free text: ordinary, empty, blank, too long, or carrying control characters.
    fn text(&self, u: &mut Unstructured<'_>) -> Result<String> {
        Ok(match u.int_in_range(0..=9u8)? {
            0 => String::new(),
            1 => " \n".to_owned(),
            2 => "理".repeat(2001),
            3 => "bell\u{7}".to_owned(),
            4 => "\u{202e}override".to_owned(),
            5 => "line one\nline two".to_owned(),
            6 => "符合GB/T 5023标准".to_owned(),
            _ => "理由充分".to_owned(),
        })
    }

    /// Documents: half the time a whole package (every kind a step may require), then some
    /// of any kind, now and then with an over-long title.
    fn documents(&self, u: &mut Unstructured<'_>) -> Result<Vec<Document>> {
        let mut documents = Vec::new();
        if u.arbitrary()? {
            documents.extend(PACKAGE.iter().map(|kind| Document {
                kind: *kind,
                title: kind.label_zh().to_owned(),
                sha256: None,
            }));
        }
        for i in 0..u.int_in_range(0..=3u8)? {
            documents.push(Document {
                kind: *u.choose(&DocumentKind::ALL)?,
                title: if u.ratio(1, 8)? {
                    "标".repeat(257)
                } else {
                    format!("材料{i}")
                },
                sha256: u.ratio(1, 2)?.then(|| Sha256Digest::of(&[i])),
            });
        }
        Ok(documents)
    }

    fn parties_named(&self, u: &mut Unstructured<'_>) -> Result<Vec<Party>> {
        let n = u.int_in_range(0..=2u8)?;
        (0..n)
            .map(|_| {
                Ok(Party {
                    name: PersonalData::new(self.text(u)?),
                    id_number: u
                        .ratio(1, 2)?
                        .then(|| PersonalData::new("350102199001011234".to_owned())),
                })
            })
            .collect()
    }

    /// A time some hours or days before now, or now and then after it.
    fn time(&self, u: &mut Unstructured<'_>) -> Result<Timestamp> {
        let minutes = i64::from(u.int_in_range(0..=20_000u32)?);
        let sign = if u.ratio(1, 8)? { 1 } else { -1 };
        Ok(Timestamp::from_millis(
            self.now.as_millis() + sign * minutes * MINUTE_MS,
        ))
    }
}

struct ReferralFamily;

impl Machine for ReferralFamily {
    type Case = referral::Referral;
    type Step = referral::Step;
    type Command = ReferralCommand;
    type Event = referral::ReferralEventKind;
    const FAMILY: Family = Family::Referral;

    fn command(u: &mut Unstructured<'_>, g: &Gen<'_>) -> Result<ReferralCommand> {
        use ReferralCommand as C;
        Ok(match u.int_in_range(0..=24u8)? {
            0 => {
                let report_received_at = g.time(u)?;
                C::Submit(referral::Submission {
                    case_id: case_ids()[0],
                    police: g.agency(u)?,
                    suspected_offence: g.text(u)?,
                    summary: g.text(u)?,
                    report_received_at,
                    approved_at: g.time(u)?,
                    items_tested: u.arbitrary()?,
                    penalty_imposed: u.arbitrary()?,
                    documents: g.documents(u)?,
                    parties: g.parties_named(u)?,
                    case_officer: g.text(u)?,
                    case_officer_phone: PersonalData::new("13800000000".to_owned()),
                })
            }
            1 => C::SignReceipt,
            2 => C::RequestSupplement {
                missing: (0..u.int_in_range(0..=3u8)?)
                    .map(|_| u.choose(&DocumentKind::ALL).copied())
                    .collect::<Result<_>>()?,
                note: g.text(u)?,
            },
            3 => C::Supplement {
                documents: g.documents(u)?,
                note: g.text(u)?,
            },
            4 => C::Forward {
                to: g.agency(u)?,
                reason: g.text(u)?,
            },
            5 => C::ReturnNotPoliceMatter {
                reasons: g.text(u)?,
            },
            6 => C::File { note: g.text(u)? },
            7 => C::Decline {
                reasons: g.text(u)?,
            },
            8 => C::HandOverItems {
                documents: g.documents(u)?,
                note: g.text(u)?,
            },
            9 => C::RequestReconsideration {
                reasons: g.text(u)?,
            },
            10 => C::DecideReconsideration {
                outcome: if u.arbitrary()? {
                    referral::ReconsiderationOutcome::File
                } else {
                    referral::ReconsiderationOutcome::Uphold
                },
                reasons: g.text(u)?,
            },
            11 => C::SuggestSupervision {
                reasons: g.text(u)?,
            },
            12 => C::RequestReasons { note: g.text(u)? },
            13 => C::GiveReasons {
                reasons: g.text(u)?,
            },
            14 => C::TellAgency { note: g.text(u)? },
            15 => C::NotifyFiling {
                reasons: g.text(u)?,
            },
            16 => C::DemandExplanation { note: g.text(u)? },
            17 => C::Explain {
                explanation: g.text(u)?,
            },
            18 => C::TransferCase {
                to_authority: g.text(u)?,
                reason: g.text(u)?,
                decided_at: g.time(u)?,
            },
            19 => C::WithdrawCase {
                reasons: g.text(u)?,
                decided_at: g.time(u)?,
            },
            20 => C::MarkReviewOverdue {
                started_at: g.time(u)?,
                due_at: g.time(u)?,
            },
            21 => C::IssueCorrectionNotice {
                reasons: g.text(u)?,
            },
            22 => C::ReportToSuperior { note: g.text(u)? },
            23 => {
                let report_received_at = g.time(u)?;
                C::RecordNonReferral(referral::NonReferral {
                    case_id: case_ids()[0],
                    suspected_offence: g.text(u)?,
                    summary: g.text(u)?,
                    report_received_at,
                    decided_at: g.time(u)?,
                    approver: g.text(u)?,
                    reasons: g.text(u)?,
                    documents: g.documents(u)?,
                    parties: g.parties_named(u)?,
                })
            }
            _ => C::HandBack {
                to: if u.arbitrary()? {
                    Some(g.agency(u)?)
                } else {
                    None
                },
                reasons: g.text(u)?,
                documents: g.documents(u)?,
            },
        })
    }

    fn step(command: &ReferralCommand) -> referral::Step {
        command.step()
    }

    fn decide(
        current: Option<&referral::Referral>,
        command: &ReferralCommand,
        actor: &Agency,
        world: &World,
        now: Timestamp,
    ) -> std::result::Result<Accepted<referral::Referral, referral::ReferralEventKind>, Rejection>
    {
        let ctx = referral::Context {
            directory: &world.directory,
            law: &world.law,
            policy: &world.referral_policy,
        };
        referral::decide(current, command, actor, &ctx, now).map(|d| (d.case, d.events))
    }

    fn history(case: &referral::Referral) -> &[HistoryEntry<referral::Step>] {
        &case.history
    }
}

struct TransferFamily;

impl Machine for TransferFamily {
    type Case = transfer::Transfer;
    type Step = transfer::Step;
    type Command = TransferCommand;
    type Event = transfer::TransferEventKind;
    const FAMILY: Family = Family::Transfer;

    fn command(u: &mut Unstructured<'_>, g: &Gen<'_>) -> Result<TransferCommand> {
        use TransferCommand as C;
        Ok(match u.int_in_range(0..=10u8)? {
            0 => C::Send(transfer::Sending {
                case_id: case_ids()[0],
                receiver: g.agency(u)?,
                suspected_violation: g.text(u)?,
                summary: g.text(u)?,
                jurisdiction_grounds: g.text(u)?,
                urgent: u.arbitrary()?,
                documents: g.documents(u)?,
                parties: g.parties_named(u)?,
                case_officer: g.text(u)?,
                case_officer_phone: PersonalData::new("13800000000".to_owned()),
                previous: None,
            }),
            1 => C::HandBack(transfer::HandedBack {
                case_id: case_ids()[0],
                referral: g.case_id(u)?,
                receiver: g.agency(u)?,
                suspected_offence: g.text(u)?,
                summary: g.text(u)?,
                reasons: g.text(u)?,
                documents: g.documents(u)?,
                parties: g.parties_named(u)?,
            }),
            2 => C::SignReceipt,
            3 => C::Accept {
                case_number: g.text(u)?,
                note: g.text(u)?,
            },
            4 => C::Object {
                reasons: g.text(u)?,
            },
            5 => C::ReportOutcome {
                outcome: g.text(u)?,
                documents: g.documents(u)?,
            },
            6 => C::Decline {
                reasons: g.text(u)?,
            },
            7 => C::ContestDecline {
                reasons: g.text(u)?,
            },
            8 => C::Suspend {
                reason: g.text(u)?,
                approval: g.documents(u)?.into_iter().next(),
            },
            9 => C::Resume { note: g.text(u)? },
            _ => C::Restart {
                dispute: g.case_id(u)?,
                between: vec![g.agency(u)?, g.agency(u)?],
                designated: g.agency(u)?,
                office: if u.arbitrary()? {
                    Some(g.agency(u)?)
                } else {
                    None
                },
                decision: g.text(u)?,
            },
        })
    }

    fn step(command: &TransferCommand) -> transfer::Step {
        command.step()
    }

    fn decide(
        current: Option<&transfer::Transfer>,
        command: &TransferCommand,
        actor: &Agency,
        world: &World,
        now: Timestamp,
    ) -> std::result::Result<Accepted<transfer::Transfer, transfer::TransferEventKind>, Rejection>
    {
        transfer::decide(current, None, command, actor, &world.directory, now)
            .map(|d| (d.case, d.events))
    }

    fn history(case: &transfer::Transfer) -> &[HistoryEntry<transfer::Step>] {
        &case.history
    }
}

struct DisputeFamily;

impl Machine for DisputeFamily {
    type Case = dispute::Dispute;
    type Step = dispute::Step;
    type Command = DisputeCommand;
    type Event = dispute::DisputeEventKind;
    const FAMILY: Family = Family::Dispute;

    fn command(u: &mut Unstructured<'_>, g: &Gen<'_>) -> Result<DisputeCommand> {
        use DisputeCommand as C;
        Ok(match u.int_in_range(0..=8u8)? {
            0 => C::Raise(dispute::Raising {
                case_id: case_ids()[0],
                respondent: g.agency(u)?,
                question: g.text(u)?,
                position: g.text(u)?,
                transfer: if u.arbitrary()? {
                    Some(g.case_id(u)?)
                } else {
                    None
                },
                documents: g.documents(u)?,
            }),
            1 => C::RaiseFromObjection(dispute::FromObjection {
                case_id: case_ids()[0],
                transfer: g.case_id(u)?,
                respondent: g.agency(u)?,
                question: g.text(u)?,
                position: g.text(u)?,
            }),
            2 => C::DesignateDirectly(dispute::DirectDesignation {
                case_id: case_ids()[0],
                parties: [g.agency(u)?, g.agency(u)?],
                question: g.text(u)?,
                designated: g.agency(u)?,
                decision: g.text(u)?,
                transfer: if u.arbitrary()? {
                    Some(g.case_id(u)?)
                } else {
                    None
                },
                documents: g.documents(u)?,
            }),
            3 => C::RecordMinutes {
                competent: g.agency(u)?,
                minutes: g.text(u)?,
                documents: g.documents(u)?,
            },
            4 => C::Refer { note: g.text(u)? },
            5 => C::Accept { note: g.text(u)? },
            6 => C::Reply {
                position: g.text(u)?,
                documents: g.documents(u)?,
            },
            _ => C::Designate {
                designated: g.agency(u)?,
                decision: g.text(u)?,
                documents: g.documents(u)?,
            },
        })
    }

    fn step(command: &DisputeCommand) -> dispute::Step {
        command.step()
    }

    fn decide(
        current: Option<&dispute::Dispute>,
        command: &DisputeCommand,
        actor: &Agency,
        world: &World,
        now: Timestamp,
    ) -> std::result::Result<Accepted<dispute::Dispute, dispute::DisputeEventKind>, Rejection> {
        let ctx = dispute::Context {
            directory: &world.directory,
            policy: &world.dispute_policy,
        };
        dispute::decide(current, command, actor, &ctx, now).map(|d| (d.case, d.events))
    }

    fn history(case: &dispute::Dispute) -> &[HistoryEntry<dispute::Step>] {
        &case.history
    }
}

struct OpinionFamily;

impl Machine for OpinionFamily {
    type Case = opinion::OpinionRequest;
    type Step = opinion::Step;
    type Command = OpinionCommand;
    type Event = opinion::OpinionEventKind;
    const FAMILY: Family = Family::Opinion;

    fn command(u: &mut Unstructured<'_>, g: &Gen<'_>) -> Result<OpinionCommand> {
        use OpinionCommand as C;
        Ok(match u.int_in_range(0..=5u8)? {
            0 => C::Request(opinion::Requesting {
                case_id: case_ids()[0],
                expert: g.agency(u)?,
                kind: *u.choose(&[
                    opinion::OpinionKind::Determination,
                    opinion::OpinionKind::Test,
                    opinion::OpinionKind::Forensic,
                    opinion::OpinionKind::Assistance,
                ])?,
                question: g.text(u)?,
                documents: g.documents(u)?,
                under_case: if u.arbitrary()? {
                    Some(g.case_id(u)?)
                } else {
                    None
                },
            }),
            1 => C::Accept { note: g.text(u)? },
            2 => C::Refuse {
                reasons: g.text(u)?,
            },
            3 => C::RequestMaterial { needed: g.text(u)? },
            4 => C::SupplyMaterial {
                documents: g.documents(u)?,
                note: g.text(u)?,
            },
            _ => C::Deliver(opinion::Opinion {
                finding: *u.choose(&[
                    None,
                    Some(opinion::Finding::Affirmative),
                    Some(opinion::Finding::Negative),
                    Some(opinion::Finding::Quantified),
                    Some(opinion::Finding::AssistanceGiven),
                ])?,
                conclusion: g.text(u)?,
                basis: g.text(u)?,
                documents: g.documents(u)?,
            }),
        })
    }

    fn step(command: &OpinionCommand) -> opinion::Step {
        command.step()
    }

    fn decide(
        current: Option<&opinion::OpinionRequest>,
        command: &OpinionCommand,
        actor: &Agency,
        world: &World,
        now: Timestamp,
    ) -> std::result::Result<Accepted<opinion::OpinionRequest, opinion::OpinionEventKind>, Rejection>
    {
        opinion::decide(current, command, actor, &world.directory, now).map(|d| (d.case, d.events))
    }

    fn history(case: &opinion::OpinionRequest) -> &[HistoryEntry<opinion::Step>] {
        &case.history
    }

    /// As `services/opinions/src/handler.rs` `detail`: the request's case, and whether it is
    /// forensic or testing (the rule table reads both).
    fn detail(
        event: &opinion::OpinionEventKind,
        case: &opinion::OpinionRequest,
    ) -> serde_json::Value {
        let mut detail = serde_json::to_value(event).unwrap_or_default();
        if let Some(map) = detail.as_object_mut() {
            map.insert(
                "under_case".into(),
                serde_json::to_value(case.under_case).unwrap_or_default(),
            );
            map.insert(
                "forensic".into(),
                serde_json::Value::Bool(case.kind == opinion::OpinionKind::Forensic),
            );
            map.insert(
                "testing".into(),
                serde_json::Value::Bool(matches!(
                    case.kind,
                    opinion::OpinionKind::Test | opinion::OpinionKind::Forensic
                )),
            );
        }
        detail
    }
}
