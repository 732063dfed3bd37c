//! Text stages: sentences, then tokens (lower-cased, stemmed). The feature stage builds on these.

pub mod sentences;
pub mod tokens;

use serde::{Deserialize, Serialize};

/// A half-open byte range `[start, end)` into a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (exclusive).
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }
}
