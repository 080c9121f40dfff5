//! The examples, end to end: `cargo test` builds them, and these tests run the built
//! binaries on `127.0.0.1:0` and talk to them. The discover example, which speaks
//! multicast instead, has a file of its own (`discover.rs`).

#[path = "../common/mod.rs"]
mod common;
mod discover;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::example::example_path;
use common::{Server, PATIENCE};

/// A running example, killed when dropped.
pub struct Example {
    pub child: Child,
}

impl Example {
    /// Starts `target/<profile>/examples/<name>`.
    pub fn start(name: &str, args: &[&str]) -> (Example, BufReader<std::process::ChildStdout>) {
        let path = example_path(name);
        let mut child = Command::new(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let stdout = BufReader::new(child.stdout.take().unwrap());
        (Example { child }, stdout)
    }

    /// Starts a server example on a free port and returns it with its address.
    fn listening(name: &str) -> (Example, String) {
        let (example, mut stdout) = Example::start(name, &["127.0.0.1:0"]);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the listening line");
        let addr = line
            .rsplit("listening on ")
            .next()
            .unwrap()
            .trim()
            .to_string();
        // Keep reading its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines().map_while(Result::ok) {});
        (example, addr)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

#[test]
fn echo_sends_everything_back_even_when_it_must_wait_to_write() {
    let (_echo, addr) = Example::listening("echo");
    let mut small = connect(&addr);
    small.write_all(b"hello\n").unwrap();
    let mut back = [0u8; 6];
    small.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello\n");

    // More than the socket buffers hold, written before anything is read back: the echo
    // server meets WouldBlock on its writes and must finish them on writable events.
    let payload: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let mut big = connect(&addr);
    let mut writer = big.try_clone().unwrap();
    let sent = payload.clone();
    let sender = std::thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut echoed = Vec::new();
    big.read_to_end(&mut echoed)
        .expect("echo, then close after our end of stream");
    sender.join().unwrap();
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "the echo differs");
}

#[test]
fn daytime_writes_one_line_and_closes() {
    let (_daytime, addr) = Example::listening("daytime");
    for _ in 0..3 {
        let mut text = String::new();
        connect(&addr)
            .read_to_string(&mut text)
            .expect("a line, then end of stream");
        assert!(text.ends_with(" UTC\r\n"), "{text:?}");
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("20"), "{text:?}");
    }
}

#[test]
fn doctor_joins_when_invited_and_answers() {
    let server = Server::start(&["--presence-interval-ms", "20"]);
    let addr = server.addr.to_string();
    let (mut doctor, mut doctor_out) = Example::start("doctor", &["--server", &addr]);
    let mut line = String::new();
    doctor_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "doctor: registered as doctor");

    let mut patient = server.user("patient");
    patient.send("INVITE [\"doctor\"]");
    let invitation = patient.recv_skipping_presence();
    assert!(invitation.starts_with("INVITATION ["), "{invitation}");
    let id = common::invitation_id(&invitation);
    assert_eq!(
        patient.recv_skipping_presence(),
        format!("CONVERSATIONS {{\"{id}\":[\"patient\",\"doctor\"]}}")
    );
    let greeting = patient.recv_skipping_presence();
    assert!(
        greeting.starts_with(&format!("MESSAGE [{id},\"doctor\",\"Good day.")),
        "{greeting}"
    );

    patient.send(&format!(
        "SEND_MESSAGE [{id},\"I am worried about my exams\"]"
    ));
    assert_eq!(
        patient.recv_skipping_presence(),
        format!("MESSAGE [{id},\"patient\",\"I am worried about my exams\"]")
    );
    let answer = patient.recv_skipping_presence();
    assert!(
        answer.contains("you are worried about your exams?"),
        "{answer}"
    );

    // Ctrl-C: the doctor says goodbye, so it leaves the conversation, and exits cleanly.
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(
        unsafe { libc::kill(doctor.child.id() as i32, libc::SIGINT) },
        0
    );
    assert_eq!(
        patient.recv_skipping_presence(),
        format!("CONVERSATIONS {{\"{id}\":[\"patient\"]}}")
    );
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = doctor.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the doctor did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
}

/// Runs an example to its end with `args`, and returns its exit code, stdout and stderr.
fn run_to_end(name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(example_path(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the example");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn examples_print_their_usage_for_help_and_a_bad_address() {
    for (name, bad, why) in [
        ("echo", vec!["no-port-here"], "bad address"),
        ("daytime", vec!["localhost:notaport"], "bad address"),
        ("doctor", vec!["--server", "no-port-here"], "bad address"),
        ("discover", vec!["127.0.0.1:6666"], "not a multicast group"),
        (
            "discover",
            vec!["--interface", "eth0"],
            "invalid IPv4 address",
        ),
    ] {
        let (code, stdout, stderr) = run_to_end(name, &["--help"]);
        assert_eq!(code, Some(0), "{name} --help: {stderr}");
        assert!(stdout.contains(&format!("Usage: {name} ")), "{stdout}");

        let (code, stdout, stderr) = run_to_end(name, &bad);
        assert_eq!(code, Some(2), "{name} {bad:?}: {stderr}");
        assert_eq!(stdout, "");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "one line, then the usage: {stderr}");
        assert!(lines[0].starts_with(&format!("{name}: ")), "{stderr}");
        assert!(lines[0].contains(why), "{stderr}");
        assert!(lines[1].starts_with(&format!("Usage: {name} ")), "{stderr}");
    }
}

#[test]
fn server_examples_take_a_host_name() {
    for name in ["echo", "daytime"] {
        let (mut example, mut stdout) = Example::start(name, &["localhost:0"]);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the listening line");
        assert!(
            line.starts_with(&format!("{name}: listening on ")),
            "{line}"
        );
        let _ = example.child.kill();
    }
}

/// Waits for an example to exit (it must, within PATIENCE) and returns its exit code.
fn wait_exit(example: &mut Example) -> Option<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = example.child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the example did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn doctor_says_why_it_exits() {
    let (code, _, stderr) = run_to_end("doctor", &["--server", "127.0.0.1:1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with("doctor: cannot connect to 127.0.0.1:1: "),
        "{stderr}"
    );

    // The server goes away under a registered doctor: SIGTERM closes every connection.
    let server = Server::start(&[]);
    let mut child = Command::new(example_path("doctor"))
        .args(["--server", &server.addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the doctor");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let mut doctor = Example { child };
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "doctor: registered as doctor");
    server.signal(libc::SIGTERM);
    assert_eq!(wait_exit(&mut doctor), Some(3));
    let mut said = String::new();
    stderr.read_to_string(&mut said).unwrap();
    assert_eq!(
        said.lines().last(),
        Some("doctor: the server closed the connection"),
        "{said}"
    );
}
