//! A minimal W3C WebDriver client for browser tests: Debian's headless Chromium driven through
//! `chromedriver`.
//!
//! The protocol is JSON over plain HTTP/1.1 on loopback, so requests are written by hand, one
//! TCP connection per command, rather than pulling in an HTTP client crate. Only the commands
//! the tests need are here; anything else can go through [`Browser::execute`].
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
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
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
    port: u16,
    id: String,
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
        wait_until_ready(port, &mut driver)
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
        let created = call(port, "new session", "POST", "/session", Some(capabilities))
            .await
            .with_context(|| with_log(format!("starting {}", chromium.display())))?;
        let id = created["sessionId"]
            .as_str()
            .context("new session: no sessionId")?;
        let session = Session {
            port,
            id: id.to_owned(),
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
        let png = base64_decode(&png).context("decoding the screenshot")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Ends the session (Chromium exits) and then stops chromedriver.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        let path = format!("/session/{}", self.session.id);
        let deleted = call(self.session.port, "delete session", "DELETE", &path, None).await;
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
        let path = format!("/session/{}{path}", self.id);
        call(self.port, command, "GET", &path, None).await
    }

    async fn post(&self, command: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let path = format!("/session/{}{path}", self.id);
        call(self.port, command, "POST", &path, Some(body)).await
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

async fn wait_until_ready(port: u16, driver: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut last = anyhow!("never answered");
    while Instant::now() < deadline {
        if let Some(status) = driver.try_wait()? {
            bail!("chromedriver exited with {status}");
        }
        // Connection refused is expected until chromedriver has bound its port.
        match timeout(POLL * 10, call(port, "status", "GET", "/status", None)).await {
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
    port: u16,
    command: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let exchange = timeout(COMMAND_TIMEOUT, http(port, method, path, body)).await;
    let (status, reply) = exchange
        .unwrap_or_else(|_| Err(anyhow!("no reply within {COMMAND_TIMEOUT:?}")))
        .with_context(|| format!("WebDriver `{command}` ({method} {path})"))?;
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

/// A bare-bones HTTP/1.1 exchange: (status, body).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    if method == "POST" {
        request.push_str("Content-Type: application/json; charset=utf-8\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("Connection: close\r\n\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await?;
    read_response(&mut BufReader::new(stream)).await
}

async fn read_response(reader: &mut (impl AsyncBufRead + Unpin)) -> anyhow::Result<(u16, Vec<u8>)> {
    let status_line = read_line(reader).await?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok());
    let status = status.with_context(|| format!("bad HTTP status line {status_line:?}"))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        let line = read_line(reader).await?;
        if line.is_empty() {
            break;
        }
        // chromedriver writes `Content-Length:252`, without the usual space.
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("bad header {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .with_context(|| format!("bad header {line:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let line = read_line(reader).await?;
            let hex = line.split(';').next().unwrap_or_default().trim();
            let size =
                usize::from_str_radix(hex, 16).with_context(|| format!("bad chunk {line:?}"))?;
            if size == 0 {
                break; // Trailers, if any, are of no interest: the connection is dropped.
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).await?;
            read_line(reader).await?;
        }
    } else if let Some(length) = length {
        // Must not read to EOF here: chromedriver answers `Connection: close` but leaves the
        // socket open.
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
    } else {
        reader.read_to_end(&mut body).await?;
    }
    Ok((status, body))
}

async fn read_line(reader: &mut (impl AsyncBufRead + Unpin)) -> anyhow::Result<String> {
    let mut line = String::new();
    ensure!(
        reader.read_line(&mut line).await? > 0,
        "connection closed mid-reply"
    );
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
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

/// Standard-alphabet base64 with padding, as WebDriver screenshots are.
fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }
    let text: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    ensure!(
        text.len().is_multiple_of(4),
        "base64 length {} is not a multiple of 4",
        text.len()
    );
    let quads = text.len() / 4;
    let mut out = Vec::with_capacity(quads * 3);
    for (i, quad) in text.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        ensure!(
            pad <= 2 && (pad == 0 || i + 1 == quads),
            "misplaced base64 padding"
        );
        let mut bits = 0u32;
        for &c in &quad[..4 - pad] {
            let v = sextet(c).with_context(|| format!("bad base64 character {:?}", c as char))?;
            bits = (bits << 6) | v;
        }
        bits <<= 6 * pad;
        out.extend_from_slice(&bits.to_be_bytes()[1..4 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_all_padding_lengths_and_rejects_garbage() -> anyhow::Result<()> {
        assert_eq!(base64_decode("")?, b"");
        assert_eq!(base64_decode("Zg==")?, b"f");
        assert_eq!(base64_decode("Zm8=")?, b"fo");
        assert_eq!(base64_decode("Zm9v")?, b"foo");
        assert_eq!(base64_decode("Zm9vYmFy\n")?, b"foobar");
        assert_eq!(base64_decode("+/+/")?, [0xfb, 0xff, 0xbf]);
        assert_eq!(base64_decode("iVBORw0KGgo=")?, b"\x89PNG\r\n\x1a\n");
        for bad in ["Zm9", "Zm=v", "Z===", "Zg==Zm9v", "Zm9-"] {
            assert!(base64_decode(bad).is_err(), "{bad:?} should not decode");
        }
        Ok(())
    }

    #[tokio::test]
    async fn replies_are_read_by_length_chunked_or_to_the_end() -> anyhow::Result<()> {
        // The first as chromedriver writes it: no space after the colon, and trailing bytes
        // that must not be waited for.
        let by_length = b"HTTP/1.1 404 Not Found\r\nContent-Length:5\r\n\r\nhello, trailing";
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
            3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let to_end = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\nhello";
        assert_eq!(
            read_response(&mut &by_length[..]).await?,
            (404, b"hello".to_vec())
        );
        assert_eq!(
            read_response(&mut &chunked[..]).await?,
            (200, b"hello".to_vec())
        );
        assert_eq!(
            read_response(&mut &to_end[..]).await?,
            (200, b"hello".to_vec())
        );
        assert!(
            read_response(&mut &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"[..])
                .await
                .is_err()
        );
        Ok(())
    }

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
