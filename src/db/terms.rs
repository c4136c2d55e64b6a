//! The words subscribers are found by in the admin's search (see `domain::search_terms`).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use super::schema::subscriber_terms;
use super::DbConnection;
use crate::domain::search_terms;

/// Indexes the words of these subscribers' names (new subscribers: nothing to replace).
pub fn add(conn: &mut DbConnection, named: &[(i64, &str)]) -> QueryResult<()> {
    let (mut ids, mut terms) = (Vec::new(), Vec::new());
    for (id, name) in named {
        for term in search_terms(name) {
            ids.push(*id);
            terms.push(term);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Pg(c) => diesel::sql_query(
            "INSERT INTO subscriber_terms (subscriber_id, term) \
             SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Array<Text>, _>(&terms)
        .execute(c)?,
        DbConnection::Sqlite(c) => {
            let rows: Vec<(i64, &String)> = ids.iter().copied().zip(&terms).collect();
            diesel::sql_query(
                "INSERT OR IGNORE INTO subscriber_terms (subscriber_id, term) \
                 SELECT value ->> 0, value ->> 1 FROM json_each(?1)",
            )
            .bind::<Text, _>(serde_json::to_string(&rows).expect("numbers and strings"))
            .execute(c)?
        }
    };
    Ok(())
}

/// Indexes every named subscriber (once, right after the migration that added the index),
/// in batches by id so memory stays flat at millions of rows.
pub fn index_all(conn: &mut DbConnection) -> QueryResult<u64> {
    use super::schema::subscribers;
    const BATCH: i64 = 5_000;
    let (mut after, mut indexed) = (0i64, 0u64);
    loop {
        let batch: Vec<(i64, Option<String>)> = subscribers::table
            .filter(subscribers::id.gt(after))
            .order(subscribers::id)
            .limit(BATCH)
            .select((subscribers::id, subscribers::name))
            .load(conn)?;
        let Some(&(last, _)) = batch.last() else {
            return Ok(indexed);
        };
        let named: Vec<(i64, &str)> = batch
            .iter()
            .filter_map(|(id, name)| Some((*id, name.as_deref()?)))
            .collect();
        add(conn, &named)?;
        indexed += named.len() as u64;
        after = last;
    }
}

/// Re-indexes one subscriber's name (after an edit).
pub fn replace(conn: &mut DbConnection, id: i64, name: Option<&str>) -> QueryResult<()> {
    delete(conn, id)?;
    match name {
        Some(name) => add(conn, &[(id, name)]),
        None => Ok(()),
    }
}

/// Forgets a subscriber's words (an erasure).
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(subscriber_terms::table.filter(subscriber_terms::subscriber_id.eq(id)))
        .execute(conn)
}
