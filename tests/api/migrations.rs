//! The two migration trees hold the same migrations, and each goes up, down and up again.

use std::collections::BTreeSet;
use std::path::Path;

use rendez::db::{DbManager, migrations};

use crate::backend_tests;
use crate::helpers::{Backend, TestDatabase};

fn migration_names(tree: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(tree);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            let path = entry.path();
            assert!(
                path.join("up.sql").is_file(),
                "{} has no up.sql",
                path.display()
            );
            assert!(
                path.join("down.sql").is_file(),
                "{} has no down.sql",
                path.display()
            );
            entry.file_name().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn the_sqlite_and_mysql_trees_hold_the_same_migrations() {
    let sqlite = migration_names("sqlite");
    let mysql = migration_names("mysql");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, mysql, "the migration trees differ");
}

backend_tests!(every_migration_goes_up_down_and_up_again);

async fn every_migration_goes_up_down_and_up_again(backend: Backend) {
    let db = TestDatabase::new(backend);
    let manager = DbManager::new(db.url.parse().unwrap());
    let mut conn = manager.establish().unwrap();
    let expected = migration_names("sqlite").len();
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(applied.len(), expected, "first run applies everything");
    assert!(
        migrations::run_pending(&mut conn).unwrap().is_empty(),
        "nothing is pending twice"
    );
    let reverted = migrations::revert_all(&mut conn).unwrap();
    assert_eq!(reverted.len(), expected, "every migration goes down");
    let again = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(again, applied, "and up again, in the same order");
}
