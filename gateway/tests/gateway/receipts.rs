//! Signed receipts (回执) of accepted steps: genuine under the operator's public key, naming what
//! was accepted and where it stands in the record; a replay returns the very same receipt.

use casebridge_core::ids::Sha256Digest;
use casebridge_platform::ledger::Verifier;
use prost::Message as _;

use super::*;

pub(crate) fn domain(r: &pb::Receipt) -> casebridge_core::ledger::Receipt {
    use casebridge_core::ids::{CaseId, RequestId};
    let at = r.accepted_at.as_ref().expect("accepted_at");
    casebridge_core::ledger::Receipt {
        service: r.service.clone(),
        case_id: CaseId::parse(&r.case_id).expect("case id"),
        step: r.step.clone(),
        actor: AgencyCode::parse(&r.actor).expect("actor"),
        request_id: RequestId::parse(&r.request_id).expect("request id"),
        content_digest: Sha256Digest::parse(&r.content_digest).expect("digest"),
        accepted_at: casebridge_core::time::Timestamp::from_millis(
            at.seconds * 1000 + i64::from(at.nanos) / 1_000_000,
        ),
        first_seq: r.first_seq,
        last_seq: r.last_seq,
        chain_hash: Sha256Digest::parse(&r.chain_hash).expect("hash"),
        key_id: r.key_id.clone(),
        signature: r.signature.clone(),
    }
}

#[tokio::test]
async fn every_accepted_step_returns_a_genuine_receipt_and_a_replay_the_same_one() {
    let app = spawn_app().await;
    let verifier = Verifier::from_hex(&app.public_key).expect("public key");
    let request = submission("rc-submit");
    let mut market = app.referrals_as(MARKET_BUREAU).await;
    let first = market
        .submit_referral(request.clone())
        .await
        .expect("submitted")
        .into_inner();
    let receipt = first.receipt.clone().expect("a receipt");
    let signed = domain(&receipt);
    assert!(verifier.receipt_is_genuine(&signed), "{receipt:?}");
    assert_eq!(receipt.service, "referrals");
    assert_eq!(receipt.step, "submit");
    assert_eq!(receipt.actor, MARKET_BUREAU);
    assert_eq!(receipt.request_id, "rc-submit");
    assert_eq!(
        receipt.case_id,
        first.referral.as_ref().expect("referral").id
    );
    assert_eq!(
        receipt.content_digest,
        Sha256Digest::of(&request.encode_to_vec()).to_hex(),
        "the digest of the request as sent"
    );
    assert!(receipt.first_seq >= 1 && receipt.last_seq >= receipt.first_seq);

    // A retry is answered with the original receipt, never a second one.
    let again = market
        .submit_referral(request)
        .await
        .expect("replayed")
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.receipt, Some(receipt.clone()));

    // The next step lands after it on the chain.
    let next = app
        .referrals_as(CITY_POLICE)
        .await
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "rc-receipt".into(),
            referral_id: receipt.case_id.clone(),
        })
        .await
        .expect("signed")
        .into_inner()
        .receipt
        .expect("a receipt");
    assert_eq!(next.first_seq, receipt.last_seq + 1);
    assert!(verifier.receipt_is_genuine(&domain(&next)));

    // Any change to a receipt breaks its signature.
    let mut forged = signed.clone();
    forged.step = "decline".into();
    assert!(!verifier.receipt_is_genuine(&forged));
    let mut forged = signed;
    forged.accepted_at = casebridge_core::time::Timestamp::from_millis(0);
    assert!(!verifier.receipt_is_genuine(&forged));
    app.stop().await;
}
