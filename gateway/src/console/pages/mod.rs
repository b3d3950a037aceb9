//! The console's pages and forms. Each page asks the gateway's endpoints as the signed-in
//! agency and writes what they answer; each form takes one step and comes back to its page,
//! with the refusal (which names its rule) when the step was refused.
//!
//! One file per part of the console: [`signin`] (certificates, demo links, the language),
//! [`board`] (the overdue board), [`cases`] (every family's cases and a case's timeline),
//! [`lists`] (paged case lists), [`desk`] (the case desk that every family's desk fills in),
//! [`forms`] (the steps' forms: kept on refusal, confirmed when final), the desks
//! [`referrals`] (police, and the procuratorate's supervision), [`transfers`], [`disputes`] and
//! [`opinions`] and [`warnings`] (移送预警: penalty records that met a threshold), and [`stats`] (statistics and reports). What they share is in [`parts`]. Every
//! page is built as [`Markup`](super::html::Markup), so text from a case reaches the browser
//! only escaped.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::viewer::State;
use disputes::DisputeDesk;
use opinions::OpinionDesk;
use referrals::ReferralDesk;
use transfers::TransferDesk;
use warnings::WarningDesk;

/// `markup!` appended to `out`.
macro_rules! markup_into {
    ($out:expr, $($template:tt)+) => {
        $out.push(markup!($($template)+))
    };
}

mod board;
mod cases;
mod desk;
mod disputes;
mod forms;
mod lists;
mod opinions;
mod parts;
mod referrals;
mod signin;
mod stats;
#[cfg(test)]
mod tests;
mod transfers;
mod warnings;

/// Every route of the console.
pub(super) fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(signin::home))
        .route("/console.css", get(signin::css))
        .route("/signin", get(signin::signin))
        .route("/choose", get(signin::chooser).post(signin::choose))
        .route("/signout", post(signin::signout))
        .route("/lang", get(signin::switch_lang))
        .route("/board", get(board::board))
        .route("/cases", get(cases::cases))
        .route("/cases/{id}", get(cases::timeline))
        .route("/referrals", get(referrals::referrals))
        .route("/referrals/{id}", get(desk::show::<ReferralDesk>))
        .route("/referrals/{id}/{step}", post(desk::post::<ReferralDesk>))
        .route("/supervision", get(referrals::supervision))
        .route("/transfers", get(transfers::transfers))
        .route("/transfers/{id}", get(desk::show::<TransferDesk>))
        .route("/transfers/{id}/{step}", post(desk::post::<TransferDesk>))
        .route("/disputes", get(disputes::disputes))
        .route("/disputes/{id}", get(desk::show::<DisputeDesk>))
        .route("/disputes/{id}/{step}", post(desk::post::<DisputeDesk>))
        .route("/opinions", get(opinions::opinions))
        .route("/opinions/{id}", get(desk::show::<OpinionDesk>))
        .route("/opinions/{id}/{step}", post(desk::post::<OpinionDesk>))
        .route("/warnings", get(warnings::warnings))
        .route("/warnings/{id}", get(desk::show::<WarningDesk>))
        .route("/warnings/{id}/{step}", post(desk::post::<WarningDesk>))
        .route("/stats", get(stats::stats))
        .route("/reports", get(stats::report))
}
