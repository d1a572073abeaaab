//! Search parameters: what each resource type declares (the CapabilityStatement lists the same
//! table), how a query is read into criteria, how a criterion matches, and how a page of
//! matches becomes a `searchset` Bundle with keyset paging.
//!
//! Rules: repeated parameters are AND, comma-separated values OR; an empty value is ignored;
//! an unknown parameter is ignored (and left out of the `self` link) unless the request says
//! `Prefer: handling=strict`, then it is a 400. A bad value or an unsupported modifier is
//! always a 400. Paging is on the resource id: `_after=<id>` answers the matches with a larger
//! id, so a page never repeats or skips what existed when the first page was read, whatever
//! changes in between (`total` is counted when each page is answered).

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::app::appointment_pages::Range;
use crate::error::Error;

/// Matches per page unless `_count` says otherwise.
pub const DEFAULT_COUNT: usize = 50;
/// The most `_count` may ask for.
pub const MAX_COUNT: usize = 500;
/// Parameters about the answer rather than the matches, always understood.
pub const RESULT_PARAMS: [&str; 3] = ["_count", "_after", "_format"];

/// A search parameter's FHIR type (as the CapabilityStatement names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Token,
    Reference,
    Date,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Token => "token",
            ParamType::Reference => "reference",
            ParamType::Date => "date",
        }
    }

    /// The modifiers Rendez understands on this type.
    fn modifiers(self) -> &'static [&'static str] {
        match self {
            ParamType::String => &["exact", "contains"],
            _ => &[],
        }
    }
}

/// What a parameter's values must be, checked when the query is read.
#[derive(Clone, Copy, Debug)]
pub enum Values {
    /// Any text (a string parameter).
    Text,
    /// A code, `system|code` or the like (a token parameter).
    Code,
    /// `true` or `false` (a token parameter).
    Boolean,
    /// A reference to a resource of one of these types.
    Refers(&'static [&'static str]),
    /// A day with an optional prefix (a date parameter).
    Day,
    /// One date or date-time with an optional prefix, as a range of instants (a date
    /// parameter).
    Instant,
}

/// One declared search parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub values: Values,
    pub doc: &'static str,
}

impl Param {
    pub fn kind(&self) -> ParamType {
        match self.values {
            Values::Text => ParamType::String,
            Values::Code | Values::Boolean => ParamType::Token,
            Values::Refers(_) => ParamType::Reference,
            Values::Day | Values::Instant => ParamType::Date,
        }
    }

    /// A 400 naming the problem when a value cannot be read.
    fn check(&self, criterion: &Criterion) -> Result<(), Error> {
        match self.values {
            Values::Text | Values::Code => Ok(()),
            Values::Boolean => boolean(criterion).map(|_| ()),
            Values::Refers(targets) => references(criterion, targets).map(|_| ()),
            Values::Day => criterion
                .values
                .iter()
                .try_for_each(|v| date_test(self.name, v).map(|_| ())),
            Values::Instant => match criterion.values.as_slice() {
                [value] => instant_range(self.name, value).map(|_| ()),
                _ => Err(bad(format!(
                    "'{}' takes one value; repeat the parameter to give a range",
                    self.name
                ))),
            },
        }
    }
}

pub const ID: Param = Param {
    name: "_id",
    values: Values::Code,
    doc: "The resource id; several ids separated by commas",
};

/// One parameter of a query: its name, modifier and values (OR).
#[derive(Clone, Debug)]
pub struct Criterion {
    pub name: &'static str,
    pub modifier: Option<String>,
    pub values: Vec<String>,
}

/// A query read against a type's parameters.
#[derive(Clone, Debug)]
pub struct Query {
    pub criteria: Vec<Criterion>,
    pub count: usize,
    pub after: Option<String>,
    /// What the `self` link repeats: understood parameters only, as sent (decoded).
    pub kept: Vec<(String, String)>,
}

fn bad(text: impl Into<String>) -> Error {
    Error::Client(text.into())
}

/// Reads a query string against `params`; `strict` turns an unknown parameter into a 400.
pub fn read_query(raw: &str, params: &[Param], strict: bool) -> Result<Query, Error> {
    let mut query = Query {
        criteria: Vec::new(),
        count: DEFAULT_COUNT,
        after: None,
        kept: Vec::new(),
    };
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let (name, modifier) = match key.split_once(':') {
            Some((name, modifier)) => (name, Some(modifier.to_string())),
            None => (key.as_ref(), None),
        };
        if RESULT_PARAMS.contains(&name) {
            if modifier.is_some() {
                return Err(bad(format!("'{name}' takes no modifier")));
            }
            match name {
                "_count" => {
                    query.count = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n <= MAX_COUNT)
                        .ok_or_else(|| {
                            bad(format!(
                                "'_count' must be a whole number from 0 to {MAX_COUNT}, not '{value}'"
                            ))
                        })?;
                    query.kept.push((name.to_string(), value.to_string()));
                }
                "_after" => query.after = Some(value.to_string()),
                _ => {}
            }
            continue;
        }
        let Some(param) = params.iter().find(|p| p.name == name) else {
            if strict {
                return Err(bad(format!(
                    "unknown search parameter '{name}' (Prefer: handling=strict); this type supports {}",
                    names(params)
                )));
            }
            continue;
        };
        if let Some(modifier) = &modifier
            && !param.kind().modifiers().contains(&modifier.as_str())
        {
            return Err(bad(format!(
                "the modifier ':{modifier}' is not supported on '{name}'"
            )));
        }
        if value.is_empty() {
            continue;
        }
        let criterion = Criterion {
            name: param.name,
            modifier,
            values: value.split(',').map(str::to_string).collect(),
        };
        param.check(&criterion)?;
        query.kept.push((key.to_string(), value.to_string()));
        query.criteria.push(criterion);
    }
    Ok(query)
}

fn names(params: &[Param]) -> String {
    params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// Matching.

/// FHIR's string match: starts with, ignoring case (`:exact`: equal; `:contains`: anywhere).
pub fn string_matches(criterion: &Criterion, text: &str) -> bool {
    let text_lower = text.to_lowercase();
    criterion
        .values
        .iter()
        .any(|value| match criterion.modifier.as_deref() {
            Some("exact") => text == value,
            Some("contains") => text_lower.contains(&value.to_lowercase()),
            _ => text_lower.starts_with(&value.to_lowercase()),
        })
}

/// A token `[system]|code`, `code`, `|code` or `system|` against one coded value.
pub fn token_matches(value: &str, system: &str, code: &str) -> bool {
    match value.split_once('|') {
        None => value == code,
        Some(("", wanted)) => wanted == code && system.is_empty(),
        Some((wanted_system, "")) => wanted_system == system,
        Some((wanted_system, wanted)) => wanted_system == system && wanted == code,
    }
}

/// Whether any of `codes` (system, code) matches any value of the criterion.
pub fn any_token(criterion: &Criterion, codes: &[(&str, &str)]) -> bool {
    criterion.values.iter().any(|value| {
        codes
            .iter()
            .any(|(system, code)| token_matches(value, system, code))
    })
}

/// A `true`/`false` token (e.g. `active`).
pub fn boolean(criterion: &Criterion) -> Result<Vec<bool>, Error> {
    criterion
        .values
        .iter()
        .map(|value| match value.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(bad(format!(
                "'{}' must be true or false, not '{other}'",
                criterion.name
            ))),
        })
        .collect()
}

/// The ids a reference criterion names, for targets of the types `allowed`: `Type/id`,
/// a bare `id`, or an absolute URL ending in `Type/id`. An id that is not a number names
/// nothing (no Rendez id has that form); another type is a 400.
pub fn references(criterion: &Criterion, allowed: &[&str]) -> Result<Vec<i64>, Error> {
    Ok(reference_ids(criterion, allowed)?
        .iter()
        .filter_map(|id| id.parse::<i64>().ok())
        .collect())
}

/// The ids a reference criterion names, as written, for targets of the types `allowed`.
pub fn reference_ids(criterion: &Criterion, allowed: &[&str]) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    for value in &criterion.values {
        let parts: Vec<&str> = value.trim_end_matches('/').rsplitn(3, '/').collect();
        let (kind, id) = match parts.as_slice() {
            [id] => (None, *id),
            [id, kind, ..] => (Some(*kind), *id),
            _ => (None, ""),
        };
        if let Some(kind) = kind
            && !allowed.contains(&kind)
        {
            return Err(bad(format!(
                "'{}' refers to {}, not to {kind}",
                criterion.name,
                allowed.join(" or ")
            )));
        }
        if !id.is_empty() {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// `_id` against a numeric id.
pub fn id_matches(criterion: &Criterion, id: &str) -> bool {
    criterion.values.iter().any(|v| v == id)
}

/// A date comparison: a prefix and the day it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateTest {
    Eq(NaiveDate),
    Ne(NaiveDate),
    Ge(NaiveDate),
    Gt(NaiveDate),
    Le(NaiveDate),
    Lt(NaiveDate),
}

/// Reads a date value: `[prefix]YYYY-MM-DD`, or a date-time whose date is taken as written.
pub fn date_test(name: &str, value: &str) -> Result<DateTest, Error> {
    let (prefix, rest) =
        if value.len() > 2 && value.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic) {
            value.split_at(2)
        } else {
            ("eq", value)
        };
    let day = rest
        .get(..10)
        .filter(|_| rest.len() == 10 || rest.as_bytes().get(10) == Some(&b'T'))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            bad(format!(
                "'{name}' must be a date (YYYY-MM-DD) or date-time with an optional prefix eq, ne, ge, gt, le, lt; not '{value}'"
            ))
        })?;
    Ok(match prefix {
        "eq" => DateTest::Eq(day),
        "ne" => DateTest::Ne(day),
        "ge" => DateTest::Ge(day),
        "gt" => DateTest::Gt(day),
        "le" => DateTest::Le(day),
        "lt" => DateTest::Lt(day),
        other => {
            return Err(bad(format!(
                "'{name}': the prefix '{other}' is not supported (eq, ne, ge, gt, le, lt)"
            )));
        }
    })
}

impl DateTest {
    /// Whether a period of days (an open end is `None`) satisfies the test: `eq` when the
    /// period contains the day, `ge` when it reaches the day or later, `le` when it starts on
    /// the day or earlier, `ne` when it is not only that day.
    pub fn period_matches(self, first: Option<NaiveDate>, last: Option<NaiveDate>) -> bool {
        let starts_by = |d: NaiveDate| first.is_none_or(|f| f <= d);
        let lasts_until = |d: NaiveDate| last.is_none_or(|l| l >= d);
        match self {
            DateTest::Eq(d) => starts_by(d) && lasts_until(d),
            DateTest::Ne(d) => !(first == Some(d) && last == Some(d)),
            DateTest::Ge(d) => lasts_until(d),
            DateTest::Gt(d) => d.succ_opt().is_some_and(lasts_until),
            DateTest::Le(d) => starts_by(d),
            DateTest::Lt(d) => d.pred_opt().is_some_and(starts_by),
        }
    }
}

/// A date search value as a range of instants: `[prefix](YYYY-MM-DD | date-time with an
/// offset)`. A day is the UTC day; a date-time is that instant. `eq` is within the value, `ge`
/// from its start, `gt` after its end, `le` up to its end, `lt` before its start.
pub fn instant_range(name: &str, value: &str) -> Result<Range, Error> {
    let refuse = || {
        bad(format!(
            "'{name}' must be a date (YYYY-MM-DD) or a date-time with an offset, with an optional prefix eq, ge, gt, le, lt; not '{value}'"
        ))
    };
    let (prefix, rest) =
        if value.len() > 2 && value.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic) {
            value.split_at(2)
        } else {
            ("eq", value)
        };
    let (start, end) = if rest.len() == 10 {
        let day = NaiveDate::parse_from_str(rest, "%Y-%m-%d").map_err(|_| refuse())?;
        let start = day.and_hms_opt(0, 0, 0).ok_or_else(refuse)?.and_utc();
        (start, start + chrono::Duration::days(1))
    } else {
        let at = DateTime::parse_from_rfc3339(rest)
            .map_err(|_| refuse())?
            .with_timezone(&Utc);
        (at, at + chrono::Duration::microseconds(1))
    };
    let (from, before) = match prefix {
        "eq" => (Some(start), Some(end)),
        "ge" => (Some(start), None),
        "gt" => (Some(end), None),
        "le" => (None, Some(end)),
        "lt" => (None, Some(start)),
        other => {
            return Err(bad(format!(
                "'{name}': the prefix '{other}' is not supported (eq, ge, gt, le, lt)"
            )));
        }
    };
    Ok(Range { from, before })
}

/// The values of every occurrence of a parameter, each occurrence a list (OR), intersected
/// (AND); `None` when the parameter is not given.
pub fn intersect(lists: impl Iterator<Item = Vec<String>>) -> Option<Vec<String>> {
    lists.fold(None, |acc: Option<Vec<String>>, list| match acc {
        None => Some(list),
        Some(acc) => Some(acc.into_iter().filter(|v| list.contains(v)).collect()),
    })
}

// ---------------------------------------------------------------------------------------------
// Answers.

/// One page of a search: entries (id, resource), the total, and the next page's cursor.
pub struct Page {
    pub entries: Vec<(String, Value)>,
    pub total: usize,
    pub next: Option<String>,
}

/// A FHIR `instant`: UTC to the second.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A resource's reference (`Type/id`) with a display text.
pub fn reference(kind: &str, id: impl std::fmt::Display, display: &str) -> Value {
    json!({"reference": format!("{kind}/{id}"), "display": display})
}

/// A page of a search: the matches after the cursor, at most `count`, and whether more follow.
pub fn page<T>(
    matches: Vec<T>,
    key: impl Fn(&T) -> i64,
    query: &Query,
) -> Result<(Vec<T>, usize, bool), Error> {
    let total = matches.len();
    let after = match &query.after {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            bad(format!(
                "'_after' must be the id of the last resource of the previous page, not '{raw}'"
            ))
        })?),
    };
    let mut rest: Vec<T> = matches
        .into_iter()
        .filter(|m| after.is_none_or(|a| key(m) > a))
        .collect();
    let more = rest.len() > query.count;
    rest.truncate(query.count);
    Ok((rest, total, more))
}

/// The `searchset` Bundle of one page.
pub fn bundle(
    base: &str,
    kind: &str,
    query: &Query,
    entries: Vec<(String, Value)>,
    total: usize,
    next_after: Option<String>,
) -> Value {
    let link = |after: Option<&str>| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &query.kept {
            pairs.append_pair(k, v);
        }
        if let Some(after) = after {
            pairs.append_pair("_after", after);
        }
        let encoded = pairs.finish();
        if encoded.is_empty() {
            format!("{base}/{kind}")
        } else {
            format!("{base}/{kind}?{encoded}")
        }
    };
    let mut links = vec![json!({"relation": "self", "url": link(query.after.as_deref())})];
    if let Some(after) = next_after {
        links.push(json!({"relation": "next", "url": link(Some(&after))}));
    }
    let entry: Vec<Value> = entries
        .into_iter()
        .map(|(id, resource)| {
            json!({
                "fullUrl": format!("{base}/{kind}/{id}"),
                "resource": resource,
                "search": {"mode": "match"},
            })
        })
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    });
    if !entry.is_empty() {
        bundle["entry"] = Value::Array(entry);
    }
    bundle
}
