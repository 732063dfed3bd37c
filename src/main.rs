//! The `narrative` command: parses arguments, runs one subcommand, maps the outcome to an exit code
//! (0 success, 1 runtime error, 2 usage error, 130 interrupted). A closed stdout (`narrative classify ... |
//! head`) is not an error. Errors are printed once, on one line, with their whole cause chain.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

/// Exit code of a run ended by Ctrl-C (SIGINT), SIGTERM or SIGHUP: 128 + SIGINT, as shells report Ctrl-C.
const INTERRUPTED: i32 = 130;

/// Large allocations on huge pages of their own, grown without copying (see the type).
#[global_allocator]
static ALLOCATOR: narrative::memory::Allocator = narrative::memory::Allocator;

fn main() -> ExitCode {
    clean_up_on_interrupt();
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let message = format!("{err:#}").replace('\n', " ");
            eprintln!("narrative: error: {message}");
            ExitCode::from(1)
        }
    }
}

/// Makes Ctrl-C, SIGTERM and SIGHUP remove the temporary file of an output being written before the
/// process exits (a signal ends it without running destructors). A signal the process started with
/// ignored (under `nohup`, or as a background job of a script) stays ignored, as POSIX tools keep it.
fn clean_up_on_interrupt() {
    #[cfg(unix)]
    let ignored: Vec<_> = signals::HANDLED.into_iter().filter(|&s| signals::started_ignored(s)).collect();
    // Fails only if the system refuses a handler; the run then goes on as it would have without it.
    let _ = ctrlc::set_handler(|| narrative::io::abandon_and_exit(INTERRUPTED));
    #[cfg(unix)]
    for signal in ignored {
        signals::ignore(signal);
    }
}

/// Signal dispositions: ctrlc sets its handler for all of [`HANDLED`](signals::HANDLED) without looking at
/// what they were, so those that were ignored are read before and ignored again after.
#[cfg(unix)]
mod signals {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

    /// The signals the handler of [`super::clean_up_on_interrupt`] takes.
    pub const HANDLED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

    /// Ignores `signal`, returning its action before.
    pub fn ignore(signal: Signal) -> Option<SigAction> {
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: ignoring a signal installs no function to run in signal context.
        unsafe { sigaction(signal, &ignore) }.ok()
    }

    /// Whether the process started with `signal` ignored (its action is left as it was).
    pub fn started_ignored(signal: Signal) -> bool {
        let Some(before) = ignore(signal) else { return false };
        let ignored = matches!(before.handler(), SigHandler::SigIgn);
        if !ignored {
            // SAFETY: this puts back the action the process had a moment ago.
            let _ = unsafe { sigaction(signal, &before) };
        }
        ignored
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
        let lib = cause.downcast_ref::<narrative::Error>().is_some_and(narrative::Error::is_broken_pipe);
        lib || io == Some(std::io::ErrorKind::BrokenPipe)
    })
}
