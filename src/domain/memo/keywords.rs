//! What a patient's SMS reply means: confirm, cancel, STOP, START, or something else.
//!
//! A reply matches a keyword only as a whole (after folding case, accents, surrounding
//! punctuation and spaces): "Sí." confirms, "No sé si podré ir" does not cancel, it gets the help
//! answer instead. Cancelling frees the slot, so a guess would cost the patient their appointment.

use std::collections::BTreeMap;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyIntent {
    Confirm,
    Cancel,
    /// No more SMS to this number.
    Stop,
    /// SMS to this number again.
    Start,
    Other,
}

impl ReplyIntent {
    /// The word logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyIntent::Confirm => "confirm",
            ReplyIntent::Cancel => "cancel",
            ReplyIntent::Stop => "stop",
            ReplyIntent::Start => "start",
            ReplyIntent::Other => "other",
        }
    }
}

/// One language's keywords as configured (`[reply_keywords.es]` in the TOML file); a list that
/// is given replaces that language's default list.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeywordLists {
    pub confirm: Option<Vec<String>>,
    pub cancel: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    pub start: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LanguageKeywords {
    confirm: Vec<String>,
    cancel: Vec<String>,
    stop: Vec<String>,
    start: Vec<String>,
}

/// Keywords by language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyKeywords {
    languages: BTreeMap<String, LanguageKeywords>,
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| fold(w)).collect()
}

impl Default for ReplyKeywords {
    fn default() -> Self {
        let mut languages = BTreeMap::new();
        languages.insert(
            "es".to_string(),
            LanguageKeywords {
                confirm: words(&["1", "SI", "OK", "CONFIRMO", "CONFIRMAR", "YES"]),
                cancel: words(&["2", "NO", "ANULAR", "ANULO", "CANCELAR", "CANCEL"]),
                stop: words(&["STOP", "BAJA"]),
                start: words(&["START", "ALTA"]),
            },
        );
        languages.insert(
            "en".to_string(),
            LanguageKeywords {
                confirm: words(&["1", "YES", "Y", "OK", "CONFIRM", "SI"]),
                cancel: words(&["2", "NO", "N", "CANCEL"]),
                stop: words(&["STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT"]),
                start: words(&["START", "UNSTOP"]),
            },
        );
        ReplyKeywords { languages }
    }
}

/// Upper case, accents and surrounding punctuation removed, inner spaces collapsed.
pub fn fold(text: &str) -> String {
    let plain: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect::<String>()
        .to_uppercase();
    let trimmed = plain.trim_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || "¡¿«»“”‘’".contains(c)
    });
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl ReplyKeywords {
    /// The defaults, with the configured languages' lists replacing theirs.
    pub fn configured(overrides: &BTreeMap<String, KeywordLists>) -> Result<ReplyKeywords, String> {
        let mut keywords = ReplyKeywords::default();
        for (language, lists) in overrides {
            let code = super::templates::normalize_language(language).ok_or_else(|| {
                format!("reply_keywords: '{language}' is not a language code such as es or en")
            })?;
            let entry = keywords.languages.entry(code.clone()).or_default();
            let set = |target: &mut Vec<String>, given: &Option<Vec<String>>, name: &str| {
                if let Some(list) = given {
                    let folded: Vec<String> = list.iter().map(|w| fold(w)).collect();
                    if let Some(blank) = list.iter().zip(&folded).find(|(_, f)| f.is_empty()) {
                        return Err(format!(
                            "reply_keywords.{code}.{name}: '{}' is no keyword once punctuation and spaces are removed",
                            blank.0
                        ));
                    }
                    *target = folded;
                }
                Ok(())
            };
            set(&mut entry.confirm, &lists.confirm, "confirm")?;
            set(&mut entry.cancel, &lists.cancel, "cancel")?;
            set(&mut entry.stop, &lists.stop, "stop")?;
            set(&mut entry.start, &lists.start, "start")?;
            if let Some(both) = entry.confirm.iter().find(|w| entry.cancel.contains(w)) {
                return Err(format!(
                    "reply_keywords.{code}: '{both}' is both a confirm and a cancel keyword"
                ));
            }
        }
        Ok(keywords)
    }

    /// What `text` means. `language` (the language the patient was written in) is looked at
    /// first, then every other configured language; STOP and START before anything else.
    pub fn interpret(&self, text: &str, language: Option<&str>) -> ReplyIntent {
        let folded = fold(text);
        if folded.is_empty() {
            return ReplyIntent::Other;
        }
        let first = language
            .and_then(|code| {
                self.languages
                    .get(code)
                    .or_else(|| self.languages.get(code.split('-').next().unwrap_or(code)))
            })
            .into_iter();
        let ordered: Vec<&LanguageKeywords> = first.chain(self.languages.values()).collect();
        let has = |pick: fn(&LanguageKeywords) -> &Vec<String>| {
            ordered.iter().find(|k| pick(k).contains(&folded)).is_some()
        };
        if has(|k| &k.stop) {
            return ReplyIntent::Stop;
        }
        if has(|k| &k.start) {
            return ReplyIntent::Start;
        }
        for keywords in &ordered {
            if keywords.confirm.contains(&folded) {
                return ReplyIntent::Confirm;
            }
            if keywords.cancel.contains(&folded) {
                return ReplyIntent::Cancel;
            }
        }
        ReplyIntent::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_keywords_confirm_cancel_stop_and_start() {
        let k = ReplyKeywords::default();
        for confirm in ["1", "SI", "sí", " Sí. ", "yes", "OK!", "¡Confirmo!"] {
            assert_eq!(
                k.interpret(confirm, Some("es")),
                ReplyIntent::Confirm,
                "{confirm}"
            );
        }
        for cancel in ["2", "NO", "no.", "Cancel", "anular"] {
            assert_eq!(
                k.interpret(cancel, Some("es")),
                ReplyIntent::Cancel,
                "{cancel}"
            );
        }
        assert_eq!(k.interpret("stop", Some("es")), ReplyIntent::Stop);
        assert_eq!(k.interpret("Baja", None), ReplyIntent::Stop);
        assert_eq!(k.interpret("START", Some("en")), ReplyIntent::Start);
        assert_eq!(k.interpret("yes", Some("en")), ReplyIntent::Confirm);
        assert_eq!(k.interpret("Y", Some("en")), ReplyIntent::Confirm);
    }

    #[test]
    fn a_reply_counts_only_as_a_whole_and_anything_else_is_other() {
        let k = ReplyKeywords::default();
        for other in [
            "No sé si podré ir",
            "1 2",
            "",
            "   ",
            "¿?",
            "Si gracias hasta mañana",
        ] {
            assert_eq!(
                k.interpret(other, Some("es")),
                ReplyIntent::Other,
                "{other:?}"
            );
        }
    }

    #[test]
    fn a_configured_language_replaces_its_lists_and_a_new_language_can_be_added() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "es".to_string(),
            KeywordLists {
                confirm: Some(vec!["vale".into(), "Sí, iré".into()]),
                ..KeywordLists::default()
            },
        );
        overrides.insert(
            "CA".to_string(),
            KeywordLists {
                confirm: Some(vec!["D'acord".into()]),
                cancel: Some(vec!["Anul·lar".into()]),
                ..KeywordLists::default()
            },
        );
        let k = ReplyKeywords::configured(&overrides).unwrap();
        assert_eq!(k.interpret("Vale", Some("es")), ReplyIntent::Confirm);
        assert_eq!(k.interpret("si, ire", Some("es")), ReplyIntent::Confirm);
        // "SI" is still an English default, and other languages are looked at too.
        assert_eq!(k.interpret("si", Some("es")), ReplyIntent::Confirm);
        assert_eq!(k.interpret("d'acord", Some("ca")), ReplyIntent::Confirm);
        assert_eq!(k.interpret("ANUL·LAR", Some("ca")), ReplyIntent::Cancel);
        assert_eq!(k.interpret("NO", Some("es")), ReplyIntent::Cancel);
    }

    #[test]
    fn contradictory_or_empty_keywords_are_refused_naming_them() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "es".to_string(),
            KeywordLists {
                confirm: Some(vec!["2".into()]),
                ..KeywordLists::default()
            },
        );
        let err = ReplyKeywords::configured(&overrides).unwrap_err();
        assert!(err.contains("'2' is both"), "{err}");
        overrides.insert(
            "es".to_string(),
            KeywordLists {
                cancel: Some(vec!["!!".into()]),
                ..KeywordLists::default()
            },
        );
        let err = ReplyKeywords::configured(&overrides).unwrap_err();
        assert!(err.contains("reply_keywords.es.cancel: '!!'"), "{err}");
        let mut bad = BTreeMap::new();
        bad.insert("?".to_string(), KeywordLists::default());
        assert!(ReplyKeywords::configured(&bad).unwrap_err().contains("'?'"));
    }
}
