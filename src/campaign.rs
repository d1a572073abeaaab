//! `rendez campaign send --template FILE --recipients FILE.csv` (seed A.6, bulk messages), read
//! and rendered here and queued by the use case `app::campaign::send`: one
//! message per recipient, queued through the messaging outbox the `updateMessages` operation uses,
//! so the same workers, rate limits, retries and STOP gate apply.
//!
//! - The template is a file like the memo templates (`[sms]`, and/or `[subject]` with `[email]`)
//!   whose only placeholder is `{first_name}` (`{first_name|default}`). `--template` may be given
//!   once per language, named `NAME.LANG.txt` (`spring.es.txt`): a recipient gets the template of
//!   their language, else the first one given. Anything wrong in a template stops the command
//!   before anything is queued.
//! - The recipients file is delimited text (`;`, `,` or tab, from the header) with a header row
//!   naming `phone` and/or `email`, and optionally `first_name` and `language` (the seed's
//!   `USER_MOBILE_PHONE`, `USER_EMAIL`, `USER_FIRST_NAME`, `USER_LANGUAGE` work too; other
//!   columns are ignored). A recipient gets an SMS when they have a phone and the template an
//!   `[sms]`, unless the number answered STOP; else an email. A line that cannot be used (a bad
//!   number or address, no contact, a recipient already named on an earlier line, a message too
//!   long) is reported with its number and the others are queued.
//! - The campaign's id is a hash of the templates and the recipients file, and each message's key
//!   in the outbox is (campaign, recipient): the command can be run again after an interruption
//!   (or by mistake) and queues only what the earlier run had not. Recipients are queued in
//!   batches, each in one transaction.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::domain::memo::templates::{Template, normalize_language};
use crate::domain::memo::{Placeholder, TemplateKind, TemplateValues};
use crate::domain::messages::{
    Channel, EMAIL_BODY_MAX_CHARS, LEGACY_ID_MAX_CHARS, SMS_MAX_SEGMENTS, SUBJECT_MAX_CHARS,
    sms_segments,
};
use crate::domain::patient::{normalize_email, normalize_phone};

/// The outbox owner of campaign messages.
pub const OWNER: &str = "rendez:campaign";

/// Recipients queued per transaction.
pub const BATCH: usize = 200;

const FIRST_NAME_MAX_CHARS: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Phone,
    Email,
    FirstName,
    Language,
}

fn column_of(header: &str) -> Option<Column> {
    let name = header.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    match name.as_str() {
        "phone" | "mobile" | "mobile_phone" | "user_mobile_phone" => Some(Column::Phone),
        "email" | "e_mail" | "user_email" => Some(Column::Email),
        "first_name" | "name" | "user_first_name" => Some(Column::FirstName),
        "language" | "user_language" => Some(Column::Language),
        _ => None,
    }
}

/// A template file with its language (from its name).
#[derive(Clone, Debug)]
pub struct CampaignTemplate {
    pub source: String,
    pub language: Option<String>,
    template: Template,
}

/// One usable line of the recipients file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub line: usize,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub language: Option<String>,
}

impl Recipient {
    /// Who the recipient is, whatever the channel: their phone, else their email.
    fn key(&self) -> &str {
        self.phone
            .as_deref()
            .or(self.email.as_deref())
            .expect("a recipient has a phone or an email")
    }
}

/// A line refused, by its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    pub line: usize,
    pub message: String,
}

/// A campaign read and checked, nothing queued yet.
#[derive(Debug)]
pub struct Campaign {
    pub id: String,
    templates: Vec<CampaignTemplate>,
    pub recipients: Vec<Recipient>,
    pub invalid: Vec<InvalidLine>,
    pub ignored_columns: Vec<String>,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub campaign_id: String,
    pub lines: usize,
    pub queued_sms: usize,
    pub queued_email: usize,
    /// Their number answered STOP and there is no email to write to instead.
    pub skipped_opted_out: usize,
    /// An earlier run of the same campaign queued them.
    pub already_queued: usize,
    pub invalid: Vec<InvalidLine>,
    /// False when the run stopped before the end (see `app::campaign::send`).
    pub complete: bool,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "campaign {}: {} lines; queued {} ({} SMS, {} email); skipped: {} opted out (STOP), \
             {} already queued, {} invalid lines",
            self.campaign_id,
            self.lines,
            self.queued_sms + self.queued_email,
            self.queued_sms,
            self.queued_email,
            self.skipped_opted_out,
            self.already_queued,
            self.invalid.len()
        )?;
        for InvalidLine { line, message } in &self.invalid {
            writeln!(f, "line {line}: {message}")?;
        }
        if !self.complete {
            writeln!(
                f,
                "the campaign was interrupted: run the same command again to queue the rest"
            )?;
        }
        Ok(())
    }
}

/// `spring.es.txt` → `es`; `None` when the name carries no language.
fn language_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".txt").unwrap_or(name);
    let (_, language) = stem.rsplit_once('.')?;
    normalize_language(language)
}

fn read_text(path: &Path, what: &str) -> Result<(Vec<u8>, String), String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes.clone()).map_err(|e| {
        let valid = &bytes[..e.utf8_error().valid_up_to()];
        format!(
            "the {what} {} is not UTF-8 text (line {}); save it as UTF-8",
            path.display(),
            valid.iter().filter(|b| **b == b'\n').count() + 1
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
    Ok((bytes, text))
}

/// Reads and checks the templates and the recipients file. Errors that concern the whole
/// campaign (a template, the header) are returned; bad lines are listed in the campaign.
pub fn load(
    template_paths: &[PathBuf],
    recipients_path: &Path,
    default_country: Option<&str>,
) -> Result<Campaign, String> {
    if template_paths.is_empty() {
        return Err("give the message with --template FILE".into());
    }
    let mut hasher = Sha256::new();
    let mut templates: Vec<CampaignTemplate> = Vec::new();
    for path in template_paths {
        let (bytes, text) = read_text(path, "template")?;
        let source = path.display().to_string();
        let language = language_of(path);
        let template = Template::parse(
            TemplateKind::Campaign,
            language.as_deref().unwrap_or("-"),
            &source,
            &text,
        )
        .map_err(|e| e.to_string())?;
        if let Some(other) = templates
            .iter()
            .find(|t| language.is_some() && t.language == language)
        {
            return Err(format!(
                "{source} and {} are both in '{}'",
                other.source,
                language.unwrap_or_default()
            ));
        }
        if let Some(first) = templates.first()
            && (first.template.has_sms() != template.has_sms()
                || first.template.has_email() != template.has_email())
        {
            return Err(format!(
                "{source} and {} differ in their sections: every language needs the same \
                 ([sms], [subject] and [email])",
                first.source
            ));
        }
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(&bytes);
        templates.push(CampaignTemplate {
            source,
            language,
            template,
        });
    }
    if templates.len() > 1
        && let Some(unnamed) = templates.iter().find(|t| t.language.is_none())
    {
        return Err(format!(
            "with several templates, each needs its language in its name (NAME.LANG.txt, e.g. \
             spring.es.txt): {} has none",
            unnamed.source
        ));
    }
    let (bytes, text) = read_text(recipients_path, "recipients file")?;
    hasher.update(&bytes);
    let id: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let (recipients, invalid, ignored_columns) =
        read_recipients(&text, &templates[0], default_country)
            .map_err(|e| format!("{}: {e}", recipients_path.display()))?;
    let mut campaign = Campaign {
        id,
        templates,
        recipients,
        invalid,
        ignored_columns,
    };
    campaign.check_lengths();
    Ok(campaign)
}

type ReadRecipients = (Vec<Recipient>, Vec<InvalidLine>, Vec<String>);

fn read_recipients(
    text: &str,
    template: &CampaignTemplate,
    default_country: Option<&str>,
) -> Result<ReadRecipients, String> {
    let header =
        text.lines().next().filter(|l| !l.trim().is_empty()).ok_or(
            "the file is empty: it needs a header row (phone, email, first_name, language)",
        )?;
    let delimiter = [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b';');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("the header row cannot be read: {e}"))?
        .clone();
    let columns: Vec<Option<Column>> = headers.iter().map(column_of).collect();
    let ignored: Vec<String> = headers
        .iter()
        .zip(&columns)
        .filter(|(_, c)| c.is_none())
        .map(|(h, _)| h.to_string())
        .collect();
    for column in [Column::Phone, Column::Email] {
        if columns.iter().filter(|c| **c == Some(column)).count() > 1 {
            return Err(format!("the header names the {column:?} column twice").to_lowercase());
        }
    }
    if !columns
        .iter()
        .any(|c| matches!(c, Some(Column::Phone | Column::Email)))
    {
        return Err("the header row names neither a phone nor an email column".into());
    }
    let has_sms = template.template.has_sms();
    let has_email = template.template.has_email();
    let mut recipients = Vec::new();
    let mut invalid = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_of(text, p.byte())).unwrap_or(0);
                invalid.push(InvalidLine {
                    line,
                    message: format!("the line cannot be read: {e}"),
                });
                continue;
            }
        };
        let line = record
            .position()
            .map(|p| line_of(text, p.byte()))
            .unwrap_or(0);
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let mut refuse = |message: String| invalid.push(InvalidLine { line, message });
        if record.len() > columns.len() {
            refuse(format!(
                "the line has {} fields but the header has {}",
                record.len(),
                columns.len()
            ));
            continue;
        }
        let value = |wanted: Column| {
            columns
                .iter()
                .zip(record.iter())
                .find(|(c, _)| **c == Some(wanted))
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let phone = match value(Column::Phone).map(|p| normalize_phone(p, default_country)) {
            Some(Err(e)) => {
                refuse(format!("phone: {e}"));
                continue;
            }
            Some(Ok(p)) => Some(p),
            None => None,
        };
        let email = match value(Column::Email).map(normalize_email) {
            Some(Err(e)) => {
                refuse(format!("email: {e}"));
                continue;
            }
            Some(Ok(e)) => Some(e),
            None => None,
        };
        let language = match value(Column::Language) {
            Some(raw) => match normalize_language(raw) {
                Some(l) => Some(l),
                None => {
                    refuse(format!(
                        "language: '{raw}' is not a language code such as es or en"
                    ));
                    continue;
                }
            },
            None => None,
        };
        let first_name = value(Column::FirstName).map(str::to_string);
        if first_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > FIRST_NAME_MAX_CHARS)
        {
            refuse(format!(
                "first_name is longer than {FIRST_NAME_MAX_CHARS} characters"
            ));
            continue;
        }
        let reachable_by_sms = has_sms && phone.is_some();
        let reachable_by_email = has_email && email.is_some();
        if !reachable_by_sms && !reachable_by_email {
            refuse(match (phone.is_some(), email.is_some()) {
                (false, false) => "no phone and no email".into(),
                (true, _) => "the template has no [email] section for this recipient's email, \
                              and no [sms] for their phone"
                    .into(),
                (false, true) => "only an email, and the template has no [email] section".into(),
            });
            continue;
        }
        let recipient = Recipient {
            line,
            phone,
            email,
            first_name,
            language,
        };
        if let Some(first) = seen.get(recipient.key()) {
            refuse(format!("the same recipient as line {first}"));
            continue;
        }
        seen.insert(recipient.key().to_string(), line);
        recipients.push(recipient);
    }
    Ok((recipients, invalid, ignored))
}

/// The 1-based line that holds byte `offset` (the csv reader's own count skips blank lines).
fn line_of(text: &str, offset: u64) -> usize {
    let bytes = text.as_bytes();
    let mut end = (offset as usize).min(bytes.len());
    // The reader reports where it started looking, which may be on the blank lines it skipped.
    while end < bytes.len() && (bytes[end] == b'\n' || bytes[end] == b'\r') {
        end += 1;
    }
    bytes[..end].iter().filter(|b| **b == b'\n').count() + 1
}

/// A rendered message, ready for the outbox.
pub struct Rendered {
    pub channel: Channel,
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
}

impl Campaign {
    fn template_for(&self, recipient: &Recipient) -> &Template {
        let chosen = recipient
            .language
            .as_deref()
            .and_then(|l| {
                self.templates
                    .iter()
                    .find(|t| t.language.as_deref() == Some(l))
            })
            .unwrap_or(&self.templates[0]);
        &chosen.template
    }

    fn render(&self, recipient: &Recipient, sms_stopped: bool) -> Option<Rendered> {
        let template = self.template_for(recipient);
        let mut values = TemplateValues::default();
        values.set(Placeholder::FirstName, recipient.first_name.clone());
        let text = template.render(&values);
        if template.has_sms()
            && !sms_stopped
            && let Some(phone) = &recipient.phone
        {
            return Some(Rendered {
                channel: Channel::Sms,
                to: phone.clone(),
                subject: None,
                body: text.sms,
            });
        }
        match (&recipient.email, text.subject, text.email) {
            (Some(email), Some(subject), Some(body)) => Some(Rendered {
                channel: Channel::Email,
                to: email.clone(),
                subject: Some(subject),
                body,
            }),
            _ => None,
        }
    }

    /// Moves the recipients whose message would be refused by the outbox's own limits to
    /// `invalid`, checking every channel they may get.
    fn check_lengths(&mut self) {
        let mut keep = Vec::with_capacity(self.recipients.len());
        let mut refused = Vec::new();
        for recipient in std::mem::take(&mut self.recipients) {
            let mut problem = None;
            for stopped in [false, true] {
                let Some(message) = self.render(&recipient, stopped) else {
                    continue;
                };
                problem = problem.or(match message.channel {
                    Channel::Sms if sms_segments(&message.body) > SMS_MAX_SEGMENTS => {
                        Some(format!(
                            "the SMS would be {} segments; at most {SMS_MAX_SEGMENTS} are sent",
                            sms_segments(&message.body)
                        ))
                    }
                    Channel::Email if message.body.chars().count() > EMAIL_BODY_MAX_CHARS => Some(
                        format!("the email would be longer than {EMAIL_BODY_MAX_CHARS} characters"),
                    ),
                    Channel::Email
                        if message
                            .subject
                            .as_ref()
                            .is_some_and(|s| s.chars().count() > SUBJECT_MAX_CHARS) =>
                    {
                        Some(format!(
                            "the subject would be longer than {SUBJECT_MAX_CHARS} characters"
                        ))
                    }
                    _ => None,
                });
            }
            match problem {
                Some(message) => refused.push(InvalidLine {
                    line: recipient.line,
                    message,
                }),
                None => keep.push(recipient),
            }
        }
        self.recipients = keep;
        self.invalid.extend(refused);
        self.invalid.sort_by_key(|i| i.line);
    }

    /// The outbox key of a recipient's message in this campaign.
    fn legacy_id(&self, recipient: &Recipient) -> String {
        let readable = format!("{}:{}", self.id, recipient.key());
        if readable.chars().count() <= LEGACY_ID_MAX_CHARS {
            return readable;
        }
        let digest = Sha256::digest(recipient.key().as_bytes());
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        format!("{}:#{hex}", self.id)
    }

    /// The number of lines the file had that were data (usable or not).
    pub fn lines(&self) -> usize {
        self.recipients.len() + self.invalid.len()
    }
}

/// Shows progress on standard error: a bar on a terminal, else a plain line per batch (logs,
/// pipes). Never stops the run.
pub fn show_progress(campaign: &Campaign) -> impl FnMut(usize) -> bool + use<> {
    use std::io::IsTerminal;
    let total = campaign.recipients.len();
    let id = campaign.id.clone();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("queueing [{bar:40}] {pos}/{len} recipients")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    });
    move |done| {
        match &bar {
            Some(bar) => {
                bar.set_position(done as u64);
                if done >= total {
                    bar.finish_and_clear();
                }
            }
            None => eprintln!("campaign {id}: {done}/{total} recipients handled"),
        }
        true
    }
}

/// One batch's messages, as the outbox takes them.
pub struct BatchMessages {
    /// Per recipient who gets a message: its outbox key and the message.
    pub messages: Vec<(String, Rendered)>,
    /// Their number answered STOP and there is no email to write to instead.
    pub skipped_opted_out: usize,
}

impl Campaign {
    /// Renders a batch's messages; `stopped` holds those of the batch's phones (see
    /// [`phones`]) that answered STOP.
    pub fn render_batch(&self, batch: &[Recipient], stopped: &HashSet<String>) -> BatchMessages {
        let mut skipped_opted_out = 0;
        let mut messages = Vec::with_capacity(batch.len());
        for recipient in batch {
            let is_stopped = recipient
                .phone
                .as_ref()
                .is_some_and(|p| stopped.contains(p));
            match self.render(recipient, is_stopped) {
                Some(message) => messages.push((self.legacy_id(recipient), message)),
                None => skipped_opted_out += 1,
            }
        }
        BatchMessages {
            messages,
            skipped_opted_out,
        }
    }
}

/// The phones of a batch, whose STOP answers [`Campaign::render_batch`] needs.
pub fn phones(batch: &[Recipient]) -> Vec<&str> {
    batch.iter().filter_map(|r| r.phone.as_deref()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> CampaignTemplate {
        CampaignTemplate {
            source: "t.txt".into(),
            language: None,
            template: Template::parse(TemplateKind::Campaign, "-", "t.txt", text).unwrap(),
        }
    }

    const BOTH: &str =
        "[subject]\nNews\n[sms]\nHi {first_name|there}\n[email]\nDear {first_name}\n";

    #[test]
    fn recipient_lines_are_checked_and_bad_ones_reported_by_number() {
        let text = "Name;Phone;E-mail;Language;Notes\n\
                    Zoë;+34600111222;;es;x\n\
                    \n\
                    Ana;12;;;\n\
                    Luis;;luis@example.org;;\n\
                    Eva;+34 600 111 222;;;\n\
                    ;;;;\n\
                    Pep;;not-an-address;;\n\
                    Max;;max@example.org;1x;\n\
                    Kim;;;;\n\
                    Ola;+34600111333;;;;too many\n";
        let (recipients, invalid, ignored) = read_recipients(text, &template(BOTH), None).unwrap();
        assert_eq!(ignored, vec!["Notes"]);
        assert_eq!(
            recipients.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 5]
        );
        assert_eq!(recipients[0].language.as_deref(), Some("es"));
        let lines: Vec<(usize, &str)> = invalid
            .iter()
            .map(|i| (i.line, i.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert!(lines[0].0 == 4 && lines[0].1.contains("no international prefix"));
        assert_eq!(lines[1], (6, "the same recipient as line 2"));
        assert!(lines[2].0 == 8 && lines[2].1.contains("not an email address"));
        assert!(lines[3].0 == 9 && lines[3].1.contains("language"));
        assert_eq!(lines[4], (10, "no phone and no email"));
        assert!(lines[5].0 == 11 && lines[5].1.contains("6 fields"));
    }

    #[test]
    fn an_email_only_recipient_needs_an_email_section_and_the_header_needs_a_contact() {
        let sms_only = template("[sms]\nHi\n");
        let (ok, invalid, _) =
            read_recipients("email\nana@example.org\n", &sms_only, None).unwrap();
        assert!(ok.is_empty());
        assert!(invalid[0].message.contains("no [email] section"));
        let err = read_recipients("first_name\nAna\n", &sms_only, None).unwrap_err();
        assert!(err.contains("neither a phone nor an email"), "{err}");
    }

    #[test]
    fn the_language_comes_from_the_template_file_name() {
        assert_eq!(
            language_of(Path::new("dir/spring.es.txt")).as_deref(),
            Some("es")
        );
        assert_eq!(
            language_of(Path::new("spring.pt_BR.txt")).as_deref(),
            Some("pt-br")
        );
        assert_eq!(language_of(Path::new("spring.txt")), None);
    }
}
