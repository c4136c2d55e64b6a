//! Reading an import file: the delimiter sniffed, the columns found by name, each row parsed
//! into domain types or rejected with its reason, chunks shared out to the writers by address.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::SyncSender;

use super::{ColumnMap, Part, TransferError};
use crate::db::import;
use crate::domain::{SubscriberEmail, SubscriberName, SuppressionKey};

/// Reads `input` in chunks of `chunk_rows` rows and shares each out to the writers.
pub(super) fn read_chunks<R: Read>(
    input: R,
    chunk_rows: usize,
    map: Option<&ColumnMap>,
    writers: &[SyncSender<Part>],
    suppression: &SuppressionKey,
) -> Result<(), TransferError> {
    let mut csv = open(input)?;
    let columns = Columns::find(csv.byte_headers()?, map)?;

    let new_chunk = |index| -> Vec<Part> {
        (0..writers.len())
            .map(|_| Part {
                index,
                ..Part::default()
            })
            .collect()
    };
    let (mut index, mut read) = (0, 0);
    let mut chunk = new_chunk(index);
    let mut record = csv::ByteRecord::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    loop {
        let more = csv.read_byte_record(&mut record)?;
        if more {
            let line = record.position().map_or(0, |p| p.line());
            read += 1;
            sort_row(
                &record,
                line,
                &columns,
                &mut chunk,
                &mut first_line,
                suppression,
            );
        }
        if read == chunk_rows || (!more && read > 0) {
            chunk[0].read = read as u64;
            for (part, writer) in std::mem::replace(&mut chunk, new_chunk(index + 1))
                .into_iter()
                .zip(writers)
            {
                if writer.send(part).is_err() {
                    return Ok(()); // a writer failed and said why
                }
            }
            (index, read) = (index + 1, 0);
            first_line.clear();
        }
        if !more {
            return Ok(());
        }
    }
}

/// A CSV reader over `input`, its delimiter sniffed from the header line.
pub(super) fn open<R: Read>(input: R) -> Result<csv::Reader<BufReader<R>>, TransferError> {
    let mut input = BufReader::with_capacity(256 * 1024, input);
    let delimiter = sniff_delimiter(input.fill_buf()?);
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(input))
}

/// The header's names, as text.
pub(super) fn header_names(headers: &csv::ByteRecord) -> Vec<String> {
    headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_owned()
        })
        .collect()
}

/// Where the columns an import reads are.
pub(super) struct Columns {
    pub(super) email: usize,
    pub(super) name: Option<usize>,
    /// Other columns are ignored, but a file that says a reader unsubscribed (an export of
    /// ours, or of another tool) must not subscribe them again.
    pub(super) status: Option<usize>,
}

impl Columns {
    /// The columns `map` names, or by default `email`, `name` and `status`.
    pub(super) fn find(
        headers: &csv::ByteRecord,
        map: Option<&ColumnMap>,
    ) -> Result<Self, TransferError> {
        let names = header_names(headers);
        let column = |want: &str| {
            names
                .iter()
                .position(|h| h.eq_ignore_ascii_case(want.trim()))
        };
        let missing = |want: &str| {
            let found: Vec<String> = names.iter().map(|h| format!("{h:?}")).collect();
            TransferError::NoColumn(want.to_owned(), found.join(", "))
        };
        let optional = |want: Option<&String>| match want {
            Some(w) => column(w).map(Some).ok_or_else(|| missing(w)),
            None => Ok(None),
        };
        match map {
            None => Ok(Columns {
                email: column("email").ok_or_else(|| missing("email"))?,
                name: column("name"),
                status: column("status"),
            }),
            Some(map) => Ok(Columns {
                email: column(&map.email).ok_or_else(|| missing(&map.email))?,
                name: optional(map.name.as_ref())?,
                status: optional(map.status.as_ref())?,
            }),
        }
    }
}

/// Puts a row into the chunk: rows to the writer of their address, refusals to the first part.
fn sort_row(
    record: &csv::ByteRecord,
    line: u64,
    columns: &Columns,
    chunk: &mut [Part],
    first_line: &mut HashMap<String, u64>,
    suppression: &SuppressionKey,
) {
    let left = columns
        .status
        .and_then(|i| record.get(i))
        .is_some_and(|s| s.trim_ascii().eq_ignore_ascii_case(b"unsubscribed"));
    if left {
        chunk[0].left += 1;
        return;
    }
    let (email, name) = match parse_row(record, columns.email, columns.name) {
        Ok(row) => row,
        Err(reason) => {
            chunk[0].rejected.push((line, reason));
            return;
        }
    };
    if let Some(first) = first_line.get(email.as_str()) {
        chunk[0]
            .rejected
            .push((line, format!("duplicate of line {first}")));
        return;
    }
    first_line.insert(email.as_str().to_owned(), line);
    let email_hash = suppression.entry(email.as_str());
    let writer = usize::from(email_hash.as_bytes()[0]) % chunk.len();
    chunk[writer].rows.push(import::ImportRow {
        line,
        email_hash,
        email: email.as_str().to_owned(),
        name: name.map(|n| n.as_str().to_owned()),
    });
}

/// The address and name of a row, or why the row is refused.
pub(super) fn parse_row(
    record: &csv::ByteRecord,
    email_col: usize,
    name_col: Option<usize>,
) -> Result<(SubscriberEmail, Option<SubscriberName>), String> {
    let field = |i: usize| {
        std::str::from_utf8(record.get(i).unwrap_or_default())
            .map_err(|_| "not valid UTF-8 (save the file as UTF-8)".to_owned())
    };
    let raw = field(email_col)?;
    if raw.trim().is_empty() {
        return Err("no e-mail address".into());
    }
    let email = SubscriberEmail::parse(raw).map_err(|e| format!("{e}: {raw:?}"))?;
    let name = match name_col {
        Some(i) => SubscriberName::parse_optional(Some(field(i)?)).map_err(|e| e.to_string())?,
        None => None,
    };
    Ok((email, name))
}

/// Spreadsheets set to an Italian locale save CSV with semicolons: the header line decides.
fn sniff_delimiter(start: &[u8]) -> u8 {
    let header = start.split(|&b| b == b'\n').next().unwrap_or_default();
    [b',', b';', b'\t']
        .into_iter()
        .find(|d| header.contains(d))
        .unwrap_or(b',')
}
