//! The location hierarchy above the centers (country, region, district, ... `Location.partOf`)
//! and what a set of locations covers: a grant or a team assignment at a level covers every
//! location below it, down to the centers, which are its leaves and keep their LIDs.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use super::access::CenterScope;

/// One location of the hierarchy; `parent` is `None` at the top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub lid: String,
    pub name: String,
    pub parent: Option<String>,
    pub level: String,
}

/// The hierarchy as parent links, for walking down from any location.
#[derive(Debug, Default)]
pub struct Hierarchy {
    children: HashMap<String, Vec<String>>,
}

impl Hierarchy {
    pub fn new<'a>(links: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Hierarchy {
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for (lid, parent) in links {
            if let Some(parent) = parent {
                children
                    .entry(parent.to_string())
                    .or_default()
                    .push(lid.to_string());
            }
        }
        Hierarchy { children }
    }

    /// The locations given and every one below them. A LID the hierarchy does not know (a
    /// center granted before any hierarchy existed) stands for itself.
    pub fn covered<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = roots.into_iter().collect();
        while let Some(lid) = todo.pop() {
            if !seen.insert(lid.to_string()) {
                continue;
            }
            if let Some(below) = self.children.get(lid) {
                todo.extend(below.iter().map(String::as_str));
            }
        }
        seen
    }

    /// [`Hierarchy::covered`] as a scope (empty roots: no center at all, not every center).
    pub fn scope<'a>(&self, roots: impl IntoIterator<Item = &'a str>) -> CenterScope {
        CenterScope::Only(self.covered(roots).into_iter().collect())
    }
}

/// Checks the hierarchy that `incoming` would make of `existing` (rows of the same LID
/// replace the existing ones) and answers it; the error names the problem: a LID given twice
/// with different parents (a center under two parents), a parent nobody defines, a cycle.
pub fn merge(existing: &[Location], incoming: &[Location]) -> Result<Vec<Location>, String> {
    let mut given: HashMap<&str, &Location> = HashMap::new();
    for loc in incoming {
        if loc.parent.as_deref() == Some(loc.lid.as_str()) {
            return Err(format!("location '{}' is its own parent: a cycle", loc.lid));
        }
        if let Some(earlier) = given.insert(&loc.lid, loc)
            && earlier.parent != loc.parent
        {
            return Err(format!(
                "location '{}' is given under two parents: '{}' and '{}'",
                loc.lid,
                earlier.parent.as_deref().unwrap_or("(none)"),
                loc.parent.as_deref().unwrap_or("(none)")
            ));
        }
    }
    let mut merged: Vec<Location> = existing
        .iter()
        .filter(|l| !given.contains_key(l.lid.as_str()))
        .cloned()
        .collect();
    let mut added = HashSet::new();
    for loc in incoming {
        if added.insert(loc.lid.as_str()) {
            merged.push(loc.clone());
        }
    }
    let parent_of: HashMap<&str, Option<&str>> = merged
        .iter()
        .map(|l| (l.lid.as_str(), l.parent.as_deref()))
        .collect();
    for loc in &merged {
        if let Some(parent) = loc.parent.as_deref()
            && !parent_of.contains_key(parent)
        {
            return Err(format!(
                "location '{}' names the parent '{parent}', which is no known location",
                loc.lid
            ));
        }
    }
    for loc in &merged {
        let mut path = vec![loc.lid.as_str()];
        let mut at = loc.parent.as_deref();
        while let Some(parent) = at {
            if path.contains(&parent) {
                path.push(parent);
                return Err(format!("the hierarchy has a cycle: {}", path.join(" -> ")));
            }
            path.push(parent);
            at = parent_of.get(parent).copied().flatten();
        }
    }
    Ok(merged)
}

/// The days a team assignment holds: from `from` to `to` inclusive, open without `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl Validity {
    /// Refuses an end before the start.
    pub fn new(from: NaiveDate, to: Option<NaiveDate>) -> Result<Validity, String> {
        match to {
            Some(to) if to < from => Err(format!(
                "the assignment ends ({to}) before it starts ({from})"
            )),
            _ => Ok(Validity { from, to }),
        }
    }

    pub fn holds_on(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|to| day <= to)
    }

    pub fn overlaps(&self, other: &Validity) -> bool {
        self.to.is_none_or(|to| other.from <= to) && other.to.is_none_or(|to| self.from <= to)
    }
}

/// A team role (`PractitionerRole`): leader or member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamRole {
    Leader,
    Member,
}

impl TeamRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Leader => "leader",
            TeamRole::Member => "member",
        }
    }
}

impl std::str::FromStr for TeamRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "leader" => Ok(TeamRole::Leader),
            "member" => Ok(TeamRole::Member),
            _ => Err(format!(
                "unknown team role '{s}'; the roles are leader, member"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(lid: &str, parent: Option<&str>) -> Location {
        Location {
            lid: lid.into(),
            name: lid.into(),
            parent: parent.map(Into::into),
            level: "x".into(),
        }
    }

    #[test]
    fn a_grant_covers_everything_below_it() {
        let h = Hierarchy::new([
            ("P", None),
            ("D1", Some("P")),
            ("D2", Some("P")),
            ("C1", Some("D1")),
            ("C2", Some("D2")),
        ]);
        let district = h.scope(["D1"]);
        assert!(district.allows("C1") && !district.allows("C2"));
        assert!(h.scope(["P"]).allows("C2"));
        assert!(!h.scope([]).allows("C1"));
        assert!(h.scope(["OLD"]).allows("OLD"));
    }

    #[test]
    fn cycles_two_parents_and_unknown_parents_are_named() {
        let base = [loc("P", None), loc("D", Some("P"))];
        let cycle = merge(&base, &[loc("P", Some("D"))]).unwrap_err();
        assert!(cycle.contains("cycle"), "{cycle}");
        let twice = merge(&base, &[loc("C", Some("D")), loc("C", Some("P"))]).unwrap_err();
        assert!(twice.contains("two parents"), "{twice}");
        let unknown = merge(&base, &[loc("C", Some("X"))]).unwrap_err();
        assert!(unknown.contains("'X'"), "{unknown}");
        assert_eq!(merge(&base, &[loc("C", Some("D"))]).unwrap().len(), 3);
    }

    #[test]
    fn validity_refuses_inverted_dates_and_sees_overlaps() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(Validity::new(d("2026-02-01"), Some(d("2026-01-01"))).is_err());
        let jan = Validity::new(d("2026-01-01"), Some(d("2026-01-31"))).unwrap();
        let open = Validity::new(d("2026-01-31"), None).unwrap();
        let feb = Validity::new(d("2026-02-01"), None).unwrap();
        assert!(jan.overlaps(&open) && !jan.overlaps(&feb));
        assert!(jan.holds_on(d("2026-01-31")) && !jan.holds_on(d("2026-02-01")));
    }
}
