//! Durations in configs and checkpoints as (fractional) seconds: `2.5`, not `{secs, nanos}`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Serializes a duration as seconds (`f64`).
pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Reads non-negative finite seconds; anything else is an error, not a panic.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let x = f64::deserialize(d)?;
    Duration::try_from_secs_f64(x).map_err(serde::de::Error::custom)
}
