//! A batch's ids as one bound parameter.
//!
//! diesel's `eq_any` writes one placeholder per id, and such a statement is never kept in the
//! prepared-statement cache: SQLite parsed an `IN (?, ?, ...)` of 500 placeholders afresh for
//! every batch a digest sends, 6% of the service's CPU in a profile of a send. Here the ids
//! travel as one text parameter, whatever their number: a JSON array that SQLite reads with
//! `json_each`, an array literal that PostgreSQL casts. The statement's text is the same for
//! every batch.

use std::fmt::Write;

use diesel::dsl::{sql, AsExprOf};
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::sql_types::{Bool, Text};

use super::DbConnection;

/// `column IN (ids)`, as a filter.
pub type InIds = SqlLiteral<Bool, UncheckedBind<SqlLiteral<Bool>, AsExprOf<String, Text>>>;

/// `column IN (ids)` for `conn`'s backend; `column` is a qualified column name written by the
/// db layer (`"deliveries.id"`), never input.
pub fn in_ids(conn: &DbConnection, column: &'static str, ids: &[i64]) -> InIds {
    let (open, close, brackets) = match conn {
        DbConnection::Sqlite(_) => (" IN (SELECT value FROM json_each(", "))", ('[', ']')),
        DbConnection::Pg(_) => (" = ANY(CAST(", " AS BIGINT[]))", ('{', '}')),
    };
    let mut list = String::with_capacity(ids.len() * 8 + 2);
    list.push(brackets.0);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        let _ = write!(list, "{id}");
    }
    list.push(brackets.1);
    sql::<Bool>(&format!("{column}{open}"))
        .bind::<Text, _>(list)
        .sql(close)
}
