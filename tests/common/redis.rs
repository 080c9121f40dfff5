//! A real `redis-server` on 127.0.0.1 for the tests that need one (the Redis engine, imload's
//! `--target redis`): a free port, nothing persisted, its files in a directory of its own,
//! killed and reaped when dropped. `scripts/test.sh` installs Debian's redis-server (and with
//! it redis-cli) when missing; a test that finds either missing fails, naming that script.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::PATIENCE;

/// What redis-server logs once it accepts connections.
const READY: &str = "Ready to accept connections";

/// What it logs when its port is taken (then it exits).
const PORT_TAKEN: &str = "Address already in use";

/// Free ports tried at most when starting: a port found free may be taken by another test
/// before redis-server binds it, rarely more than once in a row.
const START_ATTEMPTS: usize = 5;

/// Between two attempts to start again on the same port after a kill: the port is
/// normally free at once (redis-server sets SO_REUSEADDR), so this is seldom waited.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A running `redis-server`, killed and its directory removed when dropped.
pub struct Redis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// Everything it logged, for a failure's message.
    logs: Arc<Mutex<Vec<String>>>,
}

/// Why one start did not give a ready server.
enum Failed {
    /// Its port was taken; another may do.
    PortTaken,
    /// Anything else: the test cannot go on.
    Other(String),
}

impl Redis {
    /// Starts redis-server on a free port of 127.0.0.1 and waits until it accepts
    /// connections.
    pub fn start() -> Redis {
        let dir = fresh_dir();
        let logs = Arc::new(Mutex::new(Vec::new()));
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            match spawn(port, &dir, &logs) {
                Ok(child) => {
                    return Redis {
                        child: Some(child),
                        port,
                        dir,
                        logs,
                    }
                }
                Err(Failed::PortTaken) => continue,
                Err(Failed::Other(why)) => {
                    let _ = std::fs::remove_dir_all(&dir);
                    panic!("{why}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("redis-server found {START_ATTEMPTS} free ports taken in a row");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `redis://127.0.0.1:PORT`, as `imserver --engine` takes it.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// Kills it (SIGKILL: no goodbye to its clients) and reaps it. Its directory stays
    /// until drop; [`Redis::restart`] starts it again.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts a new, empty one on the same port (nothing was persisted), for
    /// "Redis restarted" faults; retries while the port is still held, for [`PATIENCE`].
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + PATIENCE;
        loop {
            match spawn(self.port, &self.dir, &self.logs) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(Failed::PortTaken) if Instant::now() < deadline => {
                    std::thread::sleep(RETRY_PAUSE)
                }
                Err(Failed::PortTaken) => panic!(
                    "port {} still taken {PATIENCE:?} after redis-server was killed",
                    self.port
                ),
                Err(Failed::Other(why)) => panic!("{why}"),
            }
        }
    }

    /// Runs `redis-cli -p PORT ARGS...` and returns what it printed, trimmed (an error
    /// reply prints as `ERR ...`, not as a failure).
    pub fn command(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-cli ({e}); scripts/test.sh installs it (redis-tools)")
            });
        assert!(
            output.status.success(),
            "redis-cli {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Everything redis-server logged so far, over all its starts.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts redis-server on `port` with its files in `dir`, and waits until it is ready, or
/// has said why not.
fn spawn(port: u16, dir: &PathBuf, logs: &Arc<Mutex<Vec<String>>>) -> Result<Child, Failed> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        // Nothing persisted: a restart is an empty Redis, and no test leaves files behind.
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        // The log on stdout, read here.
        .args(["--logfile", ""])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Failed::Other(format!(
                "cannot start redis-server ({e}); scripts/test.sh installs it"
            ))
        })?;
    let lines = read_lines(&mut child, logs);
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    let failed = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(READY) => return Ok(child),
            Ok(line) => seen.push(line),
            // Both pipes closed: it has exited.
            Err(RecvTimeoutError::Disconnected) => break None,
            Err(RecvTimeoutError::Timeout) => {
                break Some(format!("redis-server not ready after {PATIENCE:?}"))
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    if failed.is_none() && seen.iter().any(|l| l.contains(PORT_TAKEN)) {
        return Err(Failed::PortTaken);
    }
    let why = failed.unwrap_or_else(|| "redis-server exited".into());
    Err(Failed::Other(format!(
        "{why}; it said:\n{}",
        seen.join("\n")
    )))
}

/// Reads the child's stdout and stderr on threads, into `logs` and the returned channel,
/// until both close; the threads keep draining after the channel's reader is gone, so that
/// a full pipe never stops the server.
fn read_lines(child: &mut Child, logs: &Arc<Mutex<Vec<String>>>) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let pipes: [Box<dyn std::io::Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout piped")),
        Box::new(child.stderr.take().expect("stderr piped")),
    ];
    for pipe in pipes {
        let (tx, logs) = (tx.clone(), Arc::clone(logs));
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                logs.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
    }
    rx
}

/// A port that was free a moment ago: bound, read and released. Another process may take
/// it before redis-server does; [`Redis::start`] then tries another.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// A new, empty directory of this test process's own for redis-server's files.
fn fresh_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("imchat-redis-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create redis-server's directory");
    dir
}
