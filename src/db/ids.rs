//! A batch's ids as one bound parameter.
//!
//! diesel's `eq_any` writes one placeholder per id, and such a statement is never kept
//! prepared: SQLite parsed an `IN (?, ?, ...)` of 500 placeholders afresh for every batch a
//! digest sends (6% of the service's CPU in a profile of a send), and PostgreSQL planned each
//! batch's lookup anew, estimating every id of the list. Here the ids travel as one parameter,
//! whatever their number: an array on PostgreSQL (`= ANY($1)`), a JSON array that SQLite
//! reads with `json_each`. The statement's text is the same for every batch: a select stays
//! prepared (parsed and planned once per connection; PostgreSQL's generic plan needs no
//! estimate per id), and an update, which diesel always prepares afresh, is short to parse.

use std::fmt::Write;

use diesel::expression::{is_aggregate, AppearsOnTable, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryResult;

use super::MultiBackend;

/// `column IN (ids)`, as a filter.
#[derive(Debug, Clone, QueryId)]
pub struct InIds<C> {
    column: C,
    ids: Vec<i64>,
    /// The ids as SQLite reads them.
    json: String,
}

/// `column IN (ids)`.
pub fn in_ids<C>(column: C, ids: &[i64]) -> InIds<C> {
    let mut json = String::with_capacity(ids.len() * 8 + 2);
    json.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let _ = write!(json, "{id}");
    }
    json.push(']');
    InIds {
        column,
        ids: ids.to_vec(),
        json,
    }
}

impl<C> Expression for InIds<C> {
    type SqlType = Bool;
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for InIds<C> {}

impl<C> ValidGrouping<()> for InIds<C> {
    type IsAggregate = is_aggregate::Never;
}

impl<C: QueryFragment<Pg>> QueryFragment<Pg> for InIds<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for InIds<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: QueryFragment<Pg> + QueryFragment<Sqlite>> QueryFragment<MultiBackend> for InIds<C> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}
