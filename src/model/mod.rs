//! The models: one file per real component of the connection design.
//!
//! | file | real component |
//! |---|---|
//! | [`conn`] | physical connections (where each one is) |
//! | [`dist`] | duration distributions (hold time, connect latency) |
//! | [`workload`] | the callers: open-loop request arrivals and hold times |
//! | [`reservoir`] | the reservoir buffer: TryCheckout, the brief wait, Return, the expiry scan |
//! | [`refiller`] | the reservoir's refiller loop |
//! | [`sql_pool`] | Go's database/sql pool: free list, waiters, putConn, cleaner, retries |
//! | [`warmup`] | the plain pool's startup warmup: sequential, staggered, retried |
//! | [`keeper`] | the plain pool's keeper: tops the pool up every second |
//! | [`driver`] | creating one connection: stagger, lease, limiter, IAM token, connect |
//! | [`limiter`] | client-side rate limiters (token bucket, DynamoDB per-second, old fixed window) |
//! | [`lease_table`] | the global connection lease table (DynamoDB) |
//! | [`dynamodb`] | DynamoDB calls: latency and failures of the lease table's and the limiter's round trips |
//! | [`dsql_cluster`] | the Aurora DSQL cluster: connection limit, server-side connect rate |
//! | [`world`] | the wiring: a deployment of pools on one cluster, driven by the engine (one file per job, calls one-way: see its module documentation) |
//!
//! Models never print and never touch files: they record what happened into
//! counters and samples that [`crate::metrics`] turns into reports.

pub mod conn;
pub mod dist;
pub mod driver;
pub mod dsql_cluster;
pub mod dynamodb;
pub mod keeper;
pub mod lease_table;
pub mod limiter;
pub mod refiller;
pub mod reservoir;
pub mod sql_pool;
pub mod warmup;
pub mod workload;
pub mod world;

/// Component kinds used in [`crate::engine::StreamId`]s. Fixed forever: changing
/// one shifts every scenario's draws.
pub mod stream_kind {
    /// A pool's workload (arrivals, hold times).
    pub const WORKLOAD: u16 = 1;
    /// A pool's refiller (connection lifetimes).
    pub const REFILLER: u16 = 2;
    /// A pool's driver (startup stagger, connect latency, token failures).
    pub const DRIVER: u16 = 3;
    /// A process's per-second limiter (its back-off jitter), by process index.
    pub const LIMITER: u16 = 4;
    /// A pool's database/sql (the random waiter a released connection goes to).
    pub const SQL_POOL: u16 = 5;
    /// A plain pool's warmup (back-off jitter).
    pub const WARMUP: u16 = 6;
    /// A process's DynamoDB calls (latency and failures of lease and limiter
    /// calls; the per-second limiter's back-off jitter).
    pub const PROCESS: u16 = 7;
}
