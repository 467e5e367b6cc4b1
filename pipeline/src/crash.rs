//! Crash points for kill tests: `CONVEYOR_CRASH_AT=<point>:<n>` makes the process abort
//! (as abruptly as `kill -9`: no destructors, no flushing) the n-th time it passes
//! `<point>`. Points: `ingest.objects` (after reading each source object),
//! `publish.files` (after writing each data file of a new table version),
//! `publish.committed` (after the commit, before old files are deleted), `forecast.files`
//! (after writing each forecast table, before the `latest` pointer moves).
//! Unset in normal operation; reading the variable once costs nothing measurable.

use std::sync::OnceLock;

fn target() -> Option<&'static (String, u64)> {
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let spec = std::env::var("CONVEYOR_CRASH_AT").ok()?;
            let (point, n) = spec.rsplit_once(':')?;
            Some((point.to_string(), n.parse().ok()?))
        })
        .as_ref()
}

/// Aborts the process if the crash test asked for it at this point and count.
pub fn point(name: &str, count: u64) {
    if let Some((p, n)) = target()
        && p == name
        && *n == count
    {
        eprintln!("CONVEYOR_CRASH_AT={name}:{count}: aborting as the crash test asked");
        std::process::abort();
    }
}
