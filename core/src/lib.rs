//! paceline core (stub)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
