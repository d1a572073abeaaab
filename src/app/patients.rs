//! What patients do themselves: open their appointment page, confirm or cancel there or by SMS.
//! They have no principal: the signed link, or the number the SMS came from, is their proof.
//! A cancellation frees the slot for the next search as a client's cancellation does.

use chrono::Utc;

use super::Core;
use crate::db::memo::replies::{self, InboundSms};
use crate::domain::memo::keywords::ReplyIntent;
use crate::error::Error;

pub use crate::db::memo::replies::{ActionOutcome, PageView, PatientAction, ReplyOutcome};

/// The appointment a patient's page shows; `None` when its notice is unknown.
pub async fn page(core: &Core, notice_id: String) -> Result<Option<PageView>, Error> {
    core.with_db(move |conn| replies::page_view(conn, &notice_id))
        .await
}

/// Confirms or cancels from the page; answers what came of it (`None`: the link was already
/// used) and the page as it is afterwards.
pub async fn act_on_page(
    core: &Core,
    notice_id: String,
    action: PatientAction,
) -> Result<(Option<ActionOutcome>, Option<PageView>), Error> {
    let config = core.config.clone();
    let answer = core
        .with_db(move |conn| {
            let outcome = replies::act_on_page(conn, &config.memo, &notice_id, action, Utc::now())?;
            Ok((outcome, replies::page_view(conn, &notice_id)?))
        })
        .await?;
    if answer.0 == Some(ActionOutcome::Cancelled) {
        core.booking.check_soon();
    }
    Ok(answer)
}

/// An SMS a patient sent, as a provider delivered it: handled once per provider message id.
pub async fn reply_by_sms(
    core: &Core,
    provider: &'static str,
    provider_id: String,
    from: String,
    text: String,
) -> Result<ReplyOutcome, Error> {
    let config = core.config.clone();
    let outcome = core
        .with_db(move |conn| {
            let sms = InboundSms {
                provider,
                provider_id: &provider_id,
                from: &from,
                text: &text,
            };
            replies::handle_sms(conn, &config.memo, &sms, Utc::now())
        })
        .await?;
    if outcome.intent == ReplyIntent::Cancel {
        core.booking.check_soon();
    }
    Ok(outcome)
}
