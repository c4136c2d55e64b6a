//! Bulk import into a list.
//!
//! `MultiConnection` has neither multi-row inserts nor `ON CONFLICT`, so the inserts here match
//! on the concrete connection: a chunk of thousands of rows costs a handful of statements, not
//! several per row. Races with signups are settled by the database (`ON CONFLICT DO NOTHING` on
//! PostgreSQL; SQLite holds the write lock for the whole chunk anyway).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};

use super::schema::{subscribers, subscriptions, suppressions};
use super::DbConnection;
use crate::domain::SubscriptionStatus;

diesel::table! {
    /// Every address an import has met so far with its first line, so that duplicates far
    /// apart in a large file are found without a set in memory that grows with the file.
    import_seen (email) {
        email -> Text,
        line -> BigInt,
    }
}

/// One valid row of an import file.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub email: String,
    pub email_hash: String,
    pub name: Option<String>,
}

/// Where the rows of an import go.
#[derive(Debug, Clone)]
pub struct ImportTarget {
    pub list_id: i64,
    pub status: SubscriptionStatus,
    pub source: String,
    /// The language new subscribers get (the list's).
    pub language: String,
    pub now: NaiveDateTime,
}

/// What happened to the valid rows of one chunk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub imported: u64,
    pub already: u64,
    pub unsubscribed: u64,
    pub suppressed: u64,
    pub blocked: u64,
    /// (line, first line) of addresses met in an earlier chunk.
    pub duplicates: Vec<(u64, u64)>,
}

impl ChunkOutcome {
    /// Adds another part of the same chunk.
    pub fn merge(&mut self, other: ChunkOutcome) {
        self.imported += other.imported;
        self.already += other.already;
        self.unsubscribed += other.unsubscribed;
        self.suppressed += other.suppressed;
        self.blocked += other.blocked;
        self.duplicates.extend(other.duplicates);
    }
}

/// Prepares this connection for an import: an empty `import_seen` in its temporary schema.
pub fn start_import(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query(
        "CREATE TEMPORARY TABLE IF NOT EXISTS import_seen \
         (email TEXT PRIMARY KEY, line BIGINT NOT NULL)",
    )
    .execute(conn)?;
    diesel::delete(import_seen::table).execute(conn)?;
    Ok(())
}

/// Drops what [`start_import`] made, before the connection goes back to the pool.
pub fn finish_import(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::sql_query("DROP TABLE IF EXISTS import_seen").execute(conn)?;
    Ok(())
}

/// Imports one chunk of rows whose addresses are distinct. Run it in a write transaction on the
/// connection [`start_import`] prepared.
pub fn import_chunk(
    conn: &mut DbConnection,
    target: &ImportTarget,
    rows: &[ImportRow],
) -> QueryResult<ChunkOutcome> {
    let mut outcome = ChunkOutcome::default();
    if let DbConnection::Pg(c) = conn {
        // Not waiting for the WAL flush at each commit is safe here: a crash can lose only the
        // last chunks, and running the file again imports them.
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(c)?;
    }

    let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    let earlier: HashMap<String, i64> = import_seen::table
        .filter(import_seen::email.eq_any(&emails))
        .select((import_seen::email, import_seen::line))
        .load(conn)?
        .into_iter()
        .collect();
    let rows: Vec<&ImportRow> = rows
        .iter()
        .filter(|r| match earlier.get(&r.email) {
            Some(&first) => {
                outcome.duplicates.push((r.line, first as u64));
                false
            }
            None => true,
        })
        .collect();
    insert_seen(conn, &rows)?;

    let hashes: Vec<&str> = rows.iter().map(|r| r.email_hash.as_str()).collect();
    let suppressed: HashSet<String> = suppressions::table
        .filter(suppressions::email_hash.eq_any(&hashes))
        .select(suppressions::email_hash)
        .load(conn)?
        .into_iter()
        .collect();
    let rows: Vec<&ImportRow> = rows
        .into_iter()
        .filter(|r| !suppressed.contains(&r.email_hash))
        .collect();
    outcome.suppressed = suppressed.len() as u64;

    // Existing subscribers keep their name and language; only missing ones are inserted (an
    // insert that conflicts would still use up an id on PostgreSQL).
    let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    let mut known = existing_subscribers(conn, &emails)?;
    let missing: Vec<&ImportRow> = rows
        .iter()
        .copied()
        .filter(|r| !known.contains_key(&r.email))
        .collect();
    let created: HashMap<String, i64> = insert_subscribers(conn, target, &missing)?
        .into_iter()
        .collect();
    if created.len() < missing.len() {
        // Someone signed up between the two statements: theirs is the row to use.
        let raced: Vec<&str> = missing
            .iter()
            .map(|r| r.email.as_str())
            .filter(|e| !created.contains_key(*e))
            .collect();
        known.extend(existing_subscribers(conn, &raced)?);
    }

    let existing_ids: Vec<i64> = known
        .values()
        .filter(|(_, blocked)| !blocked)
        .map(|(id, _)| *id)
        .collect();
    let current: HashMap<i64, String> = if existing_ids.is_empty() {
        HashMap::new()
    } else {
        subscriptions::table
            .filter(subscriptions::list_id.eq(target.list_id))
            .filter(subscriptions::subscriber_id.eq_any(&existing_ids))
            .select((subscriptions::subscriber_id, subscriptions::status))
            .load(conn)?
            .into_iter()
            .collect()
    };

    let mut joining = Vec::new();
    for row in &rows {
        if created.contains_key(&row.email) {
            continue;
        }
        match known.get(&row.email) {
            Some(&(_, true)) => outcome.blocked += 1,
            Some(&(id, false)) => match current.get(&id).map(String::as_str) {
                Some(status) if status == SubscriptionStatus::Unsubscribed.as_str() => {
                    outcome.unsubscribed += 1
                }
                Some(_) => outcome.already += 1,
                None => joining.push(id),
            },
            None => return Err(diesel::result::Error::NotFound),
        }
    }
    // Nobody else can see the new subscribers before this transaction commits, so their
    // subscriptions cannot conflict; those of existing subscribers can race a signup.
    let new_ids: Vec<i64> = created.into_values().collect();
    outcome.imported = insert_subscriptions(conn, target, &new_ids, false)? as u64;
    let joined = insert_subscriptions(conn, target, &joining, true)? as u64;
    outcome.imported += joined;
    outcome.already += joining.len() as u64 - joined;
    Ok(outcome)
}

/// id and blocked flag of the subscribers with these addresses.
fn existing_subscribers(
    conn: &mut DbConnection,
    emails: &[&str],
) -> QueryResult<HashMap<String, (i64, bool)>> {
    if emails.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, bool)> = subscribers::table
        .filter(subscribers::email.eq_any(emails))
        .select((subscribers::id, subscribers::email, subscribers::blocked))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, email, blocked)| (email, (id, blocked)))
        .collect())
}

// Each insert is one statement whose rows arrive in a single parameter: arrays to `unnest` on
// PostgreSQL, a JSON array to `json_each` on SQLite. Thousands of `VALUES` rows with a parameter
// each cost more to build, parse and bind than to execute, and diesel formats a SQLite timestamp
// anew for every row.

fn insert_seen(conn: &mut DbConnection, rows: &[&ImportRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    let lines: Vec<i64> = rows.iter().map(|r| r.line as i64).collect();
    match conn {
        DbConnection::Pg(c) => diesel::sql_query(
            "INSERT INTO import_seen (email, line) \
             SELECT * FROM unnest($1::text[], $2::bigint[])",
        )
        .bind::<Array<Text>, _>(&emails)
        .bind::<Array<BigInt>, _>(&lines)
        .execute(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "INSERT INTO import_seen (email, line) \
             SELECT value ->> 0, value ->> 1 FROM json_each(?1)",
        )
        .bind::<Text, _>(json(emails.iter().zip(&lines).collect()))
        .execute(c)?,
    };
    Ok(())
}

#[derive(QueryableByName)]
struct Created {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Inserts the subscribers not present yet; returns (email, id) of those it inserted.
fn insert_subscribers(
    conn: &mut DbConnection,
    target: &ImportTarget,
    rows: &[&ImportRow],
) -> QueryResult<Vec<(String, i64)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.name.as_deref()).collect();
    let created: Vec<Created> = match conn {
        DbConnection::Pg(c) => diesel::sql_query(
            "INSERT INTO subscribers (email, name, language, blocked, created_at, updated_at) \
             SELECT e, n, $3, FALSE, $4, $4 FROM unnest($1::text[], $2::text[]) AS t (e, n) \
             ON CONFLICT DO NOTHING RETURNING email, id",
        )
        .bind::<Array<Text>, _>(&emails)
        .bind::<Array<Nullable<Text>>, _>(&names)
        .bind::<Text, _>(&target.language)
        .bind::<Timestamp, _>(target.now)
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "INSERT OR IGNORE INTO subscribers \
             (email, name, language, blocked, created_at, updated_at) \
             SELECT value ->> 0, value ->> 1, ?2, FALSE, ?3, ?3 FROM json_each(?1) \
             RETURNING email, id",
        )
        .bind::<Text, _>(json(emails.iter().zip(&names).collect()))
        .bind::<Text, _>(&target.language)
        .bind::<Timestamp, _>(target.now)
        .load(c)?,
    };
    let names: HashMap<&str, &str> = rows
        .iter()
        .filter_map(|r| Some((r.email.as_str(), r.name.as_deref()?)))
        .collect();
    let named: Vec<(i64, &str)> = created
        .iter()
        .filter_map(|c| Some((c.id, *names.get(c.email.as_str())?)))
        .collect();
    super::terms::add(conn, &named)?;
    Ok(created.into_iter().map(|c| (c.email, c.id)).collect())
}

/// Subscribes these subscribers with the import's status; returns how many it inserted. When
/// `may_exist`, a subscription already there is left alone instead of failing the chunk.
fn insert_subscriptions(
    conn: &mut DbConnection,
    target: &ImportTarget,
    subscriber_ids: &[i64],
    may_exist: bool,
) -> QueryResult<usize> {
    if subscriber_ids.is_empty() {
        return Ok(0);
    }
    let confirmed_at = (target.status == SubscriptionStatus::Confirmed).then_some(target.now);
    let columns = "subscriptions (subscriber_id, list_id, status, source, created_at, \
                   updated_at, confirmed_at, unsubscribed_at)";
    match conn {
        DbConnection::Pg(c) => {
            // Where no conflict can happen, not checking for one saves a quarter of the time.
            let on_conflict = if may_exist {
                "ON CONFLICT DO NOTHING"
            } else {
                ""
            };
            diesel::sql_query(format!(
                "INSERT INTO {columns} SELECT id, $2, $3, $4, $5, $5, $6, NULL \
                 FROM unnest($1::bigint[]) AS t (id) {on_conflict}"
            ))
            .bind::<Array<BigInt>, _>(subscriber_ids)
            .bind::<BigInt, _>(target.list_id)
            .bind::<Text, _>(target.status.as_str())
            .bind::<Text, _>(&target.source)
            .bind::<Timestamp, _>(target.now)
            .bind::<Nullable<Timestamp>, _>(confirmed_at)
            .execute(c)
        }
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "INSERT OR IGNORE INTO {columns} SELECT value, ?2, ?3, ?4, ?5, ?5, ?6, NULL \
             FROM json_each(?1)"
        ))
        .bind::<Text, _>(json(subscriber_ids.iter().collect()))
        .bind::<BigInt, _>(target.list_id)
        .bind::<Text, _>(target.status.as_str())
        .bind::<Text, _>(&target.source)
        .bind::<Timestamp, _>(target.now)
        .bind::<Nullable<Timestamp>, _>(confirmed_at)
        .execute(c),
    }
}

fn json<T: serde::Serialize>(rows: Vec<T>) -> String {
    serde_json::to_string(&rows).expect("strings and numbers serialise")
}

/// Refreshes PostgreSQL's statistics after a large import: until autovacuum gets round to it,
/// the planner still believes the list is as small as before and picks plans that read all of
/// it for each page of an export. SQLite keeps no statistics unless asked.
pub fn analyze(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("ANALYZE subscribers, subscriptions, subscriber_terms").execute(c)?;
    }
    Ok(())
}
