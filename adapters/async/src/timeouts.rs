//! How long one attempt may take: the core's [`Timeouts`](paceline::exchange::Timeouts),
//! enforced by [`HttpTransport`](crate::HttpTransport) on every attempt (`None`: no limit).

pub use paceline::exchange::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, Timeouts,
};
