//! Shared harness for the end-to-end tests: runs the built `narrative` binary from the project root.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The project root (where `models/`, `data/` and `seeds/` live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "expected success; stderr:\n{}", self.stderr);
        self.stdout
    }

    /// Asserts failure with `code`, a single-line error on stderr, no panic, and returns the error line.
    pub fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "expected exit {code}; stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic on stderr:\n{}", self.stderr);
        if code == 1 {
            let errors: Vec<&str> = self.stderr.lines().filter(|l| !l.starts_with("narrative: warning: ")).collect();
            assert_eq!(errors.len(), 1, "one error line expected:\n{}", self.stderr);
            assert!(errors[0].starts_with("narrative: error: "), "{}", self.stderr);
            return errors[0].to_owned();
        }
        self.stderr
    }
}

/// A command for the binary, run in `dir`.
pub fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_narrative"));
    cmd.args(args).current_dir(dir).stdin(Stdio::null());
    cmd
}

/// Runs the binary in the project root.
pub fn run(args: &[&str]) -> Run {
    run_in(&root(), args)
}

/// Runs the binary in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    Run::from(command_in(dir, args).output().expect("binary runs"))
}

/// Runs the binary in the project root with `input` on stdin.
pub fn run_with_stdin(args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = command_in(&root(), args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

/// Parses CSV text into a header and rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
    (header, rows)
}

/// Writes `body` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, body: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A small labelled training file with three labels.
pub const SMALL_TRAINING: &str = "text,label,source\n\
Islamic State claimed responsibility for the attack.,isis_attribution,test\n\
The Islamic State group said its fighters carried out the massacre.,isis_attribution,test\n\
Moscow accused Kyiv of organising the attack.,ukraine_west_blame,test\n\
Ukraine denied any involvement in the shooting.,ukraine_west_blame,test\n\
The death toll rose to 140 on Sunday.,neutral,test\n\
Firefighters fought the blaze for hours.,neutral,test\n";
