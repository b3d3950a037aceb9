//! Checks on the `casebridge.v1` contract itself: its services and rpcs, documentation of every
//! element (read from the descriptor set's source info), and the wire encoding of key messages.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use casebridge_proto::{FILE_DESCRIPTOR_SET, google_rpc, v1};
use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto, FileDescriptorSet};

/// Packages whose every element must carry a leading comment.
const DOCUMENTED_PACKAGES: &[&str] = &["casebridge.v1", "google.rpc"];

// Field numbers in descriptor.proto, used to build `SourceCodeInfo.Location.path`s.
const FILE_MESSAGE_TYPE: i32 = 4;
const FILE_ENUM_TYPE: i32 = 5;
const FILE_SERVICE: i32 = 6;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED_TYPE: i32 = 3;
const MESSAGE_ENUM_TYPE: i32 = 4;
const MESSAGE_ONEOF_DECL: i32 = 8;
const ENUM_VALUE: i32 = 2;
const SERVICE_METHOD: i32 = 2;

fn descriptor_set() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes")
}

/// One rpc as the descriptor describes it.
#[derive(Debug)]
struct Rpc {
    input: String,
    output: String,
    server_streaming: bool,
    client_streaming: bool,
}

/// Every service in `casebridge.v1`, by full name, with its rpcs by name.
fn casebridge_services() -> BTreeMap<String, BTreeMap<String, Rpc>> {
    descriptor_set()
        .file
        .iter()
        .filter(|file| file.package() == "casebridge.v1")
        .flat_map(|file| &file.service)
        .map(|service| {
            let rpcs = service
                .method
                .iter()
                .map(|method| {
                    let rpc = Rpc {
                        input: method.input_type().to_owned(),
                        output: method.output_type().to_owned(),
                        server_streaming: method.server_streaming(),
                        client_streaming: method.client_streaming(),
                    };
                    (method.name().to_owned(), rpc)
                })
                .collect();
            (format!("casebridge.v1.{}", service.name()), rpcs)
        })
        .collect()
}

fn message<'a>(set: &'a FileDescriptorSet, full_name: &str) -> &'a DescriptorProto {
    set.file
        .iter()
        .flat_map(|file| {
            file.message_type
                .iter()
                .map(move |message| (format!(".{}.{}", file.package(), message.name()), message))
        })
        .find_map(|(name, message)| (name == full_name).then_some(message))
        .unwrap_or_else(|| panic!("message {full_name} is in the descriptor set"))
}

#[test]
fn descriptor_set_holds_the_services_with_their_rpcs() {
    let services = casebridge_services();
    let names = |service: &str| -> BTreeSet<&str> {
        services
            .get(service)
            .unwrap_or_else(|| panic!("{service} is missing; found {:?}", services.keys()))
            .keys()
            .map(String::as_str)
            .collect()
    };

    assert_eq!(
        services.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "casebridge.v1.CaseService",
            "casebridge.v1.DeadlineService",
            "casebridge.v1.DirectoryService",
            "casebridge.v1.DisputeService",
            "casebridge.v1.EvidenceService",
            "casebridge.v1.ExportService",
            "casebridge.v1.InboxService",
            "casebridge.v1.LeadService",
            "casebridge.v1.MonitorService",
            "casebridge.v1.OpinionService",
            "casebridge.v1.PenaltyService",
            "casebridge.v1.RectificationService",
            "casebridge.v1.ReferralService",
            "casebridge.v1.TransferService",
        ])
    );
    assert_eq!(
        names("casebridge.v1.ReferralService"),
        BTreeSet::from([
            "SubmitReferral",
            "RecordNonReferral",
            "GetReferral",
            "ListReferrals",
            "SignReceipt",
            "RequestSupplement",
            "SupplementReferral",
            "ForwardReferral",
            "ReturnReferral",
            "DecideFiling",
            "HandOverItems",
            "RequestReconsideration",
            "DecideReconsideration",
            "SuggestSupervision",
            "RequestReasons",
            "GiveReasons",
            "TellAgency",
            "NotifyFiling",
            "DemandExplanation",
            "Explain",
            "IssueCorrectionNotice",
            "ReportToSuperior",
            "TransferCase",
            "WithdrawCase",
            "HandBackReferral",
        ])
    );
    assert_eq!(
        names("casebridge.v1.TransferService"),
        BTreeSet::from([
            "SendTransfer",
            "GetTransfer",
            "ListTransfers",
            "SignTransferReceipt",
            "AcceptTransfer",
            "ObjectToTransfer",
            "ReportOutcome",
            "DeclineTransfer",
            "ContestDecline",
            "SuspendTransfer",
            "ResumeTransfer",
        ])
    );
    assert_eq!(
        names("casebridge.v1.DisputeService"),
        BTreeSet::from([
            "RaiseDispute",
            "DesignateDirectly",
            "GetDispute",
            "ListDisputes",
            "RecordMinutes",
            "ReferDispute",
            "AcceptDispute",
            "ReplyToDispute",
            "DesignateAgency",
        ])
    );
    assert_eq!(
        names("casebridge.v1.OpinionService"),
        BTreeSet::from([
            "RequestOpinion",
            "GetOpinion",
            "ListOpinions",
            "AcceptOpinionRequest",
            "RefuseOpinionRequest",
            "RequestMaterial",
            "SupplyMaterial",
            "DeliverOpinion",
        ])
    );
    assert_eq!(
        names("casebridge.v1.PenaltyService"),
        BTreeSet::from([
            "RecordPenalty",
            "CorrectPenalty",
            "GetPenaltyRecord",
            "ListPenaltyRecords",
            "SuggestReferral",
            "CloseWarning",
            "LinkReferral",
            "ExplainNonReferral",
        ])
    );
    assert_eq!(
        names("casebridge.v1.LeadService"),
        BTreeSet::from([
            "SendLead",
            "GetLead",
            "ListLeads",
            "AcknowledgeLead",
            "AnswerLead",
        ])
    );
    assert_eq!(
        names("casebridge.v1.RectificationService"),
        BTreeSet::from([
            "RequestRectification",
            "GetRectification",
            "ListRectifications",
            "ReportRectification",
            "AcceptRectification",
            "ReturnRectification",
        ])
    );
    assert_eq!(
        names("casebridge.v1.CaseService"),
        BTreeSet::from(["GetTimeline"])
    );
    assert_eq!(
        names("casebridge.v1.ExportService"),
        BTreeSet::from(["Export"])
    );
    assert_eq!(
        names("casebridge.v1.InboxService"),
        BTreeSet::from(["WatchInbox", "AcknowledgeInbox"])
    );
    assert_eq!(
        names("casebridge.v1.DirectoryService"),
        BTreeSet::from(["ListAgencies", "WhoAmI"])
    );
    assert_eq!(
        names("casebridge.v1.MonitorService"),
        BTreeSet::from(["ListObligations", "GetStatistics", "GetReport"])
    );
    assert_eq!(
        names("casebridge.v1.DeadlineService"),
        BTreeSet::from(["ListCaseDeadlines", "ExtendDeadline"])
    );
    assert_eq!(
        names("casebridge.v1.EvidenceService"),
        BTreeSet::from(["UploadEvidence", "GetEvidence", "DownloadEvidence"])
    );

    // Only evidence uploads stream from the client; only inbox watches and evidence downloads
    // stream from the server.
    for (service, rpcs) in &services {
        for (name, rpc) in rpcs {
            assert_eq!(
                rpc.client_streaming,
                name == "UploadEvidence",
                "{service}.{name} client streaming"
            );
            assert_eq!(
                rpc.server_streaming,
                name == "WatchInbox" || name == "DownloadEvidence",
                "{service}.{name} server streaming"
            );
        }
    }
    let inbox = &services["casebridge.v1.InboxService"];
    assert_eq!(inbox["WatchInbox"].output, ".casebridge.v1.InboxEntry");
    let directory = &services["casebridge.v1.DirectoryService"];
    assert_eq!(directory["WhoAmI"].output, ".casebridge.v1.Agency");
}

/// The family services: their reads and listings, and the result every step returns.
const FAMILIES: &[(&str, &str, &str, &str)] = &[
    (
        "casebridge.v1.ReferralService",
        "GetReferral",
        ".casebridge.v1.Referral",
        ".casebridge.v1.ReferralResult",
    ),
    (
        "casebridge.v1.TransferService",
        "GetTransfer",
        ".casebridge.v1.Transfer",
        ".casebridge.v1.TransferResult",
    ),
    (
        "casebridge.v1.DisputeService",
        "GetDispute",
        ".casebridge.v1.Dispute",
        ".casebridge.v1.DisputeResult",
    ),
    (
        "casebridge.v1.OpinionService",
        "GetOpinion",
        ".casebridge.v1.OpinionRequest",
        ".casebridge.v1.OpinionResult",
    ),
    (
        "casebridge.v1.PenaltyService",
        "GetPenaltyRecord",
        ".casebridge.v1.PenaltyRecord",
        ".casebridge.v1.PenaltyResult",
    ),
    (
        "casebridge.v1.LeadService",
        "GetLead",
        ".casebridge.v1.Lead",
        ".casebridge.v1.LeadResult",
    ),
    (
        "casebridge.v1.RectificationService",
        "GetRectification",
        ".casebridge.v1.Rectification",
        ".casebridge.v1.RectificationResult",
    ),
];

#[test]
fn every_step_of_every_family_carries_a_request_id_and_returns_the_family_result() {
    let set = descriptor_set();
    let services = casebridge_services();
    let mut steps = 0;
    for (service, get, case, result) in FAMILIES {
        let rpcs = &services[*service];
        assert_eq!(rpcs[*get].output, *case, "{service}.{get} output");
        for (name, rpc) in rpcs {
            if name == get || name.starts_with("List") {
                continue;
            }
            steps += 1;
            assert_eq!(rpc.output, *result, "{service}.{name} output");
            let request_id = message(&set, &rpc.input)
                .field
                .iter()
                .find(|field| field.name() == "request_id")
                .unwrap_or_else(|| panic!("{name} request {} has no request_id", rpc.input));
            assert_eq!(request_id.number(), 1, "{name} request_id field number");
            assert_eq!(
                request_id.r#type(),
                prost_types::field_descriptor_proto::Type::String,
                "{name} request_id type"
            );
        }
    }
    assert_eq!(steps, 23 + 9 + 7 + 6 + 6 + 3 + 4, "steps counted");
}

#[test]
fn every_family_lists_with_the_shared_listing_messages() {
    let services = casebridge_services();
    for (service, ..) in FAMILIES {
        let lists: Vec<_> = services[*service]
            .iter()
            .filter(|(name, _)| name.starts_with("List"))
            .collect();
        assert_eq!(lists.len(), 1, "{service} has one listing");
        let (_, rpc) = lists[0];
        assert_eq!(rpc.input, ".casebridge.v1.ListCasesRequest");
        assert_eq!(rpc.output, ".casebridge.v1.ListCasesResponse");
    }
}

#[test]
fn extending_a_deadline_carries_a_request_id_and_one_target() {
    let set = descriptor_set();
    let services = casebridge_services();
    let deadlines = &services["casebridge.v1.DeadlineService"];
    let extend = &deadlines["ExtendDeadline"];
    assert_eq!(extend.output, ".casebridge.v1.ExtendDeadlineResponse");
    let request = message(&set, &extend.input);
    let request_id = request
        .field
        .iter()
        .find(|field| field.name() == "request_id")
        .expect("ExtendDeadlineRequest has a request_id");
    assert_eq!(request_id.number(), 1);
    let in_oneof: BTreeSet<&str> = request
        .field
        .iter()
        .filter(|f| f.oneof_index.is_some())
        .map(|f| f.name())
        .collect();
    assert_eq!(in_oneof, BTreeSet::from(["tier", "until"]));
    let monitor = &services["casebridge.v1.MonitorService"];
    assert_eq!(
        monitor["GetReport"].output,
        ".casebridge.v1.GetReportResponse"
    );
    assert!(!monitor["GetReport"].server_streaming);
}

#[test]
fn generated_servers_are_named_after_the_proto_services() {
    assert_eq!(
        v1::referral_service_server::SERVICE_NAME,
        "casebridge.v1.ReferralService"
    );
    assert_eq!(
        v1::inbox_service_server::SERVICE_NAME,
        "casebridge.v1.InboxService"
    );
    assert_eq!(
        v1::directory_service_server::SERVICE_NAME,
        "casebridge.v1.DirectoryService"
    );
    assert_eq!(
        v1::evidence_service_server::SERVICE_NAME,
        "casebridge.v1.EvidenceService"
    );
    assert_eq!(
        v1::deadline_service_server::SERVICE_NAME,
        "casebridge.v1.DeadlineService"
    );
    assert_eq!(
        v1::monitor_service_server::SERVICE_NAME,
        "casebridge.v1.MonitorService"
    );
}

/// Whether `text` holds a CJK ideograph, i.e. names the Chinese term.
fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn the_evidence_service_its_rpcs_and_messages_name_the_chinese_term() {
    let set = descriptor_set();
    let file = set
        .file
        .iter()
        .find(|file| file.name() == "casebridge/v1/evidence.proto")
        .expect("evidence.proto is in the descriptor set");
    let comment = |path: &[i32]| -> String {
        file.source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .find(|location| location.path == path)
            .and_then(|location| location.leading_comments.clone())
            .unwrap_or_default()
    };
    let mut missing = Vec::new();
    for (i, service) in file.service.iter().enumerate() {
        if !has_chinese(&comment(&[FILE_SERVICE, index(i)])) {
            missing.push(format!("service {}", service.name()));
        }
        for (j, method) in service.method.iter().enumerate() {
            if !has_chinese(&comment(&[
                FILE_SERVICE,
                index(i),
                SERVICE_METHOD,
                index(j),
            ])) {
                missing.push(format!("rpc {}", method.name()));
            }
        }
    }
    for (i, message) in file.message_type.iter().enumerate() {
        if !has_chinese(&comment(&[FILE_MESSAGE_TYPE, index(i)])) {
            missing.push(format!("message {}", message.name()));
        }
    }
    assert!(
        file.message_type.len() >= 8,
        "evidence messages were walked"
    );
    assert!(
        missing.is_empty(),
        "documented without the Chinese term: {missing:?}"
    );
}

#[test]
fn an_upload_sends_metadata_then_chunks_through_one_oneof() {
    let first = v1::UploadEvidenceRequest {
        part: Some(v1::upload_evidence_request::Part::Metadata(
            v1::EvidenceMetadata {
                file_name: "现场照片01.jpg".to_owned(),
                content_type: "image/jpeg".to_owned(),
                size: 3,
                sha256: "ab".repeat(32),
            },
        )),
    };
    let chunk = v1::UploadEvidenceRequest {
        part: Some(v1::upload_evidence_request::Part::Chunk(
            v1::EvidenceChunk {
                offset: 0,
                data: prost::bytes::Bytes::from_static(&[1, 2, 3]),
            },
        )),
    };
    for message in [first, chunk] {
        let decoded =
            v1::UploadEvidenceRequest::decode(message.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded, message);
    }
}

/// Collects the elements of one file that have no leading comment, as readable names.
struct DocAudit<'a> {
    comments: HashMap<&'a [i32], &'a str>,
    undocumented: Vec<String>,
    checked: usize,
}

impl<'a> DocAudit<'a> {
    fn new(file: &'a FileDescriptorProto) -> Self {
        let comments = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .filter_map(|location| {
                Some((
                    location.path.as_slice(),
                    location.leading_comments.as_deref()?,
                ))
            })
            .collect();
        Self {
            comments,
            undocumented: Vec::new(),
            checked: 0,
        }
    }

    fn require(&mut self, path: &[i32], name: &str) {
        self.checked += 1;
        let documented = self
            .comments
            .get(path)
            .is_some_and(|comment| !comment.trim().is_empty());
        if !documented {
            self.undocumented.push(format!("{name} (path {path:?})"));
        }
    }

    fn file(&mut self, file: &FileDescriptorProto) {
        let package = file.package();
        for (i, message) in file.message_type.iter().enumerate() {
            self.message(message, &[FILE_MESSAGE_TYPE, index(i)], package);
        }
        for (i, enumeration) in file.enum_type.iter().enumerate() {
            self.enumeration(enumeration, &[FILE_ENUM_TYPE, index(i)], package);
        }
        for (i, service) in file.service.iter().enumerate() {
            let path = [FILE_SERVICE, index(i)];
            let name = format!("{package}.{}", service.name());
            self.require(&path, &format!("service {name}"));
            for (j, method) in service.method.iter().enumerate() {
                let rpc = format!("rpc {name}.{}", method.name());
                self.require(&[FILE_SERVICE, index(i), SERVICE_METHOD, index(j)], &rpc);
            }
        }
    }

    fn message(&mut self, message: &DescriptorProto, path: &[i32], scope: &str) {
        let name = format!("{scope}.{}", message.name());
        self.require(path, &format!("message {name}"));
        for (i, field) in message.field.iter().enumerate() {
            let field_name = format!("field {name}.{}", field.name());
            self.require(&child(path, MESSAGE_FIELD, i), &field_name);
        }
        for (i, oneof) in message.oneof_decl.iter().enumerate() {
            // A proto3 `optional` field gets a synthetic oneof with no source of its own.
            let synthetic = message
                .field
                .iter()
                .any(|field| field.oneof_index == Some(index(i)) && field.proto3_optional());
            if !synthetic {
                let oneof_name = format!("oneof {name}.{}", oneof.name());
                self.require(&child(path, MESSAGE_ONEOF_DECL, i), &oneof_name);
            }
        }
        for (i, nested) in message.nested_type.iter().enumerate() {
            self.message(nested, &child(path, MESSAGE_NESTED_TYPE, i), &name);
        }
        for (i, enumeration) in message.enum_type.iter().enumerate() {
            self.enumeration(enumeration, &child(path, MESSAGE_ENUM_TYPE, i), &name);
        }
    }

    fn enumeration(&mut self, enumeration: &EnumDescriptorProto, path: &[i32], scope: &str) {
        let name = format!("{scope}.{}", enumeration.name());
        self.require(path, &format!("enum {name}"));
        for (i, value) in enumeration.value.iter().enumerate() {
            let value_name = format!("enum value {name}.{}", value.name());
            self.require(&child(path, ENUM_VALUE, i), &value_name);
        }
    }
}

fn index(i: usize) -> i32 {
    i32::try_from(i).expect("descriptor index fits in i32")
}

fn child(parent: &[i32], field_number: i32, i: usize) -> Vec<i32> {
    let mut path = parent.to_vec();
    path.extend([field_number, index(i)]);
    path
}

#[test]
fn every_element_of_the_contract_has_a_leading_comment() {
    let set = descriptor_set();
    let mut audited_files = BTreeSet::new();
    let mut undocumented = Vec::new();
    let mut checked = 0;

    for file in set
        .file
        .iter()
        .filter(|file| DOCUMENTED_PACKAGES.contains(&file.package()))
    {
        assert!(
            file.source_code_info.is_some(),
            "{} has no source code info: build.rs must ask protox for it",
            file.name()
        );
        let mut audit = DocAudit::new(file);
        audit.file(file);
        audited_files.insert(file.name().to_owned());
        checked += audit.checked;
        undocumented.extend(
            audit
                .undocumented
                .into_iter()
                .map(|element| format!("{}: {element}", file.name())),
        );
    }

    assert_eq!(
        audited_files,
        BTreeSet::from([
            "casebridge/v1/cases.proto".to_owned(),
            "casebridge/v1/common.proto".to_owned(),
            "casebridge/v1/directory.proto".to_owned(),
            "casebridge/v1/export.proto".to_owned(),
            "casebridge/v1/disputes.proto".to_owned(),
            "casebridge/v1/evidence.proto".to_owned(),
            "casebridge/v1/inbox.proto".to_owned(),
            "casebridge/v1/leads.proto".to_owned(),
            "casebridge/v1/monitor.proto".to_owned(),
            "casebridge/v1/opinions.proto".to_owned(),
            "casebridge/v1/penalties.proto".to_owned(),
            "casebridge/v1/rectifications.proto".to_owned(),
            "casebridge/v1/referrals.proto".to_owned(),
            "casebridge/v1/transfers.proto".to_owned(),
            "google/rpc/error_details.proto".to_owned(),
        ])
    );
    // Guards against an audit that silently walks nothing.
    assert!(checked > 150, "only {checked} elements were checked");
    assert!(
        undocumented.is_empty(),
        "{} undocumented element(s):\n{}",
        undocumented.len(),
        undocumented.join("\n")
    );
}

fn timestamp(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

#[test]
fn submit_referral_request_survives_an_encode_decode_round_trip() {
    let request = v1::SubmitReferralRequest {
        request_id: "amr-2026:0001".to_owned(),
        police: "11330100MB0000000X".to_owned(),
        suspected_offence: "生产、销售伪劣产品罪".to_owned(),
        summary: "某公司销售假冒注册商标的商品".to_owned(),
        report_received_at: Some(timestamp(1_771_000_000)),
        approved_at: Some(timestamp(1_771_086_400)),
        items_tested: true,
        penalty_imposed: false,
        documents: vec![
            v1::Document {
                kind: v1::DocumentKind::ReferralLetter.into(),
                title: "涉嫌犯罪案件移送书".to_owned(),
                sha256: "ab".repeat(32),
            },
            v1::Document {
                kind: v1::DocumentKind::TestReport.into(),
                title: "检验报告".to_owned(),
                sha256: String::new(),
            },
        ],
        parties: vec![v1::Party {
            name: "张三".to_owned(),
            id_number: "110101199003070011".to_owned(),
        }],
        case_officer: "李四".to_owned(),
        case_officer_phone: "+86-571-00000000".to_owned(),
    };

    let bytes = request.encode_to_vec();
    let decoded = v1::SubmitReferralRequest::decode(bytes.as_slice()).expect("decodes");

    assert_eq!(decoded, request);
    assert_eq!(
        decoded.documents[1].kind(),
        v1::DocumentKind::TestReport,
        "enum values survive as enums"
    );
}

#[test]
fn decide_filing_decision_round_trips_through_its_oneof() {
    let request = v1::DecideFilingRequest {
        request_id: "psb-7".to_owned(),
        referral_id: "0190d6a4-7a2b-7c3d-8e4f-5a6b7c8d9e0f".to_owned(),
        decision: Some(v1::decide_filing_request::Decision::Decline(
            v1::DeclineToFile {
                reasons: "没有犯罪事实".to_owned(),
            },
        )),
    };

    let decoded =
        v1::DecideFilingRequest::decode(request.encode_to_vec().as_slice()).expect("decodes");

    assert_eq!(decoded, request);
}

#[test]
fn bad_request_uses_the_upstream_google_rpc_field_numbers() {
    let details = google_rpc::BadRequest {
        field_violations: vec![google_rpc::bad_request::FieldViolation {
            field: "a".to_owned(),
            description: "b".to_owned(),
        }],
    };

    // field_violations = 1 (length-delimited), holding field = 1 "a" and description = 2 "b".
    assert_eq!(
        details.encode_to_vec(),
        [0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b']
    );
}
