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

/// The order a tree is drawn in: each location followed by everything below it (children by
/// LID), with its depth. A location whose parent is not among `rows` is a top (a scoped caller's
/// view starts at its grants). Iterative, so that any depth is drawn without recursion.
pub fn tree_order(rows: &[Location]) -> Vec<(usize, usize)> {
    let index: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, l)| (l.lid.as_str(), i))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut tops = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match row.parent.as_deref().and_then(|p| index.get(p)) {
            Some(&parent) if parent != i => children.entry(parent).or_default().push(i),
            _ => tops.push(i),
        }
    }
    let by_lid = |list: &mut Vec<usize>| list.sort_by(|a, b| rows[*b].lid.cmp(&rows[*a].lid));
    by_lid(&mut tops);
    let mut order = Vec::with_capacity(rows.len());
    let mut stack: Vec<(usize, usize)> = tops.into_iter().map(|i| (i, 0)).collect();
    let mut seen = vec![false; rows.len()];
    while let Some((i, depth)) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push((i, depth));
        if let Some(mut below) = children.remove(&i) {
            by_lid(&mut below);
            stack.extend(below.into_iter().map(|c| (c, depth + 1)));
        }
    }
    order
}

/// The hierarchy growing one location at a time, each judged on its own (a master-data push
/// judges every item by itself): a location may be placed when its parent is known and the
/// place makes no cycle. Each judgement walks up from the parent only, so a push of a national
/// hierarchy costs its size times its depth.
#[derive(Debug, Default)]
pub struct Growing {
    parent_of: HashMap<String, Option<String>>,
}

impl Growing {
    pub fn new(existing: &[Location]) -> Growing {
        Growing {
            parent_of: existing
                .iter()
                .map(|l| (l.lid.clone(), l.parent.clone()))
                .collect(),
        }
    }

    pub fn knows(&self, lid: &str) -> bool {
        self.parent_of.contains_key(lid)
    }

    /// The location above `lid`, if it is known and has one.
    pub fn parent(&self, lid: &str) -> Option<&str> {
        self.parent_of.get(lid).and_then(|p| p.as_deref())
    }

    /// Places (or moves) a location; the error names the problem, and nothing changes then.
    pub fn place(&mut self, location: &Location) -> Result<(), String> {
        if let Some(parent) = location.parent.as_deref() {
            if parent == location.lid {
                return Err(format!(
                    "location '{}' is its own parent: a cycle",
                    location.lid
                ));
            }
            if !self.knows(parent) {
                return Err(format!(
                    "location '{}' names the parent '{parent}', which is no known location",
                    location.lid
                ));
            }
            let mut path = vec![location.lid.as_str(), parent];
            let mut at = self.parent(parent);
            while let Some(above) = at {
                path.push(above);
                if above == location.lid {
                    return Err(format!("the hierarchy has a cycle: {}", path.join(" -> ")));
                }
                at = self.parent(above);
            }
        }
        self.parent_of
            .insert(location.lid.clone(), location.parent.clone());
        Ok(())
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
    #[test]
    fn a_tree_is_drawn_depth_first_by_lid_and_orphans_are_tops() {
        let rows = [
            loc("C2", Some("D")),
            loc("D", Some("P")),
            loc("P", None),
            loc("C1", Some("D")),
            loc("X", Some("HIDDEN")),
        ];
        let drawn: Vec<(&str, usize)> = tree_order(&rows)
            .into_iter()
            .map(|(i, depth)| (rows[i].lid.as_str(), depth))
            .collect();
        assert_eq!(drawn, [("P", 0), ("D", 1), ("C1", 2), ("C2", 2), ("X", 0)]);
    }
    #[test]
    fn a_growing_hierarchy_judges_each_place_on_its_own() {
        let mut h = Growing::new(&[loc("P", None), loc("D", Some("P"))]);
        assert!(h.place(&loc("C", Some("D"))).is_ok());
        assert!(
            h.place(&loc("X", Some("NOPE")))
                .unwrap_err()
                .contains("'NOPE'")
        );
        let cycle = h.place(&loc("P", Some("C"))).unwrap_err();
        assert_eq!(cycle, "the hierarchy has a cycle: P -> C -> D -> P");
        assert!(
            h.place(&loc("D", Some("D")))
                .unwrap_err()
                .contains("own parent")
        );
        assert_eq!(h.parent("P"), None, "a refused place changes nothing");
        assert!(h.place(&loc("C", Some("P"))).is_ok());
        assert_eq!(h.parent("C"), Some("P"));
    }
}
