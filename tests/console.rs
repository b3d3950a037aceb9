//! The web console in a real headless Chromium (Debian's `chromium` through `chromedriver`),
//! against the real `casebridge up`: a supervisor signs in with the one-time link, finds an
//! overdue referral and opens its timeline; the coordination office accepts a dispute and
//! designates the competent agency; the police sign a referral's receipt; the statistics page
//! switches to English. A second walk takes every role to its desk in both languages: the
//! police page past 200 referrals and decline one the safe way, the procuratorate supervises,
//! the receiver of a transfer and the testing institute act, the sender reads, and signing out
//! ends the session; every page is scanned for text of the other language. Each stage leaves a
//! screenshot in `target/console-screenshots/`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::webdriver::Browser;
use casebridge_tests::{System, immediate_receipt_rules, submission, transfer_sending};

/// The example directory the system runs on: its agency names are data on every page.
const EXAMPLE_DIRECTORY: &str = include_str!("../deploy/directory.toml");

const WAIT: Duration = Duration::from_secs(20);

/// Where the screenshots go: `target/console-screenshots/`, beside the test binaries.
fn screenshots() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> → target/
    let target = exe
        .ancestors()
        .nth(3)
        .context("the test binary is not inside a target directory")?;
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Reloads `path` until `css` is on the page: what the console shows is read from services
/// that learn of a step a moment after it is accepted.
async fn until_shown(browser: &Browser, url: &str, css: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        browser.goto(url).await?;
        if !browser.find_all(css).await?.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{css} never appeared on {url}: {}",
            browser.page_source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Acts as `agency` from the demo chooser.
async fn act_as(browser: &Browser, base: &str, agency: &str) -> anyhow::Result<()> {
    browser.goto(&format!("{base}/choose")).await?;
    browser
        .find(&format!("button[data-agency=\"{agency}\"]"))
        .await?
        .click()
        .await?;
    browser.wait_for_text("#signed-in", "福州市", WAIT).await?;
    Ok(())
}

/// A referral's status as its sender reads it over gRPC.
async fn referral_status(system: &System, id: &str) -> anyhow::Result<i32> {
    Ok(system
        .referrals(MARKET_BUREAU)
        .await?
        .get_referral(pb::GetReferralRequest {
            referral_id: id.to_owned(),
        })
        .await?
        .into_inner()
        .status)
}

/// A transfer objected to and referred to the office: a dispute waiting for acceptance.
async fn referred_dispute(system: &System) -> anyhow::Result<String> {
    let transfer = system
        .transfers(MARKET_BUREAU)
        .await?
        .send_transfer(transfer_sending("console-send"))
        .await?
        .into_inner()
        .transfer
        .context("the sent transfer")?
        .id;
    system
        .transfers(ENVIRONMENT_BUREAU)
        .await?
        .object_to_transfer(pb::ObjectToTransferRequest {
            request_id: "console-object".into(),
            transfer_id: transfer,
            reasons: "排污口位于城市管理范围".into(),
        })
        .await?;
    let disputes = system.disputes(ENVIRONMENT_BUREAU).await?;
    let dispute = eventually("the objection to open a dispute", WAIT, || async {
        let mut disputes = disputes.clone();
        let page = disputes
            .list_disputes(pb::ListCasesRequest::default())
            .await
            .ok()?
            .into_inner();
        page.cases.into_iter().map(|c| c.case_id).next()
    })
    .await;
    system
        .disputes(ENVIRONMENT_BUREAU)
        .await?
        .refer_dispute(pb::ReferDisputeRequest {
            request_id: "console-refer".into(),
            dispute_id: dispute.clone(),
            note: "协商未果".into(),
        })
        .await?;
    Ok(dispute)
}

#[tokio::test]
async fn people_work_their_desks_in_the_console_in_a_real_browser() -> anyhow::Result<()> {
    let shots = screenshots()?;
    let rules = tempfile::tempdir()?;
    let system = System::embedded_with(immediate_receipt_rules(rules.path())?, "info").await?;
    // The receipt rule is due at once, so this referral is overdue the moment it arrives.
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("console-referral"))
        .await?
        .into_inner()
        .referral
        .context("the submitted referral")?
        .id;
    let dispute = referred_dispute(&system).await?;
    let link = system
        .console_signin_link()
        .context("casebridge up printed no sign-in link")?
        .to_owned();
    let base = link
        .split("/signin")
        .next()
        .context("a sign-in link")?
        .to_owned();
    let browser = Browser::start().await?;

    // A supervisor signs in with the one-time link and finds the overdue referral.
    browser.goto(&link).await?;
    browser.wait_for_text("h1", "选择机关", WAIT).await?;
    browser.screenshot(&shots.join("01-sign-in.png")).await?;
    act_as(&browser, &base, PROCURATORATE).await?;
    let row = format!("tr.obligation[data-rule=\"RCPT\"][data-case=\"{referral}\"]");
    until_shown(&browser, &format!("{base}/board"), &row).await?;
    let owed_by = browser
        .find(&format!("{row} td.owed-by"))
        .await?
        .text()
        .await?;
    assert_eq!(owed_by, "福州市公安局", "whose move it is");
    browser
        .screenshot(&shots.join("02-overdue-board.png"))
        .await?;

    // Its timeline: the submission, its deadlines with their explanation, its receipt.
    browser
        .find(&format!("{row} a.case-link"))
        .await?
        .click()
        .await?;
    browser
        .wait_for_text("#case-status", "submitted", WAIT)
        .await?;
    let receipts = browser.find("#receipts").await?.text().await?;
    assert!(receipts.contains("submit"), "{receipts}");
    assert!(browser.page_source().await?.contains("RCPT"));
    browser
        .screenshot(&shots.join("03-case-timeline.png"))
        .await?;

    // The coordination office (the bureaus' common superior) accepts and designates.
    act_as(&browser, &base, CITY_GOVERNMENT).await?;
    until_shown(
        &browser,
        &format!("{base}/disputes"),
        &format!("a.case[href=\"/disputes/{dispute}\"]"),
    )
    .await?;
    browser
        .find(&format!("a.case[href=\"/disputes/{dispute}\"]"))
        .await?
        .click()
        .await?;
    browser.find("#form-accept button").await?.click().await?;
    browser
        .wait_for_text("#dispute-status", "accepted", WAIT)
        .await?;
    browser
        .find(&format!(
            "#form-designate select[name=\"designated\"] option[value=\"{ENVIRONMENT_BUREAU}\"]"
        ))
        .await?
        .click()
        .await?;
    browser
        .find("#form-designate textarea[name=\"decision\"]")
        .await?
        .send_keys("指定由福州市生态环境局管辖")
        .await?;
    browser
        .screenshot(&shots.join("04-dispute-desk.png"))
        .await?;
    browser
        .find("#form-designate button")
        .await?
        .click()
        .await?;
    // A designation binds: it is spelled out, and taken only when confirmed.
    browser
        .wait_for_text("#confirm-text", "被指定的机关必须办理", WAIT)
        .await?;
    browser.find("#confirm button").await?.click().await?;
    browser
        .wait_for_text("#dispute-status", "designated", WAIT)
        .await?;
    let competent = browser.find("#competent").await?.text().await?;
    assert_eq!(competent, "福州市生态环境局");
    let designated = system
        .disputes(CITY_GOVERNMENT)
        .await?
        .get_dispute(pb::GetDisputeRequest {
            dispute_id: dispute.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(designated.status, pb::DisputeStatus::Designated as i32);
    assert_eq!(designated.competent, ENVIRONMENT_BUREAU);
    // The coordination office's desk in both languages: only data is in the other language
    // (the dispute's question, recorded in Chinese when the objection opened it, is the case's).
    let data = format!(
        "{EXAMPLE_DIRECTORY}{:?} 排污口位于城市管理范围 协商未果 指定由福州市生态环境局管辖 {}",
        transfer_sending("console-send"),
        designated.question
    );
    scan_both(&browser, &format!("{base}/disputes/{dispute}"), &data).await?;
    scan_both(&browser, &format!("{base}/disputes"), &data).await?;

    // The police sign the receipt at the referral desk.
    act_as(&browser, &base, CITY_POLICE).await?;
    browser.goto(&format!("{base}/referrals")).await?;
    browser
        .find(&format!("a.case[href=\"/referrals/{referral}\"]"))
        .await?
        .click()
        .await?;
    browser
        .wait_for_text("#referral-status", "submitted", WAIT)
        .await?;
    browser
        .screenshot(&shots.join("05-referral-desk.png"))
        .await?;
    browser.find("#form-receipt button").await?.click().await?;
    browser
        .wait_for_text("#referral-status", "received", WAIT)
        .await?;
    let status = referral_status(&system, &referral).await?;
    assert_eq!(status, pb::ReferralStatus::Received as i32);

    // The supervisor's statistics, in English.
    act_as(&browser, &base, PROCURATORATE).await?;
    browser.goto(&format!("{base}/stats")).await?;
    browser.find("#lang").await?.click().await?;
    browser.wait_for_text("h1", "Statistics", WAIT).await?;
    browser.find("#statistics").await?;
    browser.find("#reports").await?;
    browser.screenshot(&shots.join("06-statistics.png")).await?;
    println!("screenshots in {}", shots.display());

    browser.quit().await?;
    system.stop().await?;
    Ok(())
}

/// The text a reader sees on the current page, without what is code (status codes, ids,
/// digests and commands, marked `code` or `mono`) and what says it is in another language
/// (the language switch, marked `lang`).
async fn reader_text(browser: &Browser) -> anyhow::Result<String> {
    let text = browser
        .execute(
            "const out = [];
             const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
             let node;
             while ((node = walker.nextNode())) {
               if (!node.parentElement.closest('code, .code, .mono, body [lang]')) out.push(node.textContent);
             }
             return out.join('\\n');",
            Vec::new(),
        )
        .await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// What of `text` is in the other language than `lang` and is not data the test put into the
/// system (`data`): runs of Chinese on an English page, English words on a Chinese page. Rule
/// ids and codes (a digit, or all capitals), the product's name and the language switch are
/// the same in both languages.
fn other_language(text: &str, lang: &str, data: &str) -> Vec<String> {
    let words: Vec<String> = if lang == "en" {
        without_glosses(text)
            .split(|c: char| !is_cjk(c))
            .filter(|run| !run.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        text.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 3)
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
            .filter(|w| !w.chars().all(|c| c.is_ascii_uppercase() || c == '-'))
            .filter(|w| !["CaseBridge", "English"].contains(w))
            .map(str::to_owned)
            .collect()
    };
    words
        .into_iter()
        .filter(|w| !data.contains(w.as_str()))
        .collect()
}

/// `text` without the Chinese legal terms English text gives in parentheses as glosses, e.g.
/// "sign the receipt (回执)": the term the law uses, on purpose.
fn without_glosses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| is_cjk(c) || "、，· /".contains(c)) =>
            {
                rest = &after[close + 1..];
            }
            _ => {
                out.push('(');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Scans the page at `url` in Chinese, then in English (by the language switch), and comes
/// back to Chinese; fails on any text of the other language that is not data.
async fn scan_both(browser: &Browser, url: &str, data: &str) -> anyhow::Result<()> {
    browser.goto(url).await?;
    for lang in ["zh", "en"] {
        // Issue 15: the English header wrapped at 1280 px; each role's fits on one line.
        let header = browser
            .execute(
                "return document.querySelector('header').getBoundingClientRect().height;",
                Vec::new(),
            )
            .await?
            .as_f64()
            .unwrap_or_default();
        anyhow::ensure!(
            header < 80.0,
            "{url} in {lang}: the header wraps ({header} px)"
        );
        let text = reader_text(browser).await?;
        let stray = other_language(&text, lang, data);
        anyhow::ensure!(
            stray.is_empty(),
            "{url} in {lang}: {stray:?} untranslated in:\n{text}"
        );
        browser.find("#lang").await?.click().await?;
        let other = if lang == "zh" { "中文" } else { "English" };
        browser.wait_for_text("#lang", other, WAIT).await?;
    }
    // Back in Chinese.
    browser.wait_for_text("#lang", "English", WAIT).await?;
    Ok(())
}

/// Issue 15, "Done when": each role's desk in Chinese and English, the refused decline, paging
/// past 200, sign-out, and a scan of every page for text of the other language.
#[tokio::test]
async fn every_role_works_its_desk_in_both_languages_in_a_real_browser() -> anyhow::Result<()> {
    const REFERRALS: usize = 201;
    let shots = screenshots()?;
    let system = System::embedded().await?;
    let mut referrals = system.referrals(MARKET_BUREAU).await?;
    let mut data = EXAMPLE_DIRECTORY.to_owned();
    let mut newest = String::new();
    for n in 0..REFERRALS {
        let submitted = submission(&format!("browser-page-{n}"));
        if n == 0 {
            data.push_str(&format!("{submitted:?}"));
        }
        newest = referrals
            .submit_referral(submitted)
            .await?
            .into_inner()
            .referral
            .context("the submitted referral")?
            .id;
    }
    let sending = transfer_sending("browser-transfer");
    data.push_str(&format!("{sending:?}"));
    let transfer = system
        .transfers(MARKET_BUREAU)
        .await?
        .send_transfer(sending)
        .await?
        .into_inner()
        .transfer
        .context("the sent transfer")?
        .id;
    let asking = pb::RequestOpinionRequest {
        request_id: "browser-opinion".into(),
        expert: TESTING_INSTITUTE.into(),
        kind: pb::OpinionKind::Test.into(),
        question: "涉案电线是否符合国家标准".into(),
        documents: Vec::new(),
        under_case_id: String::new(),
    };
    data.push_str(&format!("{asking:?}"));
    let opinion = system
        .opinions(MARKET_BUREAU)
        .await?
        .request_opinion(asking)
        .await?
        .into_inner()
        .opinion
        .context("the opinion request")?
        .id;
    let link = system
        .console_signin_link()
        .context("casebridge up printed no sign-in link")?
        .to_owned();
    let base = link
        .split("/signin")
        .next()
        .context("a sign-in link")?
        .to_owned();
    let browser = Browser::start().await?;
    browser.goto(&link).await?;
    browser.wait_for_text("h1", "选择机关", WAIT).await?;

    // The police: 201 incoming referrals, walked to the last page and back.
    act_as(&browser, &base, CITY_POLICE).await?;
    browser.goto(&format!("{base}/referrals")).await?;
    let mut seen = browser.find_all("a.case").await?.len();
    for _ in 0..4 {
        browser.find("#next-page").await?.click().await?;
        browser.wait_for_text("p.pager", "页", WAIT).await?;
        seen += browser.find_all("a.case").await?.len();
    }
    assert_eq!(seen, REFERRALS, "every referral on one of the pages");
    assert!(
        browser.find_all("#next-page").await?.is_empty(),
        "page 5 is the last"
    );
    browser.find("#previous-page").await?.click().await?;
    browser.wait_for_text("p.pager", "第 4 页", WAIT).await?;
    scan_both(&browser, &format!("{base}/referrals"), &data).await?;

    // The receipt, then the dangerous case of issue 15: a decline refused for want of reasons
    // keeps its form; with reasons it is spelled out, "go back" keeps the text, and only the
    // confirmation declines. It never files.
    let desk = format!("{base}/referrals/{newest}");
    browser.goto(&desk).await?;
    browser.find("#form-receipt button").await?.click().await?;
    browser
        .wait_for_text("#referral-status", "received", WAIT)
        .await?;
    scan_both(&browser, &desk, &data).await?;
    // The case's timeline with its deadlines and their ledgers, and the board.
    scan_both(&browser, &format!("{base}/cases/{newest}"), &data).await?;
    scan_both(&browser, &format!("{base}/board?view=open"), &data).await?;
    browser.goto(&desk).await?;
    browser.find("#form-decline button").await?.click().await?;
    browser
        .wait_for_text(".notice.error", "不予立案的理由", WAIT)
        .await?;
    browser
        .find("#form-decline textarea[name=\"reasons\"]")
        .await?
        .send_keys("现有证据不足以证明涉嫌犯罪")
        .await?;
    browser.find("#form-decline button").await?.click().await?;
    browser
        .wait_for_text("#confirm-text", "决定不予立案", WAIT)
        .await?;
    browser
        .screenshot(&shots.join("07-decline-confirmation.png"))
        .await?;
    browser.find("#edit button").await?.click().await?;
    let kept = browser
        .find("#form-decline textarea[name=\"reasons\"]")
        .await?
        .property("value")
        .await?;
    assert_eq!(kept.as_deref(), Some("现有证据不足以证明涉嫌犯罪"));
    browser.find("#form-decline button").await?.click().await?;
    browser.find("#confirm button").await?.click().await?;
    browser
        .wait_for_text("#referral-status", "declined", WAIT)
        .await?;
    let status = referral_status(&system, &newest).await?;
    assert_eq!(status, pb::ReferralStatus::Declined as i32);

    // The procuratorate copied on it finds it on its supervision desk and may ask for reasons.
    act_as(&browser, &base, PROCURATORATE).await?;
    until_shown(
        &browser,
        &format!("{base}/supervision"),
        &format!("a.case[href=\"/referrals/{newest}\"]"),
    )
    .await?;
    scan_both(&browser, &format!("{base}/supervision"), &data).await?;
    scan_both(&browser, &format!("{base}/stats"), &data).await?;
    browser.goto(&desk).await?;
    browser.find("#form-request_reasons").await?;
    browser
        .screenshot(&shots.join("08-supervision-desk.png"))
        .await?;

    // The receiver of the transfer signs its receipt at the transfer desk.
    act_as(&browser, &base, ENVIRONMENT_BUREAU).await?;
    until_shown(
        &browser,
        &format!("{base}/transfers"),
        &format!("a.case[href=\"/transfers/{transfer}\"]"),
    )
    .await?;
    browser
        .screenshot(&shots.join("09-transfer-desk.png"))
        .await?;
    scan_both(&browser, &format!("{base}/transfers"), &data).await?;
    let transfer_page = format!("{base}/transfers/{transfer}");
    browser.goto(&transfer_page).await?;
    browser.find("#form-receipt button").await?.click().await?;
    browser
        .wait_for_text("#transfer-status", "received", WAIT)
        .await?;
    scan_both(&browser, &transfer_page, &data).await?;

    // The testing institute accepts the request asked of it.
    act_as(&browser, &base, TESTING_INSTITUTE).await?;
    until_shown(
        &browser,
        &format!("{base}/opinions"),
        &format!("a.case[href=\"/opinions/{opinion}\"]"),
    )
    .await?;
    let opinion_page = format!("{base}/opinions/{opinion}");
    browser.goto(&opinion_page).await?;
    browser.find("#form-accept button").await?.click().await?;
    browser
        .wait_for_text("#opinion-status", "accepted", WAIT)
        .await?;
    browser
        .screenshot(&shots.join("10-opinion-desk.png"))
        .await?;
    scan_both(&browser, &opinion_page, &data).await?;

    // The sender's view of what it sent, and every family on /cases.
    act_as(&browser, &base, MARKET_BUREAU).await?;
    scan_both(&browser, &format!("{base}/transfers?role=sender"), &data).await?;
    scan_both(&browser, &format!("{base}/cases"), &data).await?;

    // Sign-out ends the session: the console asks to sign in again.
    browser
        .find("form[action=\"/signout\"] button")
        .await?
        .click()
        .await?;
    browser.wait_for_text("h1", "登录", WAIT).await?;
    browser.goto(&format!("{base}/board")).await?;
    browser.wait_for_text("h1", "登录", WAIT).await?;

    browser.quit().await?;
    system.stop().await?;
    Ok(())
}

/// Issue 19, "A browser test walks the warning desk": a record over the threshold is raised to
/// the procuratorate, which finds it at its warning desk with the rule, the figure and the
/// source, and gives its opinion that the case be referred (confirmed on a page of its own);
/// the agency then names its referral at the same desk. Both pages are scanned in both languages.
#[tokio::test]
async fn the_procuratorate_works_the_warning_desk_in_a_real_browser() -> anyhow::Result<()> {
    let shots = screenshots()?;
    let rules = tempfile::tempdir()?;
    let raise_at_once =
        casebridge_tests::rules_with_periods(rules.path(), &[("WARN-RAISE", 0, "hours")])?;
    let system = System::embedded_with(raise_at_once, "info").await?;
    let decided = (chrono::Utc::now() - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let recording = pb::RecordPenaltyRequest {
        request_id: "console-penalty".into(),
        case: Some(pb::PenaltyCase {
            case_number: "榕市监处〔2026〕77号".into(),
            violation: "fake_or_substandard_product".into(),
            legal_basis: "《中华人民共和国产品质量法》第五十条".into(),
            parties: vec![pb::Party {
                name: "福州某贸易有限公司".into(),
                id_number: String::new(),
            }],
            measures: Some(pb::Measures {
                sales_amount: Some(pb::Money {
                    yuan: "72000".into(),
                }),
                ..Default::default()
            }),
            decision: Some(pb::PenaltyDecision {
                number: "榕市监罚〔2026〕77号".into(),
                decided_on: decided,
                penalty: "罚款".into(),
                fine: None,
            }),
            evidence: Vec::new(),
        }),
        referral_id: String::new(),
    };
    let record = system
        .penalties(MARKET_BUREAU)
        .await?
        .record_penalty(recording.clone())
        .await?
        .into_inner()
        .record
        .context("the record")?;
    let id = record.id.clone();
    const REASONS: &str = "销售金额七万二千元，已达立案追诉标准";
    let data = format!("{EXAMPLE_DIRECTORY}{recording:?}{record:?}{REASONS}");
    let link = system
        .console_signin_link()
        .context("casebridge up printed no sign-in link")?
        .to_owned();
    let base = link
        .split("/signin")
        .next()
        .context("a sign-in link")?
        .to_owned();
    let browser = Browser::start().await?;
    browser.goto(&link).await?;
    browser.wait_for_text("h1", "选择机关", WAIT).await?;

    // The procuratorate finds the raised warning on its desk.
    act_as(&browser, &base, PROCURATORATE).await?;
    let row = format!("a.case[href=\"/warnings/{id}\"]");
    until_shown(&browser, &format!("{base}/warnings"), &row).await?;
    scan_both(&browser, &format!("{base}/warnings"), &data).await?;
    let page = format!("{base}/warnings/{id}");
    browser.goto(&page).await?;
    browser
        .wait_for_text("#warning-status", "warning_raised", WAIT)
        .await?;
    let hits = browser.find("#hits").await?.text().await?;
    for shown in ["CL-140", "72000.00", "50000.00", "刑法"] {
        assert!(hits.contains(shown), "{shown} in {hits}");
    }
    scan_both(&browser, &page, &data).await?;
    browser
        .screenshot(&shots.join("11-warning-desk.png"))
        .await?;

    // Its opinion that the case be referred, confirmed before it is sent.
    browser
        .find("#form-suggest textarea[name=\"reasons\"]")
        .await?
        .send_keys(REASONS)
        .await?;
    browser.find("#form-suggest button").await?.click().await?;
    browser
        .wait_for_text("#confirm-text", "书面说明不移送的理由", WAIT)
        .await?;
    browser.find("#confirm button").await?.click().await?;
    browser
        .wait_for_text("#warning-status", "referral_suggested", WAIT)
        .await?;
    assert!(!browser.find_all("#answer-due").await?.is_empty());

    // The agency refers, and names the referral at the same desk.
    let referral = system
        .referrals(MARKET_BUREAU)
        .await?
        .submit_referral(submission("console-penalty-referral"))
        .await?
        .into_inner()
        .referral
        .context("the referral")?
        .id;
    act_as(&browser, &base, MARKET_BUREAU).await?;
    browser.goto(&page).await?;
    browser
        .find("#form-link input[name=\"referral\"]")
        .await?
        .send_keys(&referral)
        .await?;
    browser.find("#form-link button").await?.click().await?;
    browser
        .wait_for_text("#warning-status", "referral_linked", WAIT)
        .await?;
    browser
        .screenshot(&shots.join("12-warning-answered.png"))
        .await?;
    scan_both(&browser, &page, &data).await?;

    browser.quit().await?;
    system.stop().await
}
