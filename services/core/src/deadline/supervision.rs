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
                    Some(Supervisor::Procuratorate)
                        if family == Family::Referral && role == Role::Sender =>
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
mod tests {
    use super::*;
    use crate::authz::{self, Actor};

    /// Whether `actor` is an agency holding `role` in the authorization table.
    fn acts_as(actor: Actor, role: Role) -> bool {
        match actor {
            Actor::Role(r) => r == role,
            Actor::AnyOf(roles) => roles.contains(&role),
            Actor::Opens | Actor::Reaction => false,
        }
    }

    /// The kinds the authorization table lets act in `role` of `family` (steps on an existing case)
    /// or open a case of it (`opens`), for the test that keeps [`owing_kinds`] in step.
    fn authorized_kinds(family: Family, role: Role, opens: bool) -> BTreeSet<AgencyKind> {
        authz::TABLE
            .iter()
            .filter(|p| p.family == family)
            .filter(|p| {
                if opens {
                    p.states.is_empty() && matches!(p.actor, Actor::Opens | Actor::Reaction)
                } else {
                    acts_as(p.actor, role)
                }
            })
            .flat_map(|p| p.kinds.iter().copied())
            .collect()
    }

    const DIRECTORY: &str = include_str!("../../../../deploy/directory.toml");
    const RULES: &str = include_str!("../../../../deploy/rules.toml");

    const CITY_PROCURATORATE: &str = "11350100MB0100008A";
    const PROVINCE_PROCURATORATE: &str = "11350000MB00000033";
    const CITY_GOVERNMENT: &str = "11350100MB0100001L";
    const PROVINCE_GOVERNMENT: &str = "11350000MB0000001W";
    const PROVINCE_JUSTICE: &str = "11350000MB00000020";
    const CITY_JUSTICE: &str = "11350100MB0100009D";
    const MARKET: &str = "11350100MB0100002P";
    const ECOLOGY: &str = "11350100MB0100003T";
    const POLICE: &str = "11350100MB01000064";

    fn code(s: &str) -> AgencyCode {
        AgencyCode::parse(s).unwrap()
    }

    fn rules() -> RuleTable {
        RuleTable::from_toml_str(RULES).unwrap()
    }

    fn shipped() -> Directory {
        Directory::from_toml_str(DIRECTORY).unwrap()
    }

    /// The shipped directory with one agency's `superior` line removed.
    fn without_superior_of(agency: &str) -> Directory {
        let entry = format!("code = \"{agency}\"");
        let mut out = String::new();
        let mut inside = false;
        for line in DIRECTORY.lines() {
            if line.starts_with("code = ") {
                inside = line == entry;
            }
            if !(inside && line.starts_with("superior = ")) {
                out.push_str(line);
                out.push('\n');
            }
        }
        assert_ne!(
            out.trim_end(),
            DIRECTORY.trim_end(),
            "{agency} had a superior"
        );
        Directory::from_toml_str(&out).unwrap()
    }

    fn parties(list: &[(Role, &str)]) -> BTreeMap<Role, AgencyCode> {
        list.iter().map(|(r, c)| (*r, code(c))).collect()
    }

    fn resolve(
        directory: &Directory,
        rule: &str,
        owed_by: &str,
        list: &[(Role, &str)],
    ) -> Result<AgencyCode, Unresolved> {
        let rules = rules();
        resolve_supervisor(
            directory,
            &DisputePolicy::default(),
            rules.get(rule).unwrap(),
            &code(owed_by),
            &parties(list),
        )
    }

    #[test]
    fn the_shipped_rules_have_a_supervisor_for_every_agency_of_the_shipped_directory() {
        for policy in [
            DisputePolicy::default(),
            DisputePolicy {
                office: crate::dispute::OfficeRule::JusticeBureauFirst,
            },
        ] {
            let gaps = check_supervision(&rules(), &shipped(), &policy);
            assert!(gaps.is_empty(), "{policy:?}: {}", list(&gaps));
        }
        assert_eq!(
            require_supervisors(Vec::new(), None, &shipped()),
            Ok(Vec::new())
        );
    }

    #[test]
    fn the_procuratorates_own_r561_goes_to_the_next_level_procuratorate() {
        let directory = shipped();
        let referral = [
            (Role::Sender, MARKET),
            (Role::Recipient, POLICE),
            (Role::Procuratorate, CITY_PROCURATORATE),
        ];
        assert_eq!(
            resolve(&directory, "R561", CITY_PROCURATORATE, &referral),
            Ok(code(PROVINCE_PROCURATORATE))
        );
        // The police's steps go to the procuratorate the referral copies.
        assert_eq!(
            resolve(&directory, "S1-8", POLICE, &referral),
            Ok(code(CITY_PROCURATORATE))
        );
        let uncopied = [(Role::Sender, MARKET), (Role::Recipient, POLICE)];
        assert_eq!(
            resolve(&directory, "S1-8", POLICE, &uncopied),
            Err(Unresolved::NoProcuratorate {
                family: Family::Referral
            })
        );
    }

    #[test]
    fn dispute_steps_go_to_the_office_that_rules_on_the_dispute() {
        let directory = shipped();
        let raised = [(Role::Sender, MARKET), (Role::Recipient, ECOLOGY)];
        // Before the referral the notice names no office: the one the directory names for the
        // two bureaus, their common superior, not the justice bureau.
        assert_eq!(
            resolve(&directory, "SAMR-13", MARKET, &raised),
            Ok(code(CITY_GOVERNMENT))
        );
        let referred = [
            (Role::Sender, MARKET),
            (Role::Recipient, ECOLOGY),
            (Role::Coordination, CITY_GOVERNMENT),
        ];
        assert_eq!(
            resolve(&directory, "LOC-REPLY", ECOLOGY, &referred),
            Ok(code(CITY_GOVERNMENT))
        );
        // The office's own steps go to its superior.
        for rule in ["LOC-ACC", "SAMR-16"] {
            assert_eq!(
                resolve(&directory, rule, CITY_GOVERNMENT, &referred),
                Ok(code(PROVINCE_GOVERNMENT)),
                "{rule}"
            );
        }
        // A bureau against the city government: the province rules, and at the top of the
        // directory its justice department watches it.
        let against_government = [
            (Role::Sender, MARKET),
            (Role::Recipient, CITY_GOVERNMENT),
            (Role::Coordination, PROVINCE_GOVERNMENT),
        ];
        assert_eq!(
            resolve(
                &directory,
                "LOC-ACC",
                PROVINCE_GOVERNMENT,
                &against_government
            ),
            Ok(code(PROVINCE_JUSTICE))
        );
        // Transfers still go to the justice bureau of the owing agency's region.
        assert_eq!(
            resolve(&directory, "SAMR-18", ECOLOGY, &raised),
            Ok(code(CITY_JUSTICE))
        );
    }

    #[test]
    fn without_the_procuratorates_superior_r561_is_a_gap_naming_the_city_procuratorate() {
        let directory = without_superior_of(CITY_PROCURATORATE);
        let gaps = check_supervision(&rules(), &directory, &DisputePolicy::default());
        assert_eq!(gaps.len(), 1, "{}", list(&gaps));
        let gap = &gaps[0];
        assert_eq!(
            (gap.rule.as_str(), gap.agency.as_str(), gap.name.as_str()),
            ("R561", CITY_PROCURATORATE, "福州市人民检察院")
        );
        assert_eq!(gap.why, Unresolved::NoSuperior);
        let shown = gap.to_string();
        for part in [
            "R561",
            "福州市人民检察院",
            CITY_PROCURATORATE,
            "no superior",
        ] {
            assert!(shown.contains(part), "{shown}");
        }

        // Refused without a fallback, naming every rule and agency.
        let refused = require_supervisors(gaps.clone(), None, &directory).unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("fallback_supervisor"), "{message}");
        assert!(message.contains(&shown), "{message}");

        // A fallback in the directory covers the gap; one outside it is refused.
        let fallback = code(CITY_JUSTICE);
        assert_eq!(
            require_supervisors(gaps.clone(), Some(&fallback), &directory),
            Ok(gaps.clone())
        );
        let stranger = code("91350100M000100Y43");
        assert_eq!(
            require_supervisors(Vec::new(), Some(&stranger), &directory),
            Err(SupervisionError::FallbackNotInDirectory(stranger))
        );
    }

    #[test]
    fn cut_off_from_the_province_a_dispute_with_it_has_no_office() {
        let directory = without_superior_of(CITY_GOVERNMENT);
        let gaps = check_supervision(&rules(), &directory, &DisputePolicy::default());
        let rules_named: BTreeSet<&str> = gaps.iter().map(|g| g.rule.as_str()).collect();
        assert_eq!(
            rules_named,
            BTreeSet::from(["SAMR-13", "LOC-REPLY"]),
            "{}",
            list(&gaps)
        );
        for agency in [MARKET, CITY_GOVERNMENT, PROVINCE_GOVERNMENT] {
            let gap = gaps
                .iter()
                .find(|g| g.rule == "SAMR-13" && g.agency.as_str() == agency)
                .unwrap_or_else(|| panic!("{agency}: {}", list(&gaps)));
            assert!(
                matches!(gap.why, Unresolved::NoDisputeOffice { parties: Some(_) }),
                "{gap}"
            );
        }
        // The city government is now the top: ruling on its bureaus' disputes, it is watched
        // by the coordination office of its region.
        let referred = [
            (Role::Sender, MARKET),
            (Role::Recipient, ECOLOGY),
            (Role::Coordination, CITY_GOVERNMENT),
        ];
        assert_eq!(
            resolve(&directory, "LOC-ACC", CITY_GOVERNMENT, &referred),
            Ok(code(CITY_JUSTICE))
        );
    }

    #[test]
    fn a_region_without_procuratorate_leaves_its_senders_referrals_unsupervised() {
        // A district bureau in 350102, where the directory lists only a police branch.
        let first17 = "11350102MB0100099";
        let district = format!("{first17}{}", AgencyCode::check_char(first17).unwrap());
        let text = format!(
            "{DIRECTORY}\n[[agency]]\ncode = \"{district}\"\nname = \"鼓楼区市场监督管理局\"\n\
             kind = \"administrative\"\nregion = \"350102\"\nsuperior = \"{MARKET}\"\n"
        );
        let directory = Directory::from_toml_str(&text).unwrap();
        let gaps = check_supervision(&rules(), &directory, &DisputePolicy::default());
        let mut rules_named: Vec<&str> = gaps.iter().map(|g| g.rule.as_str()).collect();
        rules_named.sort_unstable();
        assert_eq!(
            rules_named,
            [
                "P180-2b", "R560", "R562", "R563", "RCPT", "S1-12", "S1-8", "S1-9b"
            ],
            "{}",
            list(&gaps)
        );
        assert!(gaps.iter().all(|g| g.agency.as_str() == district));
        let police_step = gaps.iter().find(|g| g.rule == "S1-8").unwrap().to_string();
        assert!(
            police_step.contains("on referrals from it"),
            "{police_step}"
        );
        assert!(police_step.contains("rule CC"), "{police_step}");
    }

    #[test]
    fn a_procuratorate_rule_outside_referrals_is_a_gap_for_every_owing_agency() {
        let text = RULES.replace(
            "owed_by = \"expert\"\nescalate_to = \"coordination_office\"\nbasis = \"S15 Art 13\"",
            "owed_by = \"expert\"\nescalate_to = \"procuratorate\"\nbasis = \"S15 Art 13\"",
        );
        assert_ne!(text, RULES);
        let rules = RuleTable::from_toml_str(&text).unwrap();
        let gaps = check_supervision(&rules, &shipped(), &DisputePolicy::default());
        assert!(!gaps.is_empty());
        assert!(gaps.iter().all(|g| g.rule == "SJ-13"), "{}", list(&gaps));
        assert!(gaps.iter().any(|g| g.name == "福州市产品质量检验研究院"));
        assert!(gaps[0].to_string().contains("referral steps only"));
    }

    #[test]
    fn owing_kinds_agree_with_the_authorization_table() {
        let families = [
            Family::Referral,
            Family::Transfer,
            Family::Dispute,
            Family::Opinion,
        ];
        let roles = [
            Role::Sender,
            Role::Recipient,
            Role::Procuratorate,
            Role::Coordination,
            Role::Expert,
        ];
        for family in families {
            for role in roles {
                let declared: BTreeSet<AgencyKind> =
                    owing_kinds(family, role).iter().copied().collect();
                let acting = authorized_kinds(family, role, false);
                assert!(
                    acting.is_subset(&declared),
                    "{family} {role}: the table lets {acting:?} act, declared {declared:?}"
                );
            }
            // Whoever opens a case is its sender, except the office designating directly.
            let mut opening = authorized_kinds(family, Role::Sender, true);
            if family == Family::Dispute {
                opening.remove(&COORD);
            }
            let senders: BTreeSet<AgencyKind> =
                owing_kinds(family, Role::Sender).iter().copied().collect();
            assert_eq!(opening, senders, "{family} senders");
        }
    }
}
