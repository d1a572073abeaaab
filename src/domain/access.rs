//! Who may do what: the roles of an API client and the centers it is limited to.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Booking,
    Messaging,
    Results,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Booking, Role::Messaging, Role::Results, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Booking => "booking",
            Role::Messaging => "messaging",
            Role::Results => "results",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown role '{s}'; the roles are booking, messaging, results, admin")
            })
    }
}

/// A non-empty set of roles, stored as a comma-separated list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn all() -> Self {
        Roles(Role::ALL.to_vec())
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }
}

impl FromStr for Roles {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut roles = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let role: Role = part.parse()?;
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        if roles.is_empty() {
            return Err(
                "a client needs at least one role: booking, messaging, results, admin".into(),
            );
        }
        roles.sort();
        Ok(Roles(roles))
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|r| r.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

/// Who is calling a use case: an API client that proved who it is (on any edge), resolved once
/// at the edge into its roles and the centers it may act on.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: String,
    pub name: String,
    pub roles: Roles,
    pub centers: CenterScope,
}

impl Principal {
    /// The server acting for itself: a background worker or an operator's command at the
    /// server's shell (`name` says which, e.g. `worker`, `cli`). It holds every role and every
    /// center, so the checks pass by being satisfied, not skipped; its id (`system:<name>`)
    /// cannot be an API client's, whose ids are UUIDs.
    pub fn system(name: &str) -> Principal {
        Principal {
            id: format!("system:{name}"),
            name: format!("system {name}"),
            roles: Roles::all(),
            centers: CenterScope::All,
        }
    }

    /// True for [`Principal::system`]'s principals.
    pub fn is_system(&self) -> bool {
        self.id.starts_with("system:")
    }
}

/// The centers (by LID) a client may act on; `All` when it is not limited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CenterScope {
    All,
    Only(Vec<String>),
}

impl CenterScope {
    pub fn allows(&self, center_lid: &str) -> bool {
        match self {
            CenterScope::All => true,
            CenterScope::Only(lids) => lids.iter().any(|l| l == center_lid),
        }
    }

    pub fn is_limited(&self) -> bool {
        matches!(self, CenterScope::Only(_))
    }
}

impl FromStr for CenterScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut lids: Vec<String> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            super::values::Lid::parse(part).map_err(|e| format!("center '{part}': {e}"))?;
            if !lids.iter().any(|l| l == part) {
                lids.push(part.to_string());
            }
        }
        Ok(if lids.is_empty() {
            CenterScope::All
        } else {
            CenterScope::Only(lids)
        })
    }
}

impl fmt::Display for CenterScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CenterScope::All => Ok(()),
            CenterScope::Only(lids) => f.write_str(&lids.join(",")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_in_any_case_and_order_and_print_sorted() {
        let roles: Roles = "Admin, booking,admin".parse().unwrap();
        assert_eq!(roles.to_string(), "booking,admin");
        assert!(roles.contains(Role::Admin) && !roles.contains(Role::Results));
    }

    #[test]
    fn an_unknown_or_empty_role_list_is_refused() {
        assert!(
            "booking,doctor"
                .parse::<Roles>()
                .unwrap_err()
                .contains("doctor")
        );
        assert!("".parse::<Roles>().is_err());
    }

    #[test]
    fn an_empty_center_list_means_every_center() {
        assert_eq!("".parse::<CenterScope>().unwrap(), CenterScope::All);
        let only: CenterScope = "C1, C2".parse().unwrap();
        assert!(only.allows("C2") && !only.allows("C3"));
        assert_eq!(only.to_string(), "C1,C2");
    }

    #[test]
    fn a_system_principal_holds_every_role_and_center_and_is_no_client() {
        let worker = Principal::system("worker");
        assert!(Role::ALL.into_iter().all(|r| worker.roles.contains(r)));
        assert!(worker.centers.allows("ANY") && !worker.centers.is_limited());
        assert!(worker.is_system() && worker.id == "system:worker");
        let client = Principal {
            id: "6f1c2d7e-0000-4000-8000-000000000000".into(),
            name: "system".into(),
            roles: Roles::all(),
            centers: CenterScope::All,
        };
        assert!(!client.is_system());
    }
}
