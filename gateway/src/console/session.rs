//! Who is looking at a console page.
//!
//! An agency's client certificate, presented by the browser during the TLS handshake, signs it
//! in on every request: no session is kept for it. For the local demo (`console.demo_signin`),
//! `casebridge up` prints a one-time link; opening it starts a session, in which the person
//! chooses which agency to act as. `casebridge up` keeps unused links and live sessions in a file
//! of its data directory, so they survive a restart. A session ends when it has been
//! idle for its lifetime (`console.session_idle`, [`DEFAULT_SESSION_IDLE`] by default: each
//! page it opens starts the time again) or on sign-out; the demo is for one machine, never
//! production.
//!
//! Every form carries a token bound to the signed-in identity (HMAC-SHA-256 under the
//! deployment's [`FormKey`]), so another site cannot make a signed-in browser take a step. The key
//! is a file every gateway reads (`console.form_key`), so a form shown by one gateway is accepted
//! by any other, and by the same gateway after a restart.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use casebridge_core::ids::AgencyCode;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// How long a one-time sign-in link may wait to be opened.
pub const LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long a demo session may stay idle by default (issue 12: it lasted 12 hours).
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// The cookie that names a demo session.
pub const SESSION_COOKIE: &str = "cb_session";

/// One demo session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The agency chosen to act as; `None` until the person chooses.
    pub agency: Option<AgencyCode>,
    expires: SystemTime,
}

/// The secret that signs form tokens: 32 random bytes, kept hex-encoded in a file.
#[derive(Clone)]
pub struct FormKey(Vec<u8>);

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormKey(..)")
    }
}

/// Why the form key cannot be read or made.
#[derive(Debug, thiserror::Error)]
pub enum FormKeyError {
    #[error("cannot read or write the console's form key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the console's form key {path} is not 32 or more bytes in hex: make a new one with `openssl rand -hex 32 > {path}`, the same file on every gateway"
    )]
    Malformed { path: String },
    #[error("the system's random number generator failed")]
    Random,
}

impl FormKey {
    /// The shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A fresh random key.
    pub fn generate() -> Result<FormKey, FormKeyError> {
        let mut bytes = vec![0u8; Self::MIN_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| FormKeyError::Random)?;
        Ok(FormKey(bytes))
    }

    /// Reads the key at `path`, or, when there is none, writes a new one there (readable by the
    /// owner only). Two gateways starting together on a shared directory end with the same key:
    /// the file is created exclusively, and the one that loses the race reads the winner's.
    pub fn load_or_create(path: &Path) -> Result<FormKey, FormKeyError> {
        let io = |source| FormKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let key = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", hex::encode(&key.0)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                Self::parse(&text, path)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<FormKey, FormKeyError> {
        match hex::decode(text.trim()) {
            Ok(bytes) if bytes.len() >= Self::MIN_LEN => Ok(FormKey(bytes)),
            _ => Err(FormKeyError::Malformed {
                path: path.display().to_string(),
            }),
        }
    }
}

/// One-time links, demo sessions and the form-token key.
#[derive(Debug)]
pub struct Sessions {
    key: hmac::Key,
    inner: Mutex<Inner>,
    /// How long a session may stay idle before it ends.
    idle: Duration,
    /// Where links and sessions are kept across restarts, when anywhere.
    file: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Unused sign-in links and when they expire.
    links: HashMap<String, SystemTime>,
    sessions: HashMap<String, Session>,
}

/// Why the session store cannot do what was asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("the system's random number generator failed")]
    Random,
    #[error("this sign-in link is unknown, already used or expired: ask for a new one")]
    UnknownLink,
}

impl Sessions {
    /// A store signing form tokens with `key`, whose sessions end after `idle` without a
    /// request.
    pub fn new(idle: Duration, key: &FormKey) -> Sessions {
        Sessions {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key.0),
            inner: Mutex::new(Inner::default()),
            idle,
            file: None,
        }
    }

    /// [`Sessions::new`], keeping unused links and live sessions in `file` (readable by its owner
    /// only), so that they survive a restart. A file that cannot be read starts an empty store.
    pub fn persistent(idle: Duration, key: &FormKey, file: PathBuf) -> Sessions {
        let inner = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice::<Stored>(&bytes)
                .map(Inner::from)
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, file = %file.display(), "console sessions not restored");
                    Inner::default()
                }),
            Err(_) => Inner::default(),
        };
        Sessions {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key.0),
            inner: Mutex::new(inner),
            idle,
            file: Some(file),
        }
    }

    /// Writes the store to its file, if it has one: whole, through a temporary file, so a crash
    /// leaves the old version or the new one.
    fn save(&self, inner: &Inner) {
        let Some(file) = &self.file else {
            return;
        };
        let written = (|| -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension("tmp");
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut out = options.open(&tmp)?;
            out.write_all(&serde_json::to_vec(&Stored::from(inner))?)?;
            out.sync_all()?;
            std::fs::rename(&tmp, file)
        })();
        if let Err(error) = written {
            tracing::warn!(%error, file = %file.display(), "console sessions not saved");
        }
    }

    /// A new one-time sign-in token.
    pub fn new_link(&self) -> Result<String, SessionError> {
        let token = random_token()?;
        let mut inner = self.lock();
        inner
            .links
            .insert(token.clone(), SystemTime::now() + LINK_LIFETIME);
        self.save(&inner);
        Ok(token)
    }

    /// Uses up a sign-in token and opens a session; returns the session's id for the cookie.
    pub fn redeem(&self, token: &str) -> Result<String, SessionError> {
        let now = SystemTime::now();
        let mut inner = self.lock();
        inner.links.retain(|_, expires| *expires > now);
        inner.sessions.retain(|_, s| s.expires > now);
        if inner.links.remove(token).is_none() {
            return Err(SessionError::UnknownLink);
        }
        let id = random_token()?;
        inner.sessions.insert(
            id.clone(),
            Session {
                agency: None,
                expires: now + self.idle,
            },
        );
        self.save(&inner);
        Ok(id)
    }

    /// The live session `id`, if any; using it starts its idle time again.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = SystemTime::now();
        let mut inner = self.lock();
        let session = inner.sessions.get_mut(id).filter(|s| s.expires > now)?;
        session.expires = now + self.idle;
        let session = session.clone();
        self.save(&inner);
        Some(session)
    }

    /// Makes session `id` act as `agency`; false when the session is gone.
    pub fn choose(&self, id: &str, agency: AgencyCode) -> bool {
        let mut inner = self.lock();
        match inner.sessions.get_mut(id) {
            Some(session) if session.expires > SystemTime::now() => {
                session.agency = Some(agency);
                self.save(&inner);
                true
            }
            _ => false,
        }
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) {
        let mut inner = self.lock();
        inner.sessions.remove(id);
        self.save(&inner);
    }

    /// The form token for an identity (a session id, or the certificate's agency code).
    pub fn form_token(&self, identity: &str) -> String {
        hex::encode(hmac::sign(&self.key, identity.as_bytes()).as_ref())
    }

    /// Whether `token` is the form token of `identity`, compared in constant time.
    pub fn form_token_is_valid(&self, identity: &str, token: &str) -> bool {
        hex::decode(token)
            .is_ok_and(|tag| hmac::verify(&self.key, identity.as_bytes(), &tag).is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves maps that are still consistent: take them.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The store as its file keeps it: expiry times in milliseconds since 1970.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    links: HashMap<String, u64>,
    sessions: HashMap<String, (Option<String>, u64)>,
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn at_millis(ms: u64) -> SystemTime {
    std::time::UNIX_EPOCH + Duration::from_millis(ms)
}

impl From<&Inner> for Stored {
    fn from(inner: &Inner) -> Stored {
        Stored {
            links: inner
                .links
                .iter()
                .map(|(token, expires)| (token.clone(), millis(*expires)))
                .collect(),
            sessions: inner
                .sessions
                .iter()
                .map(|(id, s)| {
                    let agency = s.agency.as_ref().map(ToString::to_string);
                    (id.clone(), (agency, millis(s.expires)))
                })
                .collect(),
        }
    }
}

impl From<Stored> for Inner {
    fn from(stored: Stored) -> Inner {
        Inner {
            links: stored
                .links
                .into_iter()
                .map(|(token, ms)| (token, at_millis(ms)))
                .collect(),
            sessions: stored
                .sessions
                .into_iter()
                .map(|(id, (agency, ms))| {
                    let agency = agency.and_then(|code| AgencyCode::parse(&code).ok());
                    (
                        id,
                        Session {
                            agency,
                            expires: at_millis(ms),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// 32 random bytes, hex.
fn random_token() -> Result<String, SessionError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SessionError::Random)?;
    Ok(hex::encode(bytes))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FormKey {
        FormKey::generate().expect("random key")
    }

    #[test]
    fn a_sign_in_link_works_once() {
        let sessions = Sessions::new(DEFAULT_SESSION_IDLE, &key());
        let link = sessions.new_link().expect("link");
        let id = sessions.redeem(&link).expect("first use");
        assert!(sessions.get(&id).is_some_and(|s| s.agency.is_none()));
        assert_eq!(sessions.redeem(&link), Err(SessionError::UnknownLink));
        assert_eq!(sessions.redeem("forged"), Err(SessionError::UnknownLink));
    }

    #[test]
    fn a_session_acts_as_the_agency_chosen_until_it_ends() {
        let sessions = Sessions::new(DEFAULT_SESSION_IDLE, &key());
        let id = sessions
            .redeem(&sessions.new_link().expect("link"))
            .expect("session");
        let police = AgencyCode::parse("11350100MB01000064").expect("code");
        assert!(sessions.choose(&id, police.clone()));
        assert_eq!(sessions.get(&id).and_then(|s| s.agency), Some(police));
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());
        assert!(!sessions.choose(&id, AgencyCode::parse("11350100MB0100008A").expect("code")));
    }

    #[test]
    fn an_idle_session_ends_and_a_used_one_lives_on() {
        let ended = Sessions::new(Duration::ZERO, &key());
        let id = ended
            .redeem(&ended.new_link().expect("link"))
            .expect("session");
        assert!(ended.get(&id).is_none(), "idle past its lifetime");
        let sessions = Sessions::new(DEFAULT_SESSION_IDLE, &key());
        let id = sessions
            .redeem(&sessions.new_link().expect("link"))
            .expect("session");
        let first = sessions.get(&id).expect("live").expires;
        let again = sessions.get(&id).expect("live").expires;
        assert!(again >= first, "each use starts the idle time again");
    }

    #[test]
    fn a_form_token_is_bound_to_its_identity_and_key() {
        let sessions = Sessions::new(DEFAULT_SESSION_IDLE, &key());
        let token = sessions.form_token("11350100MB01000064");
        assert!(sessions.form_token_is_valid("11350100MB01000064", &token));
        assert!(!sessions.form_token_is_valid("11350100MB0100008A", &token));
        assert!(!sessions.form_token_is_valid("11350100MB01000064", "00"));
        let other = Sessions::new(DEFAULT_SESSION_IDLE, &key());
        assert!(!other.form_token_is_valid("11350100MB01000064", &token));
    }

    #[test]
    fn a_kept_store_brings_links_and_sessions_back_after_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("console").join("sessions.json");
        let key = key();
        let before = Sessions::persistent(DEFAULT_SESSION_IDLE, &key, file.clone());
        let unused = before.new_link().expect("link");
        let used = before.new_link().expect("link");
        let id = before.redeem(&used).expect("session");
        let police = AgencyCode::parse("11350100MB01000064").expect("code");
        assert!(before.choose(&id, police.clone()));
        let token = before.form_token(&id);
        drop(before);

        let after = Sessions::persistent(DEFAULT_SESSION_IDLE, &key, file.clone());
        assert_eq!(after.get(&id).and_then(|s| s.agency), Some(police));
        assert!(
            after.form_token_is_valid(&id, &token),
            "the same key signs the same forms"
        );
        assert_eq!(
            after.redeem(&used),
            Err(SessionError::UnknownLink),
            "used is used"
        );
        let second = after.redeem(&unused).expect("an unused link still works");
        after.end(&second);
        drop(after);
        let again = Sessions::persistent(DEFAULT_SESSION_IDLE, &key, file.clone());
        assert!(again.get(&second).is_none(), "an ended session stays ended");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
        }
        std::fs::write(&file, "not json").expect("write");
        let fresh = Sessions::persistent(DEFAULT_SESSION_IDLE, &key, file);
        assert!(
            fresh.get(&id).is_none(),
            "a broken file starts an empty store"
        );
    }

    #[test]
    fn the_form_key_file_is_made_once_and_read_by_every_gateway_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console").join("form.key");
        let first = FormKey::load_or_create(&path).expect("made");
        let again = FormKey::load_or_create(&path).expect("read");
        assert_eq!(first.0, again.0, "the same key after a restart");
        let token = Sessions::new(DEFAULT_SESSION_IDLE, &first).form_token("11350100MB01000064");
        let other_gateway = Sessions::new(DEFAULT_SESSION_IDLE, &again);
        assert!(other_gateway.form_token_is_valid("11350100MB01000064", &token));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
        }

        std::fs::write(&path, "abcd\n").expect("write");
        let err = FormKey::load_or_create(&path).expect_err("too short");
        assert!(err.to_string().contains("openssl rand -hex 32"), "{err}");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "cb_lang=en; cb_session=abc; other=x=y";
        assert_eq!(cookie(header, "cb_session"), Some("abc"));
        assert_eq!(cookie(header, "cb_lang"), Some("en"));
        assert_eq!(cookie(header, "other"), Some("x=y"));
        assert_eq!(cookie(header, "missing"), None);
    }
}
