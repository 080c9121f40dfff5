//! `--server A,B,C`: a run against several servers at once (the nodes of one chat that
//! share a Redis engine), and `--server-pid P1,P2`: what those processes cost together.
//!
//! Clients are dealt to the servers in turn ([`node_of`]): consecutive clients, and so the
//! K members of one group, land on different servers, and the deliveries a run measures
//! cross from node to node, which is what a multi-node benchmark is for. The rule reads the
//! client's number in the whole run, so a `--procs` run spreads its clients exactly as one
//! process would.

use std::net::SocketAddr;

use serde::Serialize;

use crate::client::ClientTls;

/// One server of the run.
#[derive(Debug, Clone)]
pub struct Node {
    /// Where it listens, resolved once at start.
    pub addr: SocketAddr,
    /// `--tls`: TLS to it, checking the name of the address as typed.
    pub tls: Option<ClientTls>,
}

impl Node {
    /// A server spoken to in plain TCP.
    pub fn plain(addr: SocketAddr) -> Node {
        Node { addr, tls: None }
    }
}

/// The server client number `client` (in the whole run, from 0) connects to, of `nodes`:
/// round-robin. `nodes` is at least 1 (`Settings::check`).
pub fn node_of(client: usize, nodes: usize) -> usize {
    client % nodes.max(1)
}

/// How many of `clients` clients connect to each of `nodes` servers, by [`node_of`].
pub fn clients_per_node(clients: usize, nodes: usize) -> Vec<usize> {
    let nodes = nodes.max(1);
    (0..nodes)
        .map(|node| clients / nodes + usize::from(node < clients % nodes))
        .collect()
}

/// A server of the run as the report names it, with its clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerClients {
    pub server: String,
    pub clients: usize,
}

/// The report's list of servers: each address with the clients dealt to it.
pub fn server_clients(nodes: &[Node], clients: usize) -> Vec<ServerClients> {
    let counts = clients_per_node(clients, nodes.len());
    nodes
        .iter()
        .zip(counts)
        .map(|(node, clients)| ServerClients {
            server: node.addr.to_string(),
            clients,
        })
        .collect()
}

/// One process of `--server-pid`: its own share of what the report sums.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerProcess {
    pub pid: u32,
    /// CPU time in the measured window, and that over the window's wall time (one core is
    /// 1.0); `None` when not measured.
    pub cpu_measured_s: Option<f64>,
    pub cpu_share: Option<f64>,
    /// Resident memory before the first connection and at the end, kB.
    pub rss_kb_before: Option<u64>,
    pub rss_kb_after: Option<u64>,
}

/// The sum of every process's value, or `None` if there are none or any is missing: a
/// sum with a process left out would read as the whole.
pub fn sum_all<T: Copy + std::iter::Sum<T>>(values: &[Option<T>]) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    values
        .iter()
        .copied()
        .collect::<Option<Vec<T>>>()
        .map(|v| v.into_iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_go_round_robin_so_a_group_spans_the_nodes() {
        let nodes = 3;
        let placed: Vec<usize> = (0..7).map(|c| node_of(c, nodes)).collect();
        assert_eq!(placed, [0, 1, 2, 0, 1, 2, 0]);
        // A group of K >= n consecutive clients has a member on every node.
        let group: std::collections::BTreeSet<usize> = (8..12).map(|c| node_of(c, nodes)).collect();
        assert_eq!(group.len(), nodes);
        // One server: everyone on it, as before the list form.
        assert!((0..50).all(|c| node_of(c, 1) == 0));
    }

    #[test]
    fn the_counts_per_node_are_what_the_rule_deals() {
        for (clients, nodes) in [(12, 3), (13, 3), (2, 3), (100, 1), (0, 2)] {
            let counts = clients_per_node(clients, nodes);
            let mut dealt = vec![0; nodes];
            for c in 0..clients {
                dealt[node_of(c, nodes)] += 1;
            }
            assert_eq!(counts, dealt, "{clients} clients on {nodes} nodes");
        }
        assert_eq!(clients_per_node(13, 3), [5, 4, 4]);
    }

    #[test]
    fn a_sum_over_processes_needs_every_process() {
        assert_eq!(sum_all(&[Some(1.5), Some(2.0)]), Some(3.5));
        assert_eq!(sum_all(&[Some(10u64), None]), None);
        assert_eq!(sum_all::<u64>(&[]), None);
    }
}
