//! Examples are in this folder; run one with `cargo run -p paceline-examples --example NAME`.
