//! The operations of CONTRACT §4 and the role each needs.

use std::fmt;

use crate::domain::access::Role;

/// The target namespace of every Rendez operation.
pub const RENDEZ_NS: &str = "urn:rendez:soap:v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    UpdateKeyEntities,
    UpdateAvailabilities,
    GetCenters,
    GetKeyEntities,
    SearchAvailabilities,
    AddAppointment,
    DeleteAppointment,
    CheckAppointment,
    GetAppointments,
    UpdateMessages,
    SearchMessages,
    UpdateTestResults,
    GetTestResultsList,
    GetTestResultContent,
    UpdateLocations,
}

impl Operation {
    pub const ALL: [Operation; 15] = [
        Operation::UpdateKeyEntities,
        Operation::UpdateAvailabilities,
        Operation::GetCenters,
        Operation::GetKeyEntities,
        Operation::SearchAvailabilities,
        Operation::AddAppointment,
        Operation::DeleteAppointment,
        Operation::CheckAppointment,
        Operation::GetAppointments,
        Operation::UpdateMessages,
        Operation::SearchMessages,
        Operation::UpdateTestResults,
        Operation::GetTestResultsList,
        Operation::GetTestResultContent,
        Operation::UpdateLocations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::UpdateKeyEntities => "updateKeyEntities",
            Operation::UpdateAvailabilities => "updateAvailabilities",
            Operation::GetCenters => "getCenters",
            Operation::GetKeyEntities => "getKeyEntities",
            Operation::SearchAvailabilities => "searchAvailabilities",
            Operation::AddAppointment => "addAppointment",
            Operation::DeleteAppointment => "deleteAppointment",
            Operation::CheckAppointment => "checkAppointment",
            Operation::GetAppointments => "getAppointments",
            Operation::UpdateMessages => "updateMessages",
            Operation::SearchMessages => "searchMessages",
            Operation::UpdateTestResults => "updateTestResults",
            Operation::GetTestResultsList => "getTestResultsList",
            Operation::GetTestResultContent => "getTestResultContent",
            Operation::UpdateLocations => "updateLocations",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    pub fn required_role(self) -> Role {
        match self {
            Operation::UpdateKeyEntities
            | Operation::UpdateAvailabilities
            | Operation::GetCenters
            | Operation::UpdateLocations => Role::Admin,
            Operation::GetKeyEntities
            | Operation::SearchAvailabilities
            | Operation::AddAppointment
            | Operation::DeleteAppointment
            | Operation::CheckAppointment
            | Operation::GetAppointments => Role::Booking,
            Operation::UpdateMessages | Operation::SearchMessages => Role::Messaging,
            Operation::UpdateTestResults
            | Operation::GetTestResultsList
            | Operation::GetTestResultContent => Role::Results,
        }
    }

    /// The SOAPAction of this operation, as the WSDL names it.
    pub fn soap_action(self) -> String {
        format!("{}#{}", RENDEZ_NS, self.name())
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
