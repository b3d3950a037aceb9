//! Who hears of a missed deadline, and the start-up check that someone always does.
//!
//! docs/law.md, "Cross-cutting" and correction 8: referral steps escalate to the copied
//! procuratorate (the procuratorate's own R561 to the next-level procuratorate); transfer and
//! opinion steps to the coordination office (the region's justice bureau); dispute steps to the
//! office that will rule on the dispute. Every rule's supervisor must resolve for every agency it
//! applies to; an escalation that cannot be delivered is an alarm, never silence.
//!
//! [`resolve_supervisor`] is the one resolution: the deadlines service calls it (through
//! [`supervisor_for`]) when it opens an obligation, with the parties the triggering notice names,
//! and [`check_supervision`] calls it at start-up for every situation the directory allows, so the
//! check and the service cannot disagree.
//!
//! # Which agencies a rule applies to
//!
//! A rule is owed by a role (`owed_by`) in a case of its family. Which agencies can hold that role:
//! - the **copied procuratorate** of a referral is derived, never chosen: the procuratorate of
//!   the sender's region ([`Directory::procuratorate_for`], rule CC, as the referral state machine
//!   copies it). The procuratorates that can owe R561 are those copied on some sender's referrals.
//! - the **ruling office** of a dispute is derived too: [`crate::dispute::office_for`] for the two
//!   parties, under the dispute policy, as the dispute state machine refers it.
//! - any other role is held by the agency kinds the authorization table lets act in it
//!   ([`owing_kinds`]; a test keeps the two in step).
//!
//! # The parties a notice carries
//!
//! The supervisor may depend on other parties than the owing agency, and the check supplies them
//! as the family services do: a referral always names the copied procuratorate of its sender's
//! region when the directory has one (and none otherwise); a dispute names its ruling office from
//! the referral on (`Role::Coordination`) and before that only its two parties, so the check
//! resolves without the office, the stricter case. A transfer names a designating office only after
//! a designation: the check resolves coordination offices without it, again the stricter case.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Rule, RuleKind, RuleTable, Supervisor};
use crate::directory::{Agency, AgencyKind, Directory};
use crate::dispute::{DisputePolicy, office_for};
use crate::ids::{AgencyCode, RegionCode};
use crate::notice::{Family, Role};

/// Why no supervisor resolves for an obligation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The rule has no `escalate_to` (only non-timer rules lack one).
    NoEscalation,
    /// The case names no procuratorate: a referral copies the one of its sender's region, and
    /// the directory has none there (rule CC); other families never name one.
    NoProcuratorate { family: Family },
    /// No coordination office (司法局) in the owing agency's region or its superiors' regions.
    NoCoordinationOffice { regions: Vec<RegionCode> },
    /// The owing agency has no superior in the directory.
    NoSuperior,
    /// No office rules on the dispute: the case names none, and the directory has neither a
    /// common superior of its two parties nor a coordination office in a region they share.
    NoDisputeOffice {
        /// The two parties, when the case names both.
        parties: Option<(AgencyCode, AgencyCode)>,
    },
    /// The ruling office owes the step itself, and has no superior, nor another coordination
    /// office in its region.
    OfficeUnsupervised { region: RegionCode },
    /// The supervisor found is the owing agency itself: an escalation to it reaches nobody else.
    SelfSupervised,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unresolved::NoEscalation => f.write_str("the rule names no supervisor (escalate_to)"),
            Unresolved::NoProcuratorate {
                family: Family::Referral,
            } => f.write_str(
                "the referral copies no procuratorate: the directory has none for the sender's \
                 region (rule CC)",
            ),
            Unresolved::NoProcuratorate { family } => write!(
                f,
                "a {family} case names no procuratorate (escalate_to = \"procuratorate\" fits \
                 referral steps only)"
            ),
            Unresolved::NoCoordinationOffice { regions } => {
                let regions: Vec<&str> = regions.iter().map(RegionCode::as_str).collect();
                write!(
                    f,
                    "no coordination office (司法局) in region {} (its own and its superiors')",
                    regions.join(", ")
                )
            }
            Unresolved::NoSuperior => f.write_str("it has no superior in the directory"),
            Unresolved::NoDisputeOffice {
                parties: Some((a, b)),
            } => write!(
                f,
                "no office rules on a dispute between {a} and {b}: no common superior, and no \
                 coordination office in a region they share"
            ),
            Unresolved::NoDisputeOffice { parties: None } => {
                f.write_str("the case names neither a ruling office nor two parties to a dispute")
            }
            Unresolved::OfficeUnsupervised { region } => write!(
                f,
                "it rules on the dispute itself and has no superior in the directory, nor another \
                 coordination office in region {region}"
            ),
            Unresolved::SelfSupervised => {
                f.write_str("the escalation would go back to the owing agency itself")
            }
        }
    }
}

/// The supervisor of an obligation under `rule` owed by `owed_by`, from the parties the
/// triggering notice names (`Notice::parties`) and the directory:
/// - `procuratorate`: the procuratorate the case names (the one copied on a referral);
/// - `coordination_office`: the coordination office the case names (a transfer's designating
///   office), else the coordination office (司法局) of the owing agency's region, or of its
///   superiors' regions, nearest first;
/// - `superior`: the owing agency's superior (R561: the next-level procuratorate);
/// - `dispute_office`: the office that rules on the dispute: the one the case names
///   (`Role::Coordination`, from the referral on), else the one [`office_for`] names for its two
///   parties under the dispute policy, as the dispute service will refer it. When that office owes
///   the step itself (LOC-ACC, SAMR-16), its superior (S3 Art 25: the superior may designate
///   directly); an office at the top of the directory, which has none, is watched by the
///   coordination office of its own region (for 福建省人民政府, 福建省司法厅: the government's
///   enforcement-supervision body, which carries its supervision and dispute-coordination work
///   [V2 S25; S26]) — an assumption, since the law's next level is outside the directory.
///
/// A supervisor equal to the owing agency is no supervisor.
pub fn resolve_supervisor(
    directory: &Directory,
    disputes: &DisputePolicy,
    rule: &Rule,
    owed_by: &AgencyCode,
    parties: &BTreeMap<Role, AgencyCode>,
) -> Result<AgencyCode, Unresolved> {
    let Some(escalate_to) = rule.escalate_to else {
        return Err(Unresolved::NoEscalation);
    };
    let supervisor = match escalate_to {
        Supervisor::Procuratorate => {
            parties
                .get(&Role::Procuratorate)
                .cloned()
                .ok_or(Unresolved::NoProcuratorate {
                    family: rule.family,
                })?
        }
        Supervisor::CoordinationOffice => match parties.get(&Role::Coordination) {
            Some(office) => office.clone(),
            None => coordination_office_over(directory, owed_by)?,
        },
        Supervisor::Superior => directory
            .get(owed_by)
            .and_then(|a| a.superior.clone())
            .ok_or(Unresolved::NoSuperior)?,
        Supervisor::DisputeOffice => {
            let office = ruling_office(directory, disputes, parties)?;
            if office == *owed_by {
                office_supervisor(directory, &office)?
            } else {
                office
            }
        }
    };
    if supervisor == *owed_by {
        return Err(Unresolved::SelfSupervised);
    }
    Ok(supervisor)
}

/// [`resolve_supervisor`], without the reason: what the deadlines service stores.
pub fn supervisor_for(
    directory: &Directory,
    disputes: &DisputePolicy,
    rule: &Rule,
    owed_by: &AgencyCode,
    parties: &BTreeMap<Role, AgencyCode>,
) -> Option<AgencyCode> {
    resolve_supervisor(directory, disputes, rule, owed_by, parties).ok()
}

/// The coordination office of `owed_by`'s region, or of its superiors' regions, nearest first.
fn coordination_office_over(
    directory: &Directory,
    owed_by: &AgencyCode,
) -> Result<AgencyCode, Unresolved> {
    let mut regions: Vec<RegionCode> = Vec::new();
    let chain = std::iter::once(owed_by.clone()).chain(
        directory
            .superiors_of(owed_by)
            .into_iter()
            .map(|a| a.code.clone()),
    );
    for code in chain {
        let region = code.region();
        if let Some(office) = directory.coordination_for(&region) {
            return Ok(office.code.clone());
        }
        if !regions.contains(&region) {
            regions.push(region);
        }
    }
    Err(Unresolved::NoCoordinationOffice { regions })
}

/// The office that rules on the dispute the parties describe.
fn ruling_office(
    directory: &Directory,
    disputes: &DisputePolicy,
    parties: &BTreeMap<Role, AgencyCode>,
) -> Result<AgencyCode, Unresolved> {
    if let Some(office) = parties.get(&Role::Coordination) {
        return Ok(office.clone());
    }
    let (Some(a), Some(b)) = (parties.get(&Role::Sender), parties.get(&Role::Recipient)) else {
        return Err(Unresolved::NoDisputeOffice { parties: None });
    };
    office_for(directory, disputes, a, b)
        .map(|office| office.code.clone())
        .ok_or_else(|| Unresolved::NoDisputeOffice {
            parties: Some((a.clone(), b.clone())),
        })
}

/// Who watches a ruling office's own steps: its superior, or at the top of the directory the
/// coordination office of its region when that is another agency.
fn office_supervisor(directory: &Directory, office: &AgencyCode) -> Result<AgencyCode, Unresolved> {
    if let Some(superior) = directory.get(office).and_then(|a| a.superior.clone()) {
        return Ok(superior);
    }
    let region = office.region();
    directory
        .coordination_for(&region)
        .map(|a| a.code.clone())
        .filter(|code| code != office)
        .ok_or(Unresolved::OfficeUnsupervised { region })
}

use AgencyKind::{Administrative as ADMIN, Coordination as COORD, Expert as EXPERT};
use AgencyKind::{Police as POLICE, Procuratorate as PROC};

/// The kinds of agency that can hold `role` in a case of `family`, and so owe a step in it.
/// From the authorization table ([`crate::authz::TABLE`]): the kinds that take the family's steps in that
/// role, and for the sender the kinds that open the case (the police open a transfer by handing a
/// referral back, S1 Art 13). A dispute's office is the ruling office and a transfer's the
/// designating one: common superiors (administrative) or coordination offices. Empty when the
/// family has no party in that role.
pub fn owing_kinds(family: Family, role: Role) -> &'static [AgencyKind] {
    match (family, role) {
        (Family::Referral, Role::Sender) => &[ADMIN],
        (Family::Referral, Role::Recipient) => &[POLICE],
        (Family::Referral, Role::Procuratorate) => &[PROC],
        (Family::Transfer, Role::Sender) => &[ADMIN, POLICE],
        (Family::Transfer, Role::Recipient) => &[ADMIN],
        (Family::Transfer | Family::Dispute, Role::Coordination) => &[COORD, ADMIN],
        (Family::Dispute, Role::Sender | Role::Recipient) => &[ADMIN],
        (Family::Opinion, Role::Sender) => &[ADMIN, POLICE],
        (Family::Opinion, Role::Expert) => &[EXPERT, ADMIN],
        (Family::Penalty, Role::Sender) => &[ADMIN],
        (Family::Penalty, Role::Procuratorate) => &[PROC],
        (Family::Lead, Role::Sender | Role::Recipient) => &[ADMIN, POLICE],
        (Family::Rectification, Role::Sender) => &[COORD, PROC, ADMIN],
        (Family::Rectification, Role::Recipient | Role::Coordination) => &[ADMIN],
        _ => &[],
    }
}

/// A timer rule whose escalation resolves for nobody, for one agency it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisionGap {
    /// The rule id.
    pub rule: String,
    /// The agency: the one owing the step, or for a step the police owe on referrals, the
    /// sender whose referrals copy no procuratorate (the supervisor depends on it alone).
    pub agency: AgencyCode,
    /// The agency's name.
    pub name: String,
    /// How the agency comes to the step, when it matters (e.g. "on referrals from …").
    pub context: Option<String>,
    pub why: Unresolved,
}

impl fmt::Display for SupervisionGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}: {} ({})", self.rule, self.name, self.agency)?;
        if let Some(context) = &self.context {
            write!(f, " {context}")?;
        }
        write!(f, ": {}", self.why)
    }
}

/// One way an agency comes to owe a step: the parties the notice would name.
struct Situation<'d> {
    /// The agency a gap names.
    subject: &'d Agency,
    owed_by: &'d Agency,
    parties: BTreeMap<Role, AgencyCode>,
    context: Option<String>,
}

/// Every timer rule's escalation target, for every agency of the directory the rule applies to
/// (module documentation: which agencies, and the parties assumed). Empty when all resolve.
/// One gap per rule and agency, in rule-table and directory order.
pub fn check_supervision(
    rules: &RuleTable,
    directory: &Directory,
    disputes: &DisputePolicy,
) -> Vec<SupervisionGap> {
    let mut gaps = Vec::new();
    let mut seen: BTreeSet<(String, AgencyCode)> = BTreeSet::new();
    for rule in rules.rules().iter().filter(|r| r.kind == RuleKind::Timer) {
        let Some(role) = rule.owed_by else { continue };
        for situation in situations(directory, disputes, rule, role) {
            let Err(why) = resolve_supervisor(
                directory,
                disputes,
                rule,
                &situation.owed_by.code,
                &situation.parties,
            ) else {
                continue;
            };
            if seen.insert((rule.id.clone(), situation.subject.code.clone())) {
                gaps.push(SupervisionGap {
                    rule: rule.id.clone(),
                    agency: situation.subject.code.clone(),
                    name: situation.subject.name.clone(),
                    context: situation.context,
                    why,
                });
            }
        }
    }
    gaps
}

fn of_kinds<'d>(directory: &'d Directory, kinds: &[AgencyKind]) -> Vec<&'d Agency> {
    directory
        .agencies()
        .filter(|a| kinds.contains(&a.kind))
        .collect()
}

fn named(agency: &Agency) -> String {
    format!("{} ({})", agency.name, agency.code)
}

/// Agencies grouped by what [`office_for`] reads of them (their region and superior): one
/// representative pair per two groups names the same office as any other pair of them.
fn dispute_groups<'d>(parties: &[&'d Agency]) -> Vec<Vec<&'d Agency>> {
    let mut groups: BTreeMap<(RegionCode, Option<AgencyCode>), Vec<&'d Agency>> = BTreeMap::new();
    for agency in parties {
        groups
            .entry((agency.region.clone(), agency.superior.clone()))
            .or_default()
            .push(agency);
    }
    groups.into_values().collect()
}

/// A member of `group` other than `not`.
fn other_than<'d>(group: &[&'d Agency], not: &AgencyCode) -> Option<&'d Agency> {
    group.iter().copied().find(|a| a.code != *not)
}

fn situations<'d>(
    directory: &'d Directory,
    disputes: &DisputePolicy,
    rule: &Rule,
    role: Role,
) -> Vec<Situation<'d>> {
    let family = rule.family;
    let senders = || of_kinds(directory, owing_kinds(Family::Referral, Role::Sender));
    let copied = |sender: &Agency| directory.procuratorate_for(&sender.region);
    let mut out = Vec::new();
    match (family, role) {
        // Rule CC: the procuratorate a referral names is the one of its sender's region.
        (Family::Referral, Role::Procuratorate) => {
            let mut done = BTreeSet::new();
            for sender in senders() {
                let Some(procuratorate) = copied(sender) else {
                    continue;
                };
                if done.insert(&procuratorate.code) {
                    out.push(Situation {
                        subject: procuratorate,
                        owed_by: procuratorate,
                        parties: BTreeMap::from([
                            (Role::Sender, sender.code.clone()),
                            (Role::Procuratorate, procuratorate.code.clone()),
                        ]),
                        context: Some(format!("copied on referrals from {}", named(sender))),
                    });
                }
            }
        }
        // S3 Art 25: the office a dispute is referred to is the one the directory names for
        // its two parties.
        (Family::Dispute, Role::Coordination) => {
            let parties = of_kinds(directory, owing_kinds(Family::Dispute, Role::Sender));
            let groups = dispute_groups(&parties);
            let mut done = BTreeSet::new();
            for first in &groups {
                for second in &groups {
                    let Some(a) = first.first().copied() else {
                        continue;
                    };
                    let Some(b) = other_than(second, &a.code) else {
                        continue;
                    };
                    let Some(office) = office_for(directory, disputes, &a.code, &b.code) else {
                        continue; // the parties' own steps show that gap
                    };
                    if done.insert(&office.code) {
                        out.push(Situation {
                            subject: office,
                            owed_by: office,
                            parties: BTreeMap::from([
                                (Role::Sender, a.code.clone()),
                                (Role::Recipient, b.code.clone()),
                                (Role::Coordination, office.code.clone()),
                            ]),
                            context: Some(format!(
                                "ruling on a dispute between {} and {}",
                                named(a),
                                named(b)
                            )),
                        });
                    }
                }
            }
        }
        _ => {
            for owing in of_kinds(directory, owing_kinds(family, role)) {
                let base = BTreeMap::from([(role, owing.code.clone())]);
                let mut one = |parties: BTreeMap<Role, AgencyCode>,
                               subject: &'d Agency,
                               context: Option<String>| {
                    out.push(Situation {
                        subject,
                        owed_by: owing,
                        parties,
                        context,
                    });
                };
                match rule.escalate_to {
                    // A referral copies, and a penalty warning is raised to, the procuratorate
                    // of the sender's region (rule CC; docs/screening.md).
                    Some(Supervisor::Procuratorate)
                        if matches!(family, Family::Referral | Family::Penalty)
                            && role == Role::Sender =>
                    {
                        let mut parties = base;
                        if let Some(p) = copied(owing) {
                            parties.insert(Role::Procuratorate, p.code.clone());
                        }
                        one(parties, owing, None);
                    }
                    // Owed by the police: the supervisor is the procuratorate copied by the
                    // sender, whatever police organ owes the step, so the gap names the sender.
                    Some(Supervisor::Procuratorate) if family == Family::Referral => {
                        let mut regions = BTreeSet::new();
                        for sender in senders() {
                            if !regions.insert(&sender.region) {
                                continue;
                            }
                            let mut parties = base.clone();
                            parties.insert(Role::Sender, sender.code.clone());
                            if let Some(p) = copied(sender) {
                                parties.insert(Role::Procuratorate, p.code.clone());
                            }
                            let context = format!(
                                "on referrals from it (the step is owed by the {role}, e.g. {})",
                                named(owing)
                            );
                            one(parties, sender, Some(context));
                        }
                        break; // one owing agency stands for all
                    }
                    // The office depends on the other party: every kind of counterparty.
                    Some(Supervisor::DisputeOffice)
                        if matches!(role, Role::Sender | Role::Recipient) =>
                    {
                        let other = if role == Role::Sender {
                            Role::Recipient
                        } else {
                            Role::Sender
                        };
                        let counterparties = of_kinds(directory, owing_kinds(family, other));
                        for group in dispute_groups(&counterparties) {
                            let Some(counterparty) = other_than(&group, &owing.code) else {
                                continue;
                            };
                            let mut parties = base.clone();
                            parties.insert(other, counterparty.code.clone());
                            let context = format!("in a {family} with {}", named(counterparty));
                            one(parties, owing, Some(context));
                        }
                    }
                    _ => one(base, owing, None),
                }
            }
        }
    }
    out
}

/// Why start-up is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisionError {
    /// Escalations would reach nobody, and no fallback supervisor is set.
    #[error(
        "{} escalation target(s) do not resolve, and no fallback supervisor is set \
         (deadlines.fallback_supervisor); add the missing agencies to the directory or set one:\n{}",
        .0.len(),
        list(.0)
    )]
    Unresolved(Vec<SupervisionGap>),
    /// The fallback supervisor named in the settings is not an agency of the directory.
    #[error(
        "the fallback supervisor {0} (deadlines.fallback_supervisor) is not in the agency directory"
    )]
    FallbackNotInDirectory(AgencyCode),
}

fn list(gaps: &[SupervisionGap]) -> String {
    gaps.iter()
        .map(|g| format!("  {g}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The start-up decision on the gaps [`check_supervision`] found: with none, start; with a
/// fallback supervisor that is in the directory, start and return the gaps it covers (to warn
/// of each); otherwise refuse. A fallback missing from the directory is refused even without gaps.
pub fn require_supervisors(
    gaps: Vec<SupervisionGap>,
    fallback: Option<&AgencyCode>,
    directory: &Directory,
) -> Result<Vec<SupervisionGap>, SupervisionError> {
    match fallback {
        Some(code) if directory.get(code).is_none() => {
            Err(SupervisionError::FallbackNotInDirectory(code.clone()))
        }
        Some(_) => Ok(gaps),
        None if gaps.is_empty() => Ok(gaps),
        None => Err(SupervisionError::Unresolved(gaps)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
