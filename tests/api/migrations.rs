use std::collections::BTreeSet;
use std::path::Path;

fn folders(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn both_backends_have_the_same_migration_folders_with_up_and_down() {
    let pg = folders("postgres");
    assert!(!pg.is_empty());
    assert_eq!(pg, folders("sqlite"));
    for backend in ["postgres", "sqlite"] {
        for name in &pg {
            for file in ["up.sql", "down.sql"] {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(backend)
                    .join(name)
                    .join(file);
                assert!(path.exists(), "{} is missing", path.display());
            }
        }
    }
}

/// A digest that was sending when the instance was upgraded: the new ledger (untried
/// deliveries handed out in ranges) must pick up where the old one stopped.
#[tokio::test]
async fn a_digest_sending_across_the_upgrade_reaches_everyone_once() {
    use diesel::connection::SimpleConnection;
    use iscriviti::db::{self, DbConnection};

    let app = crate::helpers::spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 3).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    // Back to the schema before ranges (the later migrations undone first), with the
    // deliveries as the old code left them: one of them waiting for a retry.
    app.db(|c| {
        let downs = match c {
            DbConnection::Pg(_) => [
                include_str!("../../migrations/postgres/2026-11-29-000008_deliveries_updated_in_place/down.sql"),
                include_str!("../../migrations/postgres/2026-11-29-000007_deliveries_without_foreign_keys/down.sql"),
                include_str!("../../migrations/postgres/2026-11-29-000006_delivery_ranges/down.sql"),
            ],
            DbConnection::Sqlite(_) => [
                include_str!("../../migrations/sqlite/2026-11-29-000008_deliveries_updated_in_place/down.sql"),
                include_str!("../../migrations/sqlite/2026-11-29-000007_deliveries_without_foreign_keys/down.sql"),
                include_str!("../../migrations/sqlite/2026-11-29-000006_delivery_ranges/down.sql"),
            ],
        };
        for down in downs {
            c.batch_execute(down)?;
        }
        c.batch_execute(
            "DELETE FROM __diesel_schema_migrations \
             WHERE version IN ('20261129000006', '20261129000007', '20261129000008'); \
             UPDATE deliveries SET attempts = 1, last_error = 'relay busy' \
             WHERE id = (SELECT MIN(id) FROM deliveries)",
        )
    })
    .await;
    let ran = db::run(&app.state.pool, db::migrate).await.unwrap();
    assert_eq!(ran, 3);

    assert_eq!(app.engine.drain().await.unwrap().sent, 3);
    let mut readers: Vec<_> = app
        .smtp
        .received()
        .iter()
        .map(|m| m.rcpt_to[0].clone())
        .collect();
    readers.sort();
    readers.dedup();
    assert_eq!(readers.len(), 3);
    assert_eq!(app.smtp.received().len(), 3);
    let status = iscriviti::digests::status(&app.state.pool, id)
        .await
        .unwrap();
    assert_eq!(status.0.status.as_str(), "sent");
    let rows = app.db(move |c| db::deliveries::of_digest(c, id)).await;
    let attempts: Vec<i32> = rows.iter().map(|r| r.attempts).collect();
    assert_eq!(
        attempts,
        [2, 1, 1],
        "the retry waiting at the upgrade was made"
    );
}

/// Subscribers from before the search index are found by name once the instance upgrades:
/// their names are indexed by the same rule as new ones (accents folded, apostrophes, any
/// case).
#[tokio::test]
async fn names_from_before_the_search_index_are_indexed_by_the_upgrade() {
    use diesel::connection::SimpleConnection;
    use iscriviti::db::{self, DbConnection};

    let app = crate::helpers::spawn_app_without_workers().await;
    let ids = app.seed_confirmed("newsletter", 2).await;
    let first = ids[0];
    app.db(move |c| {
        let down = match c {
            DbConnection::Pg(_) => {
                include_str!("../../migrations/postgres/2026-12-02-000011_staff/down.sql")
            }
            DbConnection::Sqlite(_) => {
                include_str!("../../migrations/sqlite/2026-12-02-000011_staff/down.sql")
            }
        };
        c.batch_execute(down)?;
        c.batch_execute(&format!(
            "DELETE FROM __diesel_schema_migrations WHERE version = '20261202000011'; \
             UPDATE subscribers SET name = 'ÉLODIE D''Angelo-Rossi' WHERE id = {first}"
        ))
    })
    .await;
    let ran = db::run(&app.state.pool, db::migrate).await.unwrap();
    assert_eq!(ran, 1);
    for words in ["élodie", "Elodie", "rossi", "d'angelo", "LETTORE 1"] {
        let search = iscriviti::subscriptions::Search {
            text: words.into(),
            ..Default::default()
        };
        let page = iscriviti::subscriptions::search(&app.state, search)
            .await
            .unwrap();
        let found: Vec<i64> = page.entries.iter().map(|e| e.id).collect();
        match words {
            "LETTORE 1" => assert_eq!(found, [ids[1]], "the other reader's name"),
            _ => assert_eq!(found, [first], "{words}"),
        }
    }
}
