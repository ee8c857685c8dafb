//! Progress of the running job, shown by the APIs while it runs.

/// Report that `done` items out of `total` are finished. Later calls replace earlier
/// ones, so call it as often as is useful (it is cheap).
pub fn report(done: u64, total: u64) {
    crate::wit::keywarden::plugin::progress::report(done, total);
}
