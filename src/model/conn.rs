//! Physical connections and where each one is.
//!
//! Every connection lives in one slot of a [`ConnTable`] and is in exactly one
//! [`Place`]. Slots of closed connections are reused, so a long run does not
//! grow the table beyond the peak number of live connections.

use crate::engine::Time;

/// Index of a connection in the [`ConnTable`].
pub type ConnId = u32;

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The slot is free (the connection was closed).
    Closed,
    /// In a reservoir's ready buffer.
    Ready,
    /// On a database/sql pool's free list.
    Idle,
    /// Held by a request (or being handed from one layer to another).
    InUse,
}

/// One physical connection.
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    /// When the connect completed.
    pub created_at: Time,
    /// Client-side lifetime: `base_lifetime + U[0, jitter)` for reservoir connections.
    pub lifetime: Time,
    /// Index of the database/sql generation (the world's `Db`: one
    /// `sql.DB` with its reservoir, if any) that owns it.
    pub db: u32,
    /// It holds a global lease (reservoir mode with the lease table on).
    pub leased: bool,
    /// Where it is now.
    pub place: Place,
    /// The server closed it (60-minute limit); the client does not know yet:
    /// its next use fails as a bad connection.
    pub server_closed: bool,
}

impl Conn {
    /// `lifetime - age`, never below 0 (DOMAIN.md section 6).
    #[inline]
    pub fn remaining(&self, now: Time) -> Time {
        self.lifetime
            .saturating_sub(now.saturating_sub(self.created_at))
    }
}

/// All connections of a run.
#[derive(Default)]
pub struct ConnTable {
    conns: Vec<Conn>,
    free: Vec<ConnId>,
    live: usize,
}

impl ConnTable {
    /// A new connection, placed at `place`.
    pub fn open(&mut self, db: u32, created_at: Time, lifetime: Time, place: Place) -> ConnId {
        let c = Conn {
            created_at,
            lifetime,
            db,
            leased: false,
            place,
            server_closed: false,
        };
        self.live += 1;
        if let Some(id) = self.free.pop() {
            self.conns[id as usize] = c;
            id
        } else {
            self.conns.push(c);
            (self.conns.len() - 1) as ConnId
        }
    }

    /// Close a connection and free its slot.
    pub fn close(&mut self, id: ConnId) {
        let c = &mut self.conns[id as usize];
        debug_assert!(c.place != Place::Closed, "double close of connection {id}");
        c.place = Place::Closed;
        self.live -= 1;
        self.free.push(id);
    }

    /// A connection by id.
    #[inline]
    pub fn get(&self, id: ConnId) -> &Conn {
        &self.conns[id as usize]
    }

    /// Mutable access to a connection by id.
    #[inline]
    pub fn get_mut(&mut self, id: ConnId) -> &mut Conn {
        &mut self.conns[id as usize]
    }

    /// Number of open connections.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Count connections of `db` that satisfy `f` (for invariant checks; O(n)).
    pub fn count_where(&self, db: u32, f: impl Fn(&Conn) -> bool) -> usize {
        self.conns.iter().filter(|c| c.db == db && f(c)).count()
    }

    /// Count open connections of `db` at `place` (for invariant checks; O(n)).
    pub fn count(&self, db: u32, place: Place) -> usize {
        self.conns
            .iter()
            .filter(|c| c.db == db && c.place == place)
            .count()
    }

    /// Every open connection (for invariant checks).
    pub fn live_conns(&self) -> impl Iterator<Item = &Conn> + '_ {
        self.conns.iter().filter(|c| c.place != Place::Closed)
    }
}
