//! Load errors: every one names the file, the line and, where there is one, the column.

use std::fmt;
use std::path::PathBuf;

/// A scenario (or orders) file that could not be loaded. Nothing is half-loaded: a load either
/// returns a whole scenario or one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be opened or read.
    /// (The OS error is in the message, not chained as a source: printed once.)
    #[error("{path}: cannot read: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file's content is wrong at a place.
    #[error("{0}")]
    Invalid(Box<Invalid>),
}

/// Where and what is wrong in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub path: PathBuf,
    /// 1-based line; `None` for an error of the whole file.
    pub line: Option<u64>,
    /// The column's header name (CSV) or key (TOML).
    pub column: Option<String>,
    pub message: String,
    /// Whether `column` is text of the file (a header the spec does not name) rather than a
    /// name of the spec: then a redacted error leaves it out.
    pub column_from_file: bool,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ": column `{column}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Invalid {
    /// As the error reads to a remote caller: the file's name (not the server's folders), the
    /// line, the column where the spec names it, and the rule broken — never a value of the
    /// file. The message is its first line cut before anything that may quote the file (a
    /// backtick, a quote, `found`), whatever produced it (the CSV reader, TOML's parser, a
    /// rule of the spec).
    pub fn redacted(&self) -> String {
        let first = self.message.lines().next().unwrap_or_default();
        let cut = ["(found", " found", "`", "\"", "'"]
            .iter()
            .filter_map(|m| first.find(m))
            .min();
        let message = match cut {
            Some(at) => format!(
                "{} (the value is not shown)",
                first[..at].trim_end_matches([' ', ',', ';', ':'])
            ),
            None => first.to_owned(),
        };
        let name = self
            .path
            .file_name()
            .map_or_else(|| self.path.clone(), PathBuf::from);
        Invalid {
            path: name,
            message,
            column: self.column.clone().filter(|_| !self.column_from_file),
            ..self.clone()
        }
        .to_string()
    }
}

impl LoadError {
    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        line: Option<u64>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        LoadError::Invalid(Box::new(Invalid {
            path: path.into(),
            line,
            column: column.map(str::to_owned),
            message: message.into(),
            column_from_file: false,
        }))
    }

    /// As [`LoadError::invalid`] for a column named by the file's own header (a redacted
    /// error leaves it out).
    pub(crate) fn invalid_header(
        path: impl Into<PathBuf>,
        line: Option<u64>,
        column: &str,
        message: impl Into<String>,
    ) -> Self {
        let mut e = LoadError::invalid(path, line, Some(column), message);
        if let LoadError::Invalid(inv) = &mut e {
            inv.column_from_file = true;
        }
        e
    }

    /// The error as a remote caller may read it: [`Invalid::redacted`], or for a file that
    /// cannot be read its name and the OS's reason.
    pub fn redacted(&self) -> String {
        match self {
            LoadError::Invalid(inv) => inv.redacted(),
            LoadError::Io { path, error } => {
                let name = path.file_name().map_or_else(|| path.clone(), PathBuf::from);
                format!("{}: cannot read: {}", name.display(), error.kind())
            }
        }
    }

    /// The details of an [`LoadError::Invalid`], for tests and callers that point at the place.
    pub fn details(&self) -> Option<&Invalid> {
        match self {
            LoadError::Invalid(inv) => Some(inv),
            LoadError::Io { .. } => None,
        }
    }
}
