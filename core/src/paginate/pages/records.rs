//! A delivered page's records, without copying: [`Record`] and [`RecordPage`], the types a
//! driver hands to its caller.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

use super::Delivery;

/// One record of a list: a JSON value, sliced from its page's body without copying.
///
/// The records of a page share that page's body: holding one keeps the body alive. To keep
/// records for long (collecting a whole list), keep [`Record::to_vec`] or a parsed value
/// instead, or the memory held is the whole bodies.
#[derive(Clone)]
pub struct Record {
    body: Arc<Vec<u8>>,
    range: Range<usize>,
    page: u64,
}

impl Record {
    /// The JSON text, as the server sent it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.body[self.range.clone()]
    }

    /// A copy of the JSON text, detached from the page's body.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// Parses the record (`serde_json::Value`, or a type of yours).
    ///
    /// # Errors
    /// When the record does not fit `T` (it is always valid JSON).
    pub fn parse<'a, T: serde::Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_slice(self.as_bytes())
    }

    /// The page it came from (from 1, counting resumed pages).
    pub fn page(&self) -> u64 {
        self.page
    }
}

impl Deref for Record {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Record {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Record {}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Record(page {}, {})",
            self.page,
            String::from_utf8_lossy(self.as_bytes())
        )
    }
}

/// A page's records, sharing its body (a driver hands out a page, or the rest of one, at
/// once: `paceline_ureq::Pages::next_page`).
#[derive(Clone)]
pub struct RecordPage {
    number: u64,
    body: Arc<Vec<u8>>,
    ranges: Vec<Range<usize>>,
}

impl RecordPage {
    /// The page's number in the walk (from 1, counting resumed pages).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The records' JSON texts, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.ranges.iter().map(|r| &self.body[r.clone()])
    }

    /// The records, each sharing the page's body.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.ranges.iter().map(|r| Record {
            body: Arc::clone(&self.body),
            range: r.clone(),
            page: self.number,
        })
    }
}

impl fmt::Debug for RecordPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordPage")
            .field("number", &self.number)
            .field("records", &self.ranges.len())
            .finish()
    }
}

impl RecordPage {
    /// The page's records from index `from` on (all of them with 0), sharing the body.
    pub fn tail(&self, from: usize) -> RecordPage {
        RecordPage {
            number: self.number,
            body: Arc::clone(&self.body),
            ranges: self.ranges.get(from..).unwrap_or_default().to_vec(),
        }
    }

    /// Record `i`, sharing the body.
    pub fn get(&self, i: usize) -> Option<Record> {
        self.ranges.get(i).map(|r| Record {
            body: Arc::clone(&self.body),
            range: r.clone(),
            page: self.number,
        })
    }
}

impl From<Delivery> for RecordPage {
    fn from(d: Delivery) -> RecordPage {
        let number = d.number();
        let (page, body) = d.into_parts();
        RecordPage {
            number,
            body: Arc::new(body),
            ranges: page.ranges().to_vec(),
        }
    }
}
