//! CLI profiles: who to act as and how to reach the gateway, kept in a configuration file so a
//! real user names a profile instead of depending on the development PKI's layout.
//!
//! The file is `$CASEBRIDGE_CONFIG`, else `$XDG_CONFIG_HOME/casebridge/config.toml`, else
//! `~/.config/casebridge/config.toml`:
//!
//! ```toml
//! [profile.police]
//! as = "11350100MB01000064"                       # the agency's code
//! gateway = "https://casebridge.fz.example.gov.cn:7443"
//! ca = "/etc/casebridge/ca.pem"                   # the CA of the gateway's certificate
//! cert = "/home/li/.casebridge/police.pem"         # this agency's client certificate
//! key = "/home/li/.casebridge/police.key"
//! # server_name = "casebridge.fz.example.gov.cn"  # when dialling an address the certificate does not name
//! ```
//!
//! `--profile police` (or `CASEBRIDGE_PROFILE`) fills in whatever the command line does not say;
//! a flag given on the command line always wins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// One identity: every field optional, so a profile may leave some to flags or defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(rename = "as")]
    pub agency: Option<String>,
    pub gateway: Option<String>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub server_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profile: BTreeMap<String, Profile>,
}

/// Where the configuration file is looked for, from the environment given.
pub fn config_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = env("CASEBRIDGE_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let base = match env("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env("HOME")?).join(".config"),
    };
    Some(base.join("casebridge").join("config.toml"))
}

/// Reads profile `name` from the file at `path`. Relative paths in it are relative to the
/// file's directory.
pub fn load(path: &Path, name: &str) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "--profile {name}: cannot read the CLI configuration {} (set CASEBRIDGE_CONFIG to \
             another file)",
            path.display()
        )
    })?;
    let file: ConfigFile = toml::from_str(&text)
        .with_context(|| format!("invalid CLI configuration {}", path.display()))?;
    let known: Vec<&str> = file.profile.keys().map(String::as_str).collect();
    let mut profile = file.profile.get(name).cloned().with_context(|| {
        format!(
            "--profile {name}: no [profile.{name}] in {}; it has: {}",
            path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    for file in [&mut profile.ca, &mut profile.cert, &mut profile.key]
        .into_iter()
        .flatten()
    {
        if file.is_relative() {
            *file = base.join(&*file);
        }
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_found_by_variable_then_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            config_path(env(&[
                ("CASEBRIDGE_CONFIG", "/etc/cb.toml"),
                ("HOME", "/home/li")
            ])),
            Some(PathBuf::from("/etc/cb.toml"))
        );
        assert_eq!(
            config_path(env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/home/li")])),
            Some(PathBuf::from("/x/casebridge/config.toml"))
        );
        assert_eq!(
            config_path(env(&[("HOME", "/home/li")])),
            Some(PathBuf::from("/home/li/.config/casebridge/config.toml"))
        );
        assert_eq!(config_path(env(&[])), None);
    }

    #[test]
    fn a_profile_is_read_with_its_paths_beside_the_file_and_an_unknown_one_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[profile.police]\nas = \"11350100MB01000064\"\ngateway = \"https://gw.example:7443\"\n\
             ca = \"ca.pem\"\ncert = \"/abs/police.pem\"\nkey = \"police.key\"\n\n\
             [profile.procuratorate]\nas = \"11350100MB0100008A\"\n",
        )
        .expect("write");
        let police = load(&path, "police").expect("police");
        assert_eq!(police.agency.as_deref(), Some("11350100MB01000064"));
        assert_eq!(police.gateway.as_deref(), Some("https://gw.example:7443"));
        assert_eq!(police.ca, Some(dir.path().join("ca.pem")));
        assert_eq!(police.cert, Some(PathBuf::from("/abs/police.pem")));
        assert_eq!(police.key, Some(dir.path().join("police.key")));
        assert_eq!(police.server_name, None);

        let err = load(&path, "court")
            .expect_err("no such profile")
            .to_string();
        assert!(err.contains("police, procuratorate"), "{err}");
        std::fs::write(&path, "[profile.police]\nagency = \"x\"\n").expect("write");
        let err = format!("{:#}", load(&path, "police").expect_err("unknown key"));
        assert!(err.contains("agency"), "{err}");
    }
}
