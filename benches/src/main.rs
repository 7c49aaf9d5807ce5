//! Benchmarks entry (filled by the issues that measure).
fn main() {}
