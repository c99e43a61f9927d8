//! How long one attempt may take: the core's [`Timeouts`](paceline::exchange::Timeouts),
//! applied by the client to every attempt.

pub use paceline::exchange::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Timeouts,
};
