//! Time as the executor sees it. Production uses [`SystemClock`] (a monotonic clock);
//! tests use [`VirtualClock`], which only moves when told, so that latency arithmetic
//! can be checked exactly against a known schedule.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock in nanoseconds since the clock's origin.
pub trait Clock: Clone + Send + Sync + 'static {
    /// Nanoseconds since this clock's origin.
    fn now_ns(&self) -> u64;
    /// Waits until [`Clock::now_ns`] is at least `deadline_ns`.
    fn sleep_until(&self, deadline_ns: u64) -> impl Future<Output = ()> + Send;
    /// Unix time in milliseconds at the clock's origin, for wall-clock timelines.
    fn origin_unix_ms(&self) -> i64;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
    origin_unix_ms: i64,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        let origin_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self {
            origin: Instant::now(),
            origin_unix_ms,
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Below this, waiting spins (yielding to other tasks) instead of arming a timer, because
/// tokio's timer wheel fires on millisecond ticks: a timer alone would make open-loop
/// operations start late, and that lateness would be measured as database latency.
const SPIN_BELOW_NS: u64 = 1_500_000;

impl Clock for SystemClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    async fn sleep_until(&self, deadline_ns: u64) {
        loop {
            let now = self.now_ns();
            if now >= deadline_ns {
                return;
            }
            let left = deadline_ns - now;
            if left > SPIN_BELOW_NS {
                tokio::time::sleep(Duration::from_nanos(left - SPIN_BELOW_NS)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    }

    fn origin_unix_ms(&self) -> i64 {
        self.origin_unix_ms
    }
}

/// A clock that moves only when [`VirtualClock::advance`] is called (or a sleep asks it
/// to). Sleeping on it jumps time forward instantly. Meant for tests with one task.
#[derive(Debug, Clone, Default)]
pub struct VirtualClock {
    now: Arc<AtomicU64>,
}

impl VirtualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // Saturates at the end of the clock's range rather than wrapping to the start.
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(ns))
            });
    }
}

impl Clock for VirtualClock {
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    async fn sleep_until(&self, deadline_ns: u64) {
        self.now.fetch_max(deadline_ns, Ordering::SeqCst);
    }

    fn origin_unix_ms(&self) -> i64 {
        // A fixed origin keeps results of virtual runs byte-for-byte repeatable.
        1_700_000_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn system_clock_sleeps_at_least_until_deadline_without_overshooting_much() {
        let c = SystemClock::new();
        let target = c.now_ns() + 3_000_000;
        c.sleep_until(target).await;
        let now = c.now_ns();
        assert!(now >= target);
    }

    #[tokio::test]
    async fn virtual_clock_moves_only_when_told() {
        let c = VirtualClock::new();
        assert_eq!(c.now_ns(), 0);
        c.advance(Duration::from_millis(2));
        c.sleep_until(1_000).await;
        assert_eq!(c.now_ns(), 2_000_000);
        c.sleep_until(5_000_000).await;
        assert_eq!(c.now_ns(), 5_000_000);
    }
}
