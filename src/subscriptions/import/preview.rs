//! A dry run of an import's first rows: what each would become, or why it would be refused,
//! read exactly as the import will read it. Nothing is written.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;

use super::read::{header_names, open, parse_row, Columns};
use super::{ColumnMap, TransferError};

/// The header and the first rows of a file, with the columns an import would read.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub headers: Vec<String>,
    /// The columns found (the map given, or the default names); `None` with `problem` set.
    pub columns: Option<ColumnMap>,
    /// Why the file cannot be imported as mapped (no address column...).
    pub problem: Option<String>,
    pub rows: Vec<PreviewRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewRow {
    pub line: u64,
    pub email: String,
    pub name: String,
    /// Why the import would refuse the row, if it would.
    pub error: Option<String>,
    /// The row says the reader left: an import skips it.
    pub skipped: bool,
}

/// The columns a person most likely means when the file has no `email` column, from the
/// headers spreadsheets and other tools write ("E-mail", "Indirizzo email", "Nome"...); the
/// preview shows the guess, which the person can change.
fn guess(headers: &[String]) -> Option<ColumnMap> {
    let key = |h: &str| -> String {
        h.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let find = |names: &[&str]| {
        headers
            .iter()
            .find(|h| names.contains(&key(h).as_str()))
            .cloned()
    };
    let email = find(&[
        "email",
        "mail",
        "emailaddress",
        "indirizzo",
        "indirizzoemail",
        "indirizzomail",
        "posta",
        "postaelettronica",
    ])?;
    Some(ColumnMap {
        email,
        name: find(&[
            "name",
            "fullname",
            "nome",
            "nominativo",
            "nomeecognome",
            "nomecognome",
        ]),
        status: find(&["status", "stato"]),
    })
}

/// Reads the header and up to `rows` rows of `input` (without a map, the default names or
/// else a guess from the headers).
pub fn preview<R: Read>(
    input: R,
    map: Option<&ColumnMap>,
    rows: usize,
) -> Result<Preview, TransferError> {
    let mut csv = open(input)?;
    let header = csv.byte_headers()?.clone();
    let headers = header_names(&header);
    let guessed = map.is_none().then(|| guess(&headers)).flatten();
    let columns = match Columns::find(&header, map).or_else(|e| match &guessed {
        Some(g) => Columns::find(&header, Some(g)),
        None => Err(e),
    }) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Preview {
                headers,
                columns: None,
                problem: Some(e.to_string()),
                rows: Vec::new(),
            })
        }
    };
    let mut out = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    while out.len() < rows && csv.read_byte_record(&mut record)? {
        let line = record.position().map_or(0, |p| p.line());
        let text = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .unwrap_or_default()
        };
        let skipped = text(columns.status).eq_ignore_ascii_case("unsubscribed");
        let error = match parse_row(&record, columns.email, columns.name) {
            Ok((email, _)) => match first_line.get(email.as_str()) {
                Some(first) => Some(format!("duplicate of line {first}")),
                None => {
                    first_line.insert(email.as_str().to_owned(), line);
                    None
                }
            },
            Err(reason) => Some(reason),
        };
        out.push(PreviewRow {
            line,
            email: text(Some(columns.email)),
            name: text(columns.name),
            error: error.filter(|_| !skipped),
            skipped,
        });
    }
    let name_of = |i: usize| headers[i].clone();
    Ok(Preview {
        columns: Some(ColumnMap {
            email: name_of(columns.email),
            name: columns.name.map(name_of),
            status: columns.status.map(name_of),
        }),
        headers,
        problem: None,
        rows: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_headers_are_guessed_and_the_default_name_wins() {
        let p = preview(
            "E-Mail;Nome e cognome;Stato\na@example.org;Anna;\n".as_bytes(),
            None,
            5,
        )
        .unwrap();
        let c = p.columns.unwrap();
        assert_eq!(c.email, "E-Mail");
        assert_eq!(c.name.as_deref(), Some("Nome e cognome"));
        assert_eq!(c.status.as_deref(), Some("Stato"));
        assert!(p.problem.is_none());

        let p = preview("Indirizzo,email\nx,a@example.org\n".as_bytes(), None, 5).unwrap();
        assert_eq!(
            p.columns.unwrap().email,
            "email",
            "an exact `email` column is taken first"
        );

        let p = preview("Telefono,Città\n1,Roma\n".as_bytes(), None, 5).unwrap();
        assert!(
            p.columns.is_none() && p.problem.is_some(),
            "no guess is made up"
        );
    }
}
