//! Which `casebridge` subcommand calls each rpc of the contract: the table the CLI reference
//! (`docs/cli.md`) follows, and a test that no rpc is left without one.

/// `(service, rpc, subcommand)` for every rpc of `casebridge.v1`.
pub const RPC_COMMANDS: &[(&str, &str, &str)] = &[
    ("CaseService", "GetTimeline", "case timeline"),
    ("DirectoryService", "ListAgencies", "agencies"),
    ("DirectoryService", "WhoAmI", "whoami"),
    ("DisputeService", "RaiseDispute", "dispute raise"),
    (
        "DisputeService",
        "DesignateDirectly",
        "dispute designate-directly",
    ),
    ("DisputeService", "GetDispute", "dispute show"),
    ("DisputeService", "ListDisputes", "dispute list"),
    ("DisputeService", "RecordMinutes", "dispute minutes"),
    ("DisputeService", "ReferDispute", "dispute refer"),
    ("DisputeService", "AcceptDispute", "dispute accept"),
    ("DisputeService", "ReplyToDispute", "dispute reply"),
    ("DisputeService", "DesignateAgency", "dispute designate"),
    ("EvidenceService", "UploadEvidence", "evidence upload"),
    ("EvidenceService", "GetEvidence", "evidence stat"),
    ("EvidenceService", "DownloadEvidence", "evidence download"),
    ("ExportService", "Export", "export"),
    ("InboxService", "WatchInbox", "inbox watch"),
    ("InboxService", "AcknowledgeInbox", "inbox ack"),
    ("MonitorService", "ListObligations", "monitor overdue"),
    ("MonitorService", "GetStatistics", "monitor stats"),
    ("MonitorService", "GetReport", "monitor report"),
    ("DeadlineService", "ListCaseDeadlines", "deadline show"),
    ("DeadlineService", "ExtendDeadline", "deadline extend"),
    ("OpinionService", "RequestOpinion", "opinion request"),
    ("OpinionService", "GetOpinion", "opinion show"),
    ("OpinionService", "ListOpinions", "opinion list"),
    ("OpinionService", "AcceptOpinionRequest", "opinion accept"),
    ("OpinionService", "RefuseOpinionRequest", "opinion refuse"),
    ("OpinionService", "RequestMaterial", "opinion ask-material"),
    ("OpinionService", "SupplyMaterial", "opinion supply"),
    ("OpinionService", "DeliverOpinion", "opinion deliver"),
    ("PenaltyService", "RecordPenalty", "penalty record"),
    ("PenaltyService", "CorrectPenalty", "penalty correct"),
    ("PenaltyService", "GetPenaltyRecord", "penalty show"),
    ("PenaltyService", "ListPenaltyRecords", "penalty list"),
    ("PenaltyService", "LinkReferral", "penalty link-referral"),
    ("PenaltyService", "ExplainNonReferral", "penalty explain"),
    ("PenaltyService", "SuggestReferral", "warning suggest"),
    ("PenaltyService", "CloseWarning", "warning close"),
    ("LeadService", "SendLead", "lead send"),
    ("LeadService", "GetLead", "lead show"),
    ("LeadService", "ListLeads", "lead list"),
    ("LeadService", "AcknowledgeLead", "lead acknowledge"),
    ("LeadService", "AnswerLead", "lead answer"),
    (
        "RectificationService",
        "RequestRectification",
        "rectification request",
    ),
    (
        "RectificationService",
        "GetRectification",
        "rectification show",
    ),
    (
        "RectificationService",
        "ListRectifications",
        "rectification list",
    ),
    (
        "RectificationService",
        "ReportRectification",
        "rectification report",
    ),
    (
        "RectificationService",
        "AcceptRectification",
        "rectification accept",
    ),
    (
        "RectificationService",
        "ReturnRectification",
        "rectification return",
    ),
    ("ReferralService", "SubmitReferral", "referral submit"),
    ("ReferralService", "GetReferral", "referral show"),
    ("ReferralService", "SignReceipt", "referral receipt"),
    (
        "ReferralService",
        "RequestSupplement",
        "referral request-supplement",
    ),
    (
        "ReferralService",
        "SupplementReferral",
        "referral supplement",
    ),
    ("ReferralService", "ForwardReferral", "referral forward"),
    ("ReferralService", "ReturnReferral", "referral return"),
    ("ReferralService", "DecideFiling", "referral decide"),
    ("ReferralService", "ListReferrals", "referral list"),
    ("ReferralService", "HandOverItems", "referral hand-over"),
    (
        "ReferralService",
        "RequestReconsideration",
        "referral reconsider",
    ),
    (
        "ReferralService",
        "DecideReconsideration",
        "referral decide-reconsideration",
    ),
    (
        "ReferralService",
        "SuggestSupervision",
        "referral suggest-supervision",
    ),
    (
        "ReferralService",
        "RequestReasons",
        "referral request-reasons",
    ),
    ("ReferralService", "GiveReasons", "referral give-reasons"),
    ("ReferralService", "TellAgency", "referral tell-agency"),
    ("ReferralService", "NotifyFiling", "referral notify-filing"),
    (
        "ReferralService",
        "DemandExplanation",
        "referral demand-explanation",
    ),
    ("ReferralService", "Explain", "referral explain"),
    (
        "ReferralService",
        "RecordNonReferral",
        "referral record-non-referral",
    ),
    (
        "ReferralService",
        "IssueCorrectionNotice",
        "referral correction-notice",
    ),
    (
        "ReferralService",
        "ReportToSuperior",
        "referral report-to-superior",
    ),
    ("ReferralService", "TransferCase", "referral transfer-case"),
    ("ReferralService", "WithdrawCase", "referral withdraw"),
    ("ReferralService", "HandBackReferral", "referral hand-back"),
    ("TransferService", "SendTransfer", "transfer send"),
    ("TransferService", "GetTransfer", "transfer show"),
    ("TransferService", "ListTransfers", "transfer list"),
    ("TransferService", "SignTransferReceipt", "transfer receipt"),
    ("TransferService", "AcceptTransfer", "transfer accept"),
    ("TransferService", "ObjectToTransfer", "transfer object"),
    ("TransferService", "ReportOutcome", "transfer report"),
    ("TransferService", "DeclineTransfer", "transfer decline"),
    (
        "TransferService",
        "ContestDecline",
        "transfer contest-decline",
    ),
    ("TransferService", "SuspendTransfer", "transfer suspend"),
    ("TransferService", "ResumeTransfer", "transfer resume"),
];

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn every_rpc_of_the_contract_has_a_subcommand_that_exists() {
        let pool = prost_reflect::DescriptorPool::decode(casebridge_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        let mut missing = Vec::new();
        for service in pool.services() {
            if service.package_name() != "casebridge.v1" {
                continue;
            }
            for method in service.methods() {
                if !RPC_COMMANDS
                    .iter()
                    .any(|(s, rpc, _)| *s == service.name() && *rpc == method.name())
                {
                    missing.push(format!("{}.{}", service.name(), method.name()));
                }
            }
        }
        assert!(missing.is_empty(), "rpcs without a subcommand: {missing:?}");

        let cli = crate::Cli::command();
        for (service, rpc, path) in RPC_COMMANDS {
            let mut command = &cli;
            for word in path.split(' ') {
                command = command.find_subcommand(word).unwrap_or_else(|| {
                    panic!("{service}.{rpc}: `casebridge {path}` has no subcommand {word:?}")
                });
            }
            assert!(
                pool.get_service_by_name(&format!("casebridge.v1.{service}"))
                    .is_some_and(|s| s.methods().any(|m| m.name() == *rpc)),
                "{service}.{rpc} is not in the contract"
            );
        }
    }
}
