//! The web console in a real headless Chromium (Debian's `chromium` through `chromedriver`),
//! against the real `casebridge up`: a supervisor signs in with the one-time link, finds an
//! overdue referral and opens its timeline; the coordination office accepts a dispute and
//! designates the competent agency; the police sign a referral's receipt; the statistics page
//! switches to English. Each stage leaves a screenshot in `target/console-screenshots/`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use casebridge_platform::testing::eventually;
use casebridge_proto::v1 as pb;
use casebridge_tests::agencies::*;
use casebridge_tests::webdriver::Browser;
use casebridge_tests::{System, immediate_receipt_rules, submission, transfer_sending};

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
    let status = system
        .referrals(MARKET_BUREAU)
        .await?
        .get_referral(pb::GetReferralRequest {
            referral_id: referral.clone(),
        })
        .await?
        .into_inner()
        .status;
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
