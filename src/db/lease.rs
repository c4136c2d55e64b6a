//! The bookkeeping of the lease protocol, shared by the two queues that use it: the outbox and
//! the digest deliveries. Both tables have `id`, `status` (`queued` → `sending` → ...),
//! `attempts`, a due time (the outbox's `next_attempt_at`, the deliveries' `retry_at`),
//! `lease_until`, `lease_owner` and `last_error`; claiming and recording a success differ per
//! table and stay with it. A failure records the attempt count the claim gave the row (a
//! delivery leased in a range is counted only here).

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
