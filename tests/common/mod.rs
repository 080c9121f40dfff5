//! Test harness: a real `imserver` process on `127.0.0.1:0` and blocking clients that
//! wait for lines with a generous timeout (never a fixed sleep).

#![allow(dead_code)]

pub mod discovery;
pub mod example;
pub mod imload;
pub mod person;
pub mod redis;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "web")]
pub mod ws;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any wait may take before the test fails. Generous: CI machines are slow, and
/// a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The environment variable that runs the black-box suite against a cluster: with
/// `IMCHAT_TEST_NODES=3`, [`Server::start`] starts a Redis of its own and three imserver
/// nodes sharing it (`--engine redis://...`), and [`Server::client`] spreads the clients
/// over the nodes in turn. `scripts/test.sh` runs the protocol's suites both ways.
pub const NODES_VAR: &str = "IMCHAT_TEST_NODES";

/// How many nodes [`Server::start`] starts (1 unless [`NODES_VAR`] says more).
pub fn nodes() -> usize {
    std::env::var(NODES_VAR)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A running `imserver`, killed when dropped. In cluster mode (see [`NODES_VAR`]) it is the
/// first node, and holds the others and their Redis.
pub struct Server {
    child: Child,
    /// The other nodes and the Redis they share, in cluster mode.
    cluster: Option<Cluster>,
    /// The next node a client goes to, in cluster mode.
    next: std::cell::Cell<usize>,
    pub addr: SocketAddr,
    /// Where the page and its WebSocket are served (`--http`), unless the test turned it off.
    pub http: Option<SocketAddr>,
    logs: Arc<Mutex<Vec<String>>>,
    /// The lines of standard output only (the logs go to standard error).
    stdout: Arc<Mutex<Vec<String>>>,
    log_events: Receiver<String>,
}

impl Server {
    /// Starts `imserver` on `127.0.0.1:0` with extra flags; in cluster mode (see
    /// [`NODES_VAR`]), that many nodes sharing a Redis of their own.
    pub fn start(flags: &[&str]) -> Server {
        match nodes() {
            1 => Server::start_at("127.0.0.1:0", &[], flags),
            n => Server::start_cluster(n, flags),
        }
    }

    /// One node, for a test of what holds per node (its limits, its deadlines, its log):
    /// in cluster mode (see [`NODES_VAR`]) a node of the Redis engine, alone with its Redis,
    /// so the test still runs on that engine.
    pub fn start_node(flags: &[&str]) -> Server {
        match nodes() {
            1 => Server::start_at("127.0.0.1:0", &[], flags),
            _ => Server::start_cluster(1, flags),
        }
    }

    /// `n` nodes sharing one new Redis, each started with `flags`, each connected to
    /// Redis before this returns.
    pub fn start_cluster(n: usize, flags: &[&str]) -> Server {
        let redis = redis::Redis::start();
        let url = redis.url();
        let mut with_engine: Vec<&str> = flags.to_vec();
        with_engine.extend(["--engine", &url]);
        let mut nodes: Vec<Server> = (0..n)
            .map(|_| {
                let node = Server::start_at("127.0.0.1:0", &[], &with_engine);
                node.wait_log("engine: connected to Redis");
                node
            })
            .collect();
        let mut first = nodes.remove(0);
        first.cluster = Some(Cluster {
            others: nodes,
            redis,
        });
        first
    }

    /// Every node's address, the first node's first (one, outside cluster mode).
    pub fn node_addrs(&self) -> Vec<SocketAddr> {
        let others = self.cluster.iter().flat_map(|c| c.others.iter());
        std::iter::once(self.addr)
            .chain(others.map(|node| node.addr))
            .collect()
    }

    /// The other nodes, in cluster mode.
    pub fn others(&mut self) -> &mut Vec<Server> {
        &mut self.cluster.as_mut().expect("a cluster").others
    }

    /// The cluster's Redis, in cluster mode.
    pub fn redis(&mut self) -> &mut redis::Redis {
        &mut self.cluster.as_mut().expect("a cluster").redis
    }

    /// Starts `imserver` listening on `listen`, with extra environment variables (on top of
    /// the test's environment, `RUST_LOG` left out) and flags.
    pub fn start_at(listen: &str, env: &[(&str, &str)], flags: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_imserver"));
        command
            .args(["--listen", listen])
            .args(http_flag(flags))
            .args(flags);
        command.envs(env.iter().copied());
        Server::spawn(command, serves_page(flags))
    }

    /// Starts `imserver` through `sh -c`, after `prefix` (for example `ulimit -n 64;`).
    pub fn start_in_shell(prefix: &str, flags: &[&str]) -> Server {
        let script = format!(
            "{prefix} exec \"{}\" --listen 127.0.0.1:0 {} {}",
            env!("CARGO_BIN_EXE_imserver"),
            http_flag(flags).join(" "),
            flags.join(" ")
        );
        let mut command = Command::new("sh");
        command.args(["-c", &script]);
        Server::spawn(command, serves_page(flags))
    }

    fn spawn(mut command: Command, page: bool) -> Server {
        // A developer's own RUST_LOG (say `warn`) would hide the line the harness waits for.
        if !command.get_envs().any(|(key, _)| key == "RUST_LOG") {
            command.env_remove("RUST_LOG");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imserver");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        for (pipe, only) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
                Some(Arc::clone(&stdout)),
            ),
            (Box::new(child.stderr.take().unwrap()), None),
        ] {
            let logs = Arc::clone(&logs);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(only) = &only {
                        only.lock().unwrap().push(line.clone());
                    }
                    logs.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        let mut server = Server {
            child,
            cluster: None,
            next: std::cell::Cell::new(0),
            addr: "127.0.0.1:1".parse().unwrap(),
            http: None,
            logs,
            stdout,
            log_events: rx,
        };
        let line = server.wait_log("listening on ");
        let addr = line.rsplit("listening on ").next().unwrap().trim();
        server.addr = addr.parse().expect("address in the listening line");
        if page {
            let line = server.wait_log("web page at http");
            let addr = line.rsplit("://").next().unwrap().trim_end_matches('/');
            server.http = Some(addr.parse().expect("address in the web page line"));
        }
        server
    }

    /// The page's address, for a test that needs it.
    pub fn http(&self) -> SocketAddr {
        self.http.expect("the server serves its page (--http)")
    }

    /// Waits until a line containing `needle` has been logged (now or earlier) and
    /// returns it.
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_log_times(needle, 1)
    }

    /// Waits until `times` lines containing `needle` have been logged (now or earlier) and
    /// returns the last of them: for an event that happens again (a node connecting to its
    /// Redis a second time).
    pub fn wait_log_times(&self, needle: &str, times: usize) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let logged = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(needle))
                .nth(times - 1)
                .cloned();
            if let Some(line) = logged {
                return line;
            }
            // Any new line wakes us up to look again, once for all the lines that came
            // meanwhile: a scan per line would make waiting after a flood of trace lines
            // quadratic (minutes, after 200,000 lines).
            let left = deadline.saturating_duration_since(Instant::now());
            if self.log_events.recv_timeout(left).is_err() && left.is_zero() {
                panic!(
                    "not {times} log lines containing {needle:?}; logs:\n{}",
                    self.logs()
                );
            }
            while self.log_events.try_recv().is_ok() {}
        }
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// [`Server::wait_log`] on every node (in cluster mode a client's lines are logged
    /// by the node it went to): the first line found containing `needle`.
    pub fn wait_log_any(&self, needle: &str) -> String {
        let Some(cluster) = &self.cluster else {
            return self.wait_log(needle);
        };
        let deadline = Instant::now() + PATIENCE;
        let nodes: Vec<&Server> = std::iter::once(self).chain(&cluster.others).collect();
        loop {
            for node in &nodes {
                let logs = node.logs.lock().unwrap();
                if let Some(line) = logs.iter().find(|l| l.contains(needle)) {
                    return line.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no node logged a line containing {needle:?}"
            );
            // Woken by any new line of the first node, or after a moment for the others'.
            let _ = self.log_events.recv_timeout(Duration::from_millis(20));
        }
    }

    /// What the server wrote to standard output so far (a line there is in `logs` too,
    /// and is here by the time `wait_log` returns it or a later line of the same pipe).
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Every address of a "listening on" line logged so far: one per listener.
    pub fn listening_addrs(&self) -> Vec<SocketAddr> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.rsplit_once("listening on "))
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default())
            .map(|addr| addr.parse().expect("address in a listening line"))
            .collect()
    }

    /// Connects a client: to the server, or in cluster mode to the next node in turn.
    pub fn client(&self) -> Client {
        let addrs = self.node_addrs();
        let at = self.next.get();
        self.next.set(at + 1);
        Client::connect(addrs[at % addrs.len()])
    }

    /// Connects a client and registers it with `REGISTER ["name"]`, consuming the answer.
    pub fn user(&self, name: &str) -> Client {
        let mut client = self.client();
        client.send(&format!("REGISTER [\"{name}\"]"));
        client.expect("ONLINE_USERS ");
        client
    }

    /// Sends a signal to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the server to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The next `n` lines each client receives, presence left out: what each member saw.
pub fn transcripts(clients: &mut [Client], n: usize) -> Vec<Vec<String>> {
    (clients.iter_mut())
        .map(|client| (0..n).map(|_| client.recv_skipping_presence()).collect())
        .collect()
}

/// Every member saw the first one's order (one order for all), and in it `sender`'s
/// messages are exactly `expected`: each once, in the order sent.
pub fn assert_one_order(transcripts: &[Vec<String>], sender: &str, expected: &[String]) {
    for (i, transcript) in transcripts.iter().enumerate().skip(1) {
        assert_eq!(transcript, &transcripts[0], "member {i} saw another order");
    }
    let own: Vec<&String> = (transcripts[0].iter())
        .filter(|l| l.starts_with("MESSAGE [") && l.contains(&format!(",\"{sender}\",")))
        .collect();
    let expected: Vec<&String> = expected.iter().collect();
    assert_eq!(own, expected, "{sender}'s messages, each once, in order");
}

/// The other nodes of a cluster, and the Redis they share (dropped after them).
pub struct Cluster {
    pub others: Vec<Server>,
    pub redis: redis::Redis,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking test client that reads whole lines.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends one line (a newline is added).
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// The next line, without its newline; fails the test if none comes in time or the
    /// server closes.
    pub fn recv(&mut self) -> String {
        self.try_recv()
            .unwrap_or_else(|| panic!("server closed the connection"))
    }

    /// The next line, or `None` if the server closed the connection.
    pub fn try_recv(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => {
                assert!(line.ends_with('\n'), "unterminated line {line:?}");
                line.pop();
                Some(line)
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("no line from the server in time: {e}"),
        }
    }

    /// The next line, which must start with `prefix`.
    pub fn expect(&mut self, prefix: &str) -> String {
        let line = self.recv();
        assert!(
            line.starts_with(prefix),
            "expected {prefix:?}, got {line:?}"
        );
        line
    }

    /// The next line, which must be exactly `line`.
    pub fn expect_line(&mut self, line: &str) {
        assert_eq!(self.recv(), line);
    }

    /// Skips lines until one satisfies `pred`, and returns it.
    pub fn recv_until(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut skipped = Vec::new();
        loop {
            let line = self
                .try_recv()
                .unwrap_or_else(|| panic!("closed while waiting for {what}; skipped {skipped:?}"));
            if pred(&line) {
                return line;
            }
            skipped.push(line);
        }
    }

    /// Skips presence lines (`ONLINE_USERS`, `PRESENCE`) and returns the next other line.
    pub fn recv_skipping_presence(&mut self) -> String {
        self.recv_until("a non-presence line", |l| {
            !l.starts_with("ONLINE_USERS ") && !l.starts_with("PRESENCE ")
        })
    }

    /// A round trip: everything the server queued for this client before it handled this
    /// request arrives before the answer. Returns the lines that came first, presence lines
    /// left out.
    pub fn sync(&mut self) -> Vec<String> {
        self.send("LIST_CONVERSATIONS");
        let mut before = Vec::new();
        loop {
            let line = self.recv();
            if line.starts_with("CONVERSATIONS ") {
                return before;
            }
            if !line.starts_with("ONLINE_USERS ") && !line.starts_with("PRESENCE ") {
                before.push(line);
            }
        }
    }

    /// Asserts the server closes the connection (after any lines, which are returned).
    pub fn expect_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(line) = self.try_recv() {
            lines.push(line);
        }
        lines
    }

    /// A second handle that only sends, for a test that reads on another thread.
    pub fn sender(&self) -> Sender {
        Sender(self.writer.try_clone().unwrap())
    }

    /// Closes our sending side only.
    pub fn shutdown_write(&mut self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }
}

/// The sending half of a [`Client`].
pub struct Sender(TcpStream);

impl Sender {
    /// Sends one line (a newline is added).
    pub fn send(&mut self, line: &str) {
        self.0
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
    }
}

/// A file holding `contents` (a password file, say), unique to this call (tests of one
/// process run in parallel: one's file must not go while another's server reads it);
/// removed when dropped, so runs leave nothing behind in the temporary directory.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    pub fn write(name: &str, contents: &str) -> TempFile {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("imchat-{}-{n}-{name}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `INVITATION [7,"alice"]` → 7.
pub fn invitation_id(line: &str) -> u64 {
    line.strip_prefix("INVITATION [")
        .and_then(|rest| rest.split(',').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not an invitation: {line:?}"))
}

/// The page on a free port, unless the test chose its own `--http`: a fixed default port
/// would clash between tests running at once.
fn http_flag<'a>(flags: &[&'a str]) -> Vec<&'a str> {
    if flags.contains(&"--http") {
        Vec::new()
    } else {
        vec!["--http", "127.0.0.1:0"]
    }
}

/// Whether a server started with `flags` serves its page (and logs where).
fn serves_page(flags: &[&str]) -> bool {
    !flags.windows(2).any(|pair| pair == ["--http", "off"])
}
