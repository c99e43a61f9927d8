//! The circuit breaker (`paceline::breaker`) in virtual time: every transition and each knob,
//! the configuration's bad values, saving and restoring, breakers by key, and properties over
//! operation sequences against a reference model. Here rather than beside the module because
//! a test needs one real `Instant` to start its virtual time from, and the core's sources
//! must not read a clock (`tests/sans_io.rs`).

mod config;
mod pacer;
mod props;
mod saved;
mod transitions;
