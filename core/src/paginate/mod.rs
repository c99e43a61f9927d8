//! Pagination: one machine per walk through a list endpoint (in progress).
