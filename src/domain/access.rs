//! Who may do what: the roles of a principal, and the centers it may edit and view (each
//! resolved from grants and team assignments at any level of the location hierarchy, see
//! [`super::locations`]).

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
/// per request at the edge into its roles and two scopes: the centers it may act on (edit:
/// book, cancel, push master data, send messages) and the centers it may see (view: searches,
/// lists, change feeds, results). The edit scope keeps the historical name `centers`; every
/// center it holds is in `view` too.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: String,
    pub name: String,
    pub roles: Roles,
    /// The edit scope.
    pub centers: CenterScope,
    /// The view scope.
    pub view: CenterScope,
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
            view: CenterScope::All,
        }
    }

    /// The edit scope (see [`Principal::centers`]).
    pub fn edit(&self) -> &CenterScope {
        &self.centers
    }

    /// True for [`Principal::system`]'s principals.
    pub fn is_system(&self) -> bool {
        self.id.starts_with("system:")
    }
}

/// The centers (by LID) a scope covers; `All` when it is not limited. `Only` of nothing covers
/// no center (a national user's edit scope); it prints as the empty text, so a resolved scope
/// is never stored back as a client's centers list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CenterScope {
    All,
    Only(CenterSet),
}

impl CenterScope {
    pub fn allows(&self, center_lid: &str) -> bool {
        match self {
            CenterScope::All => true,
            CenterScope::Only(lids) => lids.contains(center_lid),
        }
    }

    pub fn is_limited(&self) -> bool {
        matches!(self, CenterScope::Only(_))
    }
}

/// A set of location LIDs without repeats, answering membership at once: a national user's
/// scope holds every location of the country (10,000 and more), and a search asks it for every
/// resource at every center it looks at. It reads as a slice of LIDs (in
/// order) and is built from any list of them. Shared, not copied: a principal is cloned for
/// every request its remembered login answers, and a national scope must not be copied then.
///
/// Membership is a hash lookup (foldhash, as the booking cache's maps): a binary search over
/// 10,000 LIDs cost a search for every center 35 % more CPU (`benches/scopes.sh`).
#[derive(Clone, Debug, Default)]
pub struct CenterSet(std::sync::Arc<SetInner>);

#[derive(Debug, Default)]
struct SetInner {
    sorted: Vec<String>,
    index: std::collections::HashSet<String, foldhash::fast::RandomState>,
}

impl CenterSet {
    pub fn contains(&self, lid: &str) -> bool {
        self.0.index.contains(lid)
    }
}

impl PartialEq for CenterSet {
    fn eq(&self, other: &Self) -> bool {
        self.0.sorted == other.0.sorted
    }
}

impl Eq for CenterSet {}

impl From<Vec<String>> for CenterSet {
    fn from(mut lids: Vec<String>) -> Self {
        lids.sort_unstable();
        lids.dedup();
        let index = lids.iter().cloned().collect();
        CenterSet(std::sync::Arc::new(SetInner {
            sorted: lids,
            index,
        }))
    }
}

impl FromIterator<String> for CenterSet {
    fn from_iter<I: IntoIterator<Item = String>>(lids: I) -> Self {
        CenterSet::from(lids.into_iter().collect::<Vec<_>>())
    }
}

impl std::ops::Deref for CenterSet {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0.sorted
    }
}

impl IntoIterator for CenterSet {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;

    fn into_iter(self) -> Self::IntoIter {
        // Shared: the LIDs are copied out.
        self.0.sorted.clone().into_iter()
    }
}

impl<'a> IntoIterator for &'a CenterSet {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.sorted.iter()
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
            CenterScope::Only(lids.into())
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
    fn a_center_set_reads_sorted_without_repeats_and_answers_membership() {
        let set: CenterSet = vec!["C3".to_string(), "C1".into(), "C3".into(), "C2".into()].into();
        assert_eq!(&*set, ["C1", "C2", "C3"]);
        assert!(set.contains("C2") && !set.contains("C0") && !set.contains("C4"));
        let big: CenterSet = (0..10_000).rev().map(|i| format!("L{i:05}")).collect();
        assert!(big.contains("L00000") && big.contains("L09999") && !big.contains("L10000"));
        assert!(!CenterSet::default().contains(""));
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
            view: CenterScope::All,
        };
        assert!(!client.is_system());
    }
}
