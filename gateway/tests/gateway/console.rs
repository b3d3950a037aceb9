//! The web console over HTTPS: sign-in by client certificate and by a one-time link, each agency
//! seeing only what it may, forms that take a step only with their token, and refusals shown
//! with the rule that refused. (The browser tests in `tests/console.rs` click through the same
//! pages in Chromium.)

use std::sync::Arc;

use reqwest::header::{COOKIE, HeaderMap, ORIGIN, SET_COOKIE};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls;

use super::*;

/// One HTTP response, as read.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: u16,
    headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of the first hidden `name` field in the page.
    pub(crate) fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} field in {}", self.body))
            + marker.len();
        self.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A browser stand-in: HTTPS to the console, with an agency's certificate or none, and cookies.
///
/// Cookies are kept by hand, not in reqwest's jar, so a test can take a session cookie and put
/// it back after signing out. Redirects are not followed: the tests check where they point.
pub(crate) struct Browser {
    /// The console this browser talks to; a test may point it at another gateway's console
    /// (on the same loopback address, as `localhost` resolves to it).
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
    /// The `Origin` a browser sends with a POST: the page the form was on.
    origin: Option<String>,
}

impl Browser {
    pub(crate) fn new(app: &TestApp, agency: Option<&str>) -> Browser {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        for ca in CertificateDer::pem_slice_iter(app.pki_file("ca.pem").as_bytes()) {
            roots.add(ca.expect("CA PEM")).expect("CA");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots);
        let tls = match agency {
            Some(code) => {
                let chain = CertificateDer::pem_slice_iter(
                    app.pki_file(&format!("agencies/{code}.pem")).as_bytes(),
                )
                .collect::<Result<Vec<_>, _>>()
                .expect("agency certificate");
                let key = PrivateKeyDer::from_pem_slice(
                    app.pki_file(&format!("agencies/{code}.key")).as_bytes(),
                )
                .expect("agency key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client certificate")
            }
            None => builder.with_no_client_auth(),
        };
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls.clone())
            // The console's certificate is for `localhost`.
            .resolve("localhost", app.console)
            .redirect(reqwest::redirect::Policy::none())
            // A new connection per request, as before: an idle one may meet the console's
            // header-read timeout between two requests of a test.
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTPS client");
        Browser {
            addr: app.console,
            tls: Arc::new(tls),
            http,
            cookies: Vec::new(),
            origin: None,
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(reqwest::Method::POST, path, Some(form)).await
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let url = format!("https://localhost:{}{path}", self.addr.port());
        let mut request = self.http.request(method, url);
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(COOKIE, cookies.join("; "));
        }
        if let Some(form) = form {
            if let Some(origin) = &self.origin {
                request = request.header(ORIGIN, origin);
            }
            request = request.form(form);
        }
        let response = request.send().await.expect("a response from the console");
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let body = response.text().await.expect("the response body");
        for cookie in headers.get_all(SET_COOKIE) {
            if let Some((name, value)) = cookie
                .to_str()
                .ok()
                .and_then(|c| c.split(';').next())
                .and_then(|c| c.split_once('='))
            {
                self.cookies.retain(|(n, _)| n != name);
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Page {
            status,
            headers,
            body,
        }
    }
}

/// The path and query of the one-time link.
fn link_path(app: &TestApp) -> String {
    let start = app.signin_link.find("/signin").expect("a sign-in path");
    app.signin_link[start..].to_owned()
}

async fn referral_status(app: &TestApp, id: &str) -> i32 {
    app.referrals_as(MARKET_BUREAU)
        .await
        .get_referral(pb::GetReferralRequest {
            referral_id: id.into(),
        })
        .await
        .expect("the sender reads its referral")
        .into_inner()
        .status
}

/// The overdue board's HTML as `agency` sees it, signed in by its certificate.
pub(crate) async fn board_as(app: &TestApp, agency: &str) -> String {
    let page = Browser::new(app, Some(agency)).get("/board").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body
}

#[tokio::test]
async fn the_console_signs_an_agency_in_by_its_client_certificate() {
    let app = spawn_app().await;
    let mut police = Browser::new(&app, Some(CITY_POLICE));
    let page = police.get("/board").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("id=\"signed-in\" title=\"11350100MB01000064\">福州市公安局")
    );
    // A certificate session cannot switch to another agency.
    assert!(!page.body.contains("/choose"));

    let mut anonymous = Browser::new(&app, None);
    let page = anonymous.get("/board").await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("客户端证书"), "{}", page.body);
    app.stop().await;
}

#[tokio::test]
async fn a_sign_in_link_works_once_and_acts_as_the_agency_chosen() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, None);
    let link = link_path(&app);
    let page = browser.get(&link).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/choose"));
    let chooser = browser.get("/choose").await;
    assert!(chooser.body.contains("福州市人民检察院"));
    let token = chooser.field("form_token");

    // Not an agency of the directory: refused, still unchosen.
    let page = browser
        .post(
            "/choose",
            &[("form_token", &token), ("agency", "91350100M000100Y43")],
        )
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(browser.get("/board").await.status, 303);

    let page = browser
        .post(
            "/choose",
            &[("form_token", &token), ("agency", PROCURATORATE)],
        )
        .await;
    assert_eq!(page.status, 303);
    let board = browser.get("/board").await;
    assert_eq!(board.status, 200);
    assert!(board.body.contains("福州市人民检察院"));

    // The link is spent: a second browser gets the sign-in page and the reason.
    let mut second = Browser::new(&app, None);
    let page = second.get(&link).await;
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("已使用") || page.body.contains("already used"),
        "{}",
        page.body
    );
    app.stop().await;
}

#[tokio::test]
async fn the_police_sign_a_receipt_and_decide_from_the_referral_desk() {
    let app = spawn_app().await;
    let id = submitted_referral(&app, "console-desk").await;
    let mut police = Browser::new(&app, Some(CITY_POLICE));
    let desk = police.get("/referrals").await;
    assert!(
        desk.body.contains(&format!("href=\"/referrals/{id}\"")),
        "{}",
        desk.body
    );

    let page = police.get(&format!("/referrals/{id}")).await;
    assert!(page.body.contains("form-receipt"));
    let (token, request_id) = (page.field("form_token"), page.field("request_id"));

    // Without the page's token nothing happens.
    let forged = police
        .post(
            &format!("/referrals/{id}/receipt"),
            &[("form_token", "00"), ("request_id", &request_id)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Submitted as i32
    );

    let signed = police
        .post(
            &format!("/referrals/{id}/receipt"),
            &[("form_token", &token), ("request_id", &request_id)],
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Received as i32
    );

    // Declining without reasons is refused, names the field, and changes nothing.
    let page = police.get(&format!("/referrals/{id}")).await;
    let refused = police
        .post(
            &format!("/referrals/{id}/decline"),
            &[
                ("form_token", &page.field("form_token")),
                ("request_id", &page.field("request_id")),
                ("reasons", "  "),
            ],
        )
        .await;
    assert_eq!(refused.status, 200);
    assert!(refused.body.contains("notice error"), "{}", refused.body);
    assert!(refused.body.contains("不予立案的理由"), "{}", refused.body);
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Received as i32
    );
    // Issue 15: the refused page offers the two decisions as two forms, each with its own
    // button, and nothing preselected; the old single form's step decides nothing.
    for page in [&page, &refused] {
        assert!(page.body.contains("id=\"form-file\""), "{}", page.body);
        assert!(page.body.contains("id=\"form-decline\""), "{}", page.body);
        assert!(!page.body.contains("type=\"radio\""), "{}", page.body);
    }
    let unnamed = police
        .post(
            &format!("/referrals/{id}/decide"),
            &[
                ("form_token", &page.field("form_token")),
                ("request_id", "console-unnamed"),
                ("reasons", "理由"),
            ],
        )
        .await;
    assert_eq!(unnamed.status, 404, "{}", unnamed.body);

    // A decline with reasons is first spelled out for confirmation; going back keeps the text.
    let typed = "证据不足，不构成犯罪";
    let declining = [
        ("form_token", page.field("form_token")),
        ("request_id", "console-decline".to_owned()),
        ("reasons", typed.to_owned()),
    ];
    let form: Vec<(&str, &str)> = declining.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let confirm = police
        .post(&format!("/referrals/{id}/decline"), &form)
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("id=\"confirm-text\""),
        "{}",
        confirm.body
    );
    assert!(
        confirm.body.contains("材料将退回移送机关"),
        "{}",
        confirm.body
    );
    assert!(
        confirm.body.contains(typed),
        "what was typed is shown: {}",
        confirm.body
    );
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Received as i32,
        "nothing is decided before the confirmation"
    );
    let mut back = form.clone();
    back.push(("edit", "yes"));
    let edited = police
        .post(&format!("/referrals/{id}/decline"), &back)
        .await;
    assert!(
        edited
            .body
            .contains(&format!("<textarea name=\"reasons\">{typed}</textarea>")),
        "the form comes back as typed: {}",
        edited.body
    );

    // Filing, confirmed.
    let filing = [
        ("form_token", page.field("form_token")),
        ("request_id", "console-file".to_owned()),
        ("note", String::new()),
    ];
    let form: Vec<(&str, &str)> = filing.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let confirm = police.post(&format!("/referrals/{id}/file"), &form).await;
    assert!(confirm.body.contains("决定立案"), "{}", confirm.body);
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Received as i32
    );
    let mut confirmed = form.clone();
    confirmed.push(("confirmed", "yes"));
    let filed = police
        .post(&format!("/referrals/{id}/file"), &confirmed)
        .await;
    assert_eq!(filed.status, 303, "{}", filed.body);
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Filed as i32
    );

    // The timeline shows every step with its signed receipt.
    let timeline = police.get(&format!("/cases/{id}")).await;
    assert_eq!(timeline.status, 200);
    for step in ["submit", "sign_receipt", "file"] {
        assert!(
            timeline.body.contains(step),
            "{step} missing: {}",
            timeline.body
        );
    }
    let receipts = timeline
        .body
        .split("id=\"receipts\"")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(receipts.matches("<tr><td>").count(), 3, "{receipts}");
    app.stop().await;
}

#[tokio::test]
async fn a_form_shown_by_one_gateway_is_taken_by_another_that_shares_its_key_only() {
    let mut app = spawn_app().await;
    let id = submitted_referral(&app, "console-two-gateways").await;
    let shared = app.backend.form_key.clone();
    let twin = app.another_gateway(&shared).await;
    let stranger = app
        .another_gateway(&FormKey::generate().expect("another key"))
        .await;
    let mut police = Browser::new(&app, Some(CITY_POLICE));
    let page = police.get(&format!("/referrals/{id}")).await;
    let (token, request_id) = (page.field("form_token"), page.field("request_id"));
    let form = [
        ("form_token", token.as_str()),
        ("request_id", request_id.as_str()),
    ];
    let receipt = format!("/referrals/{id}/receipt");

    // Behind a load balancer the next request may reach any gateway.
    police.addr = stranger;
    let refused = police.post(&receipt, &form).await;
    assert_eq!(
        refused.status, 403,
        "a gateway with another key: {}",
        refused.body
    );
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Submitted as i32
    );
    police.addr = twin;
    let taken = police.post(&receipt, &form).await;
    assert_eq!(taken.status, 303, "{}", taken.body);
    assert_eq!(
        referral_status(&app, &id).await,
        pb::ReferralStatus::Received as i32
    );
}

#[tokio::test]
async fn an_agency_that_is_not_a_party_cannot_open_the_case() {
    let app = spawn_app().await;
    let id = submitted_referral(&app, "console-foreign").await;
    let mut outsider = Browser::new(&app, Some(EMERGENCY_BUREAU));
    for path in [format!("/cases/{id}"), format!("/referrals/{id}")] {
        let page = outsider.get(&path).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(
            page.body.contains("AUTH-PARTY") || page.body.contains("not a party"),
            "{}",
            page.body
        );
        assert!(
            !page.body.contains("销售伪劣产品罪"),
            "{path} leaked the case"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_supervisor_downloads_the_monthly_report_as_csv() {
    let app = spawn_app().await;
    let case_id = submitted_referral(&app, "console-report").await;
    // The deadlines service opens the referral's obligations from its event, in its own time.
    eventually_listed(&mut app.monitor_as(CITY_POLICE).await, &case_id).await;
    let mut procuratorate = Browser::new(&app, Some(PROCURATORATE));
    let stats = procuratorate.get("/stats").await;
    assert_eq!(stats.status, 200);
    // Cases and deadlines, each table saying what it counts (issue 15, item 5).
    for label in [
        "<th>发出案件</th>",
        "<th>收到案件</th>",
        "<th>逾期未办</th>",
        "期限（每个步骤计一次）",
        "<th>他方应办期限</th>",
        "<td>涉嫌犯罪案件移送</td>",
    ] {
        assert!(stats.body.contains(label), "{label}: {}", stats.body);
    }
    let link = stats
        .body
        .split("href=\"")
        .find(|s| s.starts_with("/reports?kind=monthly") && s.contains("format=csv"))
        .and_then(|s| s.split('"').next())
        .expect("a monthly CSV link")
        .replace("&amp;", "&");
    let report = procuratorate.get(&link).await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert!(
        report
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    assert!(
        report
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
    assert!(report.body.starts_with("report,period"), "{}", report.body);
    assert!(report.body.contains("monthly_reminder,"), "{}", report.body);
    assert!(report.body.contains("answered_on_time"), "{}", report.body);
    assert!(
        report.body.contains(&format!("\r\ncases,{MARKET_BUREAU},")),
        "the cases section: {}",
        report.body
    );
    app.stop().await;
}

/// Issue 12, D4: `/lang?back=/%5Cevil.example/x` redirected to `/\evil.example/x`, which
/// browsers follow off the site. Only the console's own pages are redirect targets now.
#[tokio::test]
async fn the_language_switch_returns_only_to_the_consoles_own_pages() {
    let app = spawn_app().await;
    let mut anyone = Browser::new(&app, None);
    for (back, expected) in [
        ("/%5Cevil.example/x", "/"),
        ("//evil.example/x", "/"),
        ("/%09/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/%5C%5Cevil.example", "/"),
        ("/evil.example", "/"),
        ("/board%3Fview%3Dopen", "/board?view=open"),
        (
            "/cases/0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7c",
            "/cases/0190b8a2-4f6e-7c3d-9a1b-2c3d4e5f6a7c",
        ),
        ("/board%3Frule%3D%E9%80%BE", "/board?rule=%E9%80%BE"),
    ] {
        let page = anyone.get(&format!("/lang?to=en&back={back}")).await;
        assert_eq!(page.status, 303, "{back}: {}", page.status);
        assert_eq!(page.header("location"), Some(expected), "{back}");
    }
    app.stop().await;
}

/// Issue 12, D7: 退出 posted no form token, so it failed and the session stayed open.
#[tokio::test]
async fn signing_out_ends_the_demo_session() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, None);
    browser.get(&link_path(&app)).await;
    let token = browser.get("/choose").await.field("form_token");
    let chosen = browser
        .post(
            "/choose",
            &[("form_token", &token), ("agency", PROCURATORATE)],
        )
        .await;
    assert_eq!(chosen.status, 303);
    let board = browser.get("/board").await;
    assert_eq!(board.status, 200);
    assert!(board.body.contains("action=\"/signout\""), "{}", board.body);
    // A forged token changes nothing.
    let forged = browser.post("/signout", &[("form_token", "00")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(browser.get("/board").await.status, 200);
    // Nor does the right token from another site's page (issue 12: Origin checked on POST).
    browser.origin = Some("https://evil.example".into());
    let cross_site = browser
        .post("/signout", &[("form_token", &board.field("form_token"))])
        .await;
    assert_eq!(cross_site.status, 403);
    assert!(
        cross_site.body.contains("cross-site"),
        "{}",
        cross_site.body
    );
    assert_eq!(browser.get("/board").await.status, 200);
    // The console's own origin, as the browser's address bar shows it (and reqwest's `Host`).
    browser.origin = Some(format!("https://localhost:{}", app.console.port()));
    // The page's own token signs out; the session is gone, not just the cookie.
    let session = browser.cookies.clone();
    let out = browser
        .post("/signout", &[("form_token", &board.field("form_token"))])
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.header("location"), Some("/signin"));
    assert_ne!(browser.get("/board").await.status, 200);
    browser.cookies = session;
    assert_ne!(
        browser.get("/board").await.status,
        200,
        "the old session cookie no longer signs in"
    );
    app.stop().await;
}

/// Issue 12, D6: pages showing personal data went out without security headers.
#[tokio::test]
async fn every_console_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let mut police = Browser::new(&app, Some(CITY_POLICE));
    let mut anonymous = Browser::new(&app, None);
    let pages = [
        police.get("/board").await,
        police.get("/cases").await,
        anonymous.get("/board").await,
        anonymous.get("/lang?to=en&back=/board").await,
    ];
    for page in &pages {
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));
        assert_eq!(page.header("referrer-policy"), Some("same-origin"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(
            page.header("strict-transport-security")
                .is_some_and(|h| h.starts_with("max-age="))
        );
    }
    app.stop().await;
}

/// Issue 12, D3: the console held slow-header connections for 30 s and more. Now a connection
/// that does not finish its TLS handshake, or its request's headers, within the timeout is
/// closed, and pages are served meanwhile; one address holds no more handshakes than its cap.
#[tokio::test]
async fn the_console_closes_silent_and_slow_header_connections() {
    let app = spawn_app().await;
    let police = Browser::new(&app, Some(CITY_POLICE));
    // 300 silent connections, from 30 loopback addresses (within the cap on one IP's
    // handshakes), and one more from an address already at its cap, closed at once.
    let mut held = Vec::new();
    for n in 0..300 {
        held.push(super::connect_from(app.console, 10 + (n / 10) as u8).await);
    }
    for _ in 0..super::CAPS.handshakes_per_ip {
        held.push(super::connect_from(app.console, 60).await);
    }
    let mut one_more = super::connect_from(app.console, 60).await;
    assert!(
        super::closed_within(&mut one_more, Duration::from_secs(1)).await,
        "a handshake beyond the IP's cap is closed at once"
    );
    let mut slow = Vec::new();
    for _ in 0..20 {
        let tcp = tokio::net::TcpStream::connect(app.console)
            .await
            .expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
        let mut stream = tokio_rustls::TlsConnector::from(police.tls.clone())
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the console");
        stream
            .write_all(b"GET /board HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .expect("the first header lines");
        slow.push(stream);
    }
    let mut browser = Browser::new(&app, Some(CITY_POLICE));
    assert_eq!(browser.get("/board").await.status, 200, "served meanwhile");
    tokio::time::sleep(HANDSHAKE_TIMEOUT).await;
    for stream in &mut held {
        assert!(
            super::closed_within(stream, Duration::from_secs(3)).await,
            "a silent connection is closed"
        );
    }
    for stream in &mut slow {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut rest))
            .await
            .is_ok();
        assert!(closed, "a slow-header connection is closed");
    }
    app.stop().await;
}
