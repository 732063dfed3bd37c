//! The `narrative` command: parses arguments, runs one subcommand, maps the outcome to an exit code
//! (0 success, 1 runtime error, 2 usage error, 130 interrupted). A closed stdout (`narrative classify ... |
//! head`) is not an error. Errors are printed once, on one line, with their whole cause chain.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

/// Exit code of a run ended by Ctrl-C (SIGINT), SIGTERM or SIGHUP: 128 + SIGINT, as shells report Ctrl-C.
const INTERRUPTED: i32 = 130;

fn main() -> ExitCode {
    // A signal would end the process without running destructors, leaving the temporary file of an
    // output being written; the handler removes it first. Setting it fails only if the system refuses,
    // and the run then goes on as before.
    let _ = ctrlc::set_handler(|| narrative::io::abandon_and_exit(INTERRUPTED));
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

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
        let lib = cause.downcast_ref::<narrative::Error>().is_some_and(narrative::Error::is_broken_pipe);
        lib || io == Some(std::io::ErrorKind::BrokenPipe)
    })
}
