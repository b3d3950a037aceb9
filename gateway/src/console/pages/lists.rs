//! Case lists: one family's cases a page at a time, with who sent each, when it arrived, what
//! the viewer owes on it and by when, and its summary; next and previous links walk the pages.

use std::collections::HashMap;

use casebridge_core::notice::Family;
use casebridge_proto::v1 as pb;
use casebridge_proto::v1::dispute_service_server::DisputeService as _;
use casebridge_proto::v1::lead_service_server::LeadService as _;
use casebridge_proto::v1::monitor_service_server::MonitorService as _;
use casebridge_proto::v1::opinion_service_server::OpinionService as _;
use casebridge_proto::v1::penalty_service_server::PenaltyService as _;
use casebridge_proto::v1::rectification_service_server::RectificationService as _;
use casebridge_proto::v1::referral_service_server::ReferralService as _;
use casebridge_proto::v1::transfer_service_server::TransferService as _;
use serde::Deserialize;

use super::parts::{Look, status_text};
use crate::console::html::{self, Lang, Markup, markup, notice};
use crate::console::viewer::Viewer;

/// The desk a case of `family` is worked at.
pub(super) fn desk_of(family: Family) -> &'static str {
    match family {
        Family::Referral => "/referrals",
        Family::Transfer => "/transfers",
        Family::Dispute => "/disputes",
        Family::Opinion => "/opinions",
        Family::Penalty => "/warnings",
        // Leads have no desk of their own yet: their link opens the case's timeline.
        Family::Lead => "/cases",
        // Nor have rectification requests: their link opens the case's timeline.
        Family::Rectification => "/cases",
    }
}

/// A list's query: the filters and where in the pages the viewer is.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ListParams {
    /// A status in snake_case; empty for any.
    #[serde(default)]
    pub(super) status: String,
    /// A role (`sender`, `recipient`, …); empty for any.
    #[serde(default)]
    pub(super) role: String,
    /// On `/cases`: one family; empty for all four.
    #[serde(default)]
    pub(super) family: String,
    /// The page's token; empty for the first page.
    #[serde(default)]
    pub(super) page: String,
    /// The tokens of the pages before this one, oldest first, comma-separated (`start` for the
    /// first page), so that "previous" can walk back.
    #[serde(default)]
    pub(super) trail: String,
}

/// The first page's entry in a trail.
const START: &str = "start";

/// How many cases a page of a list shows.
pub(super) const PAGE_SIZE: u32 = 50;

impl ListParams {
    pub(super) fn role(&self) -> pb::PartyRole {
        pb::PartyRole::from_str_name(&format!("PARTY_ROLE_{}", self.role.to_ascii_uppercase()))
            .unwrap_or(pb::PartyRole::Unspecified)
    }

    /// The listing request for this page.
    pub(super) fn request(&self) -> pb::ListCasesRequest {
        pb::ListCasesRequest {
            status: self.status.trim().to_owned(),
            role: self.role() as i32,
            page_size: PAGE_SIZE,
            page_token: self.page.clone(),
        }
    }

    fn trail(&self) -> Vec<&str> {
        self.trail.split(',').filter(|t| !t.is_empty()).collect()
    }

    /// The link to this list with `page` and `trail` changed.
    fn link(&self, path: &str, page: &str, trail: &[&str]) -> String {
        let mut query = Vec::new();
        for (key, value) in [
            ("family", self.family.as_str()),
            ("status", self.status.as_str()),
            ("role", self.role.as_str()),
            ("page", page),
        ] {
            if !value.is_empty() {
                query.push(format!("{key}={}", html::url_value(value)));
            }
        }
        if !trail.is_empty() {
            query.push(format!("trail={}", html::url_value(&trail.join(","))));
        }
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", query.join("&"))
        }
    }

    /// The previous, first and next links of a page whose listing gave `next`.
    pub(super) fn pager(&self, lang: Lang, path: &str, next: &str) -> Markup {
        let trail = self.trail();
        let mut links = Vec::new();
        if let Some((last, before)) = trail.split_last() {
            let previous = if *last == START { "" } else { last };
            links.push(markup!(
                "<a id=\"first-page\" href=\"{}\">{}</a>",
                self.link(path, "", &[]),
                lang.t("第一页", "First page")
            ));
            links.push(markup!(
                "<a id=\"previous-page\" href=\"{}\">{}</a>",
                self.link(path, previous, before),
                lang.t("上一页", "Previous page")
            ));
        }
        if !next.is_empty() {
            let here = if self.page.is_empty() {
                START
            } else {
                &self.page
            };
            let mut forward = trail.clone();
            forward.push(here);
            links.push(markup!(
                "<a id=\"next-page\" href=\"{}\">{}</a>",
                self.link(path, next, &forward),
                lang.t("下一页", "Next page")
            ));
        }
        if links.is_empty() {
            return Markup::new();
        }
        let number = trail.len() + 1;
        let mut out = markup!(
            "<p class=\"pager\"><span class=\"muted\">{}</span> ",
            match lang {
                Lang::Zh => format!("第 {number} 页"),
                Lang::En => format!("Page {number}"),
            }
        );
        for link in links {
            out.push(link);
            out.push(markup!(" "));
        }
        out.push(markup!("</p>"));
        out
    }
}

/// One page of the viewer's cases of `family`.
pub(super) async fn list_family(
    viewer: &Viewer,
    family: Family,
    request: pb::ListCasesRequest,
) -> Result<pb::ListCasesResponse, tonic::Status> {
    let state = &viewer.state;
    let request = viewer.request(request);
    let listed = match family {
        Family::Referral => state.referrals.list_referrals(request).await,
        Family::Transfer => state.transfers.list_transfers(request).await,
        Family::Dispute => state.disputes.list_disputes(request).await,
        Family::Opinion => state.opinions.list_opinions(request).await,
        Family::Penalty => state.penalties.list_penalty_records(request).await,
        Family::Lead => state.leads.list_leads(request).await,
        Family::Rectification => state.rectifications.list_rectifications(request).await,
    };
    listed.map(tonic::Response::into_inner)
}

/// When the viewer's agency is due to act on each of its cases of `family`: the earliest due
/// time of what it owes on the case. Empty when the deadlines cannot be read: a list without
/// its due times is still worth showing.
pub(super) async fn due_times(
    viewer: &Viewer,
    family: Family,
) -> HashMap<String, prost_types::Timestamp> {
    let mut due: HashMap<String, prost_types::Timestamp> = HashMap::new();
    let mut page_token = String::new();
    // At most 10 pages of 500: a desk with more open steps than that shows the rest undated.
    for _ in 0..10 {
        let request = pb::ListObligationsRequest {
            view: pb::ObligationView::Open as i32,
            agency: viewer.agency.code.to_string(),
            family: family.as_str().to_owned(),
            page_size: 500,
            page_token: std::mem::take(&mut page_token),
            ..Default::default()
        };
        let Ok(page) = viewer
            .state
            .monitor
            .list_obligations(viewer.request(request))
            .await
        else {
            break;
        };
        let page = page.into_inner();
        for o in page.obligations {
            let Some(at) = o.due_at else { continue };
            due.entry(o.case_id)
                .and_modify(|d| {
                    if at.seconds < d.seconds {
                        *d = at;
                    }
                })
                .or_insert(at);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    due
}

/// A page of cases as a table, each row linking to `base/<id>`; `due` holds the viewer's due
/// times by case, `now` tells which are past.
pub(super) fn cases_table(
    look: &Look,
    cases: &[pb::CaseSummary],
    base: &str,
    due: &HashMap<String, prost_types::Timestamp>,
    now: i64,
) -> Markup {
    let lang = look.lang;
    if cases.is_empty() {
        return markup!("<p class=\"muted\">{}</p>", lang.t("暂无。", "None."));
    }
    let mut out = markup!(
        "<table class=\"cases\"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.t("案件", "Case"),
        lang.t("状态", "Status"),
        lang.t("发起机关", "From"),
        lang.t("收到时间", "Received"),
        lang.t("本机关办理期限", "Our due time"),
        lang.t("概要", "Summary"),
        lang.t("最近更新", "Last step"),
    );
    for c in cases {
        let due_cell = match due.get(&c.case_id) {
            Some(at) if at.seconds <= now => markup!(
                "<span class=\"overdue\">{} ({})</span>",
                html::time(Some(at)),
                lang.t("已逾期", "overdue")
            ),
            Some(at) => Markup::text(&html::time(Some(at))),
            None => Markup::text("—"),
        };
        markup_into!(
            out,
            "<tr data-case=\"{id}\"><td><a class=\"case\" href=\"{base}/{id}\">{headline}</a><br><span class=\"mono muted\">{id}</span></td><td class=\"status\">{status}</td><td class=\"sender\">{sender}</td><td>{opened}</td><td class=\"due\">{due}</td><td class=\"summary\">{summary}</td><td>{at}</td></tr>",
            base = base,
            id = c.case_id,
            headline = c.headline,
            status = html::status(lang, &c.status),
            sender = look.agency_name(&c.opened_by),
            opened = html::time(c.opened_at.as_ref()),
            due = due_cell,
            summary = c.summary,
            at = html::time(c.updated_at.as_ref()),
        );
    }
    out.push(markup!("</table>"));
    out
}

/// A listing's page with its pager, or the refusal.
pub(super) async fn family_page(
    viewer: &Viewer,
    family: Family,
    params: &ListParams,
    path: &str,
) -> Markup {
    let look = Look::of(viewer);
    match list_family(viewer, family, params.request()).await {
        Ok(page) => {
            let due = due_times(viewer, family).await;
            let now = viewer.state.ctx.clock.now().as_millis() / 1000;
            let mut out = cases_table(&look, &page.cases, desk_of(family), &due, now);
            out.push(params.pager(look.lang, path, &page.next_page_token));
            out
        }
        Err(status) => notice("error", &status_text(look.lang, &status)),
    }
}

/// Tabs that filter a desk's list by the viewer's role: each is a role name (empty for any)
/// and its label.
pub(super) fn role_tabs(
    lang: Lang,
    path: &str,
    current: &str,
    tabs: &[(&str, &str, &str)],
) -> Markup {
    let mut out = markup!("<p class=\"tabs\">");
    for (role, zh, en) in tabs {
        let href = if role.is_empty() {
            format!("{path}?role=any")
        } else {
            format!("{path}?role={role}")
        };
        let class = if *role == current || (role.is_empty() && current == "any") {
            markup!(" class=\"current\"")
        } else {
            Markup::new()
        };
        markup_into!(
            out,
            "<a href=\"{}\"{} data-role=\"{}\">{}</a> ",
            href,
            class,
            role,
            lang.t(zh, en)
        );
    }
    out.push(markup!("</p>"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_walks_forward_and_back_through_the_trail() {
        let first = ListParams::default();
        let pager = first.pager(Lang::En, "/transfers", "t1");
        assert!(
            pager
                .as_str()
                .contains("href=\"/transfers?page=t1&amp;trail=start\""),
            "{pager}"
        );
        assert!(!pager.as_str().contains("previous-page"));
        let second = ListParams {
            page: "t1".into(),
            trail: "start".into(),
            ..ListParams::default()
        };
        let pager = second.pager(Lang::En, "/transfers", "t2");
        let pager = pager.as_str();
        assert!(
            pager.contains("id=\"previous-page\" href=\"/transfers\""),
            "{pager}"
        );
        assert!(
            pager.contains("href=\"/transfers?page=t2&amp;trail=start%2Ct1\""),
            "{pager}"
        );
        assert!(pager.contains("Page 2"), "{pager}");
        let third = ListParams {
            page: "t2".into(),
            trail: "start,t1".into(),
            role: "recipient".into(),
            ..ListParams::default()
        };
        let pager = third.pager(Lang::Zh, "/transfers", "");
        let pager = pager.as_str();
        assert!(
            pager.contains("href=\"/transfers?role=recipient&amp;page=t1&amp;trail=start\""),
            "{pager}"
        );
        assert!(!pager.contains("next-page"), "the last page: {pager}");
        assert!(pager.contains("第 3 页"), "{pager}");
    }

    #[test]
    fn a_role_name_maps_to_the_wire_role() {
        let params = |role: &str| ListParams {
            role: role.into(),
            ..ListParams::default()
        };
        assert_eq!(params("recipient").role(), pb::PartyRole::Recipient);
        assert_eq!(params("procuratorate").role(), pb::PartyRole::Procuratorate);
        assert_eq!(params("any").role(), pb::PartyRole::Unspecified);
        assert_eq!(params("").role(), pb::PartyRole::Unspecified);
    }
}
