//! `rendez serve --demo`: a small clinic to try every operation at once, loaded through the
//! same code path as `updateKeyEntities` and `updateAvailabilities`.

use std::collections::HashMap;

use base64::Engine;
use hmac::Mac;

use crate::app;
use crate::app::Pool;
use crate::app::master::{AvailabilitySync, KeyEntitySync};
use crate::auth::SecretKey;
use crate::domain::FieldSource;
use crate::domain::access::{CenterScope, Roles};
use crate::domain::master::{self, AvailabilityRule, KeyEntity, SyncOutcome};
use crate::error::Error;

pub const DEMO_CLIENT: &str = "demo";

/// `serve --demo` without a database named: its own file, never the clinic's `rendez.db`.
pub const DEMO_DATABASE_URL: &str = "sqlite://rendez-demo.db";

/// The demo's centers: a database with any other center, or any client but the demo's, holds a
/// clinic's data.
const DEMO_CENTERS: [&str; 2] = ["MAD", "SYD"];

/// The demo client's password is derived from the secret key under this purpose, so it stays
/// the same across restarts without being stored anywhere.
const PASSWORD_PURPOSE: &str = "rendez demo client password";

pub struct DemoCredentials {
    pub username: String,
    pub password: String,
}

/// What `load` found and did.
pub struct DemoLoad {
    pub credentials: DemoCredentials,
    /// The database holds nothing but the demo: its messages may be printed, as no real patient
    /// can be among their recipients.
    pub own_database: bool,
}

struct Fields(HashMap<&'static str, &'static str>);

impl FieldSource for Fields {
    fn field(&self, name: &'static str) -> Option<&str> {
        self.0.get(name).copied()
    }
}

fn row(pairs: &[(&'static str, &'static str)]) -> Fields {
    Fields(pairs.iter().copied().collect())
}

fn key_entity_rows() -> Vec<Fields> {
    let madrid = [
        ("LOCATION_LID", "MAD"),
        ("LOCATION_NAME", "Clínica Rendez Madrid"),
        ("LOCATION_TIMEZONE", "Europe/Madrid"),
        ("LOCATION_ADDRESS", "Calle de Alcalá 100, 28009 Madrid"),
        ("LOCATION_PHONE", "+34 910 000 000"),
    ];
    let sydney = [
        ("LOCATION_LID", "SYD"),
        ("LOCATION_NAME", "Rendez Clinic Sydney"),
        ("LOCATION_TIMEZONE", "Australia/Sydney"),
        ("LOCATION_ADDRESS", "100 George Street, Sydney NSW 2000"),
        ("LOCATION_PHONE", "+61 2 0000 0000"),
    ];
    let activities = [
        (
            "CONS",
            "Consulta general",
            "GEN",
            "Medicina general",
            "20",
            "40.00",
        ),
        ("REV", "Revisión", "GEN", "Medicina general", "15", "25.00"),
        (
            "DERM1",
            "Dermatología: primera visita",
            "DERM",
            "Dermatología",
            "30",
            "70.00",
        ),
        ("ECO", "Ecografía", "IMG", "Imagen", "45", "90.00"),
    ];
    let mut rows: Vec<Fields> = activities
        .iter()
        .map(|(lid, name, group, group_name, duration, price)| {
            row(&[
                ("ACTIVITY_LID", lid),
                ("ACTIVITY_NAME", name),
                ("ACTIVITY_GROUP_LID", group),
                ("ACTIVITY_GROUP_NAME", group_name),
                ("ACTIVITY_DURATION", duration),
                ("ACTIVITY_PRICE", price),
            ])
        })
        .collect();
    /// (resource LID, first name, second name, center row fields, activities offered)
    type Doctor<'a> = (
        &'static str,
        &'static str,
        &'static str,
        &'a [(&'static str, &'static str)],
        &'static [&'static str],
    );
    let doctors: [Doctor; 4] = [
        ("DR-PENA", "Zoë", "Peña", &madrid, &["CONS", "REV"]),
        ("DR-NOWAK", "Łukasz", "Nowak", &madrid, &["DERM1", "ECO"]),
        ("DR-GARCIA", "Lucía", "García", &madrid, &["CONS", "ECO"]),
        (
            "DR-SMITH",
            "Olivia",
            "Smith",
            &sydney,
            &["CONS", "REV", "ECO"],
        ),
    ];
    for (lid, first, second, center, offered) in doctors {
        for activity in offered {
            let mut pairs: Vec<(&'static str, &'static str)> = center.to_vec();
            pairs.extend([
                ("RESOURCE_LID", lid),
                ("RESOURCE_FIRST_NAME", first),
                ("RESOURCE_SECOND_NAME", second),
                ("WEB_ENABLED", "1"),
                (
                    "AVAILABILITIES_STEP",
                    if lid == "DR-NOWAK" { "30" } else { "15" },
                ),
                ("ACTIVITY_LID", activity),
            ]);
            rows.push(row(&pairs));
        }
    }
    // The demo insurance pays less for a general consultation and is accepted by two doctors.
    for (resource, center) in [("DR-PENA", "MAD"), ("DR-SMITH", "SYD")] {
        rows.push(row(&[
            ("INSURANCE_LID", "INS-DEMO"),
            ("INSURANCE_NAME", "Seguro Demo"),
            ("ACTIVITY_LID", "CONS"),
            ("ACTIVITY_PRICE", "30.00"),
            ("RESOURCE_LID", resource),
            ("LOCATION_LID", center),
        ]));
    }
    rows
}

fn availability_rules() -> Vec<(Fields, Vec<String>)> {
    let mut rules = Vec::new();
    /// (resource, center, week days, start, end, only these activities)
    type Opening = (
        &'static str,
        &'static str,
        &'static [u8],
        &'static str,
        &'static str,
        &'static [&'static str],
    );
    let plan: [Opening; 5] = [
        ("DR-PENA", "MAD", &[1, 2, 3, 4, 5], "09:00", "14:00", &[]),
        ("DR-PENA", "MAD", &[2, 4], "16:00", "20:00", &["REV"]),
        ("DR-NOWAK", "MAD", &[1, 3, 5], "10:00", "18:00", &[]),
        (
            "DR-GARCIA",
            "MAD",
            &[1, 2, 3, 4, 5, 6],
            "08:00",
            "13:00",
            &[],
        ),
        ("DR-SMITH", "SYD", &[1, 2, 3, 4, 5], "08:30", "17:00", &[]),
    ];
    for (index, (resource, center, days, start, end, only)) in plan.into_iter().enumerate() {
        for day in days {
            let lid: &'static str = Box::leak(format!("DEMO-AV-{index}-{day}").into_boxed_str());
            let day: &'static str = ["0", "1", "2", "3", "4", "5", "6"][*day as usize];
            rules.push((
                row(&[
                    ("AVAILABILITY_LID", lid),
                    ("RESOURCE_LID", resource),
                    ("LOCATION_LID", center),
                    ("R_WORKING_DAY", day),
                    ("R_START_TIME", start),
                    ("R_END_TIME", end),
                ]),
                only.iter().map(|s| s.to_string()).collect(),
            ));
        }
    }
    rules
}

/// Loads the demo clinic and (re)creates the demo client. A database that holds a clinic's data
/// is refused unless `allow_other_data`.
pub fn load(pool: &Pool, key: &SecretKey, allow_other_data: bool) -> Result<DemoLoad, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let centers = app::master::all_centers(&mut conn).map_err(|e| e.log_detail())?;
    let clients = app::clients::list(&mut conn).map_err(|e| e.log_detail())?;
    let other_data = other_data(
        centers.iter().map(|c| c.lid.as_str()),
        clients.iter().map(|c| c.name.as_str()),
    );
    if let Some(what) = &other_data
        && !allow_other_data
    {
        return Err(format!(
            "this database holds data that is not the demo's ({what}); the demo would add its \
             clinic and a client with every role to it. Use the demo's own database (leave \
             DATABASE_URL unset: {DEMO_DATABASE_URL}), or pass --demo-allow-other-data"
        ));
    }
    let entities = key_entity_rows();
    let (rows, errors) =
        master::parse_rows(entities.iter().enumerate().map(|(i, r)| (i + 1, r)), |r| {
            KeyEntity::parse(*r)
        });
    let outcome = app::master::import_key_entities(
        &mut conn,
        KeyEntitySync {
            rows,
            refused: errors,
            full_sync: false,
        },
        None,
    )
    .map_err(|e| e.log_detail())?;
    check(outcome, "key entities")?;
    let rules = availability_rules();
    let (parsed, errors) = master::parse_rows(
        rules.iter().enumerate().map(|(i, r)| (i + 1, r)),
        |(f, a)| AvailabilityRule::parse(f, a),
    );
    let outcome = app::master::import_availabilities(
        &mut conn,
        AvailabilitySync {
            rules: parsed,
            refused: errors,
            full_sync: false,
        },
    )
    .map_err(|e| e.log_detail())?;
    check(outcome, "availabilities")?;

    let mut mac = key.keyed_mac(PASSWORD_PURPOSE);
    mac.update(DEMO_CLIENT.as_bytes());
    let password =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18]);
    app::clients::put(
        &mut conn,
        app::clients::NewClient {
            name: DEMO_CLIENT,
            roles: Roles::all(),
            centers: CenterScope::All,
            password: &password,
            digest: false,
        },
        // Not a digest client: the key is never asked for.
        &|| {
            Err(Error::NotConfigured(
                "the demo client has no digest secret".into(),
            ))
        },
    )
    .map_err(|e| e.log_detail())?;
    Ok(DemoLoad {
        credentials: DemoCredentials {
            username: DEMO_CLIENT.into(),
            password,
        },
        own_database: other_data.is_none(),
    })
}

/// What in the database (its centers' LIDs, its clients' names) is not the demo's, if anything.
fn other_data<'a>(
    mut centers: impl Iterator<Item = &'a str>,
    mut clients: impl Iterator<Item = &'a str>,
) -> Option<String> {
    if let Some(center) = centers.find(|lid| !DEMO_CENTERS.contains(lid)) {
        return Some(format!("the center '{center}'"));
    }
    if let Some(client) = clients.find(|name| *name != DEMO_CLIENT) {
        return Some(format!("the client '{client}'"));
    }
    None
}

fn check(outcome: SyncOutcome, what: &str) -> Result<(), String> {
    match outcome.errors.first() {
        None => Ok(()),
        Some(e) => Err(format!("demo {what}, row {}: {}", e.row, e.message)),
    }
}

/// The demo clinic's ids, as the banner lists them: what a first search and booking name.
pub fn catalog() -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write;
    let rows = key_entity_rows();
    let get = |row: &Fields, name| row.field(name).unwrap_or_default().to_string();
    let mut centers: BTreeMap<String, String> = BTreeMap::new();
    let mut activities: BTreeMap<String, String> = BTreeMap::new();
    let mut doctors: BTreeMap<String, (String, String, Vec<String>)> = BTreeMap::new();
    for row in &rows {
        let center = get(row, "LOCATION_LID");
        if !center.is_empty() && row.field("LOCATION_TIMEZONE").is_some() {
            centers.insert(
                center.clone(),
                format!(
                    "{} ({})",
                    get(row, "LOCATION_NAME"),
                    get(row, "LOCATION_TIMEZONE")
                ),
            );
        }
        let activity = get(row, "ACTIVITY_LID");
        if row.field("ACTIVITY_DURATION").is_some() {
            activities.insert(
                activity.clone(),
                format!(
                    "{}, {} min",
                    get(row, "ACTIVITY_NAME"),
                    get(row, "ACTIVITY_DURATION")
                ),
            );
        }
        let doctor = get(row, "RESOURCE_LID");
        if row.field("RESOURCE_FIRST_NAME").is_some() {
            let entry = doctors.entry(doctor).or_insert_with(|| {
                let name = format!(
                    "{} {}",
                    get(row, "RESOURCE_FIRST_NAME"),
                    get(row, "RESOURCE_SECOND_NAME")
                );
                (name, center.clone(), Vec::new())
            });
            entry.2.push(activity);
        }
    }
    let mut text = String::from("  centers:\n");
    for (lid, what) in &centers {
        let _ = writeln!(text, "    {lid:<10} {what}");
    }
    text.push_str("  activities (ACTIVITY_LID):\n");
    for (lid, what) in &activities {
        let _ = writeln!(text, "    {lid:<10} {what}");
    }
    text.push_str("  doctors (RESOURCE_LID):\n");
    for (lid, (name, center, offered)) in &doctors {
        let _ = writeln!(
            text,
            "    {lid:<10} {name}, {center}: {}",
            offered.join(", ")
        );
    }
    text
}

/// What `serve --demo` prints: the credentials, the clinic's ids and a first call.
pub fn instructions(public_url: &str, credentials: &DemoCredentials) -> String {
    format!(
        "\nRendez demo is ready.\n\
         \n  client:   {user}\n  password: {pass}\n  roles:    booking, messaging, results, admin\n\
         \n  WSDL:     {public_url}/soap?wsdl\n\
         \n{catalog}\
         \nTry:\n\
         \n  curl -s -u '{user}:{pass}' -H 'Content-Type: text/xml' \\\n    -H 'SOAPAction: \"urn:rendez:soap:v1#getCenters\"' \\\n    --data '<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:r=\"urn:rendez:soap:v1\"><s:Body><r:getCenters/></s:Body></s:Envelope>' \\\n    {public_url}/soap\n",
        user = credentials.username,
        pass = credentials.password,
        catalog = catalog(),
    )
}
