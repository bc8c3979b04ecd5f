//! Connection limits: how many connections the broker holds in total and from one
//! client address (`max.connections`, `max.connections.per.ip` and its overrides).
//!
//! As in Kafka, a connection over a limit is accepted and closed at once, without a
//! byte read: the client sees its connection close and retries later, and nothing
//! it does touches the other clients. Refusals are logged naming the address, at
//! most once per [`WARN_INTERVAL`] so that a client in a reconnect loop cannot
//! flood the log.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The shortest time between two "connection refused" warnings.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `max.connections` connections are open.
    Total { max: usize },
    /// The address already holds its allowance.
    PerIp { max: usize },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Total { max } => write!(f, "the broker holds max.connections ({max})"),
            Refusal::PerIp { max } => write!(
                f,
                "the address holds max.connections.per.ip ({max}) connections"
            ),
        }
    }
}

/// Counts open connections, in total and per address.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    overrides: HashMap<IpAddr, usize>,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// When the last refusal was logged, and how many went unlogged since.
    last_warning: Option<Instant>,
    unlogged: u64,
}

impl ConnectionLimits {
    pub(crate) fn new(
        max_total: usize,
        max_per_ip: usize,
        overrides: HashMap<IpAddr, usize>,
    ) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits {
            max_total,
            max_per_ip,
            overrides,
            counts: Mutex::default(),
        })
    }

    /// Counts a new connection from `ip`, or says which limit it would break. The
    /// returned permit gives the slot back when dropped.
    pub(crate) fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let ip = canonical(ip);
        let max_per_ip = self.overrides.get(&ip).copied().unwrap_or(self.max_per_ip);
        // A std mutex: the section is a few map operations and never awaits.
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return Err(Refusal::Total {
                max: self.max_total,
            });
        }
        if counts.per_ip.get(&ip).copied().unwrap_or(0) >= max_per_ip {
            return Err(Refusal::PerIp { max: max_per_ip });
        }
        *counts.per_ip.entry(ip).or_insert(0) += 1;
        counts.total += 1;
        Ok(ConnectionPermit {
            limits: self.clone(),
            ip,
        })
    }

    /// Logs a refusal unless one was logged less than [`WARN_INTERVAL`] ago; the
    /// next warning then says how many were left out.
    pub(crate) fn warn_refused(&self, ip: IpAddr, refusal: Refusal) {
        let now = Instant::now();
        let unlogged = {
            let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
            let quiet = counts
                .last_warning
                .is_some_and(|at| now.duration_since(at) < WARN_INTERVAL);
            if quiet {
                counts.unlogged += 1;
                return;
            }
            counts.last_warning = Some(now);
            std::mem::take(&mut counts.unlogged)
        };
        if unlogged == 0 {
            tracing::warn!(%ip, "refused a connection from {ip}: {refusal}");
        } else {
            tracing::warn!(
                %ip,
                "refused a connection from {ip}: {refusal} ({unlogged} more refusals not logged in the last {}s)",
                WARN_INTERVAL.as_secs()
            );
        }
    }

    fn release(&self, ip: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(from_ip) = counts.per_ip.get_mut(&ip) {
            *from_ip -= 1;
            if *from_ip == 0 {
                counts.per_ip.remove(&ip);
            }
        }
    }
}

/// One counted connection; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.limits.release(self.ip);
    }
}

/// An IPv4 client reaching a dual-stack listener shows up as `::ffff:a.b.c.d`; it is
/// the same client as `a.b.c.d` and is counted, and matched against overrides, so.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn the_per_ip_limit_counts_each_address_apart() {
        let limits = ConnectionLimits::new(100, 2, HashMap::new());
        let a1 = limits.acquire(A).unwrap();
        let _a2 = limits.acquire(A).unwrap();
        assert_eq!(limits.acquire(A).unwrap_err(), Refusal::PerIp { max: 2 });
        let _b1 = limits.acquire(B).unwrap();
        drop(a1);
        let _a3 = limits.acquire(A).unwrap();
    }

    #[test]
    fn the_total_limit_counts_every_address() {
        let limits = ConnectionLimits::new(2, 10, HashMap::new());
        let _a = limits.acquire(A).unwrap();
        let b = limits.acquire(B).unwrap();
        assert_eq!(limits.acquire(B).unwrap_err(), Refusal::Total { max: 2 });
        drop(b);
        let _b = limits.acquire(B).unwrap();
    }

    #[test]
    fn overrides_replace_the_per_ip_limit_for_their_address() {
        let limits = ConnectionLimits::new(100, 1, HashMap::from([(A, 3), (B, 0)]));
        let _held: Vec<_> = (0..3).map(|_| limits.acquire(A).unwrap()).collect();
        assert!(limits.acquire(A).is_err());
        assert_eq!(limits.acquire(B).unwrap_err(), Refusal::PerIp { max: 0 });
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_their_ipv4_address() {
        let limits = ConnectionLimits::new(100, 1, HashMap::new());
        let _a = limits.acquire(A).unwrap();
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert!(limits.acquire(mapped).is_err());
    }
}
