//! The library's error type: every variant names what was wrong and where (file, line, byte, value).

use std::path::PathBuf;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error (shown in this error's message, so not chained as its source: the
        /// one-line error would repeat it).
        cause: std::io::Error,
    },
    /// A data file is malformed at a given place.
    #[error("{path}:{line}: {message}")]
    Data {
        /// The file (or `-` for stdin).
        path: PathBuf,
        /// 1-based line number (or, for text files, the byte offset where noted in the message).
        line: u64,
        /// What is wrong there.
        message: String,
    },
    /// A data file is unusable as a whole (missing columns, no rows, one label).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A model file cannot be used.
    #[error("{path}: {message}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// Why it cannot be loaded.
        message: String,
    },
    /// A parameter is outside its range.
    #[error("invalid {name} {value:?}: expected {expected}")]
    InvalidParam {
        /// The parameter's name as the user knows it.
        name: &'static str,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// A request cannot be carried out with the data given (for example more folds than groups).
    #[error("{0}")]
    Invalid(String),
    /// linfa-bayes refused to fit.
    #[error("naive Bayes fit failed: {0}")]
    Fit(#[from] linfa_bayes::NaiveBayesError),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Self::Io { path: path.into(), cause }
    }

    /// A problem at `path:line`.
    pub fn data(path: impl Into<PathBuf>, line: u64, message: impl Into<String>) -> Self {
        Self::Data { path: path.into(), line, message: message.into() }
    }

    /// A problem with the file `path` as a whole.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::File { path: path.into(), message: message.into() }
    }

    /// Whether this error is a closed pipe on output (the reader went away: not a failure).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io { cause, .. } if cause.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
