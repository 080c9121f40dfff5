//! The admission rules with a clock of the tests' own: a minute passes in a line.

use super::*;

fn v4(last: u8) -> Option<AddrKey> {
    key_of(std::net::Ipv4Addr::new(203, 0, 113, last).into(), false)
}

#[test]
fn the_cap_counts_open_connections_per_address() {
    let mut admission = Admission::new(2);
    let a = admission.admit(v4(1), 0).unwrap();
    let b = admission.admit(v4(1), 0).unwrap();
    assert_eq!(admission.admit(v4(1), 0), Err(Refused::PerAddress));
    assert!(
        admission.admit(v4(2), 0).unwrap().is_some(),
        "another address"
    );
    admission.release(a);
    let c = admission.admit(v4(1), 0).unwrap();
    assert_eq!(admission.open_from(v4(1).unwrap()), 2);
    admission.release(b);
    admission.release(c);
    assert_eq!(admission.open_from(v4(1).unwrap()), 0);
    assert_eq!(
        admission.addresses(),
        1,
        "only the other address is still open"
    );
}

#[test]
fn exempt_and_uncapped_connections_are_always_let_in() {
    let mut capped = Admission::new(1);
    for _ in 0..100 {
        assert_eq!(capped.admit(None, 0), Ok(None));
    }
    let mut uncapped = Admission::new(0);
    for _ in 0..100 {
        assert!(uncapped.admit(v4(1), 0).unwrap().is_some());
    }
    assert_eq!(uncapped.open_from(v4(1).unwrap()), 100);
}

/// `n` wrong passwords from one connection of `key`'s, at `now`; how many started a ban.
fn fail(admission: &mut Admission, slot: Option<Slot>, n: u32, now: u64) -> usize {
    (0..n)
        .filter(|_| admission.wrong_password(slot, now).is_some())
        .count()
}

#[test]
fn twenty_failures_within_the_window_ban_once_for_a_minute() {
    let mut admission = Admission::new(0);
    let slot = admission.admit(v4(1), 0).unwrap();
    assert_eq!(fail(&mut admission, slot, MAX_FAILURES - 1, 0), 0);
    assert_eq!(
        admission.wrong_password(slot, BAN_WINDOW_MS - 1),
        v4(1),
        "the 20th within the window bans, and says so"
    );
    assert_eq!(
        fail(&mut admission, slot, 50, BAN_WINDOW_MS),
        0,
        "once per ban"
    );
    let banned_at = BAN_WINDOW_MS - 1;
    assert_eq!(admission.admit(v4(1), banned_at), Err(Refused::Banned));
    assert_eq!(
        admission.admit(v4(1), banned_at + BAN_WINDOW_MS - 1),
        Err(Refused::Banned)
    );
    assert!(
        admission.admit(v4(2), banned_at).is_ok(),
        "only that address"
    );
    assert!(
        admission.admit(v4(1), banned_at + BAN_WINDOW_MS).is_ok(),
        "let in again a minute after the ban"
    );
    // The slate is clean: a new ban takes 20 more.
    let later = banned_at + BAN_WINDOW_MS;
    assert_eq!(fail(&mut admission, slot, MAX_FAILURES - 1, later), 0);
    assert!(admission.wrong_password(slot, later).is_some());
}

#[test]
fn failures_in_different_windows_do_not_add_up() {
    let mut admission = Admission::new(0);
    let slot = admission.admit(v4(1), 0).unwrap();
    let mut now = 0;
    for _ in 0..5 {
        assert_eq!(fail(&mut admission, slot, MAX_FAILURES - 1, now), 0);
        now += BAN_WINDOW_MS;
        assert!(admission.admit(v4(1), now).is_ok());
    }
}

#[test]
fn exempt_connections_earn_no_ban() {
    let mut admission = Admission::new(0);
    assert_eq!(fail(&mut admission, None, 1000, 0), 0);
    assert_eq!(admission.admit(None, 0), Ok(None));
}

#[test]
fn the_ban_table_is_bounded_and_forgets_the_oldest_first() {
    let keys: Vec<AddrKey> = (0..=255).filter_map(v4).collect();
    let mut bans = Bans::with_capacity(4);
    // The first address earns a ban; then five more fail once each, a millisecond apart.
    for _ in 0..MAX_FAILURES {
        bans.wrong_password(keys[0], 0);
    }
    for (t, key) in keys[1..6].iter().enumerate() {
        bans.wrong_password(*key, 1 + t as u64);
        assert!(bans.tracked() <= 4);
    }
    assert!(!bans.is_banned(keys[0], 10), "its record made room first");
    // A long run of new addresses keeps both the table and the queue within bounds.
    for (t, key) in keys.iter().cycle().take(10_000).enumerate() {
        bans.wrong_password(*key, 10 + t as u64);
        assert!(bans.tracked() <= 4 && bans.queued() <= 8);
    }
}

#[test]
fn records_expire_without_new_failures_to_push_them_out() {
    let mut bans = Bans::with_capacity(100);
    for last in 0..50 {
        bans.wrong_password(v4(last).unwrap(), u64::from(last));
    }
    assert_eq!(bans.tracked(), 50);
    // Half the windows are over.
    assert!(!bans.is_banned(v4(0).unwrap(), BAN_WINDOW_MS + 24));
    assert_eq!(bans.tracked(), 25);
    assert_eq!(bans.queued(), 25);
    assert!(!bans.is_banned(v4(0).unwrap(), 10 * BAN_WINDOW_MS));
    assert_eq!((bans.tracked(), bans.queued()), (0, 0));
}

#[test]
fn a_ban_in_the_millisecond_its_window_opened_is_queued_once() {
    let mut bans = Bans::with_capacity(10);
    let key = v4(9).unwrap();
    let started: Vec<bool> = (0..MAX_FAILURES)
        .map(|_| bans.wrong_password(key, 5))
        .collect();
    assert_eq!(started.iter().filter(|b| **b).count(), 1);
    assert_eq!(bans.queued(), 1);
    assert!(bans.is_banned(key, 5 + BAN_WINDOW_MS - 1));
    assert!(!bans.is_banned(key, 5 + BAN_WINDOW_MS));
}
