//! loom models for corelane (run with RUSTFLAGS="--cfg corelane_loom").
//!
//! The models live in `tests/`; this library holds the helpers the
//! multicast models share, so each blocking or draining loop is written once.

#[cfg(corelane_loom)]
pub mod multicast;
