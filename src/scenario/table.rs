//! A CSV table read by column name, with typed cell parsers that report file, line and column.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::LoadError;

/// Ids by name while a scenario is read (hashed with Fx: millions of look-ups of short ids).
pub(crate) type Index<'a, T> = FxHashMap<&'a str, T>;

/// A CSV file's path and header resolved to column positions.
pub(crate) struct Header {
    path: PathBuf,
    columns: FxHashMap<String, usize>,
}

/// A whole CSV file in memory with its header resolved to column positions.
pub(crate) struct Table {
    header: Header,
    rows: Vec<(u64, csv::StringRecord)>,
}

/// One row of a [`Table`] (or of a file streamed row by row), with typed accessors.
pub(crate) struct Row<'a> {
    header: &'a Header,
    pub line: u64,
    record: &'a csv::StringRecord,
}

impl Table {
    /// Reads `path` (`-`: standard input), checking that `required` columns exist.
    pub fn read(path: &Path, required: &[&str]) -> Result<Table, LoadError> {
        if path.as_os_str() == "-" {
            return Self::from_reader(path, std::io::stdin().lock(), required);
        }
        Self::from_reader(path, std::io::BufReader::new(open(path)?), required)
    }

    pub fn from_reader(
        path: &Path,
        reader: impl std::io::Read,
        required: &[&str],
    ) -> Result<Table, LoadError> {
        let mut rows = Vec::new();
        let header = each_record(path, reader, required, |_, line, record| {
            rows.push((line, record.clone()));
            Ok(())
        })?;
        Ok(Table { header, rows })
    }

    /// Reads `path` one row at a time into one reused record, calling `each` with every row
    /// that is not blank; nothing of the rows is kept (for files of millions of rows). Returns
    /// how many rows there were.
    pub fn stream(
        path: &Path,
        required: &[&str],
        mut each: impl FnMut(Row<'_>) -> Result<(), LoadError>,
    ) -> Result<usize, LoadError> {
        let reader = std::io::BufReader::with_capacity(1 << 16, open(path)?);
        let mut n = 0;
        each_record(path, reader, required, |header, line, record| {
            n += 1;
            each(Row {
                header,
                line,
                record,
            })
        })?;
        Ok(n)
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|(line, record)| Row {
            header: &self.header,
            line: *line,
            record,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }
}

fn open(path: &Path) -> Result<std::fs::File, LoadError> {
    std::fs::File::open(path).map_err(|error| LoadError::Io {
        path: path.to_owned(),
        error,
    })
}

/// Reads the header of a CSV file (checking that `required` columns exist), then calls `each`
/// with every record that is not blank, read into one reused record, and its line.
fn each_record(
    path: &Path,
    reader: impl std::io::Read,
    required: &[&str],
    mut each: impl FnMut(&Header, u64, &csv::StringRecord) -> Result<(), LoadError>,
) -> Result<Header, LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line());
        LoadError::invalid(path, line, None, format!("malformed CSV: {e}"))
    };
    let headers = rdr.headers().map_err(csv_err)?.clone();
    let header = header_of(path, &headers, required)?;
    let mut record = csv::StringRecord::new();
    while rdr.read_record(&mut record).map_err(csv_err)? {
        let line = record.position().map_or(0, |p| p.line());
        // A fully blank line is not a row.
        if record.iter().all(str::is_empty) {
            continue;
        }
        each(&header, line, &record)?;
    }
    Ok(header)
}

/// The columns of a header by name; every `required` one must be there, none twice.
fn header_of(
    path: &Path,
    headers: &csv::StringRecord,
    required: &[&str],
) -> Result<Header, LoadError> {
    let mut columns = FxHashMap::default();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim_start_matches('\u{feff}').to_owned();
        if columns.insert(name.clone(), i).is_some() {
            return Err(LoadError::invalid_header(
                path,
                Some(1),
                &name,
                format!("column {} appears twice in the header", i + 1),
            ));
        }
    }
    for col in required {
        if !columns.contains_key(*col) {
            return Err(LoadError::invalid(
                path,
                Some(1),
                Some(col),
                format!(
                    "required column is missing from the header (found: {})",
                    headers.iter().collect::<Vec<_>>().join(",")
                ),
            ));
        }
    }
    Ok(Header {
        path: path.to_owned(),
        columns,
    })
}

impl Row<'_> {
    /// The error for `column` on this row.
    pub fn error(&self, column: &str, message: impl Into<String>) -> LoadError {
        LoadError::invalid(
            self.header.path.clone(),
            Some(self.line),
            Some(column),
            message,
        )
    }

    /// The trimmed cell, empty when the column is absent.
    pub fn cell(&self, column: &str) -> &str {
        self.header
            .columns
            .get(column)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }

    /// A required, non-empty string.
    pub fn string(&self, column: &str) -> Result<&str, LoadError> {
        let v = self.cell(column);
        if v.is_empty() {
            Err(self.error(column, "required value is empty"))
        } else {
            Ok(v)
        }
    }

    /// An optional float; `None` when empty. Rejects NaN and infinities.
    pub fn opt_f64(&self, column: &str) -> Result<Option<f64>, LoadError> {
        let v = self.cell(column);
        if v.is_empty() {
            return Ok(None);
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(self.error(column, format!("expected a finite number, found `{v}`"))),
        }
    }

    /// A required float.
    pub fn f64(&self, column: &str) -> Result<f64, LoadError> {
        self.opt_f64(column)?
            .ok_or_else(|| self.error(column, "required number is empty"))
    }

    /// An optional float ≥ 0 with a default.
    pub fn non_negative(&self, column: &str, default: f64) -> Result<f64, LoadError> {
        let v = self.opt_f64(column)?.unwrap_or(default);
        if v < 0.0 {
            return Err(self.error(column, format!("expected a number ≥ 0, found `{v}`")));
        }
        Ok(v)
    }

    /// A `;`-separated list of names (version 2 `channels`); empty when the cell is.
    pub fn names(&self, column: &str) -> Result<Vec<String>, LoadError> {
        let v = self.cell(column);
        if v.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<String> = Vec::new();
        for name in v.split(';').map(str::trim) {
            if name.is_empty() {
                return Err(self.error(column, format!("empty name in the list `{v}`")));
            }
            if !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
        Ok(out)
    }

    /// An optional integer with a lower bound; `None` when empty.
    pub fn opt_u32(&self, column: &str, min: u32) -> Result<Option<u32>, LoadError> {
        let v = self.cell(column);
        if v.is_empty() {
            return Ok(None);
        }
        match v.parse::<i64>() {
            Ok(x) if x >= i64::from(min) && x <= i64::from(u32::MAX) => Ok(Some(x as u32)),
            Ok(x) => Err(self.error(column, format!("expected an integer ≥ {min}, found `{x}`"))),
            Err(_) => Err(self.error(column, format!("expected an integer ≥ {min}, found `{v}`"))),
        }
    }

    /// A required integer with a lower bound.
    pub fn u32(&self, column: &str, min: u32) -> Result<u32, LoadError> {
        self.opt_u32(column, min)?
            .ok_or_else(|| self.error(column, "required integer is empty"))
    }

    /// An optional boolean (`1`/`0`/`true`/`false`) with a default.
    pub fn bool(&self, column: &str, default: bool) -> Result<bool, LoadError> {
        match self.cell(column) {
            "" => Ok(default),
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            v => Err(self.error(
                column,
                format!("expected a boolean (1, 0, true or false), found `{v}`"),
            )),
        }
    }

    /// The row's `node_id` and `sku`, resolved (else: the row and column of the unknown one).
    pub fn node_and_sku(
        &self,
        nodes: &Index<'_, crate::model::NodeId>,
        skus: &Index<'_, crate::model::SkuId>,
    ) -> Result<(crate::model::NodeId, crate::model::SkuId), LoadError> {
        let node_text = self.string("node_id")?;
        let node = *nodes.get(node_text).ok_or_else(|| {
            self.error(
                "node_id",
                format!("unknown node `{node_text}` (not in nodes.csv)"),
            )
        })?;
        let sku_text = self.string("sku")?;
        let sku = *skus.get(sku_text).ok_or_else(|| {
            self.error("sku", format!("unknown SKU `{sku_text}` (not in skus.csv)"))
        })?;
        Ok((node, sku))
    }

    /// A latitude in [-90, 90].
    pub fn latitude(&self, column: &str) -> Result<f64, LoadError> {
        let v = self.f64(column)?;
        if !(-90.0..=90.0).contains(&v) {
            return Err(self.error(column, format!("latitude must be in [-90, 90], found {v}")));
        }
        Ok(v)
    }

    /// A longitude in [-180, 180].
    pub fn longitude(&self, column: &str) -> Result<f64, LoadError> {
        let v = self.f64(column)?;
        if !(-180.0..=180.0).contains(&v) {
            return Err(self.error(
                column,
                format!("longitude must be in [-180, 180], found {v}"),
            ));
        }
        Ok(v)
    }
}
