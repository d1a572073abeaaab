//! How and in which language a patient is told: the channel their `COMMUNICATION_PREFERENCES`
//! and contact data allow, and the first language with templates among theirs, their center's
//! and the fallback.

pub use crate::domain::messages::Channel;

/// The channels this server can send on: those with a provider configured. A server with no
/// provider at all may be queueing for the workers of other processes, so every channel counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deliverable {
    pub sms: bool,
    pub email: bool,
}

impl Deliverable {
    pub const ALL: Deliverable = Deliverable {
        sms: true,
        email: true,
    };

    pub fn configured(sms: bool, email: bool) -> Deliverable {
        if !sms && !email {
            return Deliverable::ALL;
        }
        Deliverable { sms, email }
    }
}

impl Default for Deliverable {
    fn default() -> Self {
        Deliverable::ALL
    }
}

/// What is known of a patient's reachability.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reachability<'a> {
    pub mobile_phone: Option<&'a str>,
    pub email: Option<&'a str>,
    /// Three characters 0/1: SMS, email, landline. `None`: the clinic system did not say, and
    /// what contact data it gave may be used.
    pub preferences: Option<&'a str>,
    /// The mobile number answered STOP.
    pub sms_stopped: bool,
    /// What the server can send on.
    pub deliverable: Deliverable,
}

/// Where a message goes, or why it cannot go anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    To { channel: Channel, address: String },
    Nowhere(String),
}

/// SMS when allowed and possible, else email when allowed and possible, else nowhere (with the
/// reason). Possible means the patient has the contact and the server a provider for it. The
/// landline flag is not a channel Rendez writes on.
pub fn route(patient: Reachability<'_>) -> Route {
    let allows = |position: usize| {
        patient
            .preferences
            .is_none_or(|p| p.as_bytes().get(position) == Some(&b'1'))
    };
    let (sms_allowed, email_allowed) = (allows(0), allows(1));
    let sms_wanted = sms_allowed && !patient.sms_stopped && patient.mobile_phone.is_some();
    if sms_wanted
        && patient.deliverable.sms
        && let Some(number) = patient.mobile_phone
    {
        return Route::To {
            channel: Channel::Sms,
            address: number.to_string(),
        };
    }
    let email_wanted = email_allowed && patient.email.is_some();
    if email_wanted
        && patient.deliverable.email
        && let Some(address) = patient.email
    {
        return Route::To {
            channel: Channel::Email,
            address: address.to_string(),
        };
    }
    let why = if sms_wanted || email_wanted {
        let missing: Vec<&str> = [
            (sms_wanted, "SMS (RENDEZ_SMS_PROVIDER)"),
            (email_wanted, "email (RENDEZ_SMTP_URL)"),
        ]
        .into_iter()
        .filter_map(|(wanted, name)| wanted.then_some(name))
        .collect();
        format!(
            "this server has no provider for the patient's channel: {}",
            missing.join(", ")
        )
    } else if !sms_allowed && !email_allowed {
        format!(
            "COMMUNICATION_PREFERENCES {} allows neither SMS nor email",
            patient.preferences.unwrap_or_default()
        )
    } else if sms_allowed && patient.sms_stopped && patient.mobile_phone.is_some() {
        "the mobile number answered STOP and there is no email allowed".to_string()
    } else if sms_allowed && email_allowed {
        "the patient has neither a mobile phone nor an email".to_string()
    } else if sms_allowed {
        "only SMS is allowed and the patient has no mobile phone".to_string()
    } else {
        "only email is allowed and the patient has no email".to_string()
    };
    Route::Nowhere(why)
}

/// The languages to try, best first: the patient's (`es-es`, then `es`), the center's, the
/// fallback; without repeats.
pub fn language_preference<'a>(
    patient: Option<&'a str>,
    center: Option<&'a str>,
    fallback: &'a str,
) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::with_capacity(4);
    let mut push = |code: &'a str| {
        if !code.is_empty() && !out.contains(&code) {
            out.push(code);
        }
    };
    if let Some(code) = patient {
        push(code);
        if let Some((base, _)) = code.split_once('-') {
            push(base);
        }
    }
    if let Some(code) = center {
        push(code);
    }
    push(fallback);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: &str = "+34600111222";
    const MAIL: &str = "zoe@example.org";

    fn to(channel: Channel, address: &str) -> Route {
        Route::To {
            channel,
            address: address.into(),
        }
    }

    fn reach(prefs: Option<&'static str>, phone: bool, email: bool) -> Reachability<'static> {
        Reachability {
            mobile_phone: phone.then_some(PHONE),
            email: email.then_some(MAIL),
            preferences: prefs,
            sms_stopped: false,
            deliverable: Deliverable::ALL,
        }
    }

    #[test]
    fn sms_comes_first_when_allowed_and_there_is_a_mobile() {
        assert_eq!(
            route(reach(Some("110"), true, true)),
            to(Channel::Sms, PHONE)
        );
        assert_eq!(route(reach(None, true, true)), to(Channel::Sms, PHONE));
        assert_eq!(
            route(reach(Some("101"), true, true)),
            to(Channel::Sms, PHONE)
        );
    }

    #[test]
    fn email_is_used_when_sms_is_not_allowed_or_not_possible() {
        assert_eq!(
            route(reach(Some("010"), true, true)),
            to(Channel::Email, MAIL)
        );
        assert_eq!(
            route(reach(Some("110"), false, true)),
            to(Channel::Email, MAIL)
        );
        assert_eq!(route(reach(None, false, true)), to(Channel::Email, MAIL));
    }

    #[test]
    fn stop_moves_a_patient_to_email_if_allowed_and_otherwise_to_nowhere() {
        let mut stopped = reach(Some("110"), true, true);
        stopped.sms_stopped = true;
        assert_eq!(route(stopped), to(Channel::Email, MAIL));
        stopped.preferences = Some("100");
        let Route::Nowhere(why) = route(stopped) else {
            panic!("no channel expected")
        };
        assert!(why.contains("STOP"), "{why}");
    }

    #[test]
    fn nothing_allowed_or_nothing_known_means_nowhere_with_the_reason() {
        let Route::Nowhere(why) = route(reach(Some("001"), true, true)) else {
            panic!("no channel expected")
        };
        assert!(why.contains("001 allows neither SMS nor email"), "{why}");
        let Route::Nowhere(why) = route(reach(Some("100"), false, true)) else {
            panic!("no channel expected")
        };
        assert!(why.contains("only SMS is allowed"), "{why}");
        let Route::Nowhere(why) = route(reach(None, false, false)) else {
            panic!("no channel expected")
        };
        assert!(why.contains("neither a mobile phone nor an email"), "{why}");
    }

    #[test]
    fn a_channel_without_a_provider_is_passed_over_for_the_other_or_named_as_the_reason() {
        let email_only = Deliverable::configured(false, true);
        let mut patient = reach(None, true, true);
        patient.deliverable = email_only;
        assert_eq!(route(patient), to(Channel::Email, MAIL));
        let mut sms_only_patient = reach(Some("100"), true, true);
        sms_only_patient.deliverable = email_only;
        let Route::Nowhere(why) = route(sms_only_patient) else {
            panic!("no channel expected")
        };
        assert!(
            why.contains("no provider") && why.contains("RENDEZ_SMS_PROVIDER"),
            "{why}"
        );
        // With no provider at all, other processes' workers may send: the patient's choice holds.
        assert_eq!(Deliverable::configured(false, false), Deliverable::ALL);
    }

    #[test]
    fn languages_go_from_the_patient_to_the_center_to_the_fallback() {
        assert_eq!(
            language_preference(Some("es-mx"), Some("ca"), "en"),
            vec!["es-mx", "es", "ca", "en"]
        );
        assert_eq!(language_preference(Some("en"), None, "en"), vec!["en"]);
        assert_eq!(language_preference(None, None, "es"), vec!["es"]);
    }
}
