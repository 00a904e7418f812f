//! Time as the executor sees it. Production uses [`SystemClock`]: the CPU's time-stamp
//! counter, calibrated against the OS's monotonic clock (the `quanta` crate), where
//! the CPU says that counter is invariant, and the OS's monotonic clock otherwise or
//! when `LGB_CLOCK=os` asks for it. Tests use [`VirtualClock`], which only moves when
//! told, so that latency arithmetic can be checked exactly against a known schedule.
//!
//! Latencies are differences of [`Clock::now_ns`]. Wall time (the timeline's seconds)
//! is [`Clock::unix_offset_ns`] plus `now_ns`, with the offset read again at every
//! second boundary, so a calibration error of the counter (a few parts per million)
//! never accumulates: a 14-minute test's seconds stay those of the wall clock.

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
    /// Unix time in nanoseconds minus [`Clock::now_ns`], read now: the Unix time of a
    /// reading `t` is `offset + t`. A real clock reads the wall clock for it (callers
    /// read it again about once a second); by default, the origin's.
    fn unix_offset_ns(&self) -> i128 {
        i128::from(self.origin_unix_ms()) * 1_000_000
    }
}

/// Where a [`SystemClock`] reads time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// The CPU's invariant time-stamp counter (or the ARM generic timer), scaled to
    /// nanoseconds by `quanta`'s calibration against the OS's monotonic clock.
    Tsc,
    /// The OS's monotonic clock (`clock_gettime(CLOCK_MONOTONIC)` through
    /// `std::time::Instant`).
    Os,
}

impl ClockSource {
    /// `"tsc"` or `"os"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::Tsc => "tsc",
            ClockSource::Os => "os",
        }
    }
}

/// Whether this CPU's time-stamp counter ticks at a constant rate whatever the power
/// state and is read with `rdtscp` too (CPUID leaf 0x8000_0007 bit 8, leaf
/// 0x8000_0001 bit 27), which is what makes it a clock; ARM's generic timer always is.
pub fn invariant_tsc() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::__cpuid;
        let max_extended = __cpuid(0x8000_0000).eax;
        max_extended >= 0x8000_0007
            && __cpuid(0x8000_0007).edx & (1 << 8) != 0
            && __cpuid(0x8000_0001).edx & (1 << 27) != 0
    }
    #[cfg(target_arch = "aarch64")]
    {
        true
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The real monotonic clock: the time-stamp counter where it is invariant, the OS's
/// monotonic clock otherwise (see the module docs and [`SystemClock::new`]).
#[derive(Debug, Clone)]
pub struct SystemClock {
    source: Source,
    origin_unix_ms: i64,
}

#[derive(Debug, Clone)]
enum Source {
    Tsc { clock: quanta::Clock, origin: u64 },
    Os { origin: Instant },
}

/// The environment variable that picks a [`SystemClock`]'s source: `os` for the OS's
/// monotonic clock, `tsc` or unset for the time-stamp counter where it is invariant.
pub const CLOCK_ENV: &str = "LGB_CLOCK";

impl SystemClock {
    /// A clock whose origin is now, on the time-stamp counter when the CPU's is
    /// invariant and [`CLOCK_ENV`] does not say `os`, else on the OS's monotonic
    /// clock. The first counter clock of a process calibrates it (about a
    /// millisecond of spinning, at most 200 ms on a busy machine).
    pub fn new() -> Self {
        Self::for_setting(std::env::var(CLOCK_ENV).ok().as_deref())
    }

    /// The clock a [`CLOCK_ENV`] value asks for (`None`: unset).
    fn for_setting(setting: Option<&str>) -> Self {
        match setting {
            Some(v) if v.trim().eq_ignore_ascii_case("os") => Self::os(),
            _ => Self::tsc().unwrap_or_else(Self::os),
        }
    }

    /// A clock on the OS's monotonic clock.
    pub fn os() -> Self {
        Self {
            origin_unix_ms: unix_ms_now(),
            source: Source::Os {
                origin: Instant::now(),
            },
        }
    }

    /// A clock on the calibrated time-stamp counter, or `None` when this CPU's is not
    /// invariant ([`invariant_tsc`]).
    pub fn tsc() -> Option<Self> {
        if !invariant_tsc() {
            return None;
        }
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        Some(Self {
            origin_unix_ms: unix_ms_now(),
            source: Source::Tsc { clock, origin },
        })
    }

    /// Where this clock reads time.
    pub fn source(&self) -> ClockSource {
        match self.source {
            Source::Tsc { .. } => ClockSource::Tsc,
            Source::Os { .. } => ClockSource::Os,
        }
    }
}

fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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
        match &self.source {
            Source::Tsc { clock, origin } => clock.delta_as_nanos(*origin, clock.raw()),
            Source::Os { origin } => u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
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

    fn unix_offset_ns(&self) -> i128 {
        // The wall clock between two readings of this one, so that the pair is at most
        // a few tens of nanoseconds apart.
        let before = self.now_ns();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
        let after = self.now_ns();
        unix - i128::from(before / 2 + after / 2)
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

    /// Instants read just before and just after `clock.now_ns()`.
    fn bracket(clock: &SystemClock) -> (Instant, u64, Instant) {
        let before = Instant::now();
        let t = clock.now_ns();
        (before, t, Instant::now())
    }

    #[test]
    fn tsc_clock_agrees_with_instant() {
        let Some(tsc) = SystemClock::tsc() else {
            // No invariant counter: the default clock is the OS's.
            assert!(!invariant_tsc());
            assert_eq!(SystemClock::new().source(), ClockSource::Os);
            return;
        };
        assert_eq!(tsc.source(), ClockSource::Tsc);
        let (a0, t0, b0) = bracket(&tsc);
        let mut spins = 0u64;
        while a0.elapsed() < Duration::from_millis(300) {
            spins += 1;
            std::hint::black_box(spins);
        }
        std::thread::sleep(Duration::from_millis(200));
        let (a1, t1, b1) = bracket(&tsc);
        let elapsed = Duration::from_nanos(t1 - t0);
        // The counter's interval lies between the Instants' inner and outer ones, give or
        // take its calibration (a few parts per million; 100 allowed) and 10 µs.
        let slack = elapsed / 10_000 + Duration::from_micros(10);
        assert!(elapsed + slack >= a1 - b0, "{elapsed:?} < {:?}", a1 - b0);
        assert!(elapsed <= b1 - a0 + slack, "{elapsed:?} > {:?}", b1 - a0);
        assert!(elapsed >= Duration::from_millis(500));
    }

    #[test]
    fn unix_offset_maps_readings_to_the_wall_clock() {
        for clock in [SystemClock::os(), SystemClock::new()] {
            let before = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i128;
            let wall = clock.unix_offset_ns() + i128::from(clock.now_ns());
            let after = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i128;
            // Within a millisecond of the wall clock read around it.
            assert!(
                wall >= before - 1_000_000 && wall <= after + 1_000_000,
                "{:?}",
                clock.source()
            );
            assert!((clock.origin_unix_ms() as i128 * 1_000_000 - before).abs() < 10_000_000_000);
        }
    }

    #[test]
    fn lgb_clock_os_picks_the_os_clock() {
        assert_eq!(
            SystemClock::for_setting(Some(" OS ")).source(),
            ClockSource::Os
        );
        let auto = if invariant_tsc() {
            ClockSource::Tsc
        } else {
            ClockSource::Os
        };
        assert_eq!(SystemClock::for_setting(None).source(), auto);
        assert_eq!(SystemClock::for_setting(Some("tsc")).source(), auto);
        assert_eq!(SystemClock::os().source().as_str(), "os");
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
