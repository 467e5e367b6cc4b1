//! The exit codes of `conveyor`, for schedulers and scripts (also listed by `--help` and in
//! `docs/operations.md`).

/// Everything succeeded.
pub const SUCCESS: u8 = 0;
/// The command failed; the message on stderr names what (for `run`, the failed stage).
/// Previous outputs stay intact.
pub const FAILED: u8 = 1;
/// A flag or its value is wrong (clap's own code for bad flags, and Conveyor's for values
/// it checks itself, such as `--backtest-cutoff` or `--paths`).
pub const USAGE: u8 = 2;
/// The command finished, but some export objects could not be read at all (they are named
/// and retried on the next run).
pub const PARTIAL: u8 = 3;
/// Another run holds the warehouse's run lock.
pub const LOCKED: u8 = 4;

/// The exit codes as `--help` shows them.
pub const HELP: &str = "\
Exit status:
  0  succeeded
  1  failed (the message names what; previous outputs stay intact)
  2  a flag or its value is wrong
  3  finished, but some export objects could not be read (named; retried next run)
  4  another run holds the warehouse's run lock";

/// The exit code of an error that reached the command line.
pub fn of_error(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<crate::Error>() {
        Some(crate::Error::Usage { .. }) => USAGE,
        Some(crate::Error::Locked { .. }) => LOCKED,
        _ => FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_their_exit_codes() {
        let usage = anyhow::Error::from(crate::Error::usage("--paths", "must be at least 1"));
        assert_eq!(of_error(&usage), USAGE);
        let locked = anyhow::Error::from(crate::Error::Locked {
            path: "_conveyor/lock.json".into(),
            since: "2026-12-02T03:00:00Z".into(),
            pid: 7,
            host: "batch-1".into(),
        });
        assert_eq!(of_error(&locked), LOCKED);
        let other = anyhow::Error::from(crate::Error::Internal("x".into()));
        assert_eq!(of_error(&other), FAILED);
        assert_eq!(of_error(&anyhow::anyhow!("plain")), FAILED);
    }
}
