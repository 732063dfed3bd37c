//! The `narrative` command: parses arguments, runs one subcommand, maps the outcome to an exit code
//! (0 success, 1 runtime error, 2 usage error). A closed stdout (`narrative classify ... | head`) is not an
//! error. Errors are printed once, on one line, with their whole cause chain.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
