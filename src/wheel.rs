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

/// A timer wheel holding payloads of type `T`.
#[derive(Debug)]
pub struct Wheel<T> {
    tick_ms: u64,
    /// The last tick that [`Wheel::advance`] has processed.
    current_tick: u64,
    /// Keys into `entries`, hashed by due tick.
    slots: Vec<Vec<usize>>,
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
            slots: (0..slots.max(1)).map(|_| Vec::new()).collect(),
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
        self.slots[slot].push(key);
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
        self.slots[slot].retain(|&key| key != id.key);
        Some(entry.payload)
    }

    /// The earliest deadline among pending timers, in milliseconds, or `None` when there
    /// are none (the loop may then sleep until an I/O event).
    pub fn next_deadline(&self) -> Option<u64> {
        if self.entries.is_empty() {
            return None;
        }
        let turn = self.slots.len() as u64;
        // Within one turn, the first slot holding a timer due in that very tick wins.
        for tick in self.current_tick + 1..=self.current_tick + turn {
            let slot = &self.slots[self.slot_of(tick)];
            if slot.iter().any(|&key| self.entries[key].due_tick == tick) {
                return Some(tick * self.tick_ms);
            }
        }
        // Every timer is more than a turn away: rare enough to look at them all.
        self.entries
            .iter()
            .map(|(_, e)| e.due_tick * self.tick_ms)
            .min()
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
            let entries = &self.entries;
            self.slots[slot].retain(|&key| {
                let fired = entries[key].due_tick <= target;
                if fired {
                    due_keys.push(key);
                }
                !fired
            });
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
