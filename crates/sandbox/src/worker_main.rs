//! `ouroboros-sandbox-worker`: the fresh image a sandbox worker runs in
//! unless the supervisor is given another program (the gauntlet gives the
//! kernel host's, `ouroboros-kernel-host --sandbox-worker`, which calls
//! the kernel through the same `call_path::host_kernel` with a `WorkerHome`). The supervisor (`ouroboros-sandbox`, beside which
//! this program is staged) forks and the child executes this program with its channel on fd 3 and
//! only what a worker needs on the command line (`WorkerPlan::arguments`);
//! `worker::run` confines it, loads its one kernel and serves the channel.
//! Not meant to be run by hand: it writes nothing but the channel, so a
//! bad command line is said there and ends it with exit code 2.

use ouroboros_sandbox::protocol::{Reply, CHANNEL_FD, MESSAGE_BYTES};
use ouroboros_sandbox::worker::{self, WorkerPlan, WORKER_PROGRAM};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match WorkerPlan::parse(WORKER_PROGRAM, &args) {
        Ok(plan) => worker::run(&plan),
        Err(reason) => {
            let message = Reply::LoadFailed {
                reason: format!("the worker program's command line: {reason}"),
            }
            .encode(0);
            // SAFETY: writes a buffer we own to the channel, if there is one.
            unsafe {
                libc::write(
                    CHANNEL_FD,
                    message.as_ptr() as *const libc::c_void,
                    MESSAGE_BYTES,
                )
            };
            std::process::exit(2);
        }
    }
}
