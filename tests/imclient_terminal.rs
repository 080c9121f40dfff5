//! `imclient`'s stdin and stdout stay blocking descriptors, yet never block its loop.
//!
//! In a real terminal: a pseudo-terminal as its stdin and stdout, as a shell gives it,
//! suspended with Ctrl-Z's signal and resumed the way `fg` does it, and killed with SIGKILL.
//! The terminal's open file description is shared with the shell, so its `O_NONBLOCK` flag
//! must never be set: the test holds a descriptor of that same description and checks the
//! flag, and clears it while the client is stopped, as bash does. And with a full pipe as
//! stdout: the loop still answers Ctrl-C.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{Server, PATIENCE};

/// A pseudo-terminal: (master, slave).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: two out-pointers to c_ints; no name, termios or window size is passed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty just returned these two descriptors, owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

fn flags(fd: &OwnedFd) -> libc::c_int {
    // SAFETY: fcntl(F_GETFL) on a descriptor we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "F_GETFL: {}", std::io::Error::last_os_error());
    flags
}

fn assert_blocking(fd: &OwnedFd, when: &str) {
    assert_eq!(
        flags(fd) & libc::O_NONBLOCK,
        0,
        "the terminal is non-blocking {when}"
    );
}

/// The terminal's output as lines (the echo of what is typed included), without `\r`.
struct Screen {
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Screen {
    fn read(master: &OwnedFd) -> Screen {
        let mut file = std::fs::File::from(master.try_clone().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut chunk = [0u8; 4096];
            // Ends with EIO once no slave descriptor is open any more.
            while let Ok(n @ 1..) = file.read(&mut chunk) {
                pending.extend_from_slice(&chunk[..n]);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line);
                    let _ = tx.send(line.trim_end_matches(['\r', '\n']).to_string());
                }
            }
        });
        Screen {
            lines: rx,
            seen: Vec::new(),
        }
    }

    fn wait(&mut self, line: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(got) if got == line => return,
                Ok(got) => self.seen.push(got),
                Err(_) => panic!(
                    "no line {line:?} in time; screen:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

fn type_line(master: &OwnedFd, line: &str) {
    let bytes = format!("{line}\n");
    // SAFETY: writes from a live buffer of the given length to a descriptor we own.
    let n = unsafe { libc::write(master.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize);
}

/// Waits until `child` reports a stop (`WUNTRACED`) or, with `WCONTINUED`, a resume.
fn wait_state(child: &Child, options: libc::c_int, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child with an out-pointer to a c_int.
        let pid = unsafe { libc::waitpid(child.id() as i32, &mut status, options | libc::WNOHANG) };
        assert!(pid >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if pid > 0 && (libc::WIFSTOPPED(status) || libc::WIFCONTINUED(status)) {
            return;
        }
        assert!(Instant::now() < deadline, "imclient was not {what} in time");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The client, killed if the test fails half-way (it would hold the terminal and the
/// test's stderr open otherwise).
struct Client(Child);

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

#[test]
fn suspended_and_resumed_in_a_terminal_it_keeps_chatting_and_never_makes_it_non_blocking() {
    let server = Server::start(&["--presence-interval-ms", "20"]);
    let (master, slave) = openpty();
    let mut screen = Screen::read(&master);
    let mut client = Client(
        Command::new(env!("CARGO_BIN_EXE_imclient"))
            .args(["--server", &server.addr.to_string(), "--name", "alice"])
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::inherit())
            // Its own process group, as a shell's job: stop signals are not discarded for it.
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let child = &mut client.0;
    screen.wait("* registered as alice (available)");
    let _bob = server.user("bob");
    screen.wait("* bob came online (available)");
    assert_blocking(&slave, "while chatting");

    // Ctrl-Z, then the shell takes the terminal back and clears O_NONBLOCK on it, as bash
    // does for a stopped job; then `fg`.
    signal(child, libc::SIGTSTP);
    wait_state(child, libc::WUNTRACED, "stopped");
    // SAFETY: fcntl(F_SETFL) on a descriptor we own; no memory is passed.
    let rc = unsafe {
        libc::fcntl(
            slave.as_raw_fd(),
            libc::F_SETFL,
            flags(&slave) & !libc::O_NONBLOCK,
        )
    };
    assert_eq!(rc, 0);
    signal(child, libc::SIGCONT);
    wait_state(child, libc::WCONTINUED, "resumed");

    // Typing is read and answered, both locally and through the server.
    type_line(&master, "/who");
    screen.wait("* online: bob (available)");
    type_line(&master, "/status away");
    screen.wait("* you are now away");
    assert_blocking(&slave, "after resuming");

    signal(child, libc::SIGKILL);
    child.wait().unwrap();
    assert_blocking(&slave, "after kill -9");
}

#[test]
fn a_full_pipe_as_stdout_does_not_stop_the_loop() {
    let server = Server::start(&["--presence-interval-ms", "20"]);
    let mut watcher = server.user("watcher");
    // Never read: the client fills it, and a blocking write would wait. The test keeps a
    // copy of the writing end to see when it is full.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut client = Client(
        Command::new(env!("CARGO_BIN_EXE_imclient"))
            .args(["--server", &server.addr.to_string(), "--name", "alice"])
            .stdin(Stdio::piped())
            .stdout(writer.try_clone().unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    watcher.recv_until("alice online", |l| {
        l.starts_with("ONLINE_USERS") && l.contains("\"alice\"")
    });
    // About 150 KB of help text, more than a pipe holds (64 KiB on Linux).
    let mut stdin = client.0.stdin.take().unwrap();
    stdin.write_all("/help\n".repeat(200).as_bytes()).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while writable(&writer) {
        assert!(Instant::now() < deadline, "the pipe did not fill");
        std::thread::sleep(Duration::from_millis(10));
    }

    signal(&client.0, libc::SIGINT);
    watcher.recv_until("alice offline", |l| {
        l.starts_with("ONLINE_USERS") && !l.contains("\"alice\"")
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = client.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "imclient did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    // Signed off; the screen had its chance to drain (SCREEN_DRAIN_WAIT) and nobody read it.
    assert_eq!(status.code(), Some(0));
    drop(reader);
}

/// Whether a write to the pipe would proceed now (`poll(2)`, zero timeout).
fn writable(writer: &std::io::PipeWriter) -> bool {
    let mut pollfd = libc::pollfd {
        fd: writer.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1, zero timeout.
    let rc = unsafe { libc::poll(&mut pollfd, 1, 0) };
    assert!(rc >= 0, "poll: {}", std::io::Error::last_os_error());
    pollfd.revents & libc::POLLOUT != 0
}
