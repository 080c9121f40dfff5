//! Random sequences of events (clients that send the whole contract and junk, stop reading,
//! vanish, half-close, and a clock that jumps), with the loop's promise checked after
//! every pass.

use super::{config, Client, Config, Harness};
use crate::xorshift::XorShift;

/// What a random client may send: the whole contract, wrong input and framing violations.
/// `known` holds the conversation ids the readers were invited to, so that most ids are real.
fn random_line(rng: &mut XorShift, names: &[&str], known: &[u64]) -> Vec<u8> {
    let name = names[rng.below(names.len() as u64) as usize];
    let id = match known.len() as u64 {
        0 => 1,
        n => known[(n - 1 - rng.below(n.min(4))) as usize],
    };
    // Closing lines (GOODBYE, framing violations) are rare, so that users live long enough
    // to be in conversations when they go.
    let line = match rng.below(16) {
        0 => format!("REGISTER [\"{name}\"]"),
        1 => format!("REGISTER [\"{name}\",\"busy\",{{\"presence\":\"changes\"}}]"),
        2 | 3 => {
            let other = names[rng.below(names.len() as u64) as usize];
            format!("INVITE [\"{name}\",\"{other}\"]")
        }
        4..=6 => format!("JOIN [{id}]"),
        7 | 8 => format!(
            "SEND_MESSAGE [{id},\"{}\"]",
            "x".repeat(rng.below(300) as usize)
        ),
        9 => format!("LEAVE [{id}]"),
        10 => "LIST_CONVERSATIONS".to_string(),
        11 => format!("STATUS [\"s{id}\"]"),
        12 if rng.below(8) == 0 => "GOODBYE".to_string(),
        13 if rng.below(8) == 0 => "y".repeat(600),
        14 if rng.below(8) == 0 => return b"SEND_MESSAGE [1,\"\xff\xfe\"]".to_vec(),
        12..=14 => format!("JOIN [{id}]"),
        _ => "JOIN [\"x\"]".to_string(),
    };
    line.into_bytes()
}

/// A new client that registers as `name`.
fn newcomer(h: &mut Harness, name: &str) -> Client {
    let mut client = h.connect();
    client.send(&format!("REGISTER [\"{name}\"]"));
    client
}

#[test]
fn random_sequences_of_events_never_leave_work_behind_a_sleep() {
    let names = ["ann", "ben", "cat", "dan", "eve"];
    let mut settled_with_output = 0;
    for seed in 1..=8u64 {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ seed);
        let mut known = Vec::new();
        let mut h = Harness::new(Config {
            max_line: 512,
            max_output: 8192,
            register_timeout_ms: 2_000,
            presence_interval_ms: 300,
            ..config()
        });
        // Some clients read everything, some never read (they become slow readers).
        let mut clients: Vec<(Client, bool)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (newcomer(&mut h, name), i % 3 != 2))
            .collect();
        for _ in 0..600 {
            let i = rng.below(clients.len() as u64) as usize;
            match rng.below(10) {
                0..=4 => {
                    let mut bytes = Vec::new();
                    for _ in 0..1 + rng.below(8) {
                        bytes.extend(random_line(&mut rng, &names, &known));
                        bytes.push(b'\n');
                    }
                    clients[i].0.send_some(&bytes);
                }
                // Half a line, finished or not by what comes next.
                5 => _ = clients[i].0.send_some(b"SEND_MESSAGE [1,\"half"),
                6 => h.now += rng.below(2_500),
                // Gone without a word, maybe with input unread: a reset or an end of stream.
                7 => clients[i] = (newcomer(&mut h, names[i]), rng.below(2) == 0),
                8 => _ = clients[i].0.stream.shutdown(std::net::Shutdown::Write),
                _ => h.until_quiet(),
            }
            for (client, reads) in &mut clients {
                if !*reads {
                    continue;
                }
                for line in client.lines() {
                    if let Some(rest) = line.strip_prefix("INVITATION [") {
                        let id = rest.split(',').next().and_then(|id| id.parse::<u64>().ok());
                        known.extend(id);
                    }
                }
            }
            h.pass();
            // A client the server closed is replaced, so the chat stays populated.
            for (i, (client, reads)) in clients.iter_mut().enumerate() {
                if h.key_of(client).is_none() {
                    *client = newcomer(&mut h, names[i]);
                    *reads = rng.below(3) != 0;
                }
            }
        }
        h.until_quiet();
        settled_with_output += h.dirty_after;
    }
    assert!(
        settled_with_output > 0,
        "the sequences never left output queued after a pass: they test nothing"
    );
}
