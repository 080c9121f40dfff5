//! Scenarios behind docs/imclient.md's excerpts: real `imclient` processes against a real
//! server.

use std::process::{Command, Stdio};

use crate::common::person::Person;
use crate::common::Server;
use crate::Scenario;

pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("imclient script", imclient_script),
    ("imclient reconnect", imclient_reconnect),
];

/// docs/imclient.md's scripted client: `/who` piped into a real `imclient`, with alice
/// online. The command line shown leaves out the `--server` flag pointing at the test's
/// server. No presence broadcast comes within the run (an interval of an hour), so the
/// screen is the same every time.
fn imclient_script() -> Vec<(&'static str, String)> {
    use std::io::Write;

    let server = Server::start(&["--presence-interval-ms", "3600000"]);
    let mut alice = server.client();
    alice.send(r#"REGISTER ["alice","away"]"#);
    alice.expect("ONLINE_USERS ");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imclient"))
        .args(["--server", &server.addr.to_string(), "--name", "probe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start imclient");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"/who\n").unwrap();
    drop(stdin);
    // imclient exits by itself after end of input (within its own bounded waits).
    let output = child.wait_with_output().expect("imclient's output");
    let screen = String::from_utf8_lossy(&output.stdout);
    let code = output
        .status
        .code()
        .map_or("killed".into(), |c| c.to_string());
    let shown = format!(
        "$ printf '/who\\n' | imclient --name probe\n{}$ echo $?\n{code}",
        screen
    );
    vec![("imclient-script", shown)]
}

/// docs/imclient.md's "When the server goes away": alice's screen from the moment the server
/// is stopped (SIGTERM, so it says why) while she is in conversation 1 with bob, through a
/// `/status back` typed while it is down and the first retry, refused, to a new server on the
/// same address, where she types `/who` and `/list`. Presence broadcasts are an hour apart,
/// so nothing but the answers to her own requests comes in between. The one thing this run
/// does not fix is how long the new server takes to start: should it miss the second retry
/// too, the retry lines after the first are left out, so the excerpt is the same on a slow
/// machine.
fn imclient_reconnect() -> Vec<(&'static str, String)> {
    const FLAGS: &[&str] = &["--presence-interval-ms", "3600000"];
    let mut server = Server::start(FLAGS);
    let addr = server.addr.to_string();
    let mut bob = server.client();
    bob.send(r#"REGISTER ["bob"]"#);
    bob.expect("ONLINE_USERS ");
    let mut alice = Person::join(&server, "alice");
    alice.type_line("/invite bob");
    bob.expect_line(r#"INVITATION [1,"alice"]"#);
    bob.send("JOIN [1]");
    alice.wait("[1] * members: alice, bob");
    let from = alice.screen.len();

    server.signal(libc::SIGTERM);
    server.wait_exit();
    alice.wait("[1] * conversation ended: the connection to the server was lost");
    alice.type_line("/status back");
    alice.wait("! not sent: not connected to the server (reconnecting)");
    alice.wait_for("a refused retry", |l| l.starts_with("! cannot connect to "));
    let _server = Server::start_at(&addr, &[], FLAGS);
    alice.wait(&format!("* reconnected to {addr}"));
    alice.wait("* registered as alice (available)");
    alice.type_line("/who");
    alice.type_line("/list");
    alice.wait("* no conversations");
    assert!(alice.exit().success());

    let mut retries = 0;
    let shown: Vec<&str> = alice.screen[from..]
        .iter()
        .map(String::as_str)
        .filter(|l| {
            retries += usize::from(l.starts_with("! cannot connect to "));
            !l.starts_with("! cannot connect to ") || retries == 1
        })
        .take_while(|l| !l.starts_with("* signing off") && !l.starts_with("* end of input"))
        .collect();
    vec![("imclient-reconnect", shown.join("\n"))]
}
