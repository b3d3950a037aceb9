//! The Chinese wording of every refusal rule (issue 15, "fully bilingual").
//!
//! [`RULES_ZH`] is the one list of the rule ids a refusal can name, each with one sentence in the
//! legal register that names its legal source where it has one (the sources and their titles are
//! in `docs/law.md` §5). A test scans the services and the gateway for the rule ids they refuse
//! with, and `deploy/rules.toml` for the deadline rules an extension refusal names, and fails on
//! any id missing here. An id built at run time that is not listed (a local rule table's own
//! rule) gets [`generic_zh`].

/// Every refusal rule id with its Chinese wording, in the order of `docs/law.md`: first the
/// rules of the code itself (state, authorization, input), then the legal rules by family.
pub const RULES_ZH: &[(&str, &str)] = &[
    // State, authorization, directory, input: the rules of CaseBridge itself.
    (
        "STATE",
        "该操作与案件当前的办理状态不符：所指案件或者期限不存在、已经存在，或者当前状态不允许办理此步骤。",
    ),
    (
        "AUTH-ROLE",
        "此步骤应当由法定职责相符的机关办理，本机关的类别无权办理（行政执法机关、公安机关、人民检察院、协调机构、鉴定部门各依其职责办理）。",
    ),
    (
        "AUTH-ADDRESSEE",
        "此步骤应当由案件中承担相应职责的机关办理，本机关不是该步骤的办理机关。",
    ),
    (
        "AUTH-PARTY",
        "本机关不是该案件的当事机关，不得查阅该案件，也不得办理其中的步骤。",
    ),
    (
        "AUTH-OBLIGOR",
        "期限只能由负有该项办理义务的机关申请延长（《市场监督管理行政处罚程序规定》第四十五条）。",
    ),
    (
        "AUTH-CERT",
        "客户端证书未能证明有效的机关身份：须以双向TLS连接，并持有本系统签发、在有效期内且未被吊销的机关证书。",
    ),
    ("AUTHZ", "授权表中没有此步骤的授权规定，不予办理。"),
    (
        "DIR",
        "所涉机关不在机关名录中，或者其类别与此步骤要求的机关类别不符。",
    ),
    (
        "INPUT",
        "请求内容不完整或者格式不符合要求，请按所列字段更正后重新提交。",
    ),
    (
        "IDEMPOTENCY",
        "同一请求编号已用于内容不同的请求；重新提交同一请求应当使用相同内容，提交新请求应当使用新的请求编号。",
    ),
    ("INBOX", "收件箱的查询或者确认参数不符合要求。"),
    ("MONITOR", "期限查询、统计或者报告的查询条件不符合要求。"),
    ("RULES", "期限规则表中没有所指的规则。"),
    (
        "CALENDAR",
        "期限所跨年度的节假日安排无法计算，暂不能办理延长（《全国年节及纪念日放假办法》）。",
    ),
    (
        "EVIDENCE-UNKNOWN",
        "没有与该SHA-256摘要对应的证据文件，请先上传证据文件再引用。",
    ),
    (
        "EVIDENCE-ACCESS",
        "证据文件只能由其上传机关和引用该文件的案件当事机关查阅。",
    ),
    // A. Criminal referral (涉嫌犯罪案件移送).
    (
        "S1-5b",
        "行政执法机关正职负责人或者主持工作的负责人应当自接到报告之日起3日内作出批准移送或者不批准移送的决定（《行政执法机关移送涉嫌犯罪案件的规定》第五条）。",
    ),
    (
        "S1-5n",
        "决定不批准移送的，应当将不予批准的理由记录在案（《行政执法机关移送涉嫌犯罪案件的规定》第五条）。",
    ),
    (
        "S1-5c",
        "决定批准移送的，应当在24小时内向同级公安机关移送（《行政执法机关移送涉嫌犯罪案件的规定》第五条）。",
    ),
    (
        "S1-6",
        "移送涉嫌犯罪案件应当附有涉嫌犯罪案件移送书、涉嫌犯罪案件情况的调查报告、涉案物品清单，以及有关检验报告或者鉴定意见等材料（《行政执法机关移送涉嫌犯罪案件的规定》第六条）。",
    ),
    (
        "CC",
        "移送涉嫌犯罪案件应当同时抄送同级人民检察院，由人民检察院依法实施立案监督（《环境保护行政执法与刑事司法衔接工作办法》等衔接规定）。",
    ),
    (
        "RCPT",
        "公安机关对行政执法机关移送的涉嫌犯罪案件，应当在涉嫌犯罪案件移送书的回执上签字（《行政执法机关移送涉嫌犯罪案件的规定》第七条）。",
    ),
    (
        "S1-7",
        "公安机关认为案件不属于本机关管辖的，应当在24小时内转送有管辖权的机关，并书面告知移送案件的行政执法机关（《行政执法机关移送涉嫌犯罪案件的规定》第七条）。",
    ),
    (
        "P180-3",
        "公安机关认为案件不属于公安机关职责范围的，应当书面告知移送案件的行政执法机关并说明理由（《公安机关办理刑事案件程序规定》第一百八十条）。",
    ),
    (
        "P180-2a",
        "移送材料不全的，公安机关应当在接受案件后24小时内书面告知移送机关补正，但不得以材料不全为由不接受移送案件（《公安机关办理刑事案件程序规定》第一百八十条）。",
    ),
    (
        "P180-2b",
        "移送机关应当自接到补正通知之日起3日内补正移送材料（《公安机关办理刑事案件程序规定》第一百八十条）。",
    ),
    (
        "S1-8",
        "公安机关应当自接受行政执法机关移送的涉嫌犯罪案件之日起3日内进行审查，作出立案或者不予立案的决定（《行政执法机关移送涉嫌犯罪案件的规定》第八条）；等待补正材料期间，审查期限不停止计算。",
    ),
    (
        "EXT",
        "公安机关延长审查期限的，应当经依法批准并载明批准文书（公通字〔2015〕32号；《公安机关办理经济犯罪案件的若干规定》第十六条）。",
    ),
    (
        "S1-12",
        "公安机关立案后，行政执法机关应当自接到立案通知书之日起3日内将涉案物品以及与案件有关的其他材料移交公安机关，并办结交接手续（《行政执法机关移送涉嫌犯罪案件的规定》第十二条）。",
    ),
    (
        "S1-9a",
        "行政执法机关对公安机关不予立案的决定有异议的，可以自接到不予立案通知书之日起3日内提请作出决定的公安机关复议（《行政执法机关移送涉嫌犯罪案件的规定》第九条）；已经作出复议决定的，不再复议，可以建议人民检察院立案监督。",
    ),
    (
        "S1-9b",
        "作出不予立案决定的公安机关应当自收到复议申请之日起3日内作出复议决定，并书面通知提请复议的行政执法机关（《行政执法机关移送涉嫌犯罪案件的规定》第九条）。",
    ),
    (
        "S1-9c",
        "行政执法机关对公安机关不予立案的复议决定仍有异议的，应当自收到复议决定通知书之日起3日内建议人民检察院依法进行立案监督（《行政执法机关移送涉嫌犯罪案件的规定》第九条）。",
    ),
    (
        "P184",
        "公安机关立案后将案件移交其他机关的，应当在3日内告知移送案件的行政执法机关（《公安机关办理刑事案件程序规定》第一百八十四条）。",
    ),
    (
        "P189",
        "公安机关决定撤销案件的，应当在作出决定之日起3日内告知移送案件的行政执法机关（《公安机关办理刑事案件程序规定》第一百八十九条）。",
    ),
    (
        "S1-13",
        "公安机关认为没有犯罪事实或者不需要追究刑事责任，但依法应当追究行政责任的，应当及时将案件移送同级行政执法机关（《行政执法机关移送涉嫌犯罪案件的规定》第十三条）。",
    ),
    (
        "R560",
        "人民检察院要求公安机关说明不立案理由的，公安机关应当在7日以内书面说明（《人民检察院刑事诉讼规则》第五百六十条）。",
    ),
    (
        "R561",
        "人民检察院认为公安机关不立案理由成立的，应当在10日以内将审查结论通知提请立案监督的行政执法机关（《人民检察院刑事诉讼规则》第五百六十一条）。",
    ),
    (
        "R562",
        "公安机关在审查期限届满后既未立案也未作出不立案决定的，人民检察院可以要求其在7日以内书面说明理由（《人民检察院刑事诉讼规则》第五百六十二条）；审查期限届满前不得提出该要求，已经要求而尚未说明的不得重复要求。",
    ),
    (
        "R562-0",
        "公安机关的审查期限（含依法延长的期限）届满后，方可记录期限届满并要求说明理由（《人民检察院刑事诉讼规则》第五百六十二条）。",
    ),
    (
        "R563",
        "人民检察院通知公安机关立案的，公安机关应当在收到通知后15日以内立案（《人民检察院刑事诉讼规则》第五百六十三条）。",
    ),
    (
        "R564",
        "公安机关收到通知立案书后超过15日不予立案的，人民检察院应当发出纠正违法通知书；公安机关仍不纠正的，报上一级人民检察院（《人民检察院刑事诉讼规则》第五百六十四条）。",
    ),
    // F. Case transfer (行政执法案件移送).
    (
        "F1",
        "移送案件应当将案件材料、证据以及受移送机关具有管辖权的理由一并移送（《市场监督管理行政处罚程序规定》第十四条、第十七条）。",
    ),
    (
        "RCPT-F",
        "受移送机关应当签收移送的案件并出具回执，逾1个工作日未签收的予以提示。",
    ),
    (
        "RCPT-FU",
        "紧急移送的案件，受移送机关应当立即办理（香格里拉市司法局《关于进一步加强行政执法工作的通知》）。",
    ),
    (
        "SAMR-18",
        "受移送机关应当自收到案件材料之日起15个工作日内决定是否立案，检测、检验、检疫、鉴定以及权利人辨认或者鉴别的期间不计入（《市场监督管理行政处罚程序规定》第十八条）；只有本机关作为当事机关的案件，才能因本机关提出的认定、检验、鉴定请求而停止计算期限。",
    ),
    (
        "F2",
        "受移送机关对管辖权有异议的，应当报请共同的上一级机关指定管辖，不得再自行移送（《市场监督管理行政处罚程序规定》第十四条）。",
    ),
    (
        "F3",
        "移送机关对受移送机关不予立案的决定有异议的，可以提请执法争议协调（《中华人民共和国行政处罚法》第二十五条）。",
    ),
    (
        "F4",
        "中止案件调查应当载明理由并附审批文书，中止原因消除后应当恢复调查（海曙区司法局《关于做好新冠肺炎疫中疫后行政执法工作的通知》）。",
    ),
    (
        "APL-60",
        "行政机关应当自行政处罚案件立案之日起90日内作出处理决定，并向移送机关反馈办理情况（《中华人民共和国行政处罚法》第六十条、《市场监督管理行政处罚程序规定》第六十四条）。",
    ),
    // G. Jurisdiction dispute (管辖争议).
    (
        "G1",
        "对管辖发生争议的，应当协商解决；协商不成的，报请共同的上一级行政机关指定管辖（《中华人民共和国行政处罚法》第二十五条）。",
    ),
    (
        "SAMR-13",
        "因管辖权发生争议的，双方应当自发生争议之日起7个工作日内协商解决（《市场监督管理行政处罚程序规定》第十三条）。",
    ),
    (
        "G2",
        "协商不成的，应当报请共同的上一级行政机关或者执法争议协调机构指定管辖（《中华人民共和国行政处罚法》第二十五条）。",
    ),
    (
        "LOC-ACC",
        "执法争议协调机构应当在3个工作日内受理协调申请（地方行政执法争议协调办法）。",
    ),
    (
        "LOC-REPLY",
        "争议另一方应当在7个工作日内陈述意见（地方行政执法争议协调办法）。",
    ),
    (
        "SAMR-16",
        "上级机关应当自收到报送材料之日起7个工作日内指定管辖（《市场监督管理行政处罚程序规定》第十六条）；指定管辖对各方具有约束力，被指定的机关不得再提出异议或者不予立案，就移送发生的管辖争议只能在移送机关和受移送机关之间提出。",
    ),
    (
        "S3 Art 25",
        "管辖发生争议的，报请共同的上一级行政机关指定管辖（《中华人民共和国行政处罚法》第二十五条）；只有对争议各方负有协调职责的机关可以指定管辖。",
    ),
    // H. Expert-opinion requests (认定、检验、鉴定).
    (
        "H1",
        "请求认定、检验、鉴定应当载明需要解决的问题并附有关材料（《中华人民共和国行政处罚法》第二十六条）。",
    ),
    (
        "SJ-13",
        "鉴定机构应当自收到委托之日起7个工作日内作出是否受理的决定，不予受理的应当说明理由（《司法鉴定程序通则》第十三条）。",
    ),
    (
        "SJ-28p",
        "补充鉴定材料所需的时间不计入鉴定时限（《司法鉴定程序通则》第二十八条）。",
    ),
    (
        "SAMR-45x",
        "不能按期出具意见或者办结的，应当在期限届满前告知延长的理由和期限（《市场监督管理行政处罚程序规定》第四十五条）；期限届满后不得再申请延长。",
    ),
    (
        "SAMR-45",
        "有关部门应当自收到协助调查函之日起15个工作日内出具书面意见（《市场监督管理行政处罚程序规定》第四十五条）。",
    ),
    (
        "SJ-28",
        "鉴定机构应当自鉴定委托书生效之日起30个工作日内完成鉴定（《司法鉴定程序通则》第二十八条）。",
    ),
    (
        "H-CONCLUSION",
        "认定、检验、鉴定意见应当作出明确结论，不得以对现状的描述代替结论（香格里拉市司法局《关于进一步加强行政执法工作的通知》）。",
    ),
    // I. Penalty cases and the early warning (移送预警).
    (
        "WARN-HIT",
        "只有经筛查达到涉嫌犯罪数额或者情形标准的行政处罚案件，才发出移送预警（《行政执法机关移送涉嫌犯罪案件的规定》第三条）。",
    ),
    (
        "WARN-TO",
        "移送预警应当发送执法机关所在地的同级人民检察院；机关名录中没有该地区的人民检察院的，不能发出预警。",
    ),
    (
        "WARN-RAISE",
        "执法机关收到预警提示后，在规定期间内仍未移送的，方可向人民检察院发出移送预警（该期间为可配置的设置）。",
    ),
    (
        "WARN-CLEAR",
        "更正后的案件信息仍达到移送标准的，不能撤销预警；预警已发送人民检察院的，由人民检察院决定是否结束。",
    ),
    (
        "WARN-ANSWER",
        "人民检察院提出移送意见的，行政执法机关应当在规定期间内移送，或者书面说明不移送的理由（高检发释字〔2001〕4号第十二条；该期间为可配置的设置）。",
    ),
    (
        "WARN-LINK",
        "所称移送案件或者不移送记录，应当是本机关移送或者记录的涉嫌犯罪案件。",
    ),
    (
        "WARN-RESCREEN",
        "阈值表调整后，只有重新筛查的结果发生变化的，才记录重新筛查；已移送或者预警已办结的案件不再重新筛查。",
    ),
    (
        "WARN-MISS",
        "人民检察院提出检察意见后，执法机关的答复期限届满前，不得记录逾期（《人民检察院办理行政执法机关移送涉嫌犯罪案件的规定》第十二条）。",
    ),
    // I. Leads between agencies (线索互告).
    (
        "LEAD-LINK",
        "线索处理结果所称的行政执法案件移送，应当是本机关作为移送或者接收机关的案件；所称涉嫌犯罪案件移送，应当是本机关移送的案件（执法线索互告、结果互通）。",
    ),
    // J. Rectification requests (整改通知 / 整改报告).
    (
        "RECT-WHO",
        "督促行政执法机关整改的，应当是司法行政机关（行政执法监督）、人民检察院或者该机关的上级机关；公安机关及其他机关不得发出整改通知。",
    ),
    (
        "RECT-CASE",
        "整改通知所称的案件，应当是本机关作为当事方、可以查阅的案件。",
    ),
    (
        "RECT-REPORT",
        "被督促整改的机关应当在规定期间内报送整改报告（该期间为可配置的设置）；同一期整改报告已记录逾期的，不再重复记录。",
    ),
];

/// The Chinese wording of rule `rule`, when [`RULES_ZH`] lists it.
pub fn rule_text_zh(rule: &str) -> Option<&'static str> {
    RULES_ZH
        .iter()
        .find(|(id, _)| *id == rule)
        .map(|(_, zh)| *zh)
}

/// A refusal by `rule` in Chinese: the specifics of the English `message` where their shape is
/// known ([`specifics_zh`]), the rule's wording ([`rule_text_zh`], or [`generic_zh`]), then the
/// field (its path, `documents[2].title`) and the rule id in brackets.
pub fn message_zh(rule: &str, field: Option<&str>, message: &str) -> String {
    let wording = rule_text_zh(rule).map_or_else(|| generic_zh(rule), str::to_owned);
    let specifics = specifics_zh(message).unwrap_or_default();
    match field {
        Some(field) => format!("{specifics}{wording}（字段：{field}；规则 {rule}）"),
        None => format!("{specifics}{wording}（规则 {rule}）"),
    }
}

/// The wording for a rule [`RULES_ZH`] does not list (a local rule table's own deadline rule):
/// a generic sentence that names the rule.
pub fn generic_zh(rule: &str) -> String {
    format!("依照规则 {rule}，该请求不予办理。")
}

/// The Chinese name of a case status (the wire's `snake_case` name), as the console shows it.
pub fn status_zh(status: &str) -> Option<&'static str> {
    STATUS_ZH
        .iter()
        .find(|(name, _)| *name == status)
        .map(|(_, zh)| *zh)
}

/// Case statuses of every family and their Chinese names (the console's table, plus
/// `not_referred` and the early warning's statuses).
const STATUS_ZH: &[(&str, &str)] = &[
    ("submitted", "已移送"),
    ("sent", "已发出"),
    ("received", "已签收"),
    ("awaiting_supplement", "待补充材料"),
    ("filed", "已立案"),
    ("declined", "不予立案"),
    ("returned_not_police_matter", "已退回（不属公安管辖）"),
    ("reconsideration_requested", "已申请复议"),
    ("supervision_suggested", "已建议立案监督"),
    ("reasons_requested", "已要求说明不立案理由"),
    ("reasons_given", "已说明理由"),
    ("supervision_closed", "立案监督结束"),
    ("filing_notified", "已通知立案"),
    ("transferred_elsewhere", "已移送其他机关"),
    ("withdrawn", "已撤案"),
    ("handed_back", "已反向移送"),
    ("not_referred", "不予移送（已记录在案）"),
    ("accepted", "已受理"),
    ("objected", "有管辖异议"),
    ("outcome_reported", "已反馈办理情况"),
    ("decline_contested", "对不予立案有异议"),
    ("suspended", "已中止"),
    ("negotiating", "协商中"),
    ("agreed", "协商一致"),
    ("referred", "已提请协调"),
    ("replied", "已答复"),
    ("designated", "已指定管辖"),
    ("requested", "已申请"),
    ("refused", "已拒绝"),
    ("awaiting_material", "待补充材料"),
    ("delivered", "已出具意见"),
    ("agency_warned", "已提示执法机关"),
    ("warning_raised", "已发出移送预警"),
    ("referral_suggested", "已提出检察意见（建议移送）"),
    ("answer_overdue", "逾期未答复"),
    ("referral_linked", "已移送"),
    ("non_referral_explained", "已书面说明不移送理由"),
    ("warning_closed", "检察机关已结束预警"),
    ("warning_cleared", "更正或阈值表调整后未达移送标准"),
    ("acknowledged", "已签收线索"),
    ("answered", "已反馈处理结果"),
    ("reported", "已报送整改报告"),
    ("returned", "已退回重新整改"),
];

/// The specifics an English refusal message carries, in Chinese, where its shape is known: the
/// status a step is refused in and the statuses that allow it (`STATE`), the missing document
/// (`S1-6`, `F1`, `S1-12`). `None` for any other message.
pub fn specifics_zh(message: &str) -> Option<String> {
    wrong_state_zh(message).or_else(|| missing_document_zh(message))
}

/// "step {step} is not allowed while the case is {status}; it is allowed when {a} or {b}".
fn wrong_state_zh(message: &str) -> Option<String> {
    let rest = message.strip_prefix("step ")?;
    let (step, rest) = rest.split_once(" is not allowed while the case is ")?;
    let (status, allowed) = rest.split_once("; it is allowed when ")?;
    let allowed: Vec<String> = allowed.split(" or ").map(quoted_status).collect();
    Some(format!(
        "案件当前状态为{}，步骤 {step} 仅在案件状态为{}时可以办理。",
        quoted_status(status),
        allowed.join("或者")
    ))
}

/// "no {kind} ({label_zh}) [, {kind} ({label_zh})…and {kind} ({label_zh})] is included, which
/// {rule} requires here": every missing document by its Chinese name.
fn missing_document_zh(message: &str) -> Option<String> {
    let rest = message.strip_prefix("no ")?;
    let (list, rest) = rest.split_once(" is included")?;
    if !rest.starts_with(", which ") {
        return None;
    }
    let labels: Vec<&str> = list
        .split(" (")
        .skip(1)
        .filter_map(|part| part.split_once(')').map(|(label, _)| label))
        .collect();
    (!labels.is_empty()).then(|| format!("未附{}。", labels.join("、")))
}

/// A status in corner brackets: its Chinese name, or the wire name when it has none.
fn quoted_status(status: &str) -> String {
    format!("「{}」", status_zh(status).unwrap_or(status))
}
