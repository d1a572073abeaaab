//! The XML shapes of the results operations (kept apart from `soap::wire`).

use yaserde::{YaDeserialize, YaSerialize};

use crate::domain::FieldSource;

#[derive(Debug, Default, YaSerialize)]
pub struct TestResultResultItem {
    #[yaserde(rename = "DOWNLOAD_LID")]
    pub download_lid: Option<String>,
    #[yaserde(rename = "RESULT")]
    pub result: String,
    #[yaserde(rename = "ERROR_MESSAGE")]
    pub error_message: Option<String>,
    #[yaserde(rename = "WARNING")]
    pub warning: Option<String>,
}

#[derive(Debug, Default, YaSerialize)]
pub struct UpdateTestResultsResponse {
    #[yaserde(rename = "TEST_RESULT_RESULT")]
    pub items: Vec<TestResultResultItem>,
}

#[derive(Debug, Default, YaDeserialize)]
pub struct GetTestResultsList {
    #[yaserde(rename = "USER_LID")]
    pub user_lid: Option<String>,
    #[yaserde(rename = "USER_TID")]
    pub user_tid: Option<String>,
    #[yaserde(rename = "RESULT_START_DATE")]
    pub result_start_date: Option<String>,
}

impl FieldSource for GetTestResultsList {
    fn field(&self, name: &'static str) -> Option<&str> {
        let value = match name {
            "USER_LID" => self.user_lid.as_deref(),
            "USER_TID" => self.user_tid.as_deref(),
            "RESULT_START_DATE" => self.result_start_date.as_deref(),
            _ => None,
        };
        value.map(str::trim).filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Default, YaSerialize)]
pub struct TestResultInfoItem {
    #[yaserde(rename = "DOWNLOAD_LID")]
    pub download_lid: String,
    #[yaserde(rename = "DOWNLOAD_FILENAME")]
    pub download_filename: Option<String>,
    #[yaserde(rename = "DOWNLOAD_TYPE")]
    pub download_type: String,
    #[yaserde(rename = "USER_LID")]
    pub user_lid: Option<String>,
    #[yaserde(rename = "USER_TID")]
    pub user_tid: Option<String>,
    #[yaserde(rename = "USER_ID_NUMBER")]
    pub user_id_number: Option<String>,
    #[yaserde(rename = "USER_MOBILE_PHONE")]
    pub user_mobile_phone: Option<String>,
    #[yaserde(rename = "USER_EMAIL")]
    pub user_email: Option<String>,
    #[yaserde(rename = "STATUS")]
    pub status: String,
    #[yaserde(rename = "LOCATION_LID")]
    pub location_lid: Option<String>,
}

#[derive(Debug, Default, YaSerialize)]
pub struct GetTestResultsListResponse {
    #[yaserde(rename = "TEST_RESULT")]
    pub items: Vec<TestResultInfoItem>,
}

#[derive(Debug, Default, YaDeserialize)]
pub struct GetTestResultContent {
    #[yaserde(rename = "DOWNLOAD_LID")]
    pub download_lid: Option<String>,
}

impl FieldSource for GetTestResultContent {
    fn field(&self, name: &'static str) -> Option<&str> {
        match name {
            "DOWNLOAD_LID" => self.download_lid.as_deref(),
            _ => None,
        }
        .map(str::trim)
        .filter(|v| !v.is_empty())
    }
}
