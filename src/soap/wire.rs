//! The XML shapes of requests and responses, typed with yaserde. Request fields are all
//! optional text: the domain parses them and names the field that is wrong.

use yaserde::{YaDeserialize, YaSerialize};

use crate::domain::FieldSource;

/// Declares a request item whose fields are optional text named as in the contract, and lets
/// the domain read them by that name. `lists` are repeated fields.
macro_rules! request_item {
    ($name:ident { $($field:ident: $tag:tt),* $(,)? } $(lists { $($list:ident: $list_tag:tt),* $(,)? })?) => {
        #[derive(Debug, Default, YaDeserialize, YaSerialize)]
        pub struct $name {
            $(#[yaserde(rename = $tag)] pub $field: Option<String>,)*
            $($(#[yaserde(rename = $list_tag)] pub $list: Vec<String>,)*)?
        }

        impl FieldSource for $name {
            fn field(&self, name: &'static str) -> Option<&str> {
                let value = match name {
                    $($tag => self.$field.as_deref(),)*
                    _ => None,
                };
                value.map(str::trim).filter(|v| !v.is_empty())
            }
        }
    };
}

request_item!(KeyEntityRow {
    insurance_lid: "INSURANCE_LID",
    insurance_name: "INSURANCE_NAME",
    activity_group_lid: "ACTIVITY_GROUP_LID",
    activity_group_name: "ACTIVITY_GROUP_NAME",
    activity_lid: "ACTIVITY_LID",
    activity_name: "ACTIVITY_NAME",
    activity_price: "ACTIVITY_PRICE",
    activity_duration: "ACTIVITY_DURATION",
    location_lid: "LOCATION_LID",
    location_name: "LOCATION_NAME",
    resource_lid: "RESOURCE_LID",
    resource_first_name: "RESOURCE_FIRST_NAME",
    resource_second_name: "RESOURCE_SECOND_NAME",
    location_timezone: "LOCATION_TIMEZONE",
    web_enabled: "WEB_ENABLED",
    availabilities_step: "AVAILABILITIES_STEP",
    location_description: "LOCATION_DESCRIPTION",
    location_address: "LOCATION_ADDRESS",
    location_phone: "LOCATION_PHONE",
    location_website_url: "LOCATION_WEBSITE_URL",
});

request_item!(AvailabilityItem {
    availability_lid: "AVAILABILITY_LID",
    resource_lid: "RESOURCE_LID",
    location_lid: "LOCATION_LID",
    r_working_day: "R_WORKING_DAY",
    r_start_time: "R_START_TIME",
    r_end_time: "R_END_TIME",
    r_start_day: "R_START_DAY",
    r_end_day: "R_END_DAY",
} lists {
    activity_lids: "ACTIVITY_LID",
});

#[derive(Debug, Default, YaDeserialize)]
pub struct UpdateKeyEntities {
    #[yaserde(rename = "ROW")]
    pub rows: Vec<KeyEntityRow>,
    #[yaserde(rename = "FULL_SYNC")]
    pub full_sync: Option<String>,
}

#[derive(Debug, Default, YaDeserialize)]
pub struct UpdateAvailabilities {
    #[yaserde(rename = "AVAILABILITY")]
    pub rules: Vec<AvailabilityItem>,
    #[yaserde(rename = "FULL_SYNC")]
    pub full_sync: Option<String>,
}

#[derive(Debug, Default, YaSerialize)]
pub struct RowErrorItem {
    #[yaserde(rename = "ROW_NUMBER")]
    pub row_number: u32,
    #[yaserde(rename = "FIELD")]
    pub field: Option<String>,
    #[yaserde(rename = "ERROR_MESSAGE")]
    pub error_message: Option<String>,
}

/// The answer of both master-data pushes.
#[derive(Debug, Default, YaSerialize)]
pub struct SyncResponse {
    #[yaserde(rename = "RESULT")]
    pub result: String,
    #[yaserde(rename = "CREATED")]
    pub created: u32,
    #[yaserde(rename = "UPDATED")]
    pub updated: u32,
    #[yaserde(rename = "DEACTIVATED")]
    pub deactivated: u32,
    #[yaserde(rename = "ROW_ERROR")]
    pub row_errors: Vec<RowErrorItem>,
}

#[derive(Debug, Default, YaSerialize)]
pub struct CenterItem {
    #[yaserde(rename = "CENTER_LID")]
    pub center_lid: String,
    #[yaserde(rename = "CENTER_NAME")]
    pub center_name: String,
    #[yaserde(rename = "DESCRIPTION")]
    pub description: Option<String>,
    #[yaserde(rename = "ADDRESS")]
    pub address: Option<String>,
    #[yaserde(rename = "PHONE")]
    pub phone: Option<String>,
    #[yaserde(rename = "WEBSITE_URL")]
    pub website_url: Option<String>,
    #[yaserde(rename = "TIMEZONE")]
    pub timezone: String,
}

#[derive(Debug, Default, YaSerialize)]
pub struct GetCentersResponse {
    #[yaserde(rename = "CENTER")]
    pub centers: Vec<CenterItem>,
}
