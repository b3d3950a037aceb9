//! How many connections a port holds (issue 12, D3): in total; per peer IP while the TLS
//! handshake runs, before anyone is known; and per client certificate once it is. A peer that
//! opens connections and never finishes a handshake fills only its own IP's few places, and an
//! agency whose client opens connections in a loop fills only its own certificate's; everyone
//! else is served.
//!
//! A connection takes its places on arrival ([`Limits::arrive`]) and trades the IP's place for
//! the certificate's when the handshake is done ([`Arriving::established`]); dropping what it
//! holds gives the places back.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The caps of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Connections at a time, handshaking or established.
    pub total: usize,
    /// Connections from one IP address whose TLS handshake has not finished.
    pub handshakes_per_ip: usize,
    /// Established connections that present one client certificate.
    pub per_certificate: usize,
}

/// Why a connection was closed before it was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    #[error("the port holds as many connections as it may")]
    Total,
    #[error("this IP address has as many TLS handshakes in progress as it may")]
    Ip,
    #[error("this client certificate has as many connections open as it may")]
    Certificate,
}

/// The places of one port, shared by its connections.
#[derive(Debug)]
pub struct Limits {
    caps: Caps,
    total: Arc<Semaphore>,
    handshaking: Counts<IpAddr>,
    certified: Counts<Vec<u8>>,
}

impl Limits {
    /// A port with `caps` and every place free.
    pub fn new(caps: Caps) -> Arc<Limits> {
        Arc::new(Limits {
            caps,
            total: Arc::new(Semaphore::new(caps.total)),
            handshaking: Counts::default(),
            certified: Counts::default(),
        })
    }

    /// Places for a connection just accepted from `ip`, for its handshake.
    pub fn arrive(self: &Arc<Self>, ip: IpAddr) -> Result<Arriving, Full> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Full::Total)?;
        if !self.handshaking.take(&ip, self.caps.handshakes_per_ip) {
            return Err(Full::Ip);
        }
        Ok(Arriving {
            total,
            ip: Place {
                limits: self.clone(),
                key: Key::Ip(ip),
            },
        })
    }
}

/// A connection in its handshake: its place in the port's total and in its IP's handshakes.
#[derive(Debug)]
pub struct Arriving {
    total: OwnedSemaphorePermit,
    ip: Place,
}

impl Arriving {
    /// Trades the IP's handshake place for a place of the client certificate with serial
    /// `serial` (none on a console connection without a certificate).
    pub fn established(self, serial: Option<&[u8]>) -> Result<Established, Full> {
        let Arriving { total, ip } = self;
        let limits = ip.limits.clone();
        drop(ip);
        let certificate = match serial {
            Some(serial) => {
                let serial = serial.to_vec();
                if !limits.certified.take(&serial, limits.caps.per_certificate) {
                    return Err(Full::Certificate);
                }
                Some(Place {
                    limits,
                    key: Key::Certificate(serial),
                })
            }
            None => None,
        };
        Ok(Established {
            _total: total,
            _certificate: certificate,
        })
    }
}

/// A served connection's places, given back when it closes.
#[derive(Debug)]
pub struct Established {
    _total: OwnedSemaphorePermit,
    _certificate: Option<Place>,
}

#[derive(Debug)]
enum Key {
    Ip(IpAddr),
    Certificate(Vec<u8>),
}

/// One place in an IP's or a certificate's count, given back on drop.
#[derive(Debug)]
struct Place {
    limits: Arc<Limits>,
    key: Key,
}

impl Drop for Place {
    fn drop(&mut self) {
        match &self.key {
            Key::Ip(ip) => self.limits.handshaking.give(ip),
            Key::Certificate(serial) => self.limits.certified.give(serial),
        }
    }
}

/// How many places each key holds; a key with none is forgotten, so the map holds only the
/// peers connected now.
#[derive(Debug)]
struct Counts<K>(Mutex<HashMap<K, usize>>);

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq + Clone> Counts<K> {
    /// Takes a place for `key` if it holds fewer than `max`.
    fn take(&self, key: &K, max: usize) -> bool {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let held = counts.entry(key.clone()).or_insert(0);
        if *held >= max {
            if *held == 0 {
                counts.remove(key);
            }
            return false;
        }
        *held += 1;
        true
    }

    fn give(&self, key: &K) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = counts.get_mut(key) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.remove(key);
            }
        }
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn limits() -> Arc<Limits> {
        Limits::new(Caps {
            total: 4,
            handshakes_per_ip: 2,
            per_certificate: 1,
        })
    }

    #[test]
    fn an_ip_holds_only_its_own_handshake_places() {
        let limits = limits();
        let first = limits.arrive(A).expect("first");
        let _second = limits.arrive(A).expect("second");
        assert_eq!(limits.arrive(A).unwrap_err(), Full::Ip);
        let _other = limits.arrive(B).expect("another IP is not held back");
        drop(first);
        let _again = limits
            .arrive(A)
            .expect("a finished handshake frees its place");
    }

    #[test]
    fn the_total_holds_whatever_the_ips() {
        let limits = limits();
        let held: Vec<_> = [A, A, B, B]
            .into_iter()
            .map(|ip| limits.arrive(ip).expect("within the total"))
            .collect();
        let other = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 3));
        assert_eq!(limits.arrive(other).unwrap_err(), Full::Total);
        drop(held);
        limits.arrive(other).expect("free again");
    }

    #[test]
    fn a_certificate_holds_only_its_own_places_and_gives_the_ips_back() {
        let limits = limits();
        let one = limits
            .arrive(A)
            .expect("arrives")
            .established(Some(&[1]))
            .expect("first connection of certificate 1");
        // Established, it no longer counts among A's handshakes.
        let _a1 = limits.arrive(A).expect("A");
        let _a2 = limits.arrive(A).expect("A again");
        let refused = limits.arrive(B).expect("arrives").established(Some(&[1]));
        assert_eq!(refused.unwrap_err(), Full::Certificate);
        let _two = limits
            .arrive(B)
            .expect("arrives")
            .established(Some(&[2]))
            .expect("another certificate");
        drop(one);
        limits
            .arrive(B)
            .expect("arrives")
            .established(Some(&[1]))
            .expect("a closed connection frees its certificate's place");
    }

    #[test]
    fn nothing_is_remembered_of_peers_that_left() {
        let limits = limits();
        for n in 0..=255u8 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, n));
            let served = limits.arrive(ip).expect("arrives").established(Some(&[n]));
            drop(served);
        }
        assert_eq!(limits.handshaking.keys(), 0);
        assert_eq!(limits.certified.keys(), 0);
    }
}
