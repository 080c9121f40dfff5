//! What is particular to several nodes sharing one Redis (`--engine redis://...`), black
//! box: real `imserver` nodes on `127.0.0.1:0` and a real `redis-server` of the test's own
//! (tests/common/redis.rs). The protocol's ordinary suites already run against three nodes
//! (`IMCHAT_TEST_NODES=3` in scripts/test.sh); these tests cover what one node cannot show:
//! names and presence across nodes, one order for members on different nodes, and what
//! happens when a node or Redis goes away.
//!
//! | module | what |
//! |---|---|
//! | `names.rs` | one name rule over every node, races for one name included |
//! | `presence.rs` | presence in its three modes across nodes |
//! | `order.rs` | one order across nodes; a command waiting for Redis holds only its own connection |
//! | `nodes.rs` | a node killed with -9, or stopped with SIGTERM |
//! | `outages.rs` | Redis restarted under load, killed, or unreachable at start |
//! | `leases.rs` | a node's lease when its link breaks: its old names freed, only its own |
//! | `strangers.rs` | a node's copy of a conversation gives a stranger nothing |
//! | `redis_state.rs` | what the nodes leave in Redis, and bad `--engine` values |

#![cfg(feature = "engine")]

#[path = "../common/mod.rs"]
mod common;
mod leases;
mod names;
mod nodes;
mod order;
mod outages;
mod presence;
mod redis_state;
mod strangers;

use std::net::SocketAddr;

use common::{Client, Server};

/// Presence is broadcast every 50 ms, so tests that wait for it finish quickly.
const FAST_PRESENCE: [&str; 2] = ["--presence-interval-ms", "50"];

/// What a registered user is told as its last line when its node loses Redis.
const LOST: &str = "ERROR \"this server lost its chat engine (Redis); please reconnect\"";

/// What a command needing Redis is told while its node has none.
fn unavailable(command: &str) -> String {
    format!("ERROR \"{command}: the chat engine (Redis) is unavailable; try again shortly\"")
}

/// What every node logs each time it has (again) a node id from its Redis.
const CONNECTED: &str = "engine: connected to Redis";

/// `n` nodes sharing a fresh Redis, with fast presence and `flags`.
fn cluster(n: usize, flags: &[&str]) -> Server {
    let mut all = FAST_PRESENCE.to_vec();
    all.extend_from_slice(flags);
    Server::start_cluster(n, &all)
}

/// A client on the node at `addr`, registered as `name` (its answer consumed).
fn user_at(addr: SocketAddr, name: &str) -> Client {
    let mut client = Client::connect(addr);
    client.send(&format!("REGISTER [\"{name}\"]"));
    client.expect("ONLINE_USERS ");
    client
}

/// Waits for the `ONLINE_USERS` snapshot that equals `expected`.
fn wait_online(client: &mut Client, expected: &str) {
    let want = format!("ONLINE_USERS {expected}");
    client.recv_until(&want, |l| l == want);
}

/// `names[i]` registered on the node at `addrs[i]`; the first invites the others into
/// conversation 1 (the first of a fresh Redis) and they join one after the other. Every
/// line up to the complete member list is consumed.
fn conversation(addrs: &[SocketAddr], names: &[&str]) -> Vec<Client> {
    let mut clients: Vec<Client> = (addrs.iter().zip(names))
        .map(|(addr, name)| user_at(*addr, name))
        .collect();
    let invitees: Vec<String> = names[1..].iter().map(|n| format!("\"{n}\"")).collect();
    clients[0].send(&format!("INVITE [{}]", invitees.join(",")));
    let invitation = format!("INVITATION [1,\"{}\"]", names[0]);
    clients[0].recv_until("its own invitation", |l| l == invitation);
    for client in &mut clients[1..] {
        client.recv_until("the invitation", |l| l == invitation);
        client.send("JOIN [1]");
        client.recv_until("its membership", |l| l.starts_with("CONVERSATIONS "));
    }
    let full = members_map(1, names);
    let last = clients.len() - 1;
    for client in &mut clients[..last] {
        client.recv_until("the full member list", |l| l == full);
    }
    clients
}

/// `CONVERSATIONS {"id":[names...]}` for one conversation.
fn members_map(id: u64, names: &[&str]) -> String {
    let members: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("CONVERSATIONS {{\"{id}\":[{}]}}", members.join(","))
}
