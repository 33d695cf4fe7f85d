//! loom models for corelane (run with RUSTFLAGS="--cfg corelane_loom").
