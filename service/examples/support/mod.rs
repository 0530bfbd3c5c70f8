//! Code the benchmark examples share (not an example itself: Cargo builds only files directly in
//! `examples/`).

pub mod rss;
