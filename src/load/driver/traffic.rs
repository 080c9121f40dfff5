//! Traffic: reading what the server sends and counting messages, sending messages on the
//! clock, and when sending ends and the drain is over.

use super::super::proto::{Event, Protocol};
use super::super::stats::{Arrival, Stamp, Stats, Tracker};
use super::super::LoadError;
use super::super::DRAIN_PATIENCE_MS;
use super::setup::connected;
use super::{mark_dirty, Client, Driver, Note, Phase, Stage, MAX_SENDS_PER_PASS, MAX_UNSENT_BYTES};
use crate::buffer::Drain;

impl<P: Protocol> Driver<P> {
    pub(super) fn message_due_us(&self, j: u64) -> u64 {
        self.send_start_us + (j as f64 / self.settings.rate * 1e6) as u64
    }

    /// Step 3 for one socket: finish connecting, and when its event said readable, read as
    /// far as `drain` allows (`None`: a writable event, nothing to read).
    pub(super) fn serve(
        &mut self,
        key: usize,
        drain: Option<Drain>,
        now: u64,
    ) -> Result<(), LoadError> {
        let Driver {
            clients,
            proto,
            stats,
            tracker,
            notes,
            ..
        } = self;
        let Some(client) = clients.get_mut(key) else {
            return Ok(());
        };
        if client.stage == Stage::Connecting {
            match connected(client.conn.socket()) {
                Ok(true) => {
                    client.stage = Stage::LoggingIn;
                    self.connected += 1;
                }
                Ok(false) => return Ok(()),
                Err(source) => {
                    let addr = self.node(key).addr;
                    return Err(LoadError::Connect { addr, source });
                }
            }
        }
        let window = Window {
            send_start: self.send_start_us,
            measure_start: self.measure_start_us,
            send_end: self.send_end_us,
        };
        let Some(drain) = drain else {
            if client.conn.wants_write() {
                mark_dirty(&mut self.dirty, key, client);
            }
            return Ok(());
        };
        let result = client.conn.receive_lines(drain, |line| {
            let bytes = client.partial_bytes + line.len() as u64 + 1;
            client.partial_bytes = 0;
            match proto.parse(&mut client.state, &client.name, line) {
                Event::Partial => client.partial_bytes = bytes,
                Event::Message(text) => on_message(stats, tracker, key, text, bytes, now, window),
                Event::Presence => stats.presence_bytes += bytes,
                Event::Other => stats.other_bytes += bytes,
                event => {
                    stats.other_bytes += bytes;
                    notes.push((key, note(event)));
                }
            }
        });
        let failure = match result {
            Ok(false) => None,
            Ok(true) => Some("closed by the server".to_string()),
            Err(e) => Some(format!("connection failed: {e}")),
        };
        if client.conn.wants_write() {
            mark_dirty(&mut self.dirty, key, client);
        }
        self.act_on_notes()?;
        if let Some(why) = failure {
            let name = &self.names[key];
            if self.phase == Phase::Setup {
                return Err(LoadError::Rejected(format!("{name}: {why}")));
            }
            self.stats.closed += 1;
            self.stats.error(format!("{name}: {why}"));
            let mut client = self.clients.remove(key);
            let _ = self.poll.registry().deregister(client.conn.socket());
        }
        Ok(())
    }

    /// Step 4 while sending: the CPU clocks at the measured window's edges, the messages
    /// due, and the end of sending (then the drain). Returns whether the run is over.
    pub(super) fn advance_sending(&mut self, now: u64) -> bool {
        if now >= self.measure_start_us && !self.cpu.started() {
            self.cpu.read(0, self.now_us(), &self.settings.server_pids);
        }
        self.send_due(now);
        if now < self.send_end_us && !self.interrupted {
            return false;
        }
        if self.cpu.started() {
            self.cpu.read(1, self.now_us(), &self.settings.server_pids);
        }
        self.send_end_us = self.send_end_us.min(now);
        self.stats.series.end_at(self.send_end_us);
        self.phase = Phase::Draining {
            until_us: now + DRAIN_PATIENCE_MS * 1000,
        };
        // Everything may have arrived already: then no event would come to end the drain,
        // and the run would sleep until the next progress line.
        self.all_received()
    }

    /// Whether every delivery and echo that should happen has arrived.
    pub(super) fn all_received(&self) -> bool {
        self.stats.delivered + self.stats.echoes >= self.expected + self.expected_echoes
    }

    /// Whether sending waits for a client whose output the server has not taken.
    pub(super) fn stalled(&self) -> bool {
        let stalled = |key| self.clients.get(key).map(|c: &Client<_>| c.conn.queued());
        self.stalled_on
            .and_then(stalled)
            .is_some_and(|queued| queued > MAX_UNSENT_BYTES)
    }

    /// Sends every message due by `now`, each stamped with the time it was due, each in a
    /// write of its own.
    pub(super) fn send_due(&mut self, now: u64) {
        let n = self.settings.clients as u64;
        let k = self.settings.members;
        self.stalled_on = None;
        for _ in 0..MAX_SENDS_PER_PASS {
            let due = self.message_due_us(self.scheduled);
            if due > now || due >= self.send_end_us {
                return;
            }
            let key = (self.scheduled % n) as usize;
            let Some(client) = self.clients.get_mut(key) else {
                self.scheduled += 1;
                continue;
            };
            if client.conn.queued() > MAX_UNSENT_BYTES {
                self.stalled_on = Some(key);
                return;
            }
            self.scheduled += 1;
            let stamp = Stamp {
                sender: key as u32,
                seq: self.tracker.next_seq(key),
                due_us: due - self.send_start_us,
                queued_us: now - self.send_start_us,
            };
            stamp.encode(self.settings.size, &mut self.text);
            self.wire.clear();
            self.proto.message(client.conv, &self.text, &mut self.wire);
            // One message, one write, as a person's client sends it: written now, not
            // gathered with the client's next messages into one `writev` at the flush.
            // Behind output the kernel did not take, it waits for the writable event.
            let idle = !client.conn.wants_write();
            client.conn.send_copy(&self.wire);
            if idle {
                // A failed write shows up as a failed read at the next event.
                let _ = client.conn.flush();
            }
            let group = key / k;
            let group_len = ((group + 1) * k).min(self.settings.clients) - group * k;
            self.stats.sent += 1;
            if due < self.measure_start_us {
                self.stats.sent_warmup += 1;
            } else {
                self.stats.sent_measured += 1;
            }
            // By the time it was due, as `sent_measured` counts it, so the series adds up
            // to the window's total.
            self.stats.series.sent(due);
            self.expected += group_len as u64 - 1;
            self.expected_echoes += u64::from(P::ECHOES);
        }
    }
}

fn note(event: Event<'_>) -> Note {
    match event {
        Event::Registered => Note::Registered,
        Event::Invited { conv, by_me } => Note::Invited { conv, by_me },
        Event::Joined => Note::Joined,
        Event::Answer(bytes) => Note::Answer(bytes),
        Event::Error(text) => Note::Error(text),
        other => Note::Error(format!("unexpected event {other:?}")),
    }
}

/// The run's times a delivery is judged by, µs since the run's start.
#[derive(Clone, Copy)]
struct Window {
    send_start: u64,
    measure_start: u64,
    send_end: u64,
}

/// Counts one message that reached client `receiver`.
fn on_message(
    stats: &mut Stats,
    tracker: &mut Tracker,
    receiver: usize,
    text: &str,
    bytes: u64,
    now: u64,
    window: Window,
) {
    let Window {
        send_start,
        measure_start,
        send_end,
    } = window;
    let Some(stamp) =
        Stamp::decode(text).filter(|s| tracker.plausible(receiver, s.sender as usize, s.seq))
    else {
        stats.strays += 1;
        return;
    };
    match tracker.arrive(receiver, stamp.sender as usize, stamp.seq) {
        Arrival::Duplicate => {
            stats.duplicates += 1;
            return;
        }
        Arrival::Late => stats.reordered += 1,
        Arrival::New => {}
    }
    stats.message_bytes += bytes;
    if stamp.sender as usize == receiver {
        stats.echoes += 1;
        return;
    }
    stats.delivered += 1;
    if now < measure_start {
        stats.delivered_warmup += 1;
    } else if now < send_end {
        stats.delivered_measured += 1;
        stats.message_bytes_measured += bytes;
    }
    // Saturating: the stamp came over the network, and a plausible sender and sequence
    // number do not make its times sane.
    let due = send_start.saturating_add(stamp.due_us);
    let queued = send_start.saturating_add(stamp.queued_us);
    let corrected = now.saturating_sub(due).max(1);
    stats.series.delivered(now, corrected);
    if (measure_start..send_end).contains(&due) {
        stats.corrected.saturating_record(corrected);
        stats
            .uncorrected
            .saturating_record(now.saturating_sub(queued).max(1));
    }
}
