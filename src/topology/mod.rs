//! Machine topology and pinning.
