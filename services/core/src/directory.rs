//! The agency directory: who the agencies are, their role, region and superior.
//!
//! Every agency has one role ([`AgencyKind`]), a region code and at most one superior
//! (docs/law.md §1). The directory is loaded once from TOML and validated as a whole, so lookups
//! afterwards cannot fail on bad data.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AgencyCode, AgencyCodeError, IdError, RegionCode};

/// The role of an agency (docs/law.md §1, "Parties").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgencyKind {
    /// Administrative law-enforcement agency (行政执法机关), incl. bodies authorised to impose
    /// penalties [S1 Art 2].
    Administrative,
    /// Public security organ (公安机关) [S1 Art 5].
    Police,
    /// People's procuratorate (人民检察院): copied on referrals, supervises filing.
    Procuratorate,
    /// Justice bureau (司法局) or common superior acting as enforcement-supervision and
    /// dispute-coordination body [S3 Art 25; S25].
    Coordination,
    /// Body asked for a determination, test or forensic opinion [S4 Art 45; S15].
    Expert,
}

impl AgencyKind {
    /// The snake_case name, as in serde and the directory file.
    pub fn as_str(self) -> &'static str {
        match self {
            AgencyKind::Administrative => "administrative",
            AgencyKind::Police => "police",
            AgencyKind::Procuratorate => "procuratorate",
            AgencyKind::Coordination => "coordination",
            AgencyKind::Expert => "expert",
        }
    }
}

impl fmt::Display for AgencyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One agency of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    /// Unified social credit code.
    pub code: AgencyCode,
    /// Official name, e.g. 福州市市场监督管理局.
    pub name: String,
    /// Role.
    pub kind: AgencyKind,
    /// Region; always equal to the region inside `code` in a validated directory.
    pub region: RegionCode,
    /// The agency directly above this one, if any.
    pub superior: Option<AgencyCode>,
    /// Enforcement domains, e.g. `market`, `environment`.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// Why a directory file was rejected. Each variant names the agency concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The file is not valid TOML or does not have the expected shape.
    #[error("directory file is malformed: {message}")]
    Malformed {
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// An agency's code is not a valid unified social credit code.
    #[error("agency {code:?} (entry {entry}) has an invalid code: {source}")]
    InvalidCode {
        /// 1-based position of the `[[agency]]` table in the file.
        entry: usize,
        /// The code as written.
        code: String,
        /// What is wrong with it.
        source: AgencyCodeError,
    },
    /// An agency's `region` field is not a region code.
    #[error("agency {code} has an invalid region {region:?}: {source}")]
    InvalidRegion {
        /// The agency.
        code: AgencyCode,
        /// The region as written.
        region: String,
        /// What is wrong with it.
        source: IdError,
    },
    /// The region inside the code (positions 3–8) disagrees with the `region` field.
    #[error("agency {code} has region {region} but its code carries region {code_region}")]
    RegionMismatch {
        /// The agency.
        code: AgencyCode,
        /// The `region` field.
        region: RegionCode,
        /// Positions 3–8 of the code.
        code_region: RegionCode,
    },
    /// The agency has no name.
    #[error("agency {code} has an empty name")]
    EmptyName {
        /// The agency.
        code: AgencyCode,
    },
    /// Two entries share a code.
    #[error("agency {code} appears more than once in the directory")]
    DuplicateCode {
        /// The repeated code.
        code: AgencyCode,
    },
    /// The `superior` field is not a valid code.
    #[error("agency {code} has an invalid superior code {superior:?}: {source}")]
    InvalidSuperiorCode {
        /// The agency.
        code: AgencyCode,
        /// The superior as written.
        superior: String,
        /// What is wrong with it.
        source: AgencyCodeError,
    },
    /// The superior is not an agency of the directory.
    #[error("agency {code} names superior {superior}, which is not in the directory")]
    UnknownSuperior {
        /// The agency.
        code: AgencyCode,
        /// The missing superior.
        superior: AgencyCode,
    },
    /// Following superiors from this agency comes back to it.
    #[error("agency {code} is its own superior through the chain {}", display_chain(.chain))]
    SuperiorCycle {
        /// An agency on the cycle.
        code: AgencyCode,
        /// The cycle, starting and ending with `code`.
        chain: Vec<AgencyCode>,
    },
}

fn display_chain(chain: &[AgencyCode]) -> String {
    chain
        .iter()
        .map(AgencyCode::as_str)
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// The file shape: `[[agency]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    #[serde(default)]
    agency: Vec<RawAgency>,
}

/// One `[[agency]]` table before validation; codes stay strings so errors can name the entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgency {
    code: String,
    name: String,
    kind: AgencyKind,
    region: String,
    superior: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
}

/// The validated set of agencies, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    agencies: Vec<Agency>,
    index: HashMap<AgencyCode, usize>,
}

impl Directory {
    /// Parses and validates a directory file made of `[[agency]]` tables with the fields
    /// `code`, `name`, `kind`, `region`, `superior` (optional) and `domains` (optional).
    pub fn from_toml_str(s: &str) -> Result<Directory, DirectoryError> {
        let raw: RawDirectory = toml::from_str(s).map_err(|e| DirectoryError::Malformed {
            message: e.to_string(),
        })?;
        let mut agencies = Vec::with_capacity(raw.agency.len());
        for (i, entry) in raw.agency.into_iter().enumerate() {
            let code =
                AgencyCode::parse(&entry.code).map_err(|source| DirectoryError::InvalidCode {
                    entry: i + 1,
                    code: entry.code.clone(),
                    source,
                })?;
            let region = RegionCode::parse(&entry.region).map_err(|source| {
                DirectoryError::InvalidRegion {
                    code: code.clone(),
                    region: entry.region.clone(),
                    source,
                }
            })?;
            let superior = match entry.superior {
                None => None,
                Some(s) => Some(AgencyCode::parse(&s).map_err(|source| {
                    DirectoryError::InvalidSuperiorCode {
                        code: code.clone(),
                        superior: s.clone(),
                        source,
                    }
                })?),
            };
            agencies.push(Agency {
                code,
                name: entry.name,
                kind: entry.kind,
                region,
                superior,
                domains: entry.domains,
            });
        }
        Directory::from_agencies(agencies)
    }

    /// Validates a list of agencies (for tests and for callers that build the list themselves).
    pub fn from_agencies(agencies: Vec<Agency>) -> Result<Directory, DirectoryError> {
        let mut index = HashMap::with_capacity(agencies.len());
        for (i, agency) in agencies.iter().enumerate() {
            if agency.name.trim().is_empty() {
                return Err(DirectoryError::EmptyName {
                    code: agency.code.clone(),
                });
            }
            // docs/law.md §1: the region inside the agency code must agree with the directory's
            // region.
            let code_region = agency.code.region();
            if code_region != agency.region {
                return Err(DirectoryError::RegionMismatch {
                    code: agency.code.clone(),
                    region: agency.region.clone(),
                    code_region,
                });
            }
            if index.insert(agency.code.clone(), i).is_some() {
                return Err(DirectoryError::DuplicateCode {
                    code: agency.code.clone(),
                });
            }
        }
        for agency in &agencies {
            if let Some(superior) = &agency.superior
                && !index.contains_key(superior)
            {
                return Err(DirectoryError::UnknownSuperior {
                    code: agency.code.clone(),
                    superior: superior.clone(),
                });
            }
        }
        let directory = Directory { agencies, index };
        directory.check_no_cycles()?;
        Ok(directory)
    }

    fn check_no_cycles(&self) -> Result<(), DirectoryError> {
        // Agencies whose chain is known to end at a top-level agency.
        let mut acyclic: HashSet<&AgencyCode> = HashSet::new();
        for agency in &self.agencies {
            let mut path: Vec<&AgencyCode> = Vec::new();
            let mut on_path: HashSet<&AgencyCode> = HashSet::new();
            let mut current = Some(&agency.code);
            while let Some(code) = current {
                if acyclic.contains(code) {
                    break;
                }
                if !on_path.insert(code) {
                    let start = path.iter().position(|c| *c == code).unwrap_or(0);
                    let mut chain: Vec<AgencyCode> =
                        path[start..].iter().map(|c| (*c).clone()).collect();
                    chain.push(code.clone());
                    return Err(DirectoryError::SuperiorCycle {
                        code: code.clone(),
                        chain,
                    });
                }
                path.push(code);
                current = self.get(code).and_then(|a| a.superior.as_ref());
            }
            acyclic.extend(path);
        }
        Ok(())
    }

    /// The agency with this code.
    pub fn get(&self, code: &AgencyCode) -> Option<&Agency> {
        self.index.get(code).and_then(|&i| self.agencies.get(i))
    }

    /// All agencies, in file order.
    pub fn agencies(&self) -> impl Iterator<Item = &Agency> {
        self.agencies.iter()
    }

    /// Number of agencies.
    pub fn len(&self) -> usize {
        self.agencies.len()
    }

    /// Whether the directory has no agency.
    pub fn is_empty(&self) -> bool {
        self.agencies.is_empty()
    }

    /// The procuratorate of exactly this region, copied on criminal referrals from it
    /// (docs/law.md §3.A "copy to the procuratorate at the same level", rule CC). The first in
    /// file order if several are listed.
    pub fn procuratorate_for(&self, region: &RegionCode) -> Option<&Agency> {
        self.first_of_kind_in(AgencyKind::Procuratorate, region)
    }

    /// The coordination body (司法局) of exactly this region. The first in file order if several
    /// are listed.
    pub fn coordination_for(&self, region: &RegionCode) -> Option<&Agency> {
        self.first_of_kind_in(AgencyKind::Coordination, region)
    }

    fn first_of_kind_in(&self, kind: AgencyKind, region: &RegionCode) -> Option<&Agency> {
        self.agencies
            .iter()
            .find(|a| a.kind == kind && &a.region == region)
    }

    /// The chain of superiors of `code`, nearest first; empty for an unknown or top-level agency.
    pub fn superiors_of(&self, code: &AgencyCode) -> Vec<&Agency> {
        let mut chain = Vec::new();
        let mut current = self.get(code).and_then(|a| a.superior.as_ref());
        // The validated directory has no cycles; the bound only guards against a broken invariant.
        while let Some(code) = current {
            let Some(agency) = self.get(code) else { break };
            if chain.len() >= self.agencies.len() {
                break;
            }
            chain.push(agency);
            current = agency.superior.as_ref();
        }
        chain
    }

    /// The nearest agency that is a superior of both `a` and `b` (共同的上一级行政机关,
    /// S3 Art 25). An agency is not its own superior.
    pub fn common_superior(&self, a: &AgencyCode, b: &AgencyCode) -> Option<&Agency> {
        let of_b: HashSet<&AgencyCode> = self.superiors_of(b).iter().map(|s| &s.code).collect();
        self.superiors_of(a)
            .into_iter()
            .find(|s| of_b.contains(&s.code))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on broken fixtures
mod tests {
    use super::*;

    const DEPLOY_DIRECTORY: &str = include_str!("../../../deploy/directory.toml");

    fn code(first17: &str) -> AgencyCode {
        let check = AgencyCode::check_char(first17).unwrap();
        AgencyCode::parse(&format!("{first17}{check}")).unwrap()
    }

    fn deploy() -> Directory {
        Directory::from_toml_str(DEPLOY_DIRECTORY).unwrap()
    }

    fn by_name<'a>(directory: &'a Directory, name: &str) -> &'a Agency {
        directory.agencies().find(|a| a.name == name).unwrap()
    }

    fn entry(code: &AgencyCode, kind: &str, region: &str, superior: Option<&AgencyCode>) -> String {
        let superior = superior
            .map(|s| format!("superior = \"{s}\"\n"))
            .unwrap_or_default();
        format!(
            "[[agency]]\ncode = \"{code}\"\nname = \"机构 {code}\"\nkind = \"{kind}\"\nregion = \"{region}\"\n{superior}\n"
        )
    }

    #[test]
    fn the_shipped_directory_validates_and_finds_the_city_procuratorate() {
        let directory = deploy();
        assert!(directory.len() >= 10);
        let region = RegionCode::parse("350100").unwrap();
        let procuratorate = directory.procuratorate_for(&region).unwrap();
        assert_eq!(procuratorate.name, "福州市人民检察院");
        assert_eq!(procuratorate.kind, AgencyKind::Procuratorate);
        let coordination = directory.coordination_for(&region).unwrap();
        assert_eq!(coordination.name, "福州市司法局");
    }

    #[test]
    fn the_city_government_is_the_common_superior_of_the_city_bureaus() {
        let directory = deploy();
        let market = by_name(&directory, "福州市市场监督管理局");
        let environment = by_name(&directory, "福州市生态环境局");
        let lab = by_name(&directory, "福州市产品质量检验研究院");
        let common = directory
            .common_superior(&market.code, &environment.code)
            .unwrap();
        assert_eq!(common.name, "福州市人民政府");
        // The lab's nearest shared superior with the market bureau is the government,
        // not the market bureau itself: an agency is not its own superior.
        let common = directory.common_superior(&lab.code, &market.code).unwrap();
        assert_eq!(common.name, "福州市人民政府");
        let lab_chain: Vec<&str> = directory
            .superiors_of(&lab.code)
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            lab_chain,
            ["福州市市场监督管理局", "福州市人民政府", "福建省人民政府"]
        );
    }

    #[test]
    fn the_district_police_branch_sits_under_the_city_police() {
        let directory = deploy();
        let branch = by_name(&directory, "福州市公安局鼓楼分局");
        assert_eq!(branch.region.as_str(), "350102");
        let chain = directory.superiors_of(&branch.code);
        assert_eq!(chain.len(), 1);
        assert_eq!(chain[0].name, "福州市公安局");
        assert!(
            directory
                .procuratorate_for(&RegionCode::parse("350102").unwrap())
                .is_none()
        );
    }

    #[test]
    fn agencies_come_back_in_file_order() {
        let directory = deploy();
        let first = directory.agencies().next().unwrap();
        assert_eq!(first.name, "福州市人民政府");
        assert_eq!(directory.get(&first.code), Some(first));
        let chain: Vec<&str> = directory
            .superiors_of(&first.code)
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(chain, ["福建省人民政府"]);
    }

    #[test]
    fn the_next_level_supervises_the_city_government_and_procuratorate() {
        let directory = deploy();
        let province = RegionCode::parse("350000").unwrap();
        assert_eq!(
            directory.coordination_for(&province).unwrap().name,
            "福建省司法厅"
        );
        let procuratorate = by_name(&directory, "福州市人民检察院");
        let chain: Vec<&str> = directory
            .superiors_of(&procuratorate.code)
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(chain, ["福建省人民检察院", "最高人民检察院"]);
        // A bureau and the city government dispute before the province.
        let market = by_name(&directory, "福州市市场监督管理局");
        let government = by_name(&directory, "福州市人民政府");
        assert_eq!(
            directory
                .common_superior(&market.code, &government.code)
                .unwrap()
                .name,
            "福建省人民政府"
        );
    }

    #[test]
    fn an_invalid_code_is_reported_with_its_entry() {
        let toml = "[[agency]]\ncode = \"91350100M000100Y44\"\nname = \"x\"\nkind = \"police\"\nregion = \"350100\"\n";
        let err = Directory::from_toml_str(toml).unwrap_err();
        assert!(matches!(err, DirectoryError::InvalidCode { entry: 1, .. }));
        assert!(err.to_string().contains("91350100M000100Y44"));
    }

    #[test]
    fn a_region_that_disagrees_with_the_code_is_rejected() {
        let a = code("11350100MB0000001");
        let err = Directory::from_toml_str(&entry(&a, "police", "350102", None)).unwrap_err();
        assert!(matches!(err, DirectoryError::RegionMismatch { .. }));
        assert!(err.to_string().contains(a.as_str()));
        assert!(err.to_string().contains("350102"));
    }

    #[test]
    fn a_duplicate_code_is_rejected() {
        let a = code("11350100MB0000001");
        let toml = format!(
            "{}{}",
            entry(&a, "police", "350100", None),
            entry(&a, "administrative", "350100", None)
        );
        let err = Directory::from_toml_str(&toml).unwrap_err();
        assert_eq!(err, DirectoryError::DuplicateCode { code: a.clone() });
        assert!(err.to_string().contains("more than once"));
    }

    #[test]
    fn a_superior_missing_from_the_directory_is_rejected() {
        let a = code("11350100MB0000001");
        let b = code("11350100MB0000002");
        let err = Directory::from_toml_str(&entry(&a, "police", "350100", Some(&b))).unwrap_err();
        assert_eq!(
            err,
            DirectoryError::UnknownSuperior {
                code: a.clone(),
                superior: b.clone()
            }
        );
        assert!(err.to_string().contains("not in the directory"));
    }

    #[test]
    fn a_superior_cycle_is_rejected_and_shows_the_chain() {
        let a = code("11350100MB0000001");
        let b = code("11350100MB0000002");
        let c = code("11350100MB0000003");
        let toml = format!(
            "{}{}{}",
            entry(&c, "administrative", "350100", Some(&a)),
            entry(&a, "administrative", "350100", Some(&b)),
            entry(&b, "administrative", "350100", Some(&a)),
        );
        let err = Directory::from_toml_str(&toml).unwrap_err();
        let DirectoryError::SuperiorCycle { chain, .. } = &err else {
            panic!("expected a cycle, got {err:?}");
        };
        assert_eq!(chain.len(), 3);
        assert_eq!(chain.first(), chain.last());
        assert!(err.to_string().contains(" -> "));
    }

    #[test]
    fn an_agency_that_is_its_own_superior_is_a_cycle() {
        let a = code("11350100MB0000001");
        let err = Directory::from_toml_str(&entry(&a, "police", "350100", Some(&a))).unwrap_err();
        assert!(matches!(err, DirectoryError::SuperiorCycle { code, .. } if code == a));
    }

    #[test]
    fn an_unknown_kind_or_field_is_malformed() {
        let a = code("11350100MB0000001");
        let err = Directory::from_toml_str(&entry(&a, "court", "350100", None)).unwrap_err();
        assert!(matches!(err, DirectoryError::Malformed { .. }));
        let typo = entry(&a, "police", "350100", None).replace("region", "regoin");
        assert!(matches!(
            Directory::from_toml_str(&typo),
            Err(DirectoryError::Malformed { .. })
        ));
    }

    #[test]
    fn an_invalid_region_or_superior_code_names_the_agency() {
        let a = code("11350100MB0000001");
        let err = Directory::from_toml_str(&entry(&a, "police", "35010", None)).unwrap_err();
        assert!(matches!(err, DirectoryError::InvalidRegion { .. }));
        assert!(err.to_string().contains(a.as_str()));
        let toml = entry(&a, "police", "350100", None).replace(
            "region = \"350100\"",
            "region = \"350100\"\nsuperior = \"nonsense\"",
        );
        let err = Directory::from_toml_str(&toml).unwrap_err();
        assert!(matches!(err, DirectoryError::InvalidSuperiorCode { .. }));
        assert!(err.to_string().contains(a.as_str()));
    }

    #[test]
    fn an_empty_file_is_an_empty_directory() {
        let directory = Directory::from_toml_str("").unwrap();
        assert!(directory.is_empty());
        assert_eq!(directory.len(), 0);
    }

    #[test]
    fn agency_kinds_display_in_snake_case() {
        assert_eq!(AgencyKind::Administrative.to_string(), "administrative");
        assert_eq!(
            serde_json::to_string(&AgencyKind::Procuratorate).unwrap(),
            "\"procuratorate\""
        );
    }
}
