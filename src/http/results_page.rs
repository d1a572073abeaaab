//! `GET /results` and `POST /results`: the page where a patient downloads a result with the
//! code the clinic gave and their ID number. Plain HTML, no JavaScript, one generic refusal for
//! every failure (it never tells whether a code exists), nothing cached.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::client_address::client_address;
use crate::app;
use crate::app::results::{DownloadAttempt, DownloadOutcome};
use crate::domain::results::{FileType, safe_file_name};
use crate::state::AppState;

/// A form of two short fields never needs more.
const FORM_LIMIT: usize = 4096;
const FIELD_MAX_CHARS: usize = 100;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\
label{font-weight:bold}input{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box}\
button{font-size:1.1rem;padding:.5rem 1.5rem}.alert{border-left:4px solid #b00020;padding:.5rem 1rem;background:#fdecea}";

/// The page's words in one language.
struct Words {
    lang: &'static str,
    title: &'static str,
    intro: &'static str,
    code: &'static str,
    id_number: &'static str,
    download: &'static str,
    missing: &'static str,
    refusal: &'static str,
    unavailable: &'static str,
    not_configured: &'static str,
}

const EN: Words = Words {
    lang: "en",
    title: "Download your test results",
    intro: "Enter the download code your clinic gave you and your ID number. The file is downloaded to your device.",
    code: "Download code",
    id_number: "ID number",
    download: "Download",
    missing: "Enter both the download code and your ID number.",
    refusal: "The download code and ID number do not match a result that can be downloaded. \
        Check both and try again. After several wrong attempts downloads are paused for 15 \
        minutes; if it keeps failing, please contact your clinic.",
    unavailable: "The service is temporarily unavailable. Please try again in a few minutes.",
    not_configured: "Test results are not available on this server.",
};

const ES: Words = Words {
    lang: "es",
    title: "Descargue sus resultados",
    intro: "Escriba el código de descarga que le dio su clínica y su número de documento. El archivo se descarga en su dispositivo.",
    code: "Código de descarga",
    id_number: "Número de documento",
    download: "Descargar",
    missing: "Escriba el código de descarga y su número de documento.",
    refusal: "El código de descarga y el número de documento no corresponden a un resultado que \
        se pueda descargar. Compruebe ambos e inténtelo de nuevo. Tras varios intentos fallidos \
        las descargas se detienen 15 minutos; si sigue sin funcionar, contacte con su clínica.",
    unavailable: "El servicio no está disponible en este momento. Inténtelo de nuevo en unos minutos.",
    not_configured: "Los resultados no están disponibles en este servidor.",
};

/// The language of the patient's browser (`Accept-Language`, by quality), among the page's:
/// the same as the appointment page's, English when none fits.
fn words(req: &HttpRequest) -> &'static Words {
    let header = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best: Option<(f32, &'static Words)> = None;
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let words = match tag.split('-').next().unwrap_or("") {
            "es" => &ES,
            "en" => &EN,
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, words));
        }
    }
    best.map_or(&EN, |(_, words)| words)
}

/// The page allows its one inline style sheet, posting to itself, and nothing else.
static PAGE_CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
});

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/results")
            .route(web::get().to(form))
            .route(web::head().to(form))
            .route(web::post().to(download)),
    );
}

async fn form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let w = words(&req);
    if !app::results::downloads_open(&state) {
        return not_configured(w);
    }
    page(StatusCode::OK, w, None)
}

async fn download(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let w = words(&req);
    if !app::results::downloads_open(&state) {
        return not_configured(w);
    }
    let Some((code, id_number)) = read_form(payload).await else {
        return page(StatusCode::BAD_REQUEST, w, Some(w.missing));
    };
    let address = client_address(&req, state.config.trust_forwarded_for);
    // A code or ID number that cannot be one is still an attempt: recorded, limited, refused.
    let outcome = app::results::download(
        &state,
        DownloadAttempt {
            code,
            id_number,
            address,
        },
    )
    .await;
    match outcome {
        Ok(DownloadOutcome::Granted {
            lid,
            file_type,
            file_name,
            content,
        }) => {
            log::info!("results page: test result {lid} downloaded");
            file_response(&lid, &file_type, file_name.as_deref(), content)
        }
        Ok(DownloadOutcome::Refused { refusal, lid }) => {
            log::info!(
                "results page: attempt refused ({}){}",
                refusal.as_str(),
                lid.map(|l| format!(" for test result {l}"))
                    .unwrap_or_default()
            );
            page(StatusCode::FORBIDDEN, w, Some(w.refusal))
        }
        Err(e) => {
            log::error!("results page: {}", e.log_detail());
            page(StatusCode::SERVICE_UNAVAILABLE, w, Some(w.unavailable))
        }
    }
}

/// The two fields of the form, or `None` when one is missing, empty, too long or the body is
/// not a small form.
async fn read_form(mut payload: web::Payload) -> Option<(String, String)> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    let (mut code, mut id_number) = (None, None);
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "code" => code = Some(value.trim().to_string()),
            "id_number" => id_number = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let usable = |v: &Option<String>| {
        v.as_ref()
            .is_some_and(|v| !v.is_empty() && v.chars().count() <= FIELD_MAX_CHARS)
    };
    if usable(&code) && usable(&id_number) {
        Some((code?, id_number?))
    } else {
        None
    }
}

fn no_store(builder: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
}

fn page(status: StatusCode, w: &Words, message: Option<&str>) -> HttpResponse {
    let alert = message
        .map(|m| {
            format!(
                "<p class=\"alert\" role=\"alert\" id=\"problem\">{}</p>\n",
                quick_xml::escape::escape(m)
            )
        })
        .unwrap_or_default();
    let described = if message.is_some() {
        " aria-describedby=\"problem\""
    } else {
        ""
    };
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{title}</h1>
{alert}<p>{intro}</p>
<form method="post" action="/results"{described}>
<p><label for="code">{code}</label><br>
<input id="code" name="code" type="text" required maxlength="{FIELD_MAX_CHARS}" autocomplete="off" autocapitalize="characters" spellcheck="false"></p>
<p><label for="id_number">{id_number}</label><br>
<input id="id_number" name="id_number" type="text" required maxlength="{FIELD_MAX_CHARS}" autocomplete="off" spellcheck="false"></p>
<p><button type="submit">{download}</button></p>
</form>
</main>
</body>
</html>
"#,
        lang = w.lang,
        title = w.title,
        intro = w.intro,
        code = w.code,
        id_number = w.id_number,
        download = w.download,
    );
    no_store(&mut HttpResponse::build(status))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP.as_str()))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_LANGUAGE, w.lang))
        .insert_header((header::VARY, "Accept-Language"))
        .content_type("text/html; charset=utf-8")
        .body(html)
}

fn not_configured(w: &Words) -> HttpResponse {
    page(StatusCode::SERVICE_UNAVAILABLE, w, Some(w.not_configured))
}

/// The type a browser is told. Only types that cannot run script are named; anything else
/// (html, svg, xml, ...) goes out as bytes to save.
fn media_type(file_type: &str) -> &'static str {
    match file_type {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "dcm" => "application/dicom",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

fn file_response(
    lid: &str,
    file_type: &str,
    file_name: Option<&str>,
    content: Vec<u8>,
) -> HttpResponse {
    let name = safe_file_name(file_name, lid, &FileType::from_stored(file_type));
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != name {
        parameters.push(DispositionParam::FilenameExt(header::ExtendedValue {
            charset: header::Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: name.into_bytes(),
        }));
    }
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    };
    no_store(&mut HttpResponse::Ok())
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .insert_header(disposition)
        .content_type(media_type(file_type))
        .body(content)
}
