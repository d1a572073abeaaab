//! The SMS STOP list (`sms_opt_outs`): numbers whose patient answered STOP and has not sent
//! START since. Written by the memo's reply handling; read here by whoever is about to send.

use std::collections::HashSet;

use diesel::prelude::*;

use super::DbConnection;
use super::schema::sms_opt_outs;

/// Those of `phones` that are opted out now, in one query.
pub fn opted_out(conn: &mut DbConnection, phones: &[&str]) -> QueryResult<HashSet<String>> {
    if phones.is_empty() {
        return Ok(HashSet::new());
    }
    let mut phones = phones.to_vec();
    phones.sort_unstable();
    phones.dedup();
    let found: Vec<String> = sms_opt_outs::table
        .filter(sms_opt_outs::phone.eq_any(phones))
        .select(sms_opt_outs::phone)
        .load(conn)?;
    Ok(found.into_iter().collect())
}
