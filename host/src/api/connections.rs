//! The API's open connections, capped: when the cap is reached, a new connection closes the
//! connection that has been idle longest (between requests, or before its first), never one
//! serving a request — so a flood of half-open connections cannot lock keyed clients out.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The open connections and their cap.
pub struct Connections {
    max: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last ticket given: a connection going idle takes the next, so tickets order the
    /// idle connections by how long they have been idle.
    ticket: u64,
    /// Connections counted against the cap.
    open: usize,
    /// Idle connections by ticket, longest idle first.
    idle: BTreeMap<u64, Arc<Closing>>,
}

/// How a connection is told to close, and whether it was.
#[derive(Default)]
pub struct Closing {
    /// Notified when the connection must close.
    pub notify: Notify,
    evicted: AtomicBool,
    /// Its ticket in the idle list while it is idle (0: not idle).
    ticket: std::sync::atomic::AtomicU64,
}

/// One open connection; dropping it closes its account.
pub struct Connection {
    /// Tells the connection's task to close it.
    pub closing: Arc<Closing>,
    connections: Arc<Connections>,
}

impl Connections {
    /// At most `max` connections.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Connections {
            max: max.max(1),
            state: Mutex::new(State::default()),
        })
    }

    /// Opens an account for a new connection, idle until its first request, closing the
    /// longest idle one if the cap is reached; `None` if every connection is serving a
    /// request (the new one is refused).
    pub fn admit(self: &Arc<Self>) -> Option<Connection> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.open >= self.max {
            let (_, evicted) = state.idle.pop_first()?;
            // It no longer counts: its task closes it.
            evicted.ticket.store(0, Ordering::Relaxed);
            evicted.evicted.store(true, Ordering::Relaxed);
            evicted.notify.notify_one();
            state.open -= 1;
        }
        state.open += 1;
        let closing = Arc::new(Closing::default());
        state.make_idle(&closing);
        Some(Connection {
            closing,
            connections: self.clone(),
        })
    }

    fn set_idle(&self, closing: &Arc<Closing>, idle: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.forget(closing);
        if idle && !closing.evicted.load(Ordering::Relaxed) {
            state.make_idle(closing);
        }
    }
}

impl State {
    /// Puts `closing`'s connection at the end of the idle list.
    fn make_idle(&mut self, closing: &Arc<Closing>) {
        self.ticket += 1;
        closing.ticket.store(self.ticket, Ordering::Relaxed);
        self.idle.insert(self.ticket, closing.clone());
    }

    /// Takes `closing`'s connection off the idle list, if it is on it.
    fn forget(&mut self, closing: &Closing) {
        let ticket = closing.ticket.swap(0, Ordering::Relaxed);
        if ticket != 0 {
            self.idle.remove(&ticket);
        }
    }
}

impl Connection {
    /// The connection serves a request: it is not closed for a newcomer meanwhile.
    pub fn busy(&self) {
        self.connections.set_idle(&self.closing, false);
    }

    /// The connection finished a request and waits for the next.
    pub fn idle(&self) {
        self.connections.set_idle(&self.closing, true);
    }

    /// Whether it was closed to make room for a newcomer.
    pub fn evicted(&self) -> bool {
        self.closing.evicted.load(Ordering::Relaxed)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut state = self
            .connections
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.forget(&self.closing);
        if !self.evicted() {
            state.open = state.open.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_a_newcomer_closes_the_longest_idle_connection_never_a_busy_one() {
        let connections = Connections::new(2);
        let a = connections.admit().expect("a");
        let b = connections.admit().expect("b");
        a.busy();
        // At the cap: b is idle longest (a serves a request), so b is told to close.
        let c = connections.admit().expect("c");
        assert!(b.evicted(), "b is closed for c");
        drop(b);
        // a busy, c idle: d closes c.
        let d = connections.admit().expect("d");
        assert!(c.evicted());
        drop(c);
        d.busy();
        // Both busy: a newcomer is refused.
        assert!(connections.admit().is_none());
        a.idle();
        drop(a);
        // a closed: room for one more, and nobody else is closed for it.
        let e = connections.admit().expect("e");
        assert!(!d.evicted() && !e.evicted());
    }
}
