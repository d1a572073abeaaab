//! The XML shapes of requests and responses, typed with yaserde (flat requests also read by
//! [`super::flat`]). Request fields are all optional text: the domain parses them and names the
//! field that is wrong.

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

        impl $crate::soap::flat::FlatRequest for $name {
            fn set(&mut self, tag: &str, value: String) -> bool {
                match tag {
                    $($tag => self.$field = Some(value),)*
                    $($($list_tag => self.$list.push(value),)*)?
                    _ => return false,
                }
                true
            }
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

/// Other operations' modules declare their own request items with it.
pub(crate) use request_item;

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
    location_online_booking: "LOCATION_ONLINE_BOOKING",
    activity_online_booking: "ACTIVITY_ONLINE_BOOKING",
    availability_source: "AVAILABILITY_SOURCE",
});

request_item!(GetKeyEntities {
    location_lid: "LOCATION_LID",
});

#[derive(Debug, Default, YaSerialize)]
pub struct GetKeyEntitiesResponse {
    #[yaserde(rename = "ROW")]
    pub rows: Vec<KeyEntityRow>,
}

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

request_item!(LocationItem {
    location_lid: "LOCATION_LID",
    location_name: "LOCATION_NAME",
    location_parent_lid: "LOCATION_PARENT_LID",
    location_level: "LOCATION_LEVEL",
});

/// `updateLocations`: the location hierarchy above (and around) the centers.
#[derive(Debug, Default, YaDeserialize)]
pub struct UpdateLocations {
    #[yaserde(rename = "LOCATION")]
    pub items: Vec<LocationItem>,
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

request_item!(SearchAvailabilities {
    activity_lid: "ACTIVITY_LID",
    ava_start_day: "AVA_START_DAY",
    ava_end_day: "AVA_END_DAY",
    ava_start_time: "AVA_START_TIME",
    ava_end_time: "AVA_END_TIME",
    ava_min_time: "AVA_MIN_TIME",
    ava_max_time: "AVA_MAX_TIME",
    ava_results_number: "AVA_RESULTS_NUMBER",
    resource_lid: "RESOURCE_LID",
    insurance_lid: "INSURANCE_LID",
    location_lid: "LOCATION_LID",
});

request_item!(AddAppointment {
    activity_lid: "ACTIVITY_LID",
    resource_lid: "RESOURCE_LID",
    user_lid: "USER_LID",
    user_tid: "USER_TID",
    user_first_name: "USER_FIRST_NAME",
    user_second_name: "USER_SECOND_NAME",
    user_third_name: "USER_THIRD_NAME",
    user_gender: "USER_GENDER",
    user_date_of_birth: "USER_DATE_OF_BIRTH",
    user_mobile_phone: "USER_MOBILE_PHONE",
    user_landline_phone: "USER_LANDLINE_PHONE",
    user_email: "USER_EMAIL",
    user_id_number: "USER_ID_NUMBER",
    user_language: "USER_LANGUAGE",
    communication_preferences: "COMMUNICATION_PREFERENCES",
    app_date: "APP_DATE",
    app_start_time: "APP_START_TIME",
    availability_lid: "AVAILABILITY_LID",
    insurance_lid: "INSURANCE_LID",
    location_lid: "LOCATION_LID",
    notes: "NOTES",
    request_id: "REQUEST_ID",
});

request_item!(DeleteAppointment {
    app_lid: "APP_LID",
    cancelled_by: "CANCELLED_BY",
});

request_item!(CheckAppointment { app_lid: "APP_LID" });

request_item!(GetAppointments {
    user_lid: "USER_LID",
    user_tid: "USER_TID",
    resource_lid: "RESOURCE_LID",
    start_date: "START_DATE",
    end_date: "END_DATE",
    last_request_timestamp: "LAST_REQUEST_TIMESTAMP",
});

#[derive(Debug, Default, YaSerialize)]
pub struct DeleteAppointmentResponse {
    #[yaserde(rename = "DELETE_RESULT")]
    pub delete_result: String,
    #[yaserde(rename = "ERROR_MESSAGE")]
    pub error_message: Option<String>,
    #[yaserde(rename = "APP_LID")]
    pub app_lid: String,
}

/// The fields of one appointment that checkAppointment answers; getAppointments adds more.
#[derive(Debug, Default, YaSerialize)]
pub struct CheckAppointmentResponse {
    #[yaserde(rename = "APP_LID")]
    pub app_lid: String,
    #[yaserde(rename = "STATUS")]
    pub status: String,
    #[yaserde(rename = "APP_DATE")]
    pub app_date: String,
    #[yaserde(rename = "APP_START_TIME")]
    pub app_start_time: String,
    #[yaserde(rename = "APP_END_TIME")]
    pub app_end_time: String,
    #[yaserde(rename = "USER_LID")]
    pub user_lid: Option<String>,
    #[yaserde(rename = "USER_TID")]
    pub user_tid: String,
    #[yaserde(rename = "RESOURCE_LID")]
    pub resource_lid: String,
    /// Absent for an imported appointment whose file named no activity.
    #[yaserde(rename = "ACTIVITY_LID")]
    pub activity_lid: Option<String>,
    #[yaserde(rename = "INSURANCE_LID")]
    pub insurance_lid: Option<String>,
}

#[derive(Debug, Default, YaSerialize)]
pub struct AppointmentItem {
    #[yaserde(flatten = true)]
    pub core: CheckAppointmentResponse,
    #[yaserde(rename = "USER_MOBILE_PHONE")]
    pub user_mobile_phone: Option<String>,
    #[yaserde(rename = "USER_EMAIL")]
    pub user_email: Option<String>,
    #[yaserde(rename = "ACTIVITY_NAME")]
    pub activity_name: Option<String>,
    #[yaserde(rename = "ACTIVITY_GROUP_LID")]
    pub activity_group_lid: Option<String>,
    #[yaserde(rename = "ACTIVITY_GROUP_NAME")]
    pub activity_group_name: Option<String>,
    #[yaserde(rename = "RESOURCE_FIRST_NAME")]
    pub resource_first_name: String,
    #[yaserde(rename = "RESOURCE_SECOND_NAME")]
    pub resource_second_name: Option<String>,
    #[yaserde(rename = "LOCATION_LID")]
    pub location_lid: String,
    #[yaserde(rename = "LAST_CHANGE")]
    pub last_change: String,
}

#[derive(Debug, Default, YaSerialize)]
pub struct GetAppointmentsResponse {
    #[yaserde(rename = "APPOINTMENT")]
    pub appointments: Vec<AppointmentItem>,
    #[yaserde(rename = "LAST_REQUEST_TIMESTAMP")]
    pub last_request_timestamp: Option<String>,
}
