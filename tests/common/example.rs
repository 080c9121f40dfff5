//! The examples' binaries, for the tests that run them (tests/examples, and the run of the
//! discover example in docs/teaching.md that tests/doc_excerpts checks).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{ChildStdout, Command};
use std::sync::mpsc;

/// The example's binary, beside the `imserver` that cargo built for these tests. A plain
/// `cargo test` builds the examples too; `cargo test --test examples` does not, so then it
/// is built here, with the same profile, target directory and `RUSTFLAGS`.
pub fn example_path(name: &str) -> PathBuf {
    let profile_dir = PathBuf::from(env!("CARGO_BIN_EXE_imserver"))
        .parent()
        .expect("the profile directory")
        .to_path_buf();
    let path = profile_dir.join("examples").join(name);
    if path.exists() {
        return path;
    }
    let target_dir = profile_dir.parent().expect("the target directory");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args(["build", "--quiet", "--example", name, "--target-dir"])
        .arg(target_dir);
    if profile_dir.ends_with("release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("run cargo build");
    assert!(status.success(), "cargo build --example {name} failed");
    path
}

/// The lines an example prints, read on a thread so that a test can wait for the next one
/// with a deadline.
pub fn lines_of(stdout: BufReader<ChildStdout>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}
