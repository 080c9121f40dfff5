//! `imclient`'s exit codes and what it says about them, with the real binary: one code per
//! outcome (docs/imclient.md, "Exit codes"). Codes 0, 1 and 3 are also checked along the
//! way in `imclient.rs` and `imclient_reconnect.rs`.

mod common;

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::person::Person;
use common::{Server, PATIENCE};

fn imclient() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imclient"))
}

/// Waits (with [`PATIENCE`]) for `child` to exit.
fn exit_of(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "imclient did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_bad_flag_is_a_usage_error_with_code_2_and_help_lists_every_code() {
    let output = imclient().arg("--bogus").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--bogus"), "{stderr}");
    assert!(output.stdout.is_empty());

    let output = imclient().arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "EXIT CODES",
        "  2  usage error",
        "  3  the connection to the server was lost",
        "  4  ended locally",
        "--no-reconnect",
        "\"guest\" when $USER is unset",
    ] {
        assert!(help.contains(needle), "no {needle:?} in --help:\n{help}");
    }
}

#[test]
fn a_closed_stdout_is_explained_on_stderr_with_code_4() {
    let server = Server::start(&[]);
    // The reading end is gone before imclient starts: its first screen line meets EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = imclient()
        .args(["--server", &server.addr.to_string(), "--name", "alice"])
        .stdin(Stdio::piped())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its input stays open: the sign-off comes from the closed screen alone.
    let _stdin = child.stdin.take();
    let status = exit_of(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        stderr, "imclient: standard output closed; signing off\n",
        "{status:?}"
    );
    assert_eq!(status.code(), Some(4));
}

#[test]
fn without_user_the_name_is_guest_and_the_screen_says_so() {
    let server = Server::start(&[]);
    let mut command = imclient();
    command
        .args(["--server", &server.addr.to_string()])
        .env_remove("USER")
        .stdin(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut guest = Person::run("guest", command);
    guest.wait("* $USER is not set; registering as guest (--name NAME chooses)");
    guest.wait("* registered as guest (available)");
    assert_eq!(guest.exit().code(), Some(0));
    assert_eq!(
        guest.screen[0],
        "* $USER is not set; registering as guest (--name NAME chooses)"
    );
}
