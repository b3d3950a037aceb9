//! Test fixtures shared by the state machines' tests: the shipped example directory and law.

use crate::directory::{Agency, Directory};
use crate::document::{Document, DocumentKind};
use crate::ids::Sha256Digest;
use crate::law::Law;
use crate::time::Timestamp;

const DEPLOY_DIRECTORY: &str = include_str!("../../../deploy/directory.toml");

/// The agencies of the example directory (Fuzhou), by role.
pub struct World {
    pub directory: Directory,
    pub law: Law,
    pub government: Agency,
    pub market: Agency,
    pub environment: Agency,
    pub emergency: Agency,
    pub police: Agency,
    pub branch: Agency,
    pub procuratorate: Agency,
    pub justice: Agency,
    pub lab: Agency,
}

pub fn world() -> World {
    let directory = Directory::from_toml_str(DEPLOY_DIRECTORY).unwrap();
    let named = |name: &str| {
        directory
            .agencies()
            .find(|a| a.name == name)
            .cloned()
            .unwrap()
    };
    World {
        government: named("福州市人民政府"),
        market: named("福州市市场监督管理局"),
        environment: named("福州市生态环境局"),
        emergency: named("福州市应急管理局"),
        police: named("福州市公安局"),
        branch: named("福州市公安局鼓楼分局"),
        procuratorate: named("福州市人民检察院"),
        justice: named("福州市司法局"),
        lab: named("福州市产品质量检验研究院"),
        law: Law::shipped().unwrap(),
        directory,
    }
}

pub fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub fn doc(kind: DocumentKind, title: &str) -> Document {
    Document {
        kind,
        title: title.to_owned(),
        sha256: Some(Sha256Digest::of(title.as_bytes())),
    }
}
