//! The case timeline: every step of any family, for its parties only.

use casebridge_proto::v1::case_service_client::CaseServiceClient;

use super::refusals::{Refusal, assert_refused};
use super::*;

#[tokio::test]
async fn the_timeline_shows_every_step_with_its_actor_to_the_parties_only() {
    let app = spawn_app().await;
    let id = submitted_referral(&app, "tl-submit").await;
    app.referrals_as(CITY_POLICE)
        .await
        .sign_receipt(pb::SignReceiptRequest {
            request_id: "tl-receipt".into(),
            referral_id: id.clone(),
        })
        .await
        .expect("receipt");

    let mut cases = CaseServiceClient::new(app.channel_as(PROCURATORATE).await);
    let timeline = cases
        .get_timeline(pb::GetTimelineRequest {
            case_id: id.clone(),
        })
        .await
        .expect("the copied procuratorate reads the timeline")
        .into_inner();
    assert_eq!(timeline.family, "referral");
    assert_eq!(timeline.status, "received");
    let steps: Vec<(&str, &str)> = timeline
        .steps
        .iter()
        .map(|s| {
            let e = s.entry.as_ref().expect("entry");
            (e.step.as_str(), s.actor_name.as_str())
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("submit", "福州市市场监督管理局"),
            ("sign_receipt", "福州市公安局")
        ]
    );
    let submit = timeline.steps[0].entry.as_ref().expect("entry");
    assert_eq!(submit.documents.len(), 3, "the submission's package");
    let roles: Vec<(&str, i32)> = timeline
        .parties
        .iter()
        .map(|p| (p.agency.as_str(), p.role))
        .collect();
    assert!(roles.contains(&(PROCURATORATE, pb::PartyRole::Procuratorate.into())));

    assert_refused(
        CaseServiceClient::new(app.channel_as(JUSTICE_BUREAU).await)
            .get_timeline(pb::GetTimelineRequest {
                case_id: id.clone(),
            })
            .await,
        &Refusal {
            what: "an outsider reads the timeline",
            code: Code::PermissionDenied,
            says: "not a party",
            field: None,
        },
    );
    assert_refused(
        cases
            .get_timeline(pb::GetTimelineRequest {
                case_id: CaseId::generate().to_string(),
            })
            .await,
        &Refusal {
            what: "the timeline of an unknown case",
            code: Code::NotFound,
            says: "no case",
            field: Some("case_id"),
        },
    );
    app.stop().await;
}
