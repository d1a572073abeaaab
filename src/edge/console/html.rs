//! The console's HTML: one layout (skip link, navigation, the sign-out form), escaping, and
//! small helpers. No inline script or style anywhere: the CSP forbids them.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::NaiveDateTime;

use crate::app::console::Session;

/// Text and attribute values, escaped.
pub fn esc(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// A query-string component, percent-encoded.
pub fn q(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An instant on a center's clock, with its zone (UTC for a zone Rendez does not know).
pub fn local_time(t: NaiveDateTime, timezone: &str) -> String {
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => t
            .and_utc()
            .with_timezone(&tz)
            .format(&format!("%Y-%m-%d %H:%M {timezone}"))
            .to_string(),
        Err(_) => time(t),
    }
}

pub fn opt_time(t: Option<NaiveDateTime>) -> String {
    t.map(time).unwrap_or_else(|| "–".into())
}

pub fn opt(text: Option<&str>) -> String {
    esc(text.unwrap_or("–"))
}

/// The hidden CSRF field every form of a signed-in page carries.
pub fn csrf_field(session: &Session) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&session.csrf_token)
    )
}

const NAV: [(&str, &str); 9] = [
    ("/console/overview", "Overview"),
    ("/console/appointments", "Appointments"),
    ("/console/messages", "Messages"),
    ("/console/teams", "Teams"),
    ("/console/results", "Results"),
    ("/console/imports", "Imports"),
    ("/console/shifts", "Shifts"),
    ("/console/rosters", "Rosters and Deputy"),
    ("/console/clients", "API clients"),
];

/// A whole page: `title` as its first heading, `body` after it.
pub fn layout(title: &str, session: Option<&Session>, body: &str) -> String {
    let header = match session {
        Some(session) => {
            let links: String = NAV
                .iter()
                .map(|(href, label)| format!(r#"<li><a href="{href}">{label}</a></li>"#))
                .collect();
            format!(
                r#"<header><nav aria-label="Console"><ul>{links}</ul></nav><form method="post" action="/console/logout" class="signout"><span id="operator">{}</span> {}<button type="submit" id="signout">Sign out</button></form></header>"#,
                esc(session.operator_name()),
                csrf_field(session)
            )
        }
        None => String::new(),
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · Rendez console</title><link rel="stylesheet" href="/console/console.css"></head>
<body><a class="skip" href="#main">Skip to content</a>{header}<main id="main"><h1>{title}</h1>
{body}
</main></body></html>"##,
        title = esc(title)
    )
}

pub fn respond(status: StatusCode, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// A table with a caption and column headers; `rows` are already-escaped cells.
pub fn table(caption: &str, id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return format!(r#"<p id="{id}" class="empty">{}: none.</p>"#, esc(caption));
    }
    let head: String = headers
        .iter()
        .map(|h| format!(r#"<th scope="col">{}</th>"#, esc(h)))
        .collect();
    let body: String = rows
        .iter()
        .map(|cells| {
            let tds: String = cells.iter().map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr>{tds}</tr>")
        })
        .collect();
    format!(
        r#"<div class="scroll"><table id="{id}"><caption>{}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"#,
        esc(caption)
    )
}

/// A labelled text input, keeping what was searched.
pub fn input(name: &str, label: &str, kind: &str, value: &str) -> String {
    format!(
        r#"<p><label for="f-{name}">{label}</label> <input id="f-{name}" name="{name}" type="{kind}" value="{}"></p>"#,
        esc(value)
    )
}

/// A labelled select whose first option is "any".
pub fn select(name: &str, label: &str, options: &[&str], chosen: &str) -> String {
    let mut html = format!(
        r#"<p><label for="f-{name}">{label}</label> <select id="f-{name}" name="{name}"><option value="">any</option>"#
    );
    for option in options {
        let selected = if *option == chosen { " selected" } else { "" };
        html.push_str(&format!(
            r#"<option value="{v}"{selected}>{v}</option>"#,
            v = esc(option)
        ));
    }
    html.push_str("</select></p>");
    html
}

/// Previous and next links for a paged list; `query` is the search without its page.
pub fn pager(path: &str, query: &str, page: u32, more: bool) -> String {
    pager_of(path, query, "page", page, more, "Pages")
}

/// [`pager`] for one of several lists on a page: its page number is `param`, and `label`
/// names its navigation.
pub fn pager_of(
    path: &str,
    query: &str,
    param: &str,
    page: u32,
    more: bool,
    label: &str,
) -> String {
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!(
            r#"<a href="{path}?{query}&amp;{param}={}" rel="prev">Previous page</a>"#,
            page - 1
        ));
    }
    if more {
        links.push(format!(
            r#"<a href="{path}?{query}&amp;{param}={}" rel="next">Next page</a>"#,
            page + 1
        ));
    }
    format!(
        r#"<nav aria-label="{label}" class="pager"><span>Page {page}</span> {}</nav>"#,
        links.join(" ")
    )
}

/// Sends and failures per hour as a server-drawn SVG bar chart (no script), with a text
/// alternative; the numbers are also in the table next to it.
pub fn hours_chart(bars: &[(String, i64, i64)]) -> String {
    let (width, height, bar) = (24 * 20, 120_i64, 8);
    let top = bars
        .iter()
        .map(|(_, s, f)| (*s).max(*f))
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: i64| n * (height - 20) / top;
    let mut shapes = String::new();
    for (i, (label, sent, failed)) in bars.iter().enumerate() {
        let x = i as i64 * 20 + 2;
        let (hs, hf) = (scale(*sent), scale(*failed));
        shapes.push_str(&format!(
            r#"<rect class="sent" x="{x}" y="{}" width="{bar}" height="{hs}"><title>{} sent at {}</title></rect><rect class="failed" x="{}" y="{}" width="{bar}" height="{hf}"><title>{} failed at {}</title></rect>"#,
            height - hs,
            sent,
            esc(label),
            x + bar,
            height - hf,
            failed,
            esc(label)
        ));
    }
    let total_sent: i64 = bars.iter().map(|b| b.1).sum();
    let total_failed: i64 = bars.iter().map(|b| b.2).sum();
    format!(
        r#"<figure><svg id="hours-chart" role="img" aria-labelledby="hours-caption" viewBox="0 0 {width} {height}" width="100%" height="{height}" preserveAspectRatio="none">{shapes}</svg><figcaption id="hours-caption">Sends (dark) and failures (red) per hour over the last 24 hours: {total_sent} sent, {total_failed} failed.</figcaption></figure>"#
    )
}

/// The stylesheet (served from /console/console.css: the CSP allows no inline style).
pub const STYLESHEET: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;color:#111;background:#fff;line-height:1.4}
a{color:#0645ad}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f90;outline-offset:1px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;background:#f2f2f2;padding:0 1rem;border-bottom:1px solid #ccc}
header ul{list-style:none;display:flex;flex-wrap:wrap;gap:1rem;padding:0;margin:.5rem 0}
main{padding:1rem;max-width:75rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}caption{text-align:left;font-weight:bold;padding:.25rem 0}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
.scroll{overflow-x:auto}
form.search{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:end}
label{display:block;font-size:.9rem}
input,select,button,textarea{font-size:1rem;padding:.25rem}
textarea:focus{outline:3px solid #f90;outline-offset:1px}
.failed{color:#b00020}
button{cursor:pointer}
#hours-chart{background:#fafafa;border:1px solid #ccc;max-width:40rem}
rect.sent{fill:#1d4e89}rect.failed{fill:#b00020}
[role=alert]{border-left:4px solid #b00020;padding:.5rem;background:#fdecea}
.notice{border-left:4px solid #1d4e89;padding:.5rem;background:#e8f0fb}
.tree{font-family:ui-monospace,monospace;white-space:pre-wrap}
"#;
