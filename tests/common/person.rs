//! `imclient` driven as a person would: a real `imclient` process, typing through its stdin
//! and reading its screen lines on stdout. Every wait is for a screen line (with
//! [`PATIENCE`]), never a fixed sleep.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use super::{Server, PATIENCE};

/// One `imclient` process: its stdin to type into, and its screen lines.
pub struct Person {
    pub name: String,
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every screen line read so far, in order.
    pub screen: Vec<String>,
    /// How many of `screen` the `wait_*` calls have looked at.
    cursor: usize,
}

impl Person {
    pub fn start(addr: &str, name: &str) -> Person {
        Person::spawn(addr, name, Stdio::piped())
    }

    /// Starts a client whose stdin is `stdin` (a pipe to type into, or a file).
    pub fn spawn(addr: &str, name: &str, stdin: Stdio) -> Person {
        let mut command = Person::command(addr, name);
        command.stdin(stdin);
        Person::run(name, command)
    }

    /// The command line of `imclient --server ADDR --name NAME`, stdin piped, stderr
    /// inherited: add flags or change the environment, then [`Person::run`].
    pub fn command(addr: &str, name: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_imclient"));
        command
            .args(["--server", addr, "--name", name])
            .stdin(Stdio::piped())
            .stderr(Stdio::inherit());
        command
    }

    /// Runs `command` (an `imclient`), reading its screen; `name` is for messages.
    pub fn run(name: &str, mut command: Command) -> Person {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("start imclient");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Person {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines: rx,
            screen: Vec::new(),
            cursor: 0,
        }
    }

    /// Starts a client and waits until the server has registered it.
    pub fn join(server: &Server, name: &str) -> Person {
        let mut person = Person::start(&server.addr.to_string(), name);
        person.wait(&format!("* registered as {name} (available)"));
        person
    }

    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("type into imclient");
    }

    /// Closes stdin: end of input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the next screen line (after those already waited for) that satisfies
    /// `pred`, and returns it.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while self.cursor < self.screen.len() {
                self.cursor += 1;
                if pred(&self.screen[self.cursor - 1]) {
                    return self.screen[self.cursor - 1].clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.screen.push(line),
                Err(_) => panic!(
                    "{}: no screen line {what} in time; screen:\n{}",
                    self.name,
                    self.screen.join("\n")
                ),
            }
        }
    }

    /// Waits for exactly this screen line.
    pub fn wait(&mut self, line: &str) -> String {
        self.wait_for(&format!("{line:?}"), |l| l == line)
    }

    /// Waits for the process to exit, reads the rest of its screen, and returns its status.
    pub fn exit(&mut self) -> ExitStatus {
        self.close_stdin();
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(10));
        };
        // The reader thread ends at end of stream, so this is the whole screen.
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.screen.push(line);
        }
        status
    }

    pub fn count(&self, line: &str) -> usize {
        self.screen.iter().filter(|l| *l == line).count()
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[7] * you started this conversation` → 7.
pub fn conv_id(line: &str) -> u64 {
    line.trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no conversation id in {line:?}"))
}
