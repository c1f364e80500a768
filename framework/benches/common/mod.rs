//! What the criterion benches share.

use std::time::Duration;

use criterion::Criterion;

/// Short runs (about 50 s for all benches): each bench is for before/after comparisons on one
/// machine, where a few seconds per function already give tight intervals.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}
