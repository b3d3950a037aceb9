//! The console's pages and forms. Each page asks the gateway's endpoints as the signed-in
//! agency and writes what they answer; each form takes one step and comes back to its page,
//! with the refusal (which names its rule) when the step was refused.
//!
//! One file per part of the console: [`signin`] (certificates, demo links, the language),
//! [`board`] (the overdue board), [`cases`] (case lists and timelines), [`desk`] (the case desk
//! that every family's desk fills in), [`referrals`] and [`disputes`] (the two desks so far),
//! and [`stats`] (statistics and reports). What they share is in [`parts`]. Every page is built as
//! [`Markup`](super::html::Markup), so text from a case reaches the browser only escaped.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::viewer::State;

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
mod parts;
mod referrals;
mod signin;
mod stats;
#[cfg(test)]
mod tests;

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
        .route("/referrals/{id}", get(referrals::referral))
        .route("/referrals/{id}/{step}", post(referrals::referral_step))
        .route("/disputes", get(disputes::disputes))
        .route("/disputes/{id}", get(disputes::dispute))
        .route("/disputes/{id}/{step}", post(disputes::dispute_step))
        .route("/stats", get(stats::stats))
        .route("/reports", get(stats::report))
}
