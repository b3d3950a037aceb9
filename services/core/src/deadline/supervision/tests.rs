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

const DIRECTORY: &str = include_str!("../../../../../deploy/directory.toml");
const RULES: &str = include_str!("../../../../../deploy/rules.toml");

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
            "P180-2b",
            "R560",
            "R562",
            "R563",
            "RCPT",
            "S1-12",
            "S1-8",
            "S1-9b",
            "WARN-ANSWER"
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
        Family::Lead,
        Family::Rectification,
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
