//! `--procs N`: how a run's clients are shared between N processes.
//!
//! Every process takes whole groups, so a conversation never spans two processes: each
//! process sees every delivery of the messages it sends, and its loss, duplicate and
//! reorder tracking stays its own. Clients keep the numbers, names and groups a
//! single-process run gives them; each process sends from its clients at the same
//! per-client rate, so the shares' rates add up to `--rate`.

use super::Settings;

/// One process's part of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// Which process, from 0, of how many.
    pub index: usize,
    pub procs: usize,
    /// The first client's number in the whole run (a multiple of `--members`), and how
    /// many clients follow it.
    pub first: usize,
    pub clients: usize,
    /// The number of its first group in the whole run: its conversations' names (Redis
    /// channels, IRC channels) are the ones a single process gives them.
    pub first_group: usize,
    /// The parent's process id: it picks the names' run tag, so that every process names
    /// its clients as the one run they are.
    pub run: u32,
}

impl Share {
    /// The settings this process runs: its clients, its share of the message and connect
    /// rates, no progress lines (the parent speaks for the run) and no `--server-pid` (the
    /// parent reads the servers once, around the common window). Every server stays: a
    /// client's is chosen by its number in the whole run.
    pub fn settings(&self, whole: &Settings) -> Settings {
        let part = self.clients as f64 / whole.clients as f64;
        Settings {
            clients: self.clients,
            // A share that is only the last, short group has fewer clients than K.
            members: whole.members.min(self.clients),
            rate: whole.rate * part,
            connect_rate: whole.connect_rate * part,
            progress: false,
            server_pids: Vec::new(),
            ..whole.clone()
        }
    }
}

/// Shares `settings`' clients between `procs` processes in whole groups, as evenly as
/// groups allow; `run` is the parent's process id. Refuses a split that cannot be made,
/// naming the bound.
pub fn split(settings: &Settings, procs: usize, run: u32) -> Result<Vec<Share>, String> {
    let n = settings.clients;
    let k = settings.members.min(n).max(1);
    let groups = n.div_ceil(k);
    if procs == 0 {
        return Err("--procs must be at least 1".into());
    }
    if settings.idle && procs > 1 {
        return Err(
            "--procs cannot be combined with --idle (an idle run sends nothing to \
                    share; hold more connections with one process and --source-ips)"
                .into(),
        );
    }
    if procs > groups {
        return Err(format!(
            "--procs must be at most the number of conversations, --clients / --members \
             rounded up ({groups}), since a conversation is never split; got {procs}"
        ));
    }
    Ok((0..procs)
        .map(|index| {
            let (g0, g1) = (groups * index / procs, groups * (index + 1) / procs);
            let first = g0 * k;
            Share {
                index,
                procs,
                first,
                clients: (g1 * k).min(n) - first,
                first_group: g0,
                run,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(clients: usize, members: usize, rate: f64) -> Settings {
        Settings {
            clients,
            members,
            rate,
            ..Settings::default()
        }
    }

    #[test]
    fn shares_are_whole_groups_covering_every_client_once() {
        for (n, k, p) in [
            (100, 10, 3),
            (25, 10, 3),
            (12, 4, 2),
            (7, 7, 1),
            (1000, 3, 7),
        ] {
            let whole = settings(n, k, 1000.0);
            let shares = split(&whole, p, 42).unwrap();
            assert_eq!(shares.len(), p);
            let mut next = 0;
            for share in &shares {
                assert_eq!(share.first, next, "contiguous: {shares:?}");
                assert_eq!(share.first % k, 0, "starts a group: {shares:?}");
                let end = share.first + share.clients;
                assert!(end == n || end % k == 0, "ends a group: {shares:?}");
                assert!(share.clients > 0);
                let part = share.settings(&whole);
                part.check().unwrap();
                next = end;
            }
            assert_eq!(next, n, "every client once");
            // As even as whole groups allow.
            let sizes: Vec<usize> = shares.iter().map(|s| s.clients.div_ceil(k)).collect();
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= 1, "{sizes:?}");
        }
    }

    #[test]
    fn rates_add_up_and_each_client_sends_as_in_one_process() {
        let whole = settings(25, 10, 900.0);
        let shares = split(&whole, 3, 42).unwrap();
        let parts: Vec<Settings> = shares.iter().map(|s| s.settings(&whole)).collect();
        let rate: f64 = parts.iter().map(|p| p.rate).sum();
        let connect: f64 = parts.iter().map(|p| p.connect_rate).sum();
        assert!((rate - 900.0).abs() < 1e-9, "{rate}");
        assert!((connect - whole.connect_rate).abs() < 1e-6, "{connect}");
        for p in &parts {
            assert!((p.rate / p.clients as f64 - 900.0 / 25.0).abs() < 1e-9);
        }
        // The last share is the short group alone: its K is its size.
        assert_eq!(
            (shares[2].first, shares[2].clients, parts[2].members),
            (20, 5, 5)
        );
        assert_eq!(shares[2].first_group, 2);
    }

    #[test]
    fn a_split_that_cannot_be_made_is_refused_naming_the_bound() {
        let whole = settings(25, 10, 100.0);
        assert!(split(&whole, 0, 1).unwrap_err().contains("at least 1"));
        let err = split(&whole, 4, 1).unwrap_err();
        assert!(err.contains("at most") && err.contains("(3)"), "{err}");
        let idle = Settings {
            idle: true,
            ..whole.clone()
        };
        assert!(split(&idle, 2, 1).unwrap_err().contains("--idle"));
        assert_eq!(split(&idle, 1, 1).unwrap().len(), 1);
    }

    #[test]
    fn every_share_keeps_every_server_and_deals_its_clients_as_one_process() {
        use super::super::{node_of, Node};
        let servers: Vec<Node> = (1..=3)
            .map(|port| Node::plain(std::net::SocketAddr::from(([127, 0, 0, 1], port))))
            .collect();
        let whole = Settings {
            servers,
            server_pids: vec![1, 2],
            ..settings(25, 10, 100.0)
        };
        let mut dealt = Vec::new();
        for share in split(&whole, 3, 1).unwrap() {
            let part = share.settings(&whole);
            assert_eq!(part.servers.len(), 3);
            assert!(part.server_pids.is_empty(), "the parent reads the servers");
            // The driver's rule: a client's number in the whole run picks its server.
            dealt.extend((0..share.clients).map(|c| node_of(share.first + c, 3)));
        }
        let alone: Vec<usize> = (0..25).map(|c| node_of(c, 3)).collect();
        assert_eq!(dealt, alone);
    }
}
