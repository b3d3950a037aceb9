//! A minimal W3C WebDriver client for browser tests: Debian's headless Chromium driven through
//! `chromedriver`.
//!
//! The protocol is JSON over plain HTTP on loopback: `reqwest` carries it (the console tests'
//! client, already in the tree), and each command here is one request with its JSON. Only the
//! commands the tests need are here; anything else can go through [`Browser::execute`].
//!
//! Why not a WebDriver crate: `fantoccini` 0.22 (through `webdriver` 0.53) brings a second
//! `http` (0.2), a second `thiserror` (1) and a second ICU stack (1.5); `thirtyfour` turns on
//! `serde_json`'s `preserve_order` for every crate built with it, which would change how the
//! services serialize the notices' `detail` maps that the ledger hashes. A dozen one-line
//! commands are cheaper than either.
//!
//! Clean-up: [`Browser::quit`] ends the session and stops chromedriver. Dropping a [`Browser`]
//! cannot run the (async) session deletion, so it kills chromedriver, and Chromium exits with
//! it because it is started with `--remote-debugging-pipe`. Without that flag chromedriver
//! talks to Chromium over a TCP port, and a Chromium whose chromedriver was killed (even with
//! SIGTERM) keeps running forever.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail, ensure};
use base64::Engine as _;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, timeout};

/// The W3C "web element identifier": the key under which element references travel.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Bounds every command, so that a wedged browser fails the test instead of hanging it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const FIND_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);

/// An error WebDriver itself reported (`value.error` / `value.message`). Kept as a type so
/// the polling helpers can tell "not there yet" from a real failure.
#[derive(Debug)]
pub struct WebDriverError {
    pub command: String,
    pub status: u16,
    /// The W3C error code, e.g. `no such element`.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // chromedriver appends "(Session info: ...)" and a native stack trace on later lines.
        let message = self.message.lines().next().unwrap_or_default();
        let (command, status, error) = (&self.command, self.status, &self.error);
        write!(
            f,
            "WebDriver `{command}` failed (HTTP {status}, {error}): {message}"
        )
    }
}

impl std::error::Error for WebDriverError {}

/// An element of a page that was replaced meanwhile. Chromium says so as `stale element
/// reference`, or, when the node went between two of its own steps, as an `unknown error` that
/// the node "does not belong to the document".
fn is_stale(err: &anyhow::Error) -> bool {
    is_webdriver_error(err, "stale element reference")
        || err.downcast_ref::<WebDriverError>().is_some_and(|e| {
            e.error == "unknown error" && e.message.contains("does not belong to the document")
        })
}

fn is_webdriver_error(err: &anyhow::Error, code: &str) -> bool {
    err.downcast_ref::<WebDriverError>()
        .is_some_and(|e| e.error == code)
}

/// A headless Chromium with one WebDriver session, and the chromedriver that runs it.
#[derive(Debug)]
pub struct Browser {
    session: Session,
    driver: Child,
    /// Chromium's main process, as chromedriver reports it (`goog:processID`).
    chromium_pid: Option<u64>,
    /// Chromium's profile and chromedriver's log. Declared after `driver` so it is removed
    /// only once chromedriver has been killed.
    dir: tempfile::TempDir,
}

/// What an [`Element`] needs to issue commands: cheap to clone, so elements are plain values.
#[derive(Debug, Clone)]
struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`, the prefix of every command's URL.
    url: String,
}

/// A reference to an element of the current page (it goes stale when the page changes).
#[derive(Debug, Clone)]
pub struct Element {
    session: Session,
    id: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session.
    pub async fn start() -> anyhow::Result<Browser> {
        let chromium = locate("CASEBRIDGE_CHROMIUM", "/usr/bin/chromium", "chromium")?;
        let driver_path = locate(
            "CASEBRIDGE_CHROMEDRIVER",
            "/usr/bin/chromedriver",
            "chromedriver",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("casebridge-browser-")
            .tempdir()?;
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).context("creating the Chromium profile directory")?;
        let log_path = dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path)?;
        // Racy in theory (the port could be taken before chromedriver binds it), but then
        // chromedriver exits and the readiness check reports its log.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", driver_path.display()))?;
        let with_log = |what: String| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            format!("{what}; chromedriver's log:\n{log}")
        };
        let http = reqwest::Client::new();
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&http, &driver_url, &mut driver)
            .await
            .with_context(|| with_log(format!("{} did not get ready", driver_path.display())))?;

        let args = [
            "--headless=new".to_owned(),
            // Containers and CI run as root, where Chromium's sandbox refuses to start.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            // /dev/shm is tiny in containers; Chromium crashes on big pages without this.
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.display()),
            // So that Chromium dies with chromedriver (see the module documentation).
            "--remote-debugging-pipe".to_owned(),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args},
        }}});
        let url = format!("{driver_url}/session");
        let created = call(&http, &url, "new session", Method::POST, Some(capabilities))
            .await
            .with_context(|| with_log(format!("starting {}", chromium.display())))?;
        let id = created["sessionId"]
            .as_str()
            .context("new session: no sessionId")?;
        let session = Session {
            url: format!("{url}/{id}"),
            http,
        };
        let chromium_pid = created["capabilities"]["goog:processID"].as_u64();
        Ok(Browser {
            session,
            driver,
            chromium_pid,
            dir,
        })
    }

    /// chromedriver's log, to show when a test fails; it is removed with the `Browser`.
    pub fn driver_log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("chromedriver.log"));
        log.unwrap_or_else(|e| format!("(no chromedriver log: {e})"))
    }

    /// Navigates and waits for the page load (WebDriver's default "normal" strategy).
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.session
            .post("navigate to", "/url", json!({ "url": url }))
            .await?;
        Ok(())
    }

    pub async fn current_url(&self) -> anyhow::Result<String> {
        string(self.session.get("get current url", "/url").await?)
    }

    pub async fn title(&self) -> anyhow::Result<String> {
        string(self.session.get("get title", "/title").await?)
    }

    pub async fn page_source(&self) -> anyhow::Result<String> {
        string(self.session.get("get page source", "/source").await?)
    }

    /// The first element matching `css`, waiting up to 5 s for it to appear: pages render
    /// asynchronously, and WebDriver's own implicit wait is off by default.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let deadline = Instant::now() + FIND_TIMEOUT;
        let body = json!({ "using": "css selector", "value": css });
        loop {
            match self
                .session
                .post("find element", "/element", body.clone())
                .await
            {
                Ok(value) => return self.session.element(value),
                Err(e) if is_webdriver_error(&e, "no such element") => {
                    ensure!(
                        Instant::now() < deadline,
                        "no `{css}` after {FIND_TIMEOUT:?}"
                    );
                    sleep(POLL).await;
                }
                Err(e) => return Err(e.context(format!("finding `{css}`"))),
            }
        }
    }

    /// Every element matching `css` right now (no waiting; possibly none).
    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let body = json!({ "using": "css selector", "value": css });
        let found = self.session.post("find elements", "/elements", body).await;
        let found = found.with_context(|| format!("finding all `{css}`"))?;
        let found = found.as_array().context("find elements: not an array")?;
        found
            .iter()
            .map(|v| self.session.element(v.clone()))
            .collect()
    }

    /// Runs `script` as a function body in the page (`arguments[i]` are `args`) and returns
    /// what it returns; a returned promise is awaited.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.session
            .post("execute script", "/execute/sync", body)
            .await
    }

    /// Waits until an element matching `css` has a text containing `needle`; returns that
    /// text. The error shows what the matching elements said last, usually the real clue.
    pub async fn wait_for_text(
        &self,
        css: &str,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut seen = Vec::new();
            for element in self.find_all(css).await? {
                match element.text().await {
                    Ok(text) if text.contains(needle) => return Ok(text),
                    Ok(text) => seen.push(text),
                    // The page changed under us: just look again.
                    Err(e) if is_stale(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            if Instant::now() >= deadline {
                let seen = if seen.is_empty() {
                    "nothing matched".into()
                } else {
                    format!("{seen:?}")
                };
                bail!("no `{css}` contained {needle:?} within {timeout:?}; last seen: {seen}");
            }
            sleep(POLL).await;
        }
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = string(self.session.get("take screenshot", "/screenshot").await?)?;
        let png = base64::engine::general_purpose::STANDARD.decode(png);
        let png = png.context("decoding the screenshot")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Ends the session (Chromium exits) and then stops chromedriver.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        let Session { http, url } = &self.session;
        let deleted = call(http, url, "delete session", Method::DELETE, None).await;
        // Stop the driver even if the session could not be deleted.
        let killed = self.driver.kill().await.context("stopping chromedriver");
        deleted.and(killed)
    }
}

impl Drop for Browser {
    /// Waits (blocking, briefly) for Chromium to exit: `dir` is removed right after this, and
    /// a Chromium still shutting down would write its profile back into it.
    fn drop(&mut self) {
        // Fails only if the driver is already gone, as after `quit`.
        let _ = self.driver.start_kill();
        let Some(pid) = self.chromium_pid else { return };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // Dead once /proc has no entry, or a zombie one (state `Z`, after the `(name)`).
        let alive = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        };
        while alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
}

impl Element {
    pub async fn click(&self) -> anyhow::Result<()> {
        self.post("element click", "/click", json!({})).await
    }

    /// Types `text` into the element, as keystrokes (so input events fire).
    pub async fn send_keys(&self, text: &str) -> anyhow::Result<()> {
        self.post("element send keys", "/value", json!({ "text": text }))
            .await
    }

    pub async fn clear(&self) -> anyhow::Result<()> {
        self.post("element clear", "/clear", json!({})).await
    }

    /// The rendered (visible) text, as a user would read it.
    pub async fn text(&self) -> anyhow::Result<String> {
        string(self.get("get element text", "/text").await?)
    }

    /// The HTML attribute as written in the markup. For an `<input>`, `value` stays the
    /// markup's value after typing; the current value is [`Element::property`]`("value")`.
    pub async fn attr(&self, name: &str) -> anyhow::Result<Option<String>> {
        optional_string(
            self.get("get element attribute", &format!("/attribute/{name}"))
                .await?,
        )
    }

    /// The DOM property (the live state, e.g. `value` or `checked`), non-strings as JSON.
    pub async fn property(&self, name: &str) -> anyhow::Result<Option<String>> {
        optional_string(
            self.get("get element property", &format!("/property/{name}"))
                .await?,
        )
    }

    async fn get(&self, command: &str, path: &str) -> anyhow::Result<Value> {
        self.session
            .get(command, &format!("/element/{}{path}", self.id))
            .await
    }

    async fn post(&self, command: &str, path: &str, body: Value) -> anyhow::Result<()> {
        let path = format!("/element/{}{path}", self.id);
        self.session.post(command, &path, body).await?;
        Ok(())
    }
}

impl Session {
    async fn get(&self, command: &str, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url);
        call(&self.http, &url, command, Method::GET, None).await
    }

    async fn post(&self, command: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url);
        call(&self.http, &url, command, Method::POST, Some(body)).await
    }

    fn element(&self, value: Value) -> anyhow::Result<Element> {
        let id = value[ELEMENT_KEY].as_str();
        let id = id.with_context(|| format!("not an element reference: {value}"))?;
        Ok(Element {
            session: self.clone(),
            id: id.to_owned(),
        })
    }
}

/// The program from `env` if set, else `default` if it exists, else `name` on `PATH`.
fn locate(env: &str, default: &str, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        ensure!(path.is_file(), "{env}={} does not exist", path.display());
        return Ok(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path).map(|dir| dir.join(name));
    let mut candidates = std::iter::once(PathBuf::from(default)).chain(on_path);
    candidates.find(|p| p.is_file()).with_context(|| {
        format!("{name} not found: set {env}, or `apt-get install chromium chromium-driver`")
    })
}

async fn wait_until_ready(
    http: &reqwest::Client,
    driver_url: &str,
    driver: &mut Child,
) -> anyhow::Result<()> {
    let url = format!("{driver_url}/status");
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut last = anyhow!("never answered");
    while Instant::now() < deadline {
        if let Some(status) = driver.try_wait()? {
            bail!("chromedriver exited with {status}");
        }
        // Connection refused is expected until chromedriver has bound its port.
        match timeout(POLL * 10, call(http, &url, "status", Method::GET, None)).await {
            Ok(Ok(status)) if status["ready"] == true => return Ok(()),
            Ok(Ok(status)) => last = anyhow!("not ready: {status}"),
            Ok(Err(e)) => last = e,
            Err(_) => last = anyhow!("GET /status timed out"),
        }
        sleep(POLL).await;
    }
    Err(last.context(format!("not ready after {STARTUP_TIMEOUT:?}")))
}

/// One WebDriver command: the reply's `value`, or its `value.error` as a [`WebDriverError`].
async fn call(
    http: &reqwest::Client,
    url: &str,
    command: &str,
    method: Method,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http.request(method.clone(), url).timeout(COMMAND_TIMEOUT);
    if let Some(body) = body {
        request = request
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body.to_string());
    }
    let exchange = async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        anyhow::Ok((status, response.bytes().await?))
    };
    let (status, reply) = exchange
        .await
        .with_context(|| format!("WebDriver `{command}` ({method} {url})"))?;
    let reply: Value = serde_json::from_slice(&reply).with_context(|| {
        let reply = String::from_utf8_lossy(&reply);
        format!("WebDriver `{command}`: HTTP {status} with a body that is not JSON: {reply:.200}")
    })?;
    let value = reply.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        let message = value["message"].as_str().unwrap_or_default().to_owned();
        let (command, error) = (command.to_owned(), error.to_owned());
        return Err(WebDriverError {
            command,
            status,
            error,
            message,
        }
        .into());
    }
    ensure!(
        status == 200,
        "WebDriver `{command}`: HTTP {status}: {reply}"
    );
    Ok(value)
}

fn string(value: Value) -> anyhow::Result<String> {
    match value {
        Value::String(s) => Ok(s),
        other => bail!("expected a string, got {other}"),
    }
}

fn optional_string(value: Value) -> anyhow::Result<Option<String>> {
    Ok(match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Percent-encodes everything but unreserved characters, for a `data:` URL.
    fn data_url(html: &str) -> String {
        let mut url = "data:text/html;charset=utf-8,".to_owned();
        for b in html.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                url.push(char::from(b));
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
        url
    }

    #[tokio::test]
    async fn a_headless_chromium_renders_a_page_and_takes_a_screenshot() -> anyhow::Result<()> {
        let page = r#"<!doctype html><title>Greeter</title>
            <form onsubmit="return false">
              <input id="name" name="name" value="x">
              <button id="go" type="button" onclick="document.getElementById('out').textContent
                = 'Hello, ' + document.getElementById('name').value + '!'">Greet</button>
            </form>
            <p id="out"></p>"#;
        let browser = Browser::start().await?;
        browser.goto(&data_url(page)).await?;
        assert_eq!(browser.title().await?, "Greeter");
        assert!(browser.current_url().await?.starts_with("data:text/html"));
        assert!(browser.page_source().await?.contains("Greet</button>"));

        let name = browser.find("#name").await?;
        name.clear().await?;
        name.send_keys("Ada").await?;
        assert_eq!(name.attr("name").await?.as_deref(), Some("name"));
        assert_eq!(
            name.attr("value").await?.as_deref(),
            Some("x"),
            "the markup's, not the typed"
        );
        assert_eq!(name.attr("missing").await?, None);
        assert_eq!(name.property("value").await?.as_deref(), Some("Ada"));
        browser.find("#go").await?.click().await?;
        let text = browser
            .wait_for_text("#out", "Hello, Ada!", Duration::from_secs(5))
            .await?;
        assert_eq!(text, "Hello, Ada!");
        assert_eq!(browser.find_all("input, button").await?.len(), 2);
        assert!(browser.find_all("table").await?.is_empty());
        assert!(
            browser
                .driver_log()
                .contains("ChromeDriver was started successfully")
        );
        let sum = browser.execute(
            "return arguments[0] + arguments[1]",
            vec![40.into(), 2.into()],
        );
        assert_eq!(sum.await?, json!(42));

        // WebDriver's own error reaches the caller, with the selector.
        let err = format!(
            "{:#}",
            browser.find("[[").await.err().context("[[ was found")?
        );
        assert!(
            err.contains("invalid selector") && err.contains("[["),
            "{err}"
        );
        let err = browser
            .wait_for_text("#out", "Goodbye", Duration::from_millis(300))
            .await;
        let err = format!("{:#}", err.err().context("found Goodbye")?);
        assert!(err.contains("Hello, Ada!"), "{err}");

        let dir = tempfile::tempdir()?;
        let png = dir.path().join("page.png");
        browser.screenshot(&png).await?;
        let png = std::fs::read(&png)?;
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "not a PNG: {:?}",
            &png[..8.min(png.len())]
        );
        browser.quit().await
    }

    /// Processes whose command line mentions `needle` (zombies have none, so do not count).
    fn processes_mentioning(needle: &str) -> Vec<String> {
        let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        let cmdlines = entries.filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok());
        let cmdlines = cmdlines.map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "));
        cmdlines
            .filter(|cmdline| cmdline.contains(needle))
            .collect()
    }

    #[tokio::test]
    async fn dropping_a_browser_without_quitting_stops_its_chromium() -> anyhow::Result<()> {
        let browser = Browser::start().await?;
        let dir = browser.dir.path().to_owned();
        let profile = dir.join("profile").display().to_string();
        ensure!(
            !processes_mentioning(&profile).is_empty(),
            "no Chromium runs on {profile}"
        );
        drop(browser);
        ensure!(!dir.exists(), "{} is left behind", dir.display());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = processes_mentioning(&profile);
            if left.is_empty() {
                ensure!(!dir.exists(), "{} was written again", dir.display());
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "Chromium outlived its Browser: {left:#?}"
            );
            sleep(POLL).await;
        }
    }
}
