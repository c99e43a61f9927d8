//! One pass over a response's headers, keeping the first value of every field paceline reads.
//!
//! Looking each known name up in the `HeaderMap` would hash some twenty names per response;
//! instead the headers are scanned once and matched by name (the scan is proportional to the
//! headers the response has, usually a dozen).

use http::HeaderMap;

/// The fields the built-in dialects read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Field {
    Date,
    RetryAfter,
    RateLimit,
    RateLimitPolicy,
    RateLimitLimit,
    RateLimitRemaining,
    RateLimitReset,
    Shopify,
    Salesforce,
    StripeShouldRetry,
    /// `X-RateLimit-*` (10 fields) then `X-Rate-Limit-*` (10 fields), in [`X_SUFFIXES`] order.
    X0,
}

/// The suffixes of the `X-RateLimit-*` family, in field order.
pub(crate) const X_SUFFIXES: [&str; 10] = [
    "limit",
    "remaining",
    "reset",
    "reset-after",
    "used",
    "resource",
    "bucket",
    "global",
    "scope",
    "policy",
];

const COUNT: usize = Field::X0 as usize + 2 * X_SUFFIXES.len();

/// The first value of each known field, borrowed from the headers.
#[derive(Debug)]
pub(crate) struct Fields<'h> {
    values: [Option<&'h [u8]>; COUNT],
    /// Bit `i`: field `i` came on more than one line.
    repeated: u64,
    /// A header the fixed names do not cover looks like a rate-limit field (see
    /// [`super::prefixed::interesting`]).
    others: bool,
}

impl<'h> Fields<'h> {
    pub(crate) fn scan(headers: &'h HeaderMap) -> Self {
        let mut values = [None; COUNT];
        let mut repeated = 0u64;
        let mut others = false;
        for (name, value) in headers {
            let n = name.as_str();
            let index = if let Some(rest) = n.strip_prefix("x-ratelimit-") {
                X_SUFFIXES
                    .iter()
                    .position(|s| *s == rest)
                    .map(|i| Field::X0 as usize + i)
            } else if let Some(rest) = n.strip_prefix("x-rate-limit-") {
                X_SUFFIXES
                    .iter()
                    .position(|s| *s == rest)
                    .map(|i| Field::X0 as usize + X_SUFFIXES.len() + i)
            } else {
                let f = match n {
                    "date" => Field::Date,
                    "retry-after" => Field::RetryAfter,
                    "ratelimit" => Field::RateLimit,
                    "ratelimit-policy" => Field::RateLimitPolicy,
                    "ratelimit-limit" => Field::RateLimitLimit,
                    "ratelimit-remaining" => Field::RateLimitRemaining,
                    "ratelimit-reset" => Field::RateLimitReset,
                    "x-shopify-shop-api-call-limit" => Field::Shopify,
                    "sforce-limit-info" => Field::Salesforce,
                    "stripe-should-retry" => Field::StripeShouldRetry,
                    _ => {
                        others = others || super::prefixed::interesting(n);
                        continue;
                    }
                };
                Some(f as usize)
            };
            match index {
                Some(i) if values[i].is_none() => values[i] = Some(value.as_bytes()),
                Some(i) => repeated |= 1 << i,
                None => others = others || super::prefixed::interesting(n),
            }
        }
        Fields {
            values,
            repeated,
            others,
        }
    }

    /// Whether a header the fixed names do not cover may be a rate-limit field.
    pub(crate) fn others(&self) -> bool {
        self.others
    }

    /// Whether the `X-RateLimit-` (`dashed: false`) or `X-Rate-Limit-` field with suffix number
    /// `i` came on more than one line.
    pub(crate) fn x_repeated(&self, dashed: bool, i: usize) -> bool {
        self.repeated & (1 << (Field::X0 as usize + usize::from(dashed) * X_SUFFIXES.len() + i))
            != 0
    }

    /// Whether any field present may hold a wall-clock value (an HTTP-date or epoch), which
    /// is read against the response's `Date`.
    pub(crate) fn needs_reference(&self) -> bool {
        const RESET: usize = 2;
        self.get(Field::RetryAfter).is_some()
            || self.get(Field::RateLimitReset).is_some()
            || self.x(false, RESET).is_some()
            || self.x(true, RESET).is_some()
            || self.others
    }

    /// The first value of `f`.
    pub(crate) fn get(&self, f: Field) -> Option<&'h [u8]> {
        self.values[f as usize]
    }

    /// The first value of the `X-RateLimit-` (`dashed: false`) or `X-Rate-Limit-` field with
    /// suffix number `i` (see [`X_SUFFIXES`]).
    pub(crate) fn x(&self, dashed: bool, i: usize) -> Option<&'h [u8]> {
        self.values[Field::X0 as usize + usize::from(dashed) * X_SUFFIXES.len() + i]
    }
}
