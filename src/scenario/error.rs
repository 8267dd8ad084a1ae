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
    /// As the error reads, without any text of the file: the message's first line, cut before
    /// the `found …` that quotes a cell (for answers to remote callers, who must not read files
    /// through errors).
    pub fn redacted(&self) -> String {
        let first = self.message.lines().next().unwrap_or_default();
        let cut = ["(found", " found", "`"]
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
        Invalid {
            message,
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
        }))
    }

    /// The details of an [`LoadError::Invalid`], for tests and callers that point at the place.
    pub fn details(&self) -> Option<&Invalid> {
        match self {
            LoadError::Invalid(inv) => Some(inv),
            LoadError::Io { .. } => None,
        }
    }
}
