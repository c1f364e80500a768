//! Connection timeouts in O(1): one FIFO list per kind of timeout. Each connection says which
//! deadline it wants (`Connection::poll_timer`); the worker only keeps the lists.
//!
//! Every timeout of one kind has the same duration, so appending a connection at the tail
//! with `now + duration` keeps each list sorted by deadline. Setting a timer unlinks the
//! connection from wherever it was and appends it (O(1) with a doubly linked list kept in a
//! vector indexed by connection key); expiry pops heads while they are due (O(1) each); the
//! next wake-up is the earliest of the heads. No timer thread, no heap, and no wake-ups at
//! all when there are no connections, so an idle server sleeps in `epoll_wait`.
//!
//! Deadlines are rounded up to a [`TICK`] (counted from the worker's start): a busy
//! connection restarts its timer on every request, and a restart that lands on the deadline
//! it already has keeps its place in the list instead of moving to the tail. A timeout thus
//! fires up to one tick late, never early.

use std::time::{Duration, Instant};

use crate::h1::conn::TimerKind;
use crate::h1::limits::Timeouts;

const NIL: u32 = u32::MAX;

/// The granularity of deadlines. Timeouts are seconds; 10 ms later is no difference to a
/// client, and most restarts of a busy connection's timer then change nothing.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Nanoseconds in a [`TICK`], which divides a second.
const TICK_NANOS: u64 = 10_000_000;
const _: () = assert!(TICK.as_nanos() == TICK_NANOS as u128 && 1_000_000_000 % TICK_NANOS == 0);

/// One connection's place in the list of its kind. A deadline is a count of ticks from the
/// worker's start: 8 bytes to keep and one comparison to test (24 bytes a link, not 32).
#[derive(Debug, Clone, Copy)]
struct Link {
    deadline: u64,
    prev: u32,
    next: u32,
    kind: Option<TimerKind>,
}

const UNLINKED: Link = Link {
    kind: None,
    deadline: 0,
    prev: NIL,
    next: NIL,
};

/// The timers of one worker, keyed by connection key.
#[derive(Debug)]
pub(crate) struct Timers {
    durations: Timeouts,
    links: Vec<Link>,
    heads: [u32; KINDS],
    tails: [u32; KINDS],
    /// Per kind, the last `now` a deadline was computed for and that deadline: a worker sets
    /// many timers with the same `now` (one per socket an event batch drove), and the
    /// checked `Instant` addition is then done once per batch rather than per socket.
    due: [(Instant, u64); KINDS],
    /// Where ticks are counted from.
    origin: Instant,
}

const KINDS: usize = TimerKind::COUNT;

impl Timers {
    /// Timers with one duration per kind.
    pub(crate) fn new(durations: Timeouts) -> Self {
        Self::counting_from(durations, Instant::now())
    }

    /// Timers whose ticks are counted from `origin`.
    fn counting_from(durations: Timeouts, origin: Instant) -> Self {
        let mut timers = Self {
            origin,
            durations,
            links: Vec::new(),
            heads: [NIL; KINDS],
            tails: [NIL; KINDS],
            due: [(origin, 0); KINDS],
        };
        for kind in TimerKind::ALL {
            timers.compute_deadline(kind, origin);
        }
        timers
    }

    /// (Re)starts the timer of `key` as `kind`, due at `now` plus that kind's duration,
    /// rounded up to a tick.
    #[inline]
    pub(crate) fn set(&mut self, key: usize, kind: TimerKind, now: Instant) {
        let deadline = self.deadline(kind, now);
        if self
            .links
            .get(key)
            .is_some_and(|link| link.kind == Some(kind) && link.deadline == deadline)
        {
            return; // Restarted within the tick it was due in: nothing moves.
        }
        self.move_to_tail(key, kind, deadline);
    }

    /// Puts the timer of `key` last in the list of `kind`, due at `deadline` (no earlier
    /// than any other there). Out of line: the usual restart, within the same tick, needs
    /// none of it.
    #[inline(never)]
    fn move_to_tail(&mut self, key: usize, kind: TimerKind, deadline: u64) {
        let index = Self::index(key);
        if self.links.len() <= key {
            self.links.resize(key + 1, UNLINKED);
        }
        let link = self.links[key];
        if link.kind == Some(kind) && self.tails[kind as usize] == index {
            // Already last in its list: a later deadline keeps the list sorted.
            self.links[key].deadline = deadline;
            return;
        }
        // The link is overwritten below, so it is not reset first.
        self.unlink(link);
        let tail = self.tails[kind as usize];
        self.links[key] = Link {
            kind: Some(kind),
            deadline,
            prev: tail,
            next: NIL,
        };
        if tail == NIL {
            self.heads[kind as usize] = index;
        } else {
            self.links[tail as usize].next = index;
        }
        self.tails[kind as usize] = index;
    }

    /// `now` plus the duration of `kind`, rounded up to a tick; computed once per kind for
    /// each `now`.
    #[inline]
    fn deadline(&mut self, kind: TimerKind, now: Instant) -> u64 {
        let (at, deadline) = self.due[kind as usize];
        if at == now {
            deadline
        } else {
            self.compute_deadline(kind, now)
        }
    }

    /// [`deadline`](Self::deadline) for a new `now`: once per kind and event batch.
    #[inline(never)]
    fn compute_deadline(&mut self, kind: TimerKind, now: Instant) -> u64 {
        let deadline = self.round_up(now + self.durations.of(kind));
        self.due[kind as usize] = (now, deadline);
        deadline
    }

    /// The first tick at or after `instant`, counted from the origin.
    fn round_up(&self, instant: Instant) -> u64 {
        let since = instant.duration_since(self.origin);
        let ticks = since.as_secs().saturating_mul(1_000_000_000 / TICK_NANOS);
        ticks.saturating_add(u64::from(since.subsec_nanos()).div_ceil(TICK_NANOS))
    }

    /// When tick `ticks` is.
    fn instant(&self, ticks: u64) -> Instant {
        // A u64 of nanoseconds lasts 584 years.
        self.origin + Duration::from_nanos(ticks.saturating_mul(TICK_NANOS))
    }

    /// Stops the timer of `key`, if any.
    pub(crate) fn cancel(&mut self, key: usize) {
        let Some(link) = self.links.get(key).copied() else {
            return;
        };
        if link.kind.is_some() {
            self.unlink(link);
            self.links[key] = UNLINKED;
        }
    }

    /// Takes `link` out of its list (if it is in one), joining its neighbours; the link
    /// itself is left for the caller to overwrite.
    #[inline]
    fn unlink(&mut self, link: Link) {
        let Some(kind) = link.kind else {
            return;
        };
        if link.prev == NIL {
            self.heads[kind as usize] = link.next;
        } else {
            self.links[link.prev as usize].next = link.next;
        }
        if link.next == NIL {
            self.tails[kind as usize] = link.prev;
        } else {
            self.links[link.next as usize].prev = link.prev;
        }
    }

    /// The earliest deadline of any timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heads
            .iter()
            .filter(|&&head| head != NIL)
            .map(|&head| self.links[head as usize].deadline)
            .min()
            .map(|deadline| self.instant(deadline))
    }

    /// Removes and returns one timer that is due at `now`, if any.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<(usize, TimerKind)> {
        for head in self.heads {
            if head == NIL {
                continue;
            }
            let link = self.links[head as usize];
            if self.instant(link.deadline) <= now {
                let key = head as usize;
                self.cancel(key);
                return link.kind.map(|kind| (key, kind));
            }
        }
        None
    }

    fn index(key: usize) -> u32 {
        // Connection keys are bounded by the connection limit, far below u32::MAX.
        u32::try_from(key).expect("connection key fits in u32")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    /// Timers counting ticks from the returned instant, so that whole milliseconds from it
    /// are exact.
    fn timers() -> (Timers, Instant) {
        let second = Duration::from_secs(1);
        let origin = Instant::now();
        let timers = Timers::counting_from(
            Timeouts {
                header: second,
                body: 2 * second,
                keep_alive: 3 * second,
                write: 4 * second,
                linger: 5 * second,
                ping: 6 * second,
            },
            origin,
        );
        (timers, origin)
    }

    fn drain(timers: &mut Timers, now: Instant) -> Vec<(usize, TimerKind)> {
        std::iter::from_fn(|| timers.pop_expired(now)).collect()
    }

    #[test]
    fn expires_in_deadline_order_per_kind() {
        let (mut timers, t0) = timers();
        timers.set(3, TimerKind::Idle, t0);
        timers.set(1, TimerKind::Idle, t0 + Duration::from_millis(10));
        timers.set(2, TimerKind::Header, t0);
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_millis(1500)),
            [(2, TimerKind::Header)]
        );
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_secs(4)),
            [(3, TimerKind::Idle), (1, TimerKind::Idle)]
        );
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn setting_again_moves_the_timer_back() {
        let (mut timers, t0) = timers();
        timers.set(0, TimerKind::Idle, t0);
        timers.set(1, TimerKind::Idle, t0);
        timers.set(0, TimerKind::Idle, t0 + Duration::from_secs(2));
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_secs(3)),
            [(1, TimerKind::Idle)]
        );
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_secs(5)),
            [(0, TimerKind::Idle)]
        );
    }

    #[test]
    fn changing_kind_and_cancelling_unlink_cleanly() {
        let (mut timers, t0) = timers();
        for key in 0..5 {
            timers.set(key, TimerKind::Write, t0);
        }
        timers.set(2, TimerKind::Header, t0);
        timers.cancel(0);
        timers.cancel(4);
        timers.cancel(4);
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_secs(10)),
            [
                (2, TimerKind::Header),
                (1, TimerKind::Write),
                (3, TimerKind::Write)
            ]
        );
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn a_restart_within_a_tick_keeps_its_place_and_is_never_early() {
        let (mut timers, t0) = timers();
        let ms = Duration::from_millis;
        timers.set(0, TimerKind::Idle, t0 + ms(1));
        timers.set(1, TimerKind::Idle, t0 + ms(2));
        // Due at the tick after 3.001 s, like key 1: key 0 stays first.
        timers.set(0, TimerKind::Idle, t0 + ms(3));
        assert_eq!(timers.next_deadline(), Some(t0 + ms(3010)));
        assert_eq!(
            drain(&mut timers, t0 + ms(3003)),
            [],
            "never before its duration"
        );
        assert_eq!(
            drain(&mut timers, t0 + ms(3010)),
            [(0, TimerKind::Idle), (1, TimerKind::Idle)]
        );
        // A restart in a later tick moves it behind the others.
        timers.set(0, TimerKind::Idle, t0);
        timers.set(1, TimerKind::Idle, t0);
        timers.set(0, TimerKind::Idle, t0 + ms(15));
        assert_eq!(drain(&mut timers, t0 + ms(3010)), [(1, TimerKind::Idle)]);
        assert_eq!(drain(&mut timers, t0 + ms(3020)), [(0, TimerKind::Idle)]);
    }

    #[test]
    fn a_link_is_three_words() {
        // One per connection key, idle connections included (230 bytes each in all).
        assert_eq!(std::mem::size_of::<Link>(), 24);
    }

    #[test]
    fn nothing_expires_early() {
        let (mut timers, t0) = timers();
        timers.set(7, TimerKind::Linger, t0);
        assert_eq!(timers.pop_expired(t0 + Duration::from_millis(4999)), None);
        assert_eq!(
            timers.pop_expired(t0 + Duration::from_secs(5)),
            Some((7, TimerKind::Linger))
        );
    }
}
