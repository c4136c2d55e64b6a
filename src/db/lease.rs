//! The bookkeeping of the lease protocol, shared by the two queues that use it: the outbox and
//! the digest deliveries. Both tables have `id`, `status` (`queued` → `sending` → ...),
//! `attempts`, a due time (the outbox's `next_attempt_at`, the deliveries' `retry_at`),
//! `lease_until`, `lease_owner` and `last_error`; claiming and recording a success differ per
//! table and stay with it. A failure records the attempt count the claim gave the row (a
//! delivery leased in a range is counted only here).

use super::Backend;

/// A claim statement, written once, for the connection's backend: `$n` placeholders become
/// SQLite's `?n`, `{skip_locked}` becomes PostgreSQL's `FOR UPDATE SKIP LOCKED` (SQLite has
/// one writer at a time: the write transaction is the lock), `{indexed_by NAME}` becomes
/// SQLite's `INDEXED BY NAME` (without statistics it would rather walk a digest's rows), and
/// `{message_id $n}` the Message-ID expression ([`MESSAGE_ID_SQL`]) with the suffix in `$n`.
pub(super) fn claim_sql(backend: Backend, template: &str) -> String {
    let sqlite = backend == Backend::Sqlite;
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find(['$', '{']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push(if sqlite { '?' } else { '$' });
            rest = after;
            continue;
        }
        let end = rest.find('}').expect("a marker ends with }");
        let marker = &rest[1..end];
        rest = &rest[end + 1..];
        match marker.split_once(' ') {
            None if marker == "skip_locked" && !sqlite => out.push_str("FOR UPDATE SKIP LOCKED"),
            None if marker == "skip_locked" => {}
            Some(("indexed_by", index)) if sqlite => {
                out.push_str("INDEXED BY ");
                out.push_str(index);
            }
            Some(("indexed_by", _)) => {}
            Some(("message_id", param)) => {
                out.push_str(MESSAGE_ID_SQL);
                out.push_str(&param.replacen('$', if sqlite { "?" } else { "$" }, 1));
                out.push(')');
            }
            _ => panic!("unknown marker {{{marker}}} in a claim statement"),
        }
    }
    out.push_str(rest);
    out
}

/// A delivery's Message-ID in SQL, up to its suffix: `<{id}.{digest_id}{suffix}`, the same on
/// every attempt (a row that has one keeps it). [`message_id`] builds the same in Rust.
pub(super) const MESSAGE_ID_SQL: &str =
    "COALESCE(message_id, '<' || CAST(id AS TEXT) || '.' || CAST(digest_id AS TEXT) || ";

/// A delivery's Message-ID, `<{delivery}.{digest}{suffix}` (the suffix is
/// `.{installation}@{host}>`), as [`MESSAGE_ID_SQL`] builds it in SQL.
pub fn message_id(delivery_id: i64, digest_id: i64, suffix: &str) -> String {
    format!("<{delivery_id}.{digest_id}{suffix}")
}

/// Defines `mark_retry`, `mark_failed_row` and `release` for `$table`, whose due time is
/// `$due` and whose states are the enum `$status`, in the calling module.
macro_rules! lease_bookkeeping {
    ($table:ident, $due:ident, $status:ident) => {
        /// Queues a row again after a temporary failure (its `attempts`th), to be tried at
        /// `at`.
        pub fn mark_retry(
            conn: &mut DbConnection,
            id: i64,
            attempts: i32,
            at: NaiveDateTime,
            error: &str,
        ) -> QueryResult<()> {
            // Not a row another instance has recorded an outcome for since (it took over an
            // expired lease).
            let open = $table::table
                .find(id)
                .filter($table::status.eq_any([$status::Queued, $status::Sending]));
            diesel::update(open)
                .set((
                    $table::status.eq($status::Queued),
                    $table::attempts.eq(attempts),
                    $table::$due.eq(at),
                    $table::lease_until.eq(None::<NaiveDateTime>),
                    $table::lease_owner.eq(None::<String>),
                    $table::last_error.eq(Some(error)),
                ))
                .execute(conn)?;
            Ok(())
        }

        /// Records a permanent failure at the `attempts`th attempt; the row and its reason
        /// stay. Returns whether the row was still waiting for an outcome (another instance
        /// may have recorded one after taking over an expired lease).
        pub fn mark_failed_row(
            conn: &mut DbConnection,
            id: i64,
            attempts: i32,
            error: &str,
        ) -> QueryResult<bool> {
            let open = $table::table
                .find(id)
                .filter($table::status.eq_any([$status::Queued, $status::Sending]));
            let changed = diesel::update(open)
                .set((
                    $table::status.eq($status::Failed),
                    $table::attempts.eq(attempts),
                    $table::lease_until.eq(None::<NaiveDateTime>),
                    $table::lease_owner.eq(None::<String>),
                    $table::last_error.eq(Some(error)),
                ))
                .execute(conn)?;
            Ok(changed == 1)
        }

        /// Gives back leases this owner took but did not use (shutdown, pause), uncounting the
        /// attempt; they are due again at once.
        pub fn release(
            conn: &mut DbConnection,
            owner: &str,
            ids: &[i64],
            now: NaiveDateTime,
        ) -> QueryResult<usize> {
            diesel::update(
                $table::table
                    .filter($table::id.eq_any(ids))
                    .filter($table::status.eq($status::Sending))
                    .filter($table::lease_owner.eq(owner)),
            )
            .set((
                $table::status.eq($status::Queued),
                $table::attempts.eq($table::attempts - 1),
                $table::$due.eq(now),
                $table::lease_until.eq(None::<NaiveDateTime>),
                $table::lease_owner.eq(None::<String>),
            ))
            .execute(conn)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_statement_is_written_for_either_backend() {
        let template = "UPDATE t SET m = {message_id $2} WHERE id IN (SELECT id FROM t \
                        {indexed_by t_due} WHERE due <= $1 LIMIT $3 {skip_locked})";
        let tail = "WHERE due <= $1 LIMIT $3";
        assert_eq!(
            claim_sql(Backend::Sqlite, template),
            format!(
                "UPDATE t SET m = {MESSAGE_ID_SQL}?2) WHERE id IN (SELECT id FROM t INDEXED BY \
                 t_due {} )",
                tail.replace('$', "?")
            )
        );
        assert_eq!(
            claim_sql(Backend::Postgres, template),
            format!(
                "UPDATE t SET m = {MESSAGE_ID_SQL}$2) WHERE id IN (SELECT id FROM t  {tail} \
                 FOR UPDATE SKIP LOCKED)"
            )
        );
        assert_eq!(message_id(7, 3, ".ab@x.org>"), "<7.3.ab@x.org>");
    }
}
