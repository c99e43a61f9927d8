//! The Pacer's events, forwarded to `tracing` by the core's one forwarder.

pub(crate) use paceline::trace::forward;
