//! The command lines of the binaries: each names itself in `--version`, and the server's
//! `--listen` takes a host name.

mod common;

use std::process::Command;

use common::Server;

#[test]
fn each_binary_names_itself_in_its_version() {
    let version = env!("CARGO_PKG_VERSION");
    for (name, bin) in [
        ("imserver", env!("CARGO_BIN_EXE_imserver")),
        ("imclient", env!("CARGO_BIN_EXE_imclient")),
        ("imload", env!("CARGO_BIN_EXE_imload")),
    ] {
        let out = Command::new(bin).arg("--version").output().unwrap();
        assert!(out.status.success(), "{name} --version failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.trim(), format!("{name} {version}"));
    }
}

#[test]
fn the_server_listens_on_a_host_name_every_address_it_resolves_to() {
    let server = Server::start_at("localhost:0", &[], &[]);
    let first = server.addr;
    let _probe = server.user("probe");
    // Every listening line was logged before the registration was.
    server.wait_log("register probe");
    let addrs = server.listening_addrs();
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == first.port()),
        "{addrs:?}"
    );
    for (i, addr) in addrs.iter().enumerate() {
        let mut client = common::Client::connect(*addr);
        client.send(&format!("REGISTER [\"user{i}\"]"));
        client.expect("ONLINE_USERS ");
    }
}
