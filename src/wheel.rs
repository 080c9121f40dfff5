//! A hashed timer wheel in virtual time.
//!
//! Time is a plain number of milliseconds that the caller passes in: the wheel never reads
//! a clock, so it is tested without sleeping and the event loop reads the clock once per
//! iteration. Deadlines are rounded up to whole ticks and hashed into `slots` by tick
//! number; a timer further away than one turn of the wheel stays in its slot until the turn
//! in which it is due.
//!
//! The loop uses it in three steps: [`Wheel::next_deadline`] gives the poll timeout,
//! [`Wheel::advance`] collects every timer due by `now` (all of them before any runs), and
//! [`Wheel::cancel`] drops a timer that is no longer wanted.
//!
//! Each slot remembers the earliest tick among its timers. That is what keeps the two calls
//! the loop makes on every pass from growing with the number of timers: the next deadline
//! looks at each slot at most once and never at a timer, and an advance passes over a slot
//! with nothing due yet without looking inside.

use slab::Slab;

/// Identifies one inserted timer. Cancelling a timer that already fired, or was already
/// cancelled, does nothing, even if its storage has since been reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerId {
    key: usize,
    serial: u64,
}

#[derive(Debug)]
struct Entry<T> {
    due_tick: u64,
    serial: u64,
    payload: T,
}

/// The timers whose due tick hashes to one slot, whatever turn they are due in.
#[derive(Debug, Default)]
struct Slot {
    /// Keys into [`Wheel::entries`], in no particular order.
    keys: Vec<usize>,
    /// The smallest due tick among `keys`; `None` when the slot is empty.
    earliest: Option<u64>,
}

/// A timer wheel holding payloads of type `T`.
#[derive(Debug)]
pub struct Wheel<T> {
    tick_ms: u64,
    /// The last tick that [`Wheel::advance`] has processed. Every pending timer is due
    /// after it: an earlier deadline is moved to the next tick on insert, and an advance
    /// fires everything due by the tick it reaches.
    current_tick: u64,
    /// Timers hashed by due tick.
    slots: Vec<Slot>,
    entries: Slab<Entry<T>>,
    next_serial: u64,
}

impl<T> Wheel<T> {
    /// A wheel of `slots` slots, `tick_ms` milliseconds each, starting at time `now_ms`.
    pub fn new(tick_ms: u64, slots: usize, now_ms: u64) -> Wheel<T> {
        let tick_ms = tick_ms.max(1);
        Wheel {
            tick_ms,
            current_tick: now_ms / tick_ms,
            slots: (0..slots.max(1)).map(|_| Slot::default()).collect(),
            entries: Slab::new(),
            next_serial: 0,
        }
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Schedules `payload` to fire at `deadline_ms`, rounded up to the next tick. A
    /// deadline in the past fires at the next tick.
    pub fn insert(&mut self, deadline_ms: u64, payload: T) -> TimerId {
        let due_tick = deadline_ms
            .div_ceil(self.tick_ms)
            .max(self.current_tick + 1);
        let serial = self.next_serial;
        self.next_serial += 1;
        let key = self.entries.insert(Entry {
            due_tick,
            serial,
            payload,
        });
        let slot = self.slot_of(due_tick);
        let slot = &mut self.slots[slot];
        slot.keys.push(key);
        slot.earliest = earlier(slot.earliest, due_tick);
        TimerId { key, serial }
    }

    /// Removes a pending timer and returns its payload; `None` if it already fired or was
    /// cancelled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        if self.entries.get(id.key)?.serial != id.serial {
            return None;
        }
        let entry = self.entries.remove(id.key);
        let slot = self.slot_of(entry.due_tick);
        let slot = &mut self.slots[slot];
        if let Some(at) = slot.keys.iter().position(|&key| key == id.key) {
            slot.keys.swap_remove(at);
        }
        // Only the slot's earliest timer leaving can make its earliest later.
        if slot.earliest == Some(entry.due_tick) {
            slot.earliest = earliest(&slot.keys, &self.entries);
        }
        Some(entry.payload)
    }

    /// The earliest deadline among pending timers, in milliseconds, or `None` when there
    /// are none (the loop may then sleep until an I/O event).
    ///
    /// Walks one turn of ticks from now, looking at one slot per tick. A slot's earliest
    /// timer is due at the tick walked or a whole number of turns after it (every pending
    /// timer is due after `current_tick`), so the first slot whose earliest is the tick
    /// walked holds the answer. If no timer is due within this turn, the answer is the
    /// smallest of the slots' earliest ticks. At most one look at each slot, whatever the
    /// number of timers.
    pub fn next_deadline(&self) -> Option<u64> {
        let next = self.current_tick + 1;
        // The slots in the order their ticks come: from the next tick's slot to the end,
        // then around from the first.
        let (wrapped, first) = self.slots.split_at(self.slot_of(next));
        let mut beyond_this_turn: Option<u64> = None;
        for (tick, slot) in (next..).zip(first.iter().chain(wrapped)) {
            match slot.earliest {
                Some(due) if due == tick => return Some(tick * self.tick_ms),
                Some(due) => beyond_this_turn = earlier(beyond_this_turn, due),
                None => {}
            }
        }
        beyond_this_turn.map(|due| due * self.tick_ms)
    }

    /// Moves the wheel to time `now_ms` and returns the payloads of every timer due by
    /// then, earliest first.
    pub fn advance(&mut self, now_ms: u64) -> Vec<T> {
        let target = now_ms / self.tick_ms;
        if target <= self.current_tick {
            return Vec::new();
        }
        let mut due_keys = Vec::new();
        // Past one full turn every slot has been visited, so a long jump costs one turn.
        let turn = self.slots.len() as u64;
        let last = target.min(self.current_tick + turn);
        for tick in self.current_tick + 1..=last {
            let slot = self.slot_of(tick);
            let slot = &mut self.slots[slot];
            // Timers a turn or more away wait here; only a slot with one due is opened.
            if slot.earliest.is_none_or(|e| e > target) {
                continue;
            }
            let entries = &self.entries;
            let mut earliest: Option<u64> = None;
            slot.keys.retain(|&key| {
                let due_tick = entries[key].due_tick;
                if due_tick <= target {
                    due_keys.push(key);
                    return false;
                }
                earliest = earlier(earliest, due_tick);
                true
            });
            slot.earliest = earliest;
        }
        self.current_tick = target;
        let mut due: Vec<Entry<T>> = due_keys
            .into_iter()
            .map(|key| self.entries.remove(key))
            .collect();
        due.sort_by_key(|e| (e.due_tick, e.serial));
        due.into_iter().map(|e| e.payload).collect()
    }

    fn slot_of(&self, tick: u64) -> usize {
        (tick % self.slots.len() as u64) as usize
    }
}

/// The smallest due tick among `keys`.
fn earliest<T>(keys: &[usize], entries: &Slab<Entry<T>>) -> Option<u64> {
    keys.iter().map(|&key| entries[key].due_tick).min()
}

/// The earlier of the earliest tick so far (if any) and `tick`.
fn earlier(so_far: Option<u64>, tick: u64) -> Option<u64> {
    Some(so_far.map_or(tick, |t| t.min(tick)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut w = Wheel::new(10, 8, 0);
        w.insert(25, "a");
        assert_eq!(w.next_deadline(), Some(30), "rounded up to a whole tick");
        assert!(w.advance(29).is_empty());
        assert_eq!(w.advance(30), vec!["a"]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn fires_due_timers_in_deadline_order_after_a_long_jump() {
        let mut w = Wheel::new(10, 4, 0);
        w.insert(300, 3);
        w.insert(20, 1);
        w.insert(90, 2);
        w.insert(10_000, 4);
        assert_eq!(w.next_deadline(), Some(20));
        assert_eq!(w.advance(500), vec![1, 2, 3]);
        assert_eq!(w.next_deadline(), Some(10_000), "found beyond one turn");
        assert_eq!(w.advance(10_000), vec![4]);
    }

    #[test]
    fn timers_further_than_one_turn_wait_for_their_turn() {
        let mut w = Wheel::new(1, 4, 0);
        w.insert(6, "late");
        w.insert(2, "early");
        assert_eq!(w.advance(2), vec!["early"]);
        assert!(
            w.advance(5).is_empty(),
            "same slot as tick 6, but a turn early"
        );
        assert_eq!(w.advance(6), vec!["late"]);
    }

    #[test]
    fn cancel_removes_exactly_that_timer_once() {
        let mut w = Wheel::new(10, 8, 0);
        let a = w.insert(50, 'a');
        w.insert(50, 'b');
        assert_eq!(w.cancel(a), Some('a'));
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.advance(50), vec!['b']);
    }

    #[test]
    fn a_stale_id_does_not_cancel_a_timer_that_reused_its_storage() {
        let mut w = Wheel::new(10, 8, 0);
        let old = w.insert(10, 1);
        assert_eq!(w.advance(10), vec![1]);
        w.insert(40, 2);
        assert_eq!(w.cancel(old), None);
        assert_eq!(w.advance(40), vec![2]);
    }

    #[test]
    fn a_deadline_in_the_past_fires_on_the_next_tick() {
        let mut w = Wheel::new(10, 8, 1_000);
        w.insert(5, "past");
        assert_eq!(w.next_deadline(), Some(1_010));
        assert_eq!(w.advance(1_010), vec!["past"]);
    }

    use crate::xorshift::XorShift;

    /// Random inserts (in the past, within a turn, several turns away), cancels (live and
    /// stale) and advances (by a tick, by more than a turn, backwards), checked after every
    /// step against a plain list of timers: the next deadline, and what fires in what order.
    #[test]
    fn agrees_with_a_list_of_timers_under_random_use() {
        const TICK: u64 = 10;
        const SLOTS: usize = 8;
        const TURN_MS: u64 = TICK * SLOTS as u64;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut now = 5 * TURN_MS;
        let mut wheel = Wheel::new(TICK, SLOTS, now);
        // The reference: (id, due tick, payload), and the tick the wheel has reached.
        let mut pending: Vec<(TimerId, u64, u64)> = Vec::new();
        let mut reached = now / TICK;
        let mut fired_ids = Vec::new();
        for step in 0..20_000u64 {
            match rng.below(10) {
                0..=4 => {
                    // From two turns in the past to five turns ahead.
                    let deadline = (now + rng.below(7 * TURN_MS)).saturating_sub(2 * TURN_MS);
                    let id = wheel.insert(deadline, step);
                    let due_tick = deadline.div_ceil(TICK).max(reached + 1);
                    pending.push((id, due_tick, step));
                }
                5 | 6 if !pending.is_empty() => {
                    let (id, _, payload) =
                        pending.swap_remove(rng.below(pending.len() as u64) as usize);
                    assert_eq!(wheel.cancel(id), Some(payload), "step {step}");
                }
                5 | 6 if !fired_ids.is_empty() => {
                    let stale = fired_ids[rng.below(fired_ids.len() as u64) as usize];
                    assert_eq!(wheel.cancel(stale), None, "step {step}");
                }
                _ => {
                    now = match rng.below(8) {
                        0 => now.saturating_sub(rng.below(TURN_MS)),
                        1 => now + rng.below(4 * TURN_MS),
                        _ => now + rng.below(3 * TICK),
                    };
                    reached = reached.max(now / TICK);
                    let mut due: Vec<(TimerId, u64, u64)> = Vec::new();
                    pending.retain(|&t| {
                        let fires = t.1 <= reached;
                        if fires {
                            due.push(t);
                        }
                        !fires
                    });
                    // Earliest first; equal deadlines in insertion order (payload = step).
                    due.sort_by_key(|&(_, tick, payload)| (tick, payload));
                    let expected: Vec<u64> = due.iter().map(|&(_, _, p)| p).collect();
                    assert_eq!(wheel.advance(now), expected, "step {step}");
                    fired_ids.extend(due.iter().map(|&(id, _, _)| id));
                }
            }
            let expected = pending.iter().map(|&(_, tick, _)| tick * TICK).min();
            assert_eq!(wheel.next_deadline(), expected, "step {step}");
            assert_eq!(wheel.len(), pending.len(), "step {step}");
        }
    }

    #[test]
    fn time_standing_still_fires_nothing() {
        let mut w = Wheel::new(10, 8, 100);
        w.insert(120, ());
        assert!(w.advance(100).is_empty());
        assert!(
            w.advance(50).is_empty(),
            "a clock going backwards is ignored"
        );
        assert_eq!(w.len(), 1);
    }
}
