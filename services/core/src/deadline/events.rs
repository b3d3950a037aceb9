//! The events that start, stop and close deadlines, named in Chinese for the ledger's Chinese
//! lines (an event's code, `referral.receipt_signed`, is what the rule table and the bus say).

/// The Chinese name of a family event, e.g. `referral.receipt_signed` → 签收回执; `None` for an
/// event this table does not know (the ledger then shows the code).
pub fn event_zh(event: &str) -> Option<&'static str> {
    let (family, name) = event.split_once('.')?;
    Some(match (family, name) {
        ("referral", "submitted") => "移送涉嫌犯罪案件",
        ("referral", "receipt_signed") => "签收回执",
        ("referral", "supplement_requested") => "要求补充材料",
        ("referral", "supplemented") => "补充材料",
        ("referral", "forwarded") => "转送",
        ("referral", "returned_not_police_matter") => "退回（不属公安管辖）",
        ("referral", "filed") => "立案",
        ("referral", "declined") => "不予立案",
        ("referral", "items_handed_over") => "移交涉案物品",
        ("referral", "reconsideration_requested") => "申请复议",
        ("referral", "reconsideration_decided") => "作出复议决定",
        ("referral", "supervision_suggested") => "建议立案监督",
        ("referral", "reasons_requested") => "要求说明不立案理由",
        ("referral", "reasons_given") => "说明不立案理由",
        ("referral", "agency_told") => "告知移送机关",
        ("referral", "filing_notified") => "通知立案",
        ("referral", "review_overdue") => "审查期限届满",
        ("referral", "explanation_demanded") => "要求说明",
        ("referral", "explanation_given") => "作出说明",
        ("referral", "correction_notice_issued") => "发出纠正违法通知书",
        ("referral", "reported_to_superior") => "报上一级人民检察院",
        ("referral", "case_transferred") => "移送其他机关",
        ("referral", "case_withdrawn") => "撤案",
        ("referral", "handed_back") => "反向移送",
        ("referral", "not_referred_recorded") => "记录不移送决定",
        ("transfer", "sent") => "移送案件",
        ("transfer", "receipt_signed") => "签收回执",
        ("transfer", "accepted") => "立案",
        ("transfer", "objected") => "提出管辖异议",
        ("transfer", "outcome_reported") => "反馈办理情况",
        ("transfer", "declined") => "不予立案",
        ("transfer", "decline_contested") => "对不予立案提出异议",
        ("transfer", "suspended") => "中止",
        ("transfer", "resumed") => "恢复",
        ("transfer", "restarted") => "重新移送",
        ("dispute", "raised") => "提出管辖争议",
        ("dispute", "minutes_agreed") => "协商一致",
        ("dispute", "referred") => "提请协调",
        ("dispute", "accepted") => "受理争议",
        ("dispute", "replied") => "答复",
        ("dispute", "designated") => "指定管辖",
        ("opinion", "requested") => "委托认定、检验或鉴定",
        ("opinion", "accepted") => "受理委托",
        ("opinion", "refused") => "不予受理",
        ("opinion", "material_requested") => "要求补充材料",
        ("opinion", "material_supplied") => "补充材料",
        ("opinion", "extended") => "延长期限",
        ("opinion", "delivered") => "出具意见",
        ("penalty", "recorded") => "录入行政处罚案件信息",
        ("penalty", "corrected") => "更正行政处罚案件信息",
        ("penalty", "agency_warned") => "提示执法机关（达到刑事追诉标准）",
        ("penalty", "cleared") => "更正或阈值表调整后未达移送标准",
        ("penalty", "rescreened") => "阈值表调整后重新筛查",
        ("penalty", "raised") => "发出移送预警",
        ("penalty", "referral_suggested") => "提出检察意见（建议移送）",
        ("penalty", "closed") => "结束预警",
        ("penalty", "referral_linked") => "移送涉嫌犯罪案件",
        ("penalty", "non_referral_explained") => "书面说明不移送理由",
        ("penalty", "escalated") => "逾期未答复检察意见",
        ("lead", "sent") => "告知执法线索",
        ("lead", "acknowledged") => "签收线索",
        ("lead", "answered") => "反馈线索处理结果",
        ("rectification", "requested") => "督促整改",
        ("rectification", "reported") => "报送整改报告",
        ("rectification", "accepted") => "复查合格",
        ("rectification", "returned") => "复查不合格，退回重新整改",
        ("rectification", "report_overdue") => "整改报告逾期",
        _ => return None,
    })
}

/// An event as a Chinese line names it: its Chinese name in 「」, or its code.
pub fn event_in_chinese(event: &str) -> String {
    event_zh(event).map_or_else(|| event.to_owned(), |zh| format!("「{zh}」"))
}

/// A family's name in Chinese.
fn family_zh(family: &str) -> &str {
    match family {
        "referral" => "涉嫌犯罪案件移送",
        "transfer" => "行政执法案件移送",
        "dispute" => "管辖争议",
        "opinion" => "认定、检验、鉴定委托",
        "penalty" => "行政处罚案件信息（移送预警）",
        "lead" => "执法线索互告",
        "rectification" => "整改通知",
        other => other,
    }
}

/// Why a clock stopped, in Chinese: the event (`transfer.suspended`), or an event of another
/// case (`opinion.requested (opinion <id>)`), as the deadlines service records it.
pub fn pause_reason_zh(why: &str) -> String {
    match why.split_once(' ') {
        None => event_in_chinese(why),
        Some((event, rest)) => {
            let rest = rest.trim_matches(|c| c == '(' || c == ')');
            match rest.split_once(' ') {
                Some((family, id)) => {
                    format!(
                        "{}（{} {}）",
                        event_in_chinese(event),
                        family_zh(family),
                        id
                    )
                }
                None => format!("{}（{}）", event_in_chinese(event), rest),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event the shipped rule table names, as trigger, closer or pause, has its name.
    #[test]
    fn every_event_of_the_shipped_rules_has_a_chinese_name() {
        let rules = include_str!("../../../../deploy/rules.toml");
        let mut missing = Vec::new();
        for quoted in rules.split('"').skip(1).step_by(2) {
            let is_event = quoted.split_once('.').is_some_and(|(f, n)| {
                [
                    "referral",
                    "transfer",
                    "dispute",
                    "opinion",
                    "rectification",
                ]
                .contains(&f)
                    && !n.is_empty()
                    && n.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
            if is_event && event_zh(quoted).is_none() {
                missing.push(quoted);
            }
        }
        assert!(missing.is_empty(), "no Chinese name for {missing:?}");
        assert_eq!(event_in_chinese("referral.filed"), "「立案」");
        assert_eq!(event_in_chinese("referral.new_event"), "referral.new_event");
        assert_eq!(pause_reason_zh("transfer.suspended"), "「中止」");
        assert_eq!(
            pause_reason_zh("opinion.requested (opinion 01a2)"),
            "「委托认定、检验或鉴定」（认定、检验、鉴定委托 01a2）"
        );
    }
}
