//! The reservoir: a FIFO buffer of ready connections (DOMAIN.md section 6).
//!
//! This file holds the buffer and its rules; it decides, and the
//! [`world`](crate::model::world) carries out the consequences (closing a
//! discarded connection, releasing its lease, scheduling a hold).
//!
//! - [`Reservoir::try_checkout`] is `TryCheckout(now)`: it takes ONE connection
//!   from the head; an expired one is discarded `expired_on_checkout`, one inside
//!   the guard window `insufficient_remaining_lifetime`, and the checkout fails;
//!   an empty buffer fails. Every failure counts one empty event. It never tries
//!   a second connection.
//! - The driver's `Open()` then waits up to `empty_wait` for the next connection
//!   to arrive ([`Reservoir::enqueue_waiter`]); arrivals go to waiters first, in
//!   arrival order, as a Go channel hands a send to its longest-blocked receiver.
//! - [`Reservoir::offer`] is `Return(conn, now)`, also the path of every newly
//!   created connection: expired -> `expired_on_return`, inside guard ->
//!   `insufficient_remaining_lifetime_on_return`, else to a waiter, else if the
//!   buffer is full `reservoir_full`, else to the tail.
//! - [`Reservoir::scan`] is the 1 s expiry scanner: `expired_on_scan`,
//!   `expiring_soon_on_scan`, the rest kept in order.
//!
//! A waiter checks the connection it receives against its own `Open()` start
//! time, as the production code does (`now` is taken before the wait). Because
//! `Return` has already checked the connection at a later instant, the two
//! `*_on_wait` discards cannot happen in the simulation (in production only a
//! race between Return's check and the channel send reaches them); the rule is
//! modelled and unit-tested all the same.

use crate::engine::Time;
use crate::model::conn::{ConnId, ConnTable, Place};
use std::collections::VecDeque;

/// Why a connection was discarded. Names are the production metric labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Discard {
    /// TryCheckout found the head connection expired.
    ExpiredOnCheckout = 0,
    /// TryCheckout found the head connection inside the guard window.
    InsufficientRemainingLifetime,
    /// The connection handed to a waiting Open() was expired.
    ExpiredOnWait,
    /// The connection handed to a waiting Open() was inside the guard window.
    InsufficientRemainingLifetimeOnWait,
    /// Returned expired.
    ExpiredOnReturn,
    /// Returned inside the guard window.
    InsufficientRemainingLifetimeOnReturn,
    /// Returned (or newly created) while the buffer was full.
    ReservoirFull,
    /// Removed by the expiry scanner: expired.
    ExpiredOnScan,
    /// Removed by the expiry scanner: inside the guard window.
    ExpiringSoonOnScan,
}

impl Discard {
    /// Every reason, in a fixed order.
    pub const ALL: [Discard; 9] = [
        Discard::ExpiredOnCheckout,
        Discard::InsufficientRemainingLifetime,
        Discard::ExpiredOnWait,
        Discard::InsufficientRemainingLifetimeOnWait,
        Discard::ExpiredOnReturn,
        Discard::InsufficientRemainingLifetimeOnReturn,
        Discard::ReservoirFull,
        Discard::ExpiredOnScan,
        Discard::ExpiringSoonOnScan,
    ];

    /// The `reason` label of `dsql_reservoir_discards_total`.
    pub fn name(self) -> &'static str {
        match self {
            Discard::ExpiredOnCheckout => "expired_on_checkout",
            Discard::InsufficientRemainingLifetime => "insufficient_remaining_lifetime",
            Discard::ExpiredOnWait => "expired_on_wait",
            Discard::InsufficientRemainingLifetimeOnWait => {
                "insufficient_remaining_lifetime_on_wait"
            }
            Discard::ExpiredOnReturn => "expired_on_return",
            Discard::InsufficientRemainingLifetimeOnReturn => {
                "insufficient_remaining_lifetime_on_return"
            }
            Discard::ReservoirFull => "reservoir_full",
            Discard::ExpiredOnScan => "expired_on_scan",
            Discard::ExpiringSoonOnScan => "expiring_soon_on_scan",
        }
    }
}

/// Reservoir settings (DOMAIN.md section 6 defaults in brackets).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReservoirConfig {
    /// Buffer capacity and refill target [max_conns = 50].
    pub target_ready: u32,
    /// Initial fill gate [max_conns].
    pub low_watermark: u32,
    /// Base connection lifetime [11m].
    pub base_lifetime: Time,
    /// Lifetime jitter: lifetime = base + U[0, jitter) [2m].
    pub jitter: Time,
    /// Connections with less remaining lifetime are not handed out [45s].
    pub guard_window: Time,
    /// Longest the initial fill may hold traffic back [30s].
    pub initial_fill_timeout: Time,
    /// Driver Open()'s brief wait for the next connection [100ms].
    pub empty_wait: Time,
}

/// A request blocked in the driver's brief wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// Sequence number of the wait (increasing).
    pub ticket: u64,
    /// When its Open() started.
    pub since: Time,
    /// Opaque data for the world (e.g. the request's hold time).
    pub tag: u64,
}

/// Outcome of [`Reservoir::try_checkout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkout {
    /// A connection, now in use.
    Hit(ConnId),
    /// Nothing in the buffer.
    Empty,
    /// The head connection was discarded; the caller must close it.
    Discarded(ConnId, Discard),
}

/// Outcome of [`Reservoir::offer`] (Return).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Back in the buffer's tail.
    Buffered,
    /// Handed to a waiting Open(), now in use.
    ToWaiter(Waiter, ConnId),
    /// Handed to a waiter but unusable: discarded, and the waiter's Open() fails.
    WaiterDiscarded(Waiter, ConnId, Discard),
    /// Discarded; the caller must close it.
    Discarded(ConnId, Discard),
}

/// Counters kept by the reservoir (production metric names in brackets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReservoirStats {
    /// Successful checkouts, immediate or after the wait [dsql_reservoir_checkouts_total].
    pub checkouts: u64,
    /// Failed TryCheckouts [dsql_reservoir_empty_total].
    pub empty_events: u64,
    /// Discards by [`Discard`] index [dsql_reservoir_discards_total{reason}].
    pub discards: [u64; 9],
}

/// The reservoir of one instance.
pub struct Reservoir {
    cfg: ReservoirConfig,
    buffer: VecDeque<ConnId>,
    waiters: VecDeque<Waiter>,
    next_ticket: u64,
    /// Counters.
    pub stats: ReservoirStats,
}

impl Reservoir {
    /// An empty reservoir.
    pub fn new(cfg: ReservoirConfig) -> Self {
        Reservoir {
            cfg,
            buffer: VecDeque::with_capacity(cfg.target_ready as usize),
            waiters: VecDeque::new(),
            next_ticket: 0,
            stats: ReservoirStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ReservoirConfig {
        &self.cfg
    }

    /// Connections in the buffer (`Len()`).
    #[inline]
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Requests blocked in the brief wait.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// The buffered connections, head first.
    pub fn buffered(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.buffer.iter().copied()
    }

    /// Take every buffered connection out (the reservoir is shut down; the
    /// caller closes them). Not a discard: no reason is counted.
    pub fn drain(&mut self) -> impl Iterator<Item = ConnId> + '_ {
        self.buffer.drain(..)
    }

    fn discard(&mut self, why: Discard) {
        self.stats.discards[why as usize] += 1;
    }

    /// Classify a connection's remaining lifetime at `at`: `Some(expired, guard)`
    /// discard reason pair if it must not be handed out.
    #[inline]
    fn unusable(&self, conns: &ConnTable, id: ConnId, at: Time) -> Option<bool> {
        let remaining = conns.get(id).remaining(at);
        if remaining == 0 {
            Some(true)
        } else if remaining < self.cfg.guard_window {
            Some(false)
        } else {
            None
        }
    }

    /// `TryCheckout(now)`: take the head connection or fail (one empty event).
    pub fn try_checkout(&mut self, now: Time, conns: &mut ConnTable) -> Checkout {
        let Some(id) = self.buffer.pop_front() else {
            self.stats.empty_events += 1;
            return Checkout::Empty;
        };
        match self.unusable(conns, id, now) {
            Some(expired) => {
                let why = if expired {
                    Discard::ExpiredOnCheckout
                } else {
                    Discard::InsufficientRemainingLifetime
                };
                self.discard(why);
                self.stats.empty_events += 1;
                Checkout::Discarded(id, why)
            }
            None => {
                conns.get_mut(id).place = Place::InUse;
                self.stats.checkouts += 1;
                Checkout::Hit(id)
            }
        }
    }

    /// Start the brief wait of an Open() that began at `since`; returns its ticket.
    /// Waiters time out in ticket order (they all wait `empty_wait`).
    pub fn enqueue_waiter(&mut self, since: Time, tag: u64) -> u64 {
        self.next_ticket += 1;
        self.waiters.push_back(Waiter {
            ticket: self.next_ticket,
            since,
            tag,
        });
        self.next_ticket
    }

    /// The brief wait of `ticket` ran out: remove and return it if it is still waiting.
    pub fn timeout_waiter(&mut self, ticket: u64) -> Option<Waiter> {
        if self.waiters.front().is_some_and(|w| w.ticket == ticket) {
            self.waiters.pop_front()
        } else {
            None
        }
    }

    /// `Return(conn, now)`, also the entry of every new connection.
    pub fn offer(&mut self, id: ConnId, now: Time, conns: &mut ConnTable) -> Offer {
        if let Some(expired) = self.unusable(conns, id, now) {
            let why = if expired {
                Discard::ExpiredOnReturn
            } else {
                Discard::InsufficientRemainingLifetimeOnReturn
            };
            self.discard(why);
            return Offer::Discarded(id, why);
        }
        if let Some(w) = self.waiters.pop_front() {
            return self.hand_to_waiter(w, id, conns);
        }
        if self.buffer.len() >= self.cfg.target_ready as usize {
            self.discard(Discard::ReservoirFull);
            return Offer::Discarded(id, Discard::ReservoirFull);
        }
        conns.get_mut(id).place = Place::Ready;
        self.buffer.push_back(id);
        Offer::Buffered
    }

    /// A waiting Open() receives `id`: it checks it against its own start time.
    pub fn hand_to_waiter(&mut self, w: Waiter, id: ConnId, conns: &mut ConnTable) -> Offer {
        match self.unusable(conns, id, w.since) {
            Some(expired) => {
                let why = if expired {
                    Discard::ExpiredOnWait
                } else {
                    Discard::InsufficientRemainingLifetimeOnWait
                };
                self.discard(why);
                Offer::WaiterDiscarded(w, id, why)
            }
            None => {
                conns.get_mut(id).place = Place::InUse;
                self.stats.checkouts += 1;
                Offer::ToWaiter(w, id)
            }
        }
    }

    /// The expiry scanner: remove expired and inside-guard connections, keeping
    /// the rest in order. Removed ids are appended to `out` for closing.
    pub fn scan(&mut self, now: Time, conns: &ConnTable, out: &mut Vec<(ConnId, Discard)>) {
        let guard = self.cfg.guard_window;
        let before = out.len();
        self.buffer.retain(|&id| {
            let remaining = conns.get(id).remaining(now);
            if remaining == 0 {
                out.push((id, Discard::ExpiredOnScan));
                false
            } else if remaining < guard {
                out.push((id, Discard::ExpiringSoonOnScan));
                false
            } else {
                true
            }
        });
        for &(_, why) in &out[before..] {
            self.stats.discards[why as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{MILLISECOND, MINUTE, SECOND};

    fn cfg() -> ReservoirConfig {
        ReservoirConfig {
            target_ready: 3,
            low_watermark: 3,
            base_lifetime: 11 * MINUTE,
            jitter: 2 * MINUTE,
            guard_window: 45 * SECOND,
            initial_fill_timeout: 30 * SECOND,
            empty_wait: 100 * MILLISECOND,
        }
    }

    fn new_conn(t: &mut ConnTable, created: Time, lifetime: Time) -> ConnId {
        t.open(0, created, lifetime, Place::InUse)
    }

    fn count(r: &Reservoir, d: Discard) -> u64 {
        r.stats.discards[d as usize]
    }

    #[test]
    fn checkout_is_fifo_and_takes_one() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        let a = new_conn(&mut t, 0, 10 * MINUTE);
        let b = new_conn(&mut t, 0, 10 * MINUTE);
        assert_eq!(r.offer(a, 0, &mut t), Offer::Buffered);
        assert_eq!(r.offer(b, 0, &mut t), Offer::Buffered);
        assert_eq!(r.try_checkout(SECOND, &mut t), Checkout::Hit(a));
        assert_eq!(t.get(a).place, Place::InUse);
        assert_eq!(r.len(), 1);
        assert_eq!(r.stats.checkouts, 1);
        assert_eq!(r.stats.empty_events, 0);
    }

    #[test]
    fn empty_checkout_counts_one_empty_event() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        assert_eq!(r.try_checkout(0, &mut t), Checkout::Empty);
        assert_eq!(r.stats.empty_events, 1);
    }

    #[test]
    fn expired_on_checkout_fails_without_trying_a_second() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        let old = new_conn(&mut t, 0, MINUTE);
        let fresh = new_conn(&mut t, 0, 20 * MINUTE);
        r.offer(old, 0, &mut t);
        r.offer(fresh, 0, &mut t);
        assert_eq!(
            r.try_checkout(MINUTE, &mut t),
            Checkout::Discarded(old, Discard::ExpiredOnCheckout)
        );
        assert_eq!(r.stats.empty_events, 1);
        assert_eq!(r.len(), 1, "the second connection stays");
        assert_eq!(count(&r, Discard::ExpiredOnCheckout), 1);
    }

    #[test]
    fn inside_guard_on_checkout_is_insufficient_remaining_lifetime() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        let c = new_conn(&mut t, 0, MINUTE);
        r.offer(c, 0, &mut t);
        // remaining = 60s - 16s = 44s < 45s guard.
        assert_eq!(
            r.try_checkout(16 * SECOND, &mut t),
            Checkout::Discarded(c, Discard::InsufficientRemainingLifetime)
        );
        assert_eq!(r.stats.empty_events, 1);
        // remaining exactly == guard is usable.
        let d = new_conn(&mut t, 0, MINUTE);
        r.offer(d, 0, &mut t);
        assert_eq!(r.try_checkout(15 * SECOND, &mut t), Checkout::Hit(d));
    }

    #[test]
    fn return_discards_expired_guard_and_full() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        let expired = new_conn(&mut t, 0, MINUTE);
        assert_eq!(
            r.offer(expired, MINUTE, &mut t),
            Offer::Discarded(expired, Discard::ExpiredOnReturn)
        );
        let guard = new_conn(&mut t, 0, MINUTE);
        assert_eq!(
            r.offer(guard, 30 * SECOND, &mut t),
            Offer::Discarded(guard, Discard::InsufficientRemainingLifetimeOnReturn)
        );
        for _ in 0..3 {
            let c = new_conn(&mut t, 0, 10 * MINUTE);
            assert_eq!(r.offer(c, 0, &mut t), Offer::Buffered);
        }
        let extra = new_conn(&mut t, 0, 10 * MINUTE);
        assert_eq!(
            r.offer(extra, 0, &mut t),
            Offer::Discarded(extra, Discard::ReservoirFull)
        );
        assert_eq!(count(&r, Discard::ExpiredOnReturn), 1);
        assert_eq!(count(&r, Discard::InsufficientRemainingLifetimeOnReturn), 1);
        assert_eq!(count(&r, Discard::ReservoirFull), 1);
    }

    #[test]
    fn a_failed_connection_returned_with_lifetime_zero_is_discarded() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        let c = new_conn(&mut t, 0, 0);
        assert_eq!(
            r.offer(c, 0, &mut t),
            Offer::Discarded(c, Discard::ExpiredOnReturn)
        );
    }

    #[test]
    fn arrivals_go_to_waiters_first_in_order() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        let k1 = r.enqueue_waiter(0, 11);
        let k2 = r.enqueue_waiter(MILLISECOND, 22);
        let c = new_conn(&mut t, 5 * MILLISECOND, 10 * MINUTE);
        match r.offer(c, 5 * MILLISECOND, &mut t) {
            Offer::ToWaiter(w, id) => {
                assert_eq!((w.ticket, w.tag, id), (k1, 11, c));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.timeout_waiter(k1), None, "already served");
        assert_eq!(r.timeout_waiter(k2).map(|w| w.tag), Some(22));
        assert_eq!(r.waiting(), 0);
        assert_eq!(r.stats.checkouts, 1);
    }

    #[test]
    fn waiter_discards_expired_and_guard_connections() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(cfg());
        let w = Waiter {
            ticket: 1,
            since: MINUTE,
            tag: 0,
        };
        let expired = new_conn(&mut t, 0, MINUTE);
        assert_eq!(
            r.hand_to_waiter(w, expired, &mut t),
            Offer::WaiterDiscarded(w, expired, Discard::ExpiredOnWait)
        );
        let guard = new_conn(&mut t, 0, MINUTE + 10 * SECOND);
        assert_eq!(
            r.hand_to_waiter(w, guard, &mut t),
            Offer::WaiterDiscarded(w, guard, Discard::InsufficientRemainingLifetimeOnWait)
        );
        assert_eq!(count(&r, Discard::ExpiredOnWait), 1);
        assert_eq!(count(&r, Discard::InsufficientRemainingLifetimeOnWait), 1);
    }

    #[test]
    fn scan_removes_expired_and_expiring_keeping_order() {
        let mut t = ConnTable::default();
        let mut r = Reservoir::new(ReservoirConfig {
            target_ready: 10,
            ..cfg()
        });
        let keep1 = new_conn(&mut t, 0, 10 * MINUTE);
        let expired = new_conn(&mut t, 0, MINUTE);
        let keep2 = new_conn(&mut t, 0, 9 * MINUTE);
        let soon = new_conn(&mut t, 0, MINUTE + 30 * SECOND);
        for c in [keep1, expired, keep2, soon] {
            r.offer(c, 0, &mut t);
        }
        let mut out = vec![];
        r.scan(MINUTE, &t, &mut out);
        assert_eq!(
            out,
            vec![
                (expired, Discard::ExpiredOnScan),
                (soon, Discard::ExpiringSoonOnScan)
            ]
        );
        assert_eq!(r.buffered().collect::<Vec<_>>(), vec![keep1, keep2]);
        assert_eq!(count(&r, Discard::ExpiredOnScan), 1);
        assert_eq!(count(&r, Discard::ExpiringSoonOnScan), 1);
    }

    #[test]
    fn discard_names_are_the_production_labels() {
        let names: Vec<_> = Discard::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(
            names,
            [
                "expired_on_checkout",
                "insufficient_remaining_lifetime",
                "expired_on_wait",
                "insufficient_remaining_lifetime_on_wait",
                "expired_on_return",
                "insufficient_remaining_lifetime_on_return",
                "reservoir_full",
                "expired_on_scan",
                "expiring_soon_on_scan"
            ]
        );
        for (i, d) in Discard::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
    }
}
