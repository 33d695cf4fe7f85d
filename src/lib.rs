//! corelane: low-latency primitives.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod queue;
pub(crate) mod sync;
pub mod timer;
pub mod topology;
