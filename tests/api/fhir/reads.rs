//! `Location`, `Organization` and `Practitioner`: read by id, and every search parameter.

use serde_json::json;

use super::*;
use crate::backend_tests;
use crate::helpers::Backend;
use crate::openvpms::{push, seed_clinic, start};

backend_tests!(
    locations_are_centers_read_by_id_and_searched_by_name_identifier_and_id,
    the_organization_is_the_clinic_group_that_manages_every_location,
    practitioners_are_resources_searched_by_identifier_name_and_active,
);

async fn locations_are_centers_read_by_id_and_searched_by_name_identifier_and_id(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    push(
        &app,
        &[&[
            ("LOCATION_LID", "MAIN"),
            ("LOCATION_NAME", "Main Clinic"),
            ("LOCATION_TIMEZONE", "Australia/Sydney"),
            ("LOCATION_ADDRESS", "1 George St, Sydney"),
            ("LOCATION_PHONE", "+61 2 9999 0000"),
        ]],
    )
    .await;
    let f = fhir(&app);
    let ids = ids(&f).await;

    let main = f.json(&format!("Location/{}", ids.main)).await;
    assert_eq!(main["resourceType"], "Location");
    assert_eq!(main["id"], ids.main);
    assert_eq!(main["name"], "Main Clinic");
    assert_eq!(main["status"], "active");
    assert_eq!(
        main["identifier"],
        json!([{"use": "official", "system": CENTER_LID, "value": "MAIN"}])
    );
    assert_eq!(
        main["extension"],
        json!([{"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": "Australia/Sydney"}])
    );
    assert_eq!(
        main["managingOrganization"]["reference"],
        "Organization/clinic"
    );
    assert!(main["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));

    // Every location, by id; total and fullUrl.
    let all = f.search("Location").await;
    assert_eq!(all["total"], 2);
    let mut expected = vec![ids.main.clone(), ids.branch.clone()];
    expected.sort_by_key(|id| id.parse::<i64>().unwrap());
    assert_eq!(entry_ids(&all), expected);
    assert_eq!(
        all["entry"][0]["fullUrl"],
        format!("{}/fhir/Location/{}", app.address, expected[0])
    );
    assert_eq!(all["entry"][0]["search"]["mode"], "match");

    // name: starts with, any case; :exact; :contains.
    assert_eq!(f.ids("Location?name=main").await, vec![ids.main.clone()]);
    assert_eq!(f.ids("Location?name=Clinic").await, Vec::<String>::new());
    assert_eq!(
        f.ids("Location?name:contains=ANCH").await,
        vec![ids.branch.clone()]
    );
    assert_eq!(
        f.ids("Location?name:exact=Main%20Clinic").await,
        vec![ids.main.clone()]
    );
    assert_eq!(
        f.ids("Location?name:exact=main%20clinic").await,
        Vec::<String>::new()
    );
    // Several values are OR.
    assert_eq!(f.ids("Location?name=Main,Branch").await.len(), 2);
    // identifier: with or without the system; another system matches nothing.
    assert_eq!(
        f.ids("Location?identifier=BRANCH").await,
        vec![ids.branch.clone()]
    );
    assert_eq!(
        f.ids(&format!(
            "Location?identifier={}",
            urlencoding("urn:other|BRANCH")
        ))
        .await,
        Vec::<String>::new()
    );
    // _id, and parameters combine with AND.
    assert_eq!(
        f.ids(&format!("Location?_id={},{}", ids.main, ids.branch))
            .await
            .len(),
        2
    );
    assert_eq!(
        f.ids(&format!("Location?_id={}&name=Branch", ids.main))
            .await,
        Vec::<String>::new()
    );
}

async fn the_organization_is_the_clinic_group_that_manages_every_location(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let organization = f.json("Organization/clinic").await;
    assert_eq!(organization["resourceType"], "Organization");
    assert_eq!(organization["id"], "clinic");
    assert_eq!(organization["active"], true);
    assert_eq!(
        organization["identifier"][0]["system"],
        "urn:rendez:organization"
    );
    assert_eq!(organization["identifier"][0]["value"], app.address);
    let all = f.search("Organization").await;
    assert_eq!(all["total"], 1);
    assert_eq!(entry_ids(&all), ["clinic"]);
    assert_eq!(f.ids("Organization?_id=clinic").await, ["clinic"]);
    assert_eq!(f.ids("Organization?_id=other").await, Vec::<String>::new());
    assert_eq!(f.ids("Organization?name=clinics").await, ["clinic"]);
    f.get("Organization/1")
        .await
        .assert_outcome(404, "Organization/1 is not known");
}

async fn practitioners_are_resources_searched_by_identifier_name_and_active(backend: Backend) {
    let app = start(backend).await;
    seed_clinic(&app).await;
    let f = fhir(&app);
    let ids = ids(&f).await;

    let turner = f.json(&format!("Practitioner/{}", ids.turner)).await;
    assert_eq!(turner["resourceType"], "Practitioner");
    assert_eq!(turner["id"], ids.turner);
    assert_eq!(turner["active"], true);
    assert_eq!(turner["name"][0]["text"], "Andrew Turner");
    assert_eq!(
        turner["identifier"],
        json!([{"use": "official", "system": RESOURCE_LID, "value": "DR-TURNER"}])
    );

    // Every active resource is a practitioner, online-enabled or not.
    let all = f.search("Practitioner").await;
    assert_eq!(all["total"], 4, "{all}");
    assert_eq!(
        f.ids("Practitioner?name=andrew").await,
        vec![ids.turner.clone()]
    );
    assert_eq!(
        f.ids("Practitioner?name:contains=barton").await,
        vec![ids.barton.clone()]
    );
    assert_eq!(
        f.ids(&format!(
            "Practitioner?identifier={}",
            urlencoding(&format!("{RESOURCE_LID}|DR-BARTON"))
        ))
        .await,
        vec![ids.barton.clone()]
    );
    // A center's LID is not a resource's.
    assert_eq!(
        f.ids(&format!(
            "Practitioner?identifier={}",
            urlencoding(&format!("{CENTER_LID}|DR-BARTON"))
        ))
        .await,
        Vec::<String>::new()
    );
    assert_eq!(f.search("Practitioner?active=true").await["total"], 4);
    assert_eq!(f.search("Practitioner?active=false").await["total"], 0);
    assert_eq!(
        f.ids(&format!("Practitioner?_id={}", ids.appt)).await,
        vec![ids.appt.clone()]
    );
    // A Location's id read as a Practitioner is not known.
    f.get(&format!("Practitioner/{}", ids.main))
        .await
        .assert_outcome(404, "is not known");
}
