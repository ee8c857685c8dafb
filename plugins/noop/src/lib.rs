//! `noop`: does nothing, as fast as possible. The per-job overhead benchmark runs it,
//! so it must stay minimal: no params parsing, no host calls.

use keywarden_sdk::prelude::*;

struct Noop;

impl Plugin for Noop {
    fn describe() -> Manifest {
        Manifest::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .describe("Does nothing; measures the per-job overhead of the plugin runtime.")
            .operation(Operation::custom("noop").describe("Return success immediately"))
    }

    fn run_custom(ctx: JobContext) -> Result<Outcome, JobError> {
        if ctx.operation != "noop" {
            return Err(ctx.unsupported());
        }
        Ok(Outcome::success("noop"))
    }
}

keywarden_sdk::export_plugin!(Noop);
