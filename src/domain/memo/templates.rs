//! Message templates: text files the operator edits, one per kind and language
//! (`reminder.es.txt`), with sections and placeholders:
//!
//! ```text
//! # A comment line.
//! [subject]
//! Your appointment at {center_name}
//! [sms]
//! {center_name}: {doctor} on {date} at {time}. Confirm or cancel: {link}
//! [email]
//! Dear {first_name|patient},
//! ...
//! ```
//!
//! `{name}` is replaced by its value, `{name|text}` by its value or, when there is none, by
//! `text`; `{{` and `}}` write braces. Each kind accepts its own placeholders and needs its own
//! sections; anything else is refused when the templates are loaded, naming the file and line, so
//! a typo stops the program at start instead of reaching a patient.
//!
//! Shipped defaults (Spanish and English) are compiled in; a directory (`RENDEZ_TEMPLATES_DIR`)
//! may override any of them and add languages.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemplateKind {
    /// Sent when an appointment is booked (or moved).
    Confirmation,
    /// Sent at each reminder offset before the appointment.
    Reminder,
    /// Sent when an appointment is cancelled.
    Cancellation,
    /// SMS answer to a patient who confirmed by SMS.
    Confirmed,
    /// SMS answer to a reply that is no keyword.
    Help,
    /// SMS answer to START.
    Resumed,
    /// Sent when a test result becomes available: where to download it, never the code or the
    /// content.
    ResultsReady,
    /// A bulk message (`rendez campaign send`, seed A.6): read from the file the operator names,
    /// never from the templates directory, so it is not in [`TemplateKind::ALL`].
    Campaign,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 7] = [
        TemplateKind::Confirmation,
        TemplateKind::Reminder,
        TemplateKind::Cancellation,
        TemplateKind::Confirmed,
        TemplateKind::Help,
        TemplateKind::Resumed,
        TemplateKind::ResultsReady,
    ];

    /// The name in file names and in the notices table.
    pub fn name(self) -> &'static str {
        match self {
            TemplateKind::Confirmation => "confirmation",
            TemplateKind::Reminder => "reminder",
            TemplateKind::Cancellation => "cancellation",
            TemplateKind::Confirmed => "confirmed",
            TemplateKind::Help => "help",
            TemplateKind::Resumed => "resumed",
            TemplateKind::ResultsReady => "results_ready",
            TemplateKind::Campaign => "campaign",
        }
    }

    pub fn from_name(name: &str) -> Option<TemplateKind> {
        TemplateKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Messages about an appointment may go by SMS or email; replies go back by SMS.
    fn sections(self) -> &'static [Section] {
        match self {
            TemplateKind::Confirmation
            | TemplateKind::Reminder
            | TemplateKind::Cancellation
            | TemplateKind::ResultsReady
            | TemplateKind::Campaign => &[Section::Subject, Section::Sms, Section::Email],
            TemplateKind::Confirmed | TemplateKind::Help | TemplateKind::Resumed => &[Section::Sms],
        }
    }

    /// The sections a template of this kind must have. A campaign needs [sms], or [subject] and
    /// [email], or all three: whichever its recipients are written on.
    fn required_sections(self) -> &'static [Section] {
        match self {
            TemplateKind::Campaign => &[],
            other => other.sections(),
        }
    }

    fn placeholders(self) -> &'static [Placeholder] {
        use Placeholder::*;
        match self {
            TemplateKind::Confirmation | TemplateKind::Reminder => &[
                FirstName,
                Date,
                Time,
                Doctor,
                Activity,
                CenterName,
                CenterAddress,
                CenterPhone,
                Link,
            ],
            // The appointment is gone: a link to it would lead nowhere.
            TemplateKind::Cancellation | TemplateKind::Confirmed => &[
                FirstName,
                Date,
                Time,
                Doctor,
                Activity,
                CenterName,
                CenterAddress,
                CenterPhone,
            ],
            TemplateKind::Help | TemplateKind::Resumed => &[],
            // No appointment: whom it is for, who sends it, and where the download page is.
            TemplateKind::ResultsReady => &[FirstName, CenterName, Link],
            // What a recipients file gives: a name.
            TemplateKind::Campaign => &[FirstName],
        }
    }
}

impl fmt::Display for TemplateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Subject,
    Sms,
    Email,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Subject => "subject",
            Section::Sms => "sms",
            Section::Email => "email",
        }
    }

    fn from_name(name: &str) -> Option<Section> {
        [Section::Subject, Section::Sms, Section::Email]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A value a template may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placeholder {
    FirstName,
    /// The appointment's date on the center's clock, `dd/mm/yyyy`.
    Date,
    /// The appointment's start on the center's clock, `hh:mm`.
    Time,
    Doctor,
    Activity,
    CenterName,
    CenterAddress,
    CenterPhone,
    /// The page the message leads to: the appointment's page where the patient confirms or
    /// cancels, or, in `results_ready`, the results download page.
    Link,
}

impl Placeholder {
    const ALL: [Placeholder; 9] = [
        Placeholder::FirstName,
        Placeholder::Date,
        Placeholder::Time,
        Placeholder::Doctor,
        Placeholder::Activity,
        Placeholder::CenterName,
        Placeholder::CenterAddress,
        Placeholder::CenterPhone,
        Placeholder::Link,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::FirstName => "first_name",
            Placeholder::Date => "date",
            Placeholder::Time => "time",
            Placeholder::Doctor => "doctor",
            Placeholder::Activity => "activity",
            Placeholder::CenterName => "center_name",
            Placeholder::CenterAddress => "center_address",
            Placeholder::CenterPhone => "center_phone",
            Placeholder::Link => "link",
        }
    }
}

/// The values of one message; a missing one shows as its default text, or as nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateValues(BTreeMap<Placeholder, String>);

impl TemplateValues {
    pub fn set(&mut self, placeholder: Placeholder, value: Option<impl Into<String>>) -> &mut Self {
        match value.map(Into::into).filter(|v| !v.trim().is_empty()) {
            Some(v) => self.0.insert(placeholder, v),
            None => self.0.remove(&placeholder),
        };
        self
    }

    fn get(&self, placeholder: Placeholder) -> Option<&str> {
        self.0.get(&placeholder).map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Value {
        placeholder: Placeholder,
        default: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Text(Vec<Segment>);

impl Text {
    fn render(&self, values: &TemplateValues) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Value {
                    placeholder,
                    default,
                } => out.push_str(values.get(*placeholder).unwrap_or(default)),
            }
        }
        out
    }
}

/// A template that failed to load: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub source: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "template {} line {line}: {}", self.source, self.message),
            None => write!(f, "template {}: {}", self.source, self.message),
        }
    }
}

type NumberedLines<'a> = Vec<(usize, &'a str)>;

/// One kind of message in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    kind: TemplateKind,
    language: String,
    subject: Option<Text>,
    sms: Text,
    email: Option<Text>,
}

/// A template filled in: the SMS text, and the email's subject and body where the kind has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub sms: String,
    pub subject: Option<String>,
    pub email: Option<String>,
}

impl Template {
    /// Reads a template's text; `source` names it in errors (a file path).
    pub fn parse(
        kind: TemplateKind,
        language: &str,
        source: &str,
        text: &str,
    ) -> Result<Template, TemplateError> {
        let error = |line: Option<usize>, message: String| TemplateError {
            source: source.to_string(),
            line,
            message,
        };
        // Each section with the line of its header and its numbered lines.
        let mut sections: Vec<(Section, usize, NumberedLines<'_>)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let trimmed = line.trim();
            if trimmed.starts_with('#') {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                let Some(section) = Section::from_name(name.trim()) else {
                    return Err(error(
                        Some(number),
                        format!(
                            "unknown section [{name}] (sections are [subject], [sms] and [email])"
                        ),
                    ));
                };
                if !kind.sections().contains(&section) {
                    return Err(error(
                        Some(number),
                        format!("{kind} templates have no [{}] section", section.name()),
                    ));
                }
                if sections.iter().any(|(s, _, _)| *s == section) {
                    return Err(error(
                        Some(number),
                        format!("the section [{}] appears twice", section.name()),
                    ));
                }
                sections.push((section, number, Vec::new()));
                continue;
            }
            match sections.last_mut() {
                Some((_, _, lines)) => lines.push((number, line)),
                None if trimmed.is_empty() => {}
                None => {
                    return Err(error(
                        Some(number),
                        "text before the first section ([subject], [sms] or [email])".into(),
                    ));
                }
            }
        }
        let mut template = Template {
            kind,
            language: language.to_string(),
            subject: None,
            sms: Text::default(),
            email: None,
        };
        for required in kind.required_sections() {
            if !sections.iter().any(|(s, _, _)| s == required) {
                return Err(error(
                    None,
                    format!("the section [{}] is missing", required.name()),
                ));
            }
        }
        if kind == TemplateKind::Campaign {
            let has = |wanted: Section| sections.iter().any(|(s, _, _)| *s == wanted);
            let message = match (
                has(Section::Sms),
                has(Section::Subject),
                has(Section::Email),
            ) {
                (_, true, false) => Some("a [subject] needs an [email] section"),
                (_, false, true) => Some("an [email] section needs a [subject]"),
                (false, false, false) => Some(
                    "the template needs an [sms] section, or [subject] and [email], or all three",
                ),
                _ => None,
            };
            if let Some(message) = message {
                return Err(error(None, message.into()));
            }
        }
        for (section, header_line, lines) in sections {
            // Blank lines around a section's text are layout, not content.
            let first = lines.iter().position(|(_, l)| !l.trim().is_empty());
            let last = lines.iter().rposition(|(_, l)| !l.trim().is_empty());
            let body = match (first, last) {
                (Some(first), Some(last)) => &lines[first..=last],
                _ => {
                    return Err(error(
                        Some(header_line),
                        format!("the section [{}] is empty", section.name()),
                    ));
                }
            };
            if section == Section::Subject && body.len() > 1 {
                return Err(error(Some(body[1].0), "a subject is one line".into()));
            }
            let mut segments = Vec::new();
            for (position, (number, line)) in body.iter().enumerate() {
                if position > 0 {
                    segments.push(Segment::Literal("\n".into()));
                }
                let line = if section == Section::Subject {
                    line.trim()
                } else {
                    line.trim_end()
                };
                segments.extend(
                    parse_line(line, kind).map_err(|message| error(Some(*number), message))?,
                );
            }
            let text = Text(merge_literals(segments));
            match section {
                Section::Subject => template.subject = Some(text),
                Section::Sms => template.sms = text,
                Section::Email => template.email = Some(text),
            }
        }
        Ok(template)
    }

    pub fn kind(&self) -> TemplateKind {
        self.kind
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    /// Whether the template can be sent by SMS (every kind but a campaign without [sms] can).
    pub fn has_sms(&self) -> bool {
        !self.sms.0.is_empty()
    }

    /// Whether the template has an email (subject and body).
    pub fn has_email(&self) -> bool {
        self.email.is_some()
    }

    pub fn render(&self, values: &TemplateValues) -> Rendered {
        Rendered {
            sms: self.sms.render(values),
            subject: self.subject.as_ref().map(|t| t.render(values)),
            email: self.email.as_ref().map(|t| t.render(values)),
        }
    }
}

fn parse_line(line: &str, kind: TemplateKind) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, n)| *n) == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().map(|(_, n)| *n) == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err("a lone '}' (write '}}' for a brace)".into()),
            '{' => {
                let rest = &line[at + 1..];
                let Some(close) = rest.find('}') else {
                    return Err("a '{' without its '}' (write '{{' for a brace)".into());
                };
                let inside = &rest[..close];
                let (name, default) = match inside.split_once('|') {
                    Some((name, default)) => (name.trim(), default.to_string()),
                    None => (inside.trim(), String::new()),
                };
                let placeholder = placeholder_for(name, kind)?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Value {
                    placeholder,
                    default,
                });
                // Skip what was read, up to and including the '}'.
                while let Some((i, _)) = chars.peek() {
                    if *i > at + close + 1 {
                        break;
                    }
                    chars.next();
                }
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

fn placeholder_for(name: &str, kind: TemplateKind) -> Result<Placeholder, String> {
    let allowed = kind.placeholders();
    let list = || {
        if allowed.is_empty() {
            "none".to_string()
        } else {
            allowed
                .iter()
                .map(|p| format!("{{{}}}", p.name()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match Placeholder::ALL.into_iter().find(|p| p.name() == name) {
        Some(p) if allowed.contains(&p) => Ok(p),
        Some(_) => Err(format!(
            "the placeholder {{{name}}} is not available in {kind} templates (available: {})",
            list()
        )),
        None => Err(format!(
            "unknown placeholder {{{name}}} (available in {kind} templates: {})",
            list()
        )),
    }
}

fn merge_literals(segments: Vec<Segment>) -> Vec<Segment> {
    let mut merged: Vec<Segment> = Vec::with_capacity(segments.len());
    for segment in segments {
        match (merged.last_mut(), segment) {
            (Some(Segment::Literal(before)), Segment::Literal(text)) => before.push_str(&text),
            (_, segment) => merged.push(segment),
        }
    }
    merged
}

/// The shipped templates, compiled in so that a bare `cargo run` can send messages.
const BUILTIN: &[(&str, &str)] = &[
    (
        "confirmation.es.txt",
        include_str!("../../../templates/confirmation.es.txt"),
    ),
    (
        "confirmation.en.txt",
        include_str!("../../../templates/confirmation.en.txt"),
    ),
    (
        "reminder.es.txt",
        include_str!("../../../templates/reminder.es.txt"),
    ),
    (
        "reminder.en.txt",
        include_str!("../../../templates/reminder.en.txt"),
    ),
    (
        "cancellation.es.txt",
        include_str!("../../../templates/cancellation.es.txt"),
    ),
    (
        "cancellation.en.txt",
        include_str!("../../../templates/cancellation.en.txt"),
    ),
    (
        "confirmed.es.txt",
        include_str!("../../../templates/confirmed.es.txt"),
    ),
    (
        "confirmed.en.txt",
        include_str!("../../../templates/confirmed.en.txt"),
    ),
    (
        "help.es.txt",
        include_str!("../../../templates/help.es.txt"),
    ),
    (
        "help.en.txt",
        include_str!("../../../templates/help.en.txt"),
    ),
    (
        "resumed.es.txt",
        include_str!("../../../templates/resumed.es.txt"),
    ),
    (
        "resumed.en.txt",
        include_str!("../../../templates/resumed.en.txt"),
    ),
    (
        "results_ready.es.txt",
        include_str!("../../../templates/results_ready.es.txt"),
    ),
    (
        "results_ready.en.txt",
        include_str!("../../../templates/results_ready.en.txt"),
    ),
];

/// Every template, by kind and language.
#[derive(Clone, Debug)]
pub struct TemplateSet {
    templates: BTreeMap<(TemplateKind, String), Template>,
}

/// `reminder.es.txt` → (Reminder, "es"); `None` for names that are no template's.
fn split_file_name(file_name: &str) -> Result<Option<(TemplateKind, String)>, String> {
    let Some(stem) = file_name.strip_suffix(".txt") else {
        return Ok(None);
    };
    let Some((kind, language)) = stem.split_once('.') else {
        return Err(format!(
            "the file name {file_name} is not KIND.LANGUAGE.txt (e.g. reminder.es.txt)"
        ));
    };
    let kind = TemplateKind::from_name(kind).ok_or_else(|| {
        let kinds: Vec<&str> = TemplateKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "the file {file_name} names no kind of template ('{kind}'; kinds are {})",
            kinds.join(", ")
        )
    })?;
    let language = normalize_language(language).ok_or_else(|| {
        format!("the file {file_name}: '{language}' is not a language code such as es or pt-br")
    })?;
    Ok(Some((kind, language)))
}

/// A language code as stored for patients: lower case, `-` between parts (`es`, `pt-br`).
pub fn normalize_language(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_lowercase().replace('_', "-");
    let valid = (2..=10).contains(&code.len())
        && code
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
        && code.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    valid.then_some(code)
}

impl TemplateSet {
    /// The shipped templates only.
    pub fn builtin() -> TemplateSet {
        let mut set = TemplateSet {
            templates: BTreeMap::new(),
        };
        for (name, text) in BUILTIN {
            let (kind, language) = split_file_name(name)
                .ok()
                .flatten()
                .expect("built-in template names are KIND.LANGUAGE.txt");
            let template = Template::parse(kind, &language, &format!("(built-in) {name}"), text)
                .unwrap_or_else(|e| panic!("a built-in template does not parse: {e}"));
            set.templates.insert((kind, language), template);
        }
        set
    }

    /// The shipped templates, overridden and extended by the `*.txt` files of `dir`.
    pub fn load(dir: Option<&Path>) -> Result<TemplateSet, String> {
        let mut set = TemplateSet::builtin();
        let Some(dir) = dir else {
            return Ok(set);
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("RENDEZ_TEMPLATES_DIR {} cannot be read: {e}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("RENDEZ_TEMPLATES_DIR {} cannot be read: {e}", dir.display()))?;
        paths.sort();
        for path in paths {
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some((kind, language)) = split_file_name(file_name)
                .map_err(|e| format!("RENDEZ_TEMPLATES_DIR {}: {e}", dir.display()))?
            else {
                continue;
            };
            let source = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("template {source} cannot be read: {e}"))?;
            let template =
                Template::parse(kind, &language, &source, &text).map_err(|e| e.to_string())?;
            set.templates.insert((kind, language), template);
        }
        Ok(set)
    }

    pub fn get(&self, kind: TemplateKind, language: &str) -> Option<&Template> {
        self.templates.get(&(kind, language.to_string()))
    }

    /// True when every kind has a template in `language`.
    pub fn is_complete(&self, language: &str) -> bool {
        TemplateKind::ALL
            .iter()
            .all(|kind| self.get(*kind, language).is_some())
    }

    /// The template of the first language in `preferred` that has one.
    pub fn pick<'a>(
        &self,
        kind: TemplateKind,
        preferred: impl IntoIterator<Item = &'a str>,
    ) -> Option<&Template> {
        preferred
            .into_iter()
            .find_map(|language| self.get(kind, language))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> TemplateValues {
        let mut v = TemplateValues::default();
        v.set(Placeholder::FirstName, Some("Zoë"))
            .set(Placeholder::Date, Some("01/03/2027"))
            .set(Placeholder::Time, Some("10:00"))
            .set(Placeholder::Doctor, Some("Łukasz Peña"))
            .set(Placeholder::Activity, Some("Consulta"))
            .set(Placeholder::CenterName, Some("Centro Uno"))
            .set(Placeholder::Link, Some("https://r.example/a/TOKEN"));
        v
    }

    fn reminder(text: &str) -> Result<Template, TemplateError> {
        Template::parse(TemplateKind::Reminder, "es", "reminder.es.txt", text)
    }

    const GOOD: &str = "# Shown to patients.\n\n[subject]\nCita en {center_name}\n[sms]\n{center_name}: {date} {time} con {doctor}. {link}\n\n[email]\nEstimado/a {first_name|paciente}:\n\nSu cita es el {date} en {center_address|el centro}.\n{{no es un campo}}\n";

    #[test]
    fn a_template_renders_every_section_with_values_and_defaults() {
        let rendered = reminder(GOOD).unwrap().render(&values());
        assert_eq!(rendered.subject.as_deref(), Some("Cita en Centro Uno"));
        assert_eq!(
            rendered.sms,
            "Centro Uno: 01/03/2027 10:00 con Łukasz Peña. https://r.example/a/TOKEN"
        );
        assert_eq!(
            rendered.email.as_deref(),
            Some("Estimado/a Zoë:\n\nSu cita es el 01/03/2027 en el centro.\n{no es un campo}")
        );
        let mut anonymous = values();
        anonymous.set(Placeholder::FirstName, None::<String>);
        let rendered = reminder(GOOD).unwrap().render(&anonymous);
        assert!(rendered.email.unwrap().starts_with("Estimado/a paciente:"));
    }

    #[test]
    fn an_unknown_placeholder_is_an_error_naming_the_file_line_and_placeholder() {
        let text = GOOD.replace("{doctor}", "{docter}");
        let err = reminder(&text).unwrap_err();
        assert_eq!(err.line, Some(6));
        let shown = err.to_string();
        assert!(
            shown.starts_with("template reminder.es.txt line 6:"),
            "{shown}"
        );
        assert!(shown.contains("unknown placeholder {docter}"), "{shown}");
        assert!(shown.contains("{doctor}"), "lists the known ones: {shown}");
    }

    #[test]
    fn a_placeholder_of_another_kind_is_refused_for_this_kind() {
        let text = "[subject]\nx\n[sms]\nAnulada: {link}\n[email]\nx\n";
        let err = Template::parse(TemplateKind::Cancellation, "es", "c.es.txt", text).unwrap_err();
        assert_eq!(err.line, Some(4));
        assert!(
            err.message
                .contains("{link} is not available in cancellation"),
            "{err}"
        );
        let err =
            Template::parse(TemplateKind::Help, "es", "h.es.txt", "[sms]\n{date}\n").unwrap_err();
        assert!(err.message.contains("available: none"), "{err}");
    }

    #[test]
    fn broken_structure_is_an_error_with_its_line() {
        let cases: &[(&str, Option<usize>, &str)] = &[
            ("Hola\n[sms]\nx\n", Some(1), "text before the first section"),
            (
                "[subject]\nx\n[sms]\nx\n[mms]\nx\n",
                Some(5),
                "unknown section [mms]",
            ),
            (
                "[subject]\nx\n[sms]\nx\n[sms]\ny\n[email]\nz\n",
                Some(5),
                "appears twice",
            ),
            ("[subject]\nx\n[sms]\nx\n", None, "[email] is missing"),
            (
                "[subject]\nx\ny\n[sms]\nx\n[email]\nz\n",
                Some(3),
                "one line",
            ),
            (
                "[subject]\n\n[sms]\nx\n[email]\nz\n",
                Some(1),
                "[subject] is empty",
            ),
            (
                "[subject]\nx\n[sms]\n{date\n[email]\nz\n",
                Some(4),
                "without its '}'",
            ),
            (
                "[subject]\nx\n[sms]\na } b\n[email]\nz\n",
                Some(4),
                "lone '}'",
            ),
        ];
        for (text, line, says) in cases {
            let err = reminder(text).unwrap_err();
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.message.contains(says), "{text:?}: {err}");
        }
        let err = Template::parse(
            TemplateKind::Help,
            "es",
            "help.es.txt",
            "[subject]\nx\n[sms]\ny\n",
        )
        .unwrap_err();
        assert!(
            err.message.contains("help templates have no [subject]"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_templates_are_complete_in_spanish_and_english() {
        let set = TemplateSet::builtin();
        assert!(set.is_complete("es"));
        assert!(set.is_complete("en"));
        let reminder = set
            .get(TemplateKind::Reminder, "es")
            .unwrap()
            .render(&values());
        assert!(reminder.sms.contains("01/03/2027"), "{}", reminder.sms);
        assert!(
            reminder.sms.contains("https://r.example/a/TOKEN"),
            "{}",
            reminder.sms
        );
        for kind in TemplateKind::ALL {
            for language in ["es", "en"] {
                let rendered = set.get(kind, language).unwrap().render(&values());
                assert!(
                    !rendered.sms.contains('{'),
                    "{kind}.{language}: {}",
                    rendered.sms
                );
            }
        }
    }

    #[test]
    fn a_directory_overrides_a_shipped_template_and_adds_a_language() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("reminder.es.txt"),
            "[subject]\nS\n[sms]\nPropio {time}\n[email]\nE\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("help.CA.txt"), "[sms]\nResponeu 1 o 2.\n").unwrap();
        std::fs::write(dir.path().join("README.md"), "not a template").unwrap();
        let set = TemplateSet::load(Some(dir.path())).unwrap();
        let sms = set
            .get(TemplateKind::Reminder, "es")
            .unwrap()
            .render(&values())
            .sms;
        assert_eq!(sms, "Propio 10:00");
        assert!(set.get(TemplateKind::Help, "ca").is_some());
        assert!(!set.is_complete("ca"));
        let picked = set.pick(TemplateKind::Reminder, ["ca", "en"]).unwrap();
        assert_eq!(picked.language(), "en");
    }

    #[test]
    fn a_bad_file_in_the_directory_stops_the_load_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confirmation.en.txt");
        std::fs::write(&path, "[subject]\nS\n[sms]\nHi {frist_name}\n[email]\nE\n").unwrap();
        let err = TemplateSet::load(Some(dir.path())).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("{frist_name}"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("remindr.es.txt"), "[sms]\nx\n").unwrap();
        let err = TemplateSet::load(Some(dir.path())).unwrap_err();
        assert!(err.contains("remindr.es.txt names no kind"), "{err}");

        let missing = dir.path().join("nowhere");
        let err = TemplateSet::load(Some(&missing)).unwrap_err();
        assert!(err.contains("RENDEZ_TEMPLATES_DIR"), "{err}");
    }

    #[test]
    fn a_campaign_template_needs_sms_or_an_email_with_its_subject_and_only_the_first_name() {
        let parse = |text: &str| Template::parse(TemplateKind::Campaign, "es", "c.txt", text);
        let sms_only = parse("[sms]\nHola {first_name|}: vacunas gratis.\n").unwrap();
        assert!(sms_only.has_sms() && !sms_only.has_email());
        let email_only = parse("[subject]\nVacunas\n[email]\nHola {first_name}\n").unwrap();
        assert!(!email_only.has_sms() && email_only.has_email());
        for (text, says) in [
            ("# nothing\n", "needs an [sms] section"),
            ("[sms]\nx\n[email]\ny\n", "needs a [subject]"),
            ("[subject]\nx\n[sms]\ny\n", "needs an [email]"),
            (
                "[sms]\n{date}\n",
                "{date} is not available in campaign templates",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn language_codes_are_normalised() {
        assert_eq!(normalize_language("es").as_deref(), Some("es"));
        assert_eq!(normalize_language("pt_BR").as_deref(), Some("pt-br"));
        assert_eq!(normalize_language("e"), None);
        assert_eq!(normalize_language("es--x"), None);
        assert_eq!(normalize_language("1x"), None);
    }
}
