//! A patient as a booking sends it: the keys that find them and their contact data, normalised
//! (phones to E.164, emails lower-cased) and validated with the field named.

use chrono::NaiveDate;

use super::values::{FieldError, FieldResult, FieldSource, Lid, NAME_MAX_CHARS, date, lid, text};

/// How a booking names its patient: the clinic's id, Rendez's id, or neither (match by ID
/// number or create).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatientKeys {
    pub lid: Option<Lid>,
    pub tid: Option<String>,
    pub id_number: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatientFields {
    pub first_name: Option<String>,
    pub second_name: Option<String>,
    pub third_name: Option<String>,
    pub gender: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub mobile_phone: Option<String>,
    pub landline_phone: Option<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    pub communication_preferences: Option<String>,
}

/// A phone number in E.164 (`+34600111222`). Numbers without a country code are read in
/// `default_country` (ISO 3166 alpha-2), if one is configured.
pub fn normalize_phone(raw: &str, default_country: Option<&str>) -> Result<String, String> {
    let country = default_country
        .map(|c| {
            c.parse::<phonenumber::country::Id>()
                .map_err(|_| format!("unknown country code {c}"))
        })
        .transpose()?;
    if !raw.trim_start().starts_with('+')
        && !raw.trim_start().starts_with("00")
        && country.is_none()
    {
        return Err(format!(
            "'{raw}' has no international prefix (+CC) and no default country is configured (RENDEZ_DEFAULT_COUNTRY)"
        ));
    }
    let cleaned = raw
        .trim()
        .strip_prefix("00")
        .map(|r| format!("+{r}"))
        .unwrap_or_else(|| raw.trim().to_string());
    let number = phonenumber::parse(country, &cleaned)
        .map_err(|e| format!("'{raw}' is not a phone number: {e}"))?;
    if !phonenumber::is_valid(&number) {
        return Err(format!("'{raw}' is not a valid phone number"));
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// An email address, lower-cased (addresses are compared case-insensitively in practice, and
/// MySQL and SQLite compare differently: one form is stored).
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let lowered = raw.trim().to_lowercase();
    if lowered.len() > 254
        || !email_address::EmailAddress::is_valid(&lowered)
        || !lowered.contains('.')
    {
        return Err(format!("'{raw}' is not an email address"));
    }
    Ok(lowered)
}

fn phone(
    src: &impl FieldSource,
    field: &'static str,
    country: Option<&str>,
) -> FieldResult<Option<String>> {
    src.field(field)
        .map(|raw| {
            normalize_phone(raw, country)
                .map_err(|e| FieldError::new(field, format!("{field}: {e}")))
        })
        .transpose()
}

impl PatientKeys {
    pub fn parse(src: &impl FieldSource) -> FieldResult<PatientKeys> {
        let tid = match src.field("USER_TID") {
            Some(raw) if uuid::Uuid::parse_str(raw).is_ok() => Some(raw.to_ascii_lowercase()),
            Some(raw) => {
                return Err(FieldError::new(
                    "USER_TID",
                    format!("USER_TID '{raw}' is not an id Rendez gave"),
                ));
            }
            None => None,
        };
        Ok(PatientKeys {
            lid: lid(src, "USER_LID")?,
            tid,
            id_number: text(src, "USER_ID_NUMBER", 50)?.map(|n| n.to_uppercase()),
        })
    }
}

impl PatientFields {
    pub fn parse(
        src: &impl FieldSource,
        default_country: Option<&str>,
    ) -> FieldResult<PatientFields> {
        let gender = src
            .field("USER_GENDER")
            .map(|raw| match raw.to_ascii_uppercase().as_str() {
                g @ ("M" | "F" | "X") => Ok(g.to_string()),
                _ => Err(FieldError::new(
                    "USER_GENDER",
                    format!("USER_GENDER '{raw}' must be M, F or X"),
                )),
            })
            .transpose()?;
        let date_of_birth = date(src, "USER_DATE_OF_BIRTH")?;
        if date_of_birth.is_some_and(|d| d > chrono::Utc::now().date_naive()) {
            return Err(FieldError::new(
                "USER_DATE_OF_BIRTH",
                "USER_DATE_OF_BIRTH is in the future",
            ));
        }
        let email = src
            .field("USER_EMAIL")
            .map(|raw| {
                normalize_email(raw)
                    .map_err(|e| FieldError::new("USER_EMAIL", format!("USER_EMAIL: {e}")))
            })
            .transpose()?;
        let language = src
            .field("USER_LANGUAGE")
            .map(|raw| {
                let ok = (2..=10).contains(&raw.len())
                    && raw
                        .chars()
                        .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_');
                if ok {
                    Ok(raw.to_ascii_lowercase().replace('_', "-"))
                } else {
                    Err(FieldError::new(
                        "USER_LANGUAGE",
                        format!("USER_LANGUAGE '{raw}' is not a language code such as es or en-GB"),
                    ))
                }
            })
            .transpose()?;
        let communication_preferences = src
            .field("COMMUNICATION_PREFERENCES")
            .map(|raw| {
                if raw.len() == 3 && raw.bytes().all(|b| b == b'0' || b == b'1') {
                    Ok(raw.to_string())
                } else {
                    Err(FieldError::new(
                        "COMMUNICATION_PREFERENCES",
                        format!("COMMUNICATION_PREFERENCES '{raw}' must be three digits 0/1 (SMS, email, landline), e.g. 101"),
                    ))
                }
            })
            .transpose()?;
        Ok(PatientFields {
            first_name: text(src, "USER_FIRST_NAME", NAME_MAX_CHARS)?,
            second_name: text(src, "USER_SECOND_NAME", NAME_MAX_CHARS)?,
            third_name: text(src, "USER_THIRD_NAME", NAME_MAX_CHARS)?,
            gender,
            date_of_birth,
            mobile_phone: phone(src, "USER_MOBILE_PHONE", default_country)?,
            landline_phone: phone(src, "USER_LANDLINE_PHONE", default_country)?,
            email,
            language,
            communication_preferences,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            normalize_phone("+34 600 11 22 33", None).unwrap(),
            "+34600112233"
        );
        assert_eq!(
            normalize_phone("0034600112233", None).unwrap(),
            "+34600112233"
        );
        assert_eq!(
            normalize_phone("600 11 22 33", Some("ES")).unwrap(),
            "+34600112233"
        );
        assert_eq!(
            normalize_phone("0412 345 678", Some("AU")).unwrap(),
            "+61412345678"
        );
        assert!(
            normalize_phone("600 11 22 33", None)
                .unwrap_err()
                .contains("RENDEZ_DEFAULT_COUNTRY")
        );
        assert!(normalize_phone("12", Some("ES")).is_err());
        assert!(normalize_phone("call me", Some("ES")).is_err());
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_email(" Zoe.Pena@Example.ORG ").unwrap(),
            "zoe.pena@example.org"
        );
        assert!(normalize_email("not-an-email").is_err());
        assert!(normalize_email("a@b").is_err());
    }
}
