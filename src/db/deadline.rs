//! A client-side deadline on every MySQL/MariaDB statement.
//!
//! The C client that Diesel uses (MariaDB Connector/C) reads with `MSG_DONTWAIT` and then polls
//! with the connection's `MYSQL_OPT_READ_TIMEOUT`, which Diesel's URL cannot carry and which is
//! unset, so it polls without end: a statement whose answer never comes (a Galera node that lost
//! its cluster in the middle of a locking read, a network that swallows packets) holds its thread
//! for ever, and socket options (`SO_RCVTIMEO`) change nothing under a poll. What does end such a
//! wait is shutting the socket down: the poll wakes, the read sees the end of the stream, and the
//! client reports "Lost connection to server during query" (a `Server` fault).
//!
//! So each pooled connection reports its statements' start and end through Diesel's
//! instrumentation, and one watchdog thread shuts down the socket of a statement that has run for
//! longer than the read deadline. The connection is then dead: the pool drops it on return
//! ([`is_cut`]) or at its next checkout.
//!
//! The socket is found as the connection opens: establishing is serialised, and the one TCP
//! socket to the server's port that exists after `establish` and not before is the new
//! connection's (an fd number alone could be reused; its addresses are compared too). A
//! connection through a Unix socket (`localhost`) is left without a watchdog.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// One connection's socket and the start of its running statement, if any.
struct Watch {
    /// [`CUTS`] when the connection opened.
    born: u64,
    fd: RawFd,
    local: SocketAddr,
    peer: SocketAddr,
    limit: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running_since: Option<Instant>,
    cut: bool,
    /// A transaction began and its end (commit or rollback) was not yet answered.
    in_transaction: bool,
    /// Its commit was sent and no answer came yet: a cut now leaves its outcome unknown (the
    /// server may have applied the COMMIT whose answer never came).
    commit_pending: bool,
    /// A transaction committed since the work on this connection began ([`start_work`]).
    committed: bool,
    /// The cut came inside a transaction that had not asked for its commit, and nothing of the
    /// work had committed before: the server rolls it back, so the work may run again.
    cut_rerunnable: bool,
}

/// A step of a transaction, as the watchdog needs to know it.
#[derive(Clone, Copy)]
pub enum TxStep {
    Begin,
    Commit,
    Rollback,
}

impl State {
    fn step(&mut self, step: TxStep) {
        match step {
            TxStep::Begin => {
                self.in_transaction = true;
                self.commit_pending = false;
            }
            TxStep::Commit => self.commit_pending = true,
            TxStep::Rollback => {
                self.in_transaction = false;
                self.commit_pending = false;
            }
        }
    }

    /// The answer to the statement that was running: a commit answered without an error
    /// committed; one answered with an error (a deadlock, a certification conflict) did not.
    fn answered(&mut self, failed: bool) {
        self.running_since = None;
        if self.commit_pending {
            self.commit_pending = false;
            self.in_transaction = false;
            self.committed |= !failed;
        }
    }
}

/// The instrumentation a watched connection carries.
pub struct StatementTimer(Arc<Watch>);

impl Instrumentation for StatementTimer {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        // Savepoints (depth above 1) neither open nor commit anything on the server.
        let top = |depth: std::num::NonZeroU32| depth.get() == 1;
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.state().running_since = Some(Instant::now())
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                self.state().answered(error.is_some())
            }
            InstrumentationEvent::BeginTransaction { depth, .. } if top(depth) => {
                self.state().step(TxStep::Begin)
            }
            InstrumentationEvent::CommitTransaction { depth, .. } if top(depth) => {
                self.state().step(TxStep::Commit)
            }
            InstrumentationEvent::RollbackTransaction { depth, .. } if top(depth) => {
                self.state().step(TxStep::Rollback)
            }
            _ => {}
        }
    }
}

impl StatementTimer {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True once the watchdog closed this connection's socket.
    pub fn was_cut(&self) -> bool {
        self.0.state.lock().map(|s| s.cut).unwrap_or(true)
    }
}

/// True when `instrumentation` is a watched connection whose statement ran out of time.
pub fn is_cut(instrumentation: &mut dyn Instrumentation) -> bool {
    instrumentation
        .downcast_ref::<StatementTimer>()
        .is_some_and(StatementTimer::was_cut)
}

/// True when `instrumentation` is a watched connection whose statement ran out of time inside a
/// transaction that had not asked for its commit, with nothing of the work committed before:
/// the server rolls such a transaction back as the connection drops, so the work may run again
/// on another connection. A cut outside a transaction (an autocommit statement may have been
/// applied) or during a commit is never rerunnable.
pub fn was_cut_before_commit(instrumentation: &mut dyn Instrumentation) -> bool {
    instrumentation
        .downcast_ref::<StatementTimer>()
        .is_some_and(|timer| {
            let state = timer.state();
            state.cut && state.cut_rerunnable
        })
}

/// Marks the start of a unit of work on a watched connection checked out of the pool: what
/// committed before belongs to earlier work.
pub fn start_work(instrumentation: &mut dyn Instrumentation) {
    if let Some(timer) = instrumentation.downcast_ref::<StatementTimer>() {
        let mut state = timer.state();
        state.committed = false;
        state.in_transaction = false;
        state.commit_pending = false;
    }
}

/// Notes a step of a transaction that runs without Diesel's transaction manager
/// (`SET autocommit = 0` ... `SET autocommit = 1`), noted before its statement is sent.
pub fn note_step(instrumentation: &mut dyn Instrumentation, step: TxStep) {
    if let Some(timer) = instrumentation.downcast_ref::<StatementTimer>() {
        timer.state().step(step);
    }
}

/// True when `instrumentation` is a watched connection opened before the last time a statement
/// ran out of time on any connection. The pool checks each idle connection with a query before
/// handing it out, trying the next when one fails: against a server that stopped answering, each
/// check would wait the whole deadline, one idle connection after another. Once one statement
/// was cut, the older connections are replaced instead of checked.
pub fn is_older_than_last_cut(instrumentation: &mut dyn Instrumentation) -> bool {
    instrumentation
        .downcast_ref::<StatementTimer>()
        .is_some_and(|timer| timer.0.born < CUTS.load(Ordering::SeqCst))
}

/// How many statements the watchdog has cut, process-wide.
static CUTS: AtomicU64 = AtomicU64::new(0);

/// One lock per server port: connections to one port open one at a time, so that the new socket
/// can be told apart, while a connection to a port that does not answer (a node that is down)
/// holds up no other port's.
static ESTABLISHING: Mutex<Vec<(u16, Arc<Mutex<()>>)>> = Mutex::new(Vec::new());

fn establishing_lock(server_port: u16) -> Arc<Mutex<()>> {
    let mut locks = ESTABLISHING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, lock)) = locks.iter().find(|(port, _)| *port == server_port) {
        return lock.clone();
    }
    let lock = Arc::new(Mutex::new(()));
    locks.push((server_port, lock.clone()));
    lock
}

/// Opens a connection with `open` and finds its TCP socket to `server_port`; `None` when it
/// cannot be told apart (a Unix socket, or another connection opened outside this module at the
/// same moment).
pub fn establish_watched<C, E>(
    server_port: u16,
    limit: Duration,
    open: impl FnOnce() -> Result<C, E>,
) -> Result<(C, Option<StatementTimer>), E> {
    let lock = establishing_lock(server_port);
    let _one_at_a_time = lock.lock().unwrap_or_else(|p| p.into_inner());
    let before: HashSet<_> = tcp_sockets_to(server_port).collect();
    let conn = open()?;
    let mut new: Vec<_> = tcp_sockets_to(server_port)
        .filter(|socket| !before.contains(socket))
        .collect();
    if new.len() != 1 {
        log::debug!(
            "no deadline watch on a new database connection: {} candidate sockets",
            new.len()
        );
        return Ok((conn, None));
    }
    let (fd, local, peer) = new.remove(0);
    let watch = Arc::new(Watch {
        born: CUTS.load(Ordering::SeqCst),
        fd,
        local,
        peer,
        limit,
        state: Mutex::new(State::default()),
    });
    watchdog().register(&watch);
    Ok((conn, Some(StatementTimer(watch))))
}

struct Watchdog {
    watches: Mutex<Vec<Weak<Watch>>>,
}

impl Watchdog {
    fn register(&self, watch: &Arc<Watch>) {
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(watch));
    }

    fn sweep(&self) {
        let watches: Vec<Arc<Watch>> = {
            let mut all = self.watches.lock().unwrap_or_else(|p| p.into_inner());
            all.retain(|w| w.strong_count() > 0);
            all.iter().filter_map(Weak::upgrade).collect()
        };
        for watch in watches {
            let mut state = watch.state.lock().unwrap_or_else(|p| p.into_inner());
            let overdue = state
                .running_since
                .is_some_and(|since| since.elapsed() > watch.limit);
            // The fd still names the same socket (a closed connection's number may be reused).
            if overdue && !state.cut && addresses(watch.fd) == Some((watch.local, watch.peer)) {
                // SAFETY: `shutdown` on an fd whose socket was just checked; it closes nothing.
                unsafe { libc::shutdown(watch.fd, libc::SHUT_RDWR) };
                state.cut = true;
                state.cut_rerunnable =
                    state.in_transaction && !state.commit_pending && !state.committed;
                CUTS.fetch_add(1, Ordering::SeqCst);
                log::warn!(
                    "a database statement had no answer after {}: its connection to {} is closed",
                    humantime::format_duration(watch.limit),
                    watch.peer
                );
            }
        }
    }
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            watches: Mutex::new(Vec::new()),
        }));
        std::thread::Builder::new()
            .name("db-deadlines".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(200));
                    watchdog.sweep();
                }
            })
            .expect("a thread for the database deadlines");
        watchdog
    })
}

/// This process's TCP sockets connected to `port`: (fd, local address, peer address).
fn tcp_sockets_to(port: u16) -> impl Iterator<Item = (RawFd, SocketAddr, SocketAddr)> {
    std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .filter_map(|fd| addresses(fd).map(|(local, peer)| (fd, local, peer)))
        .filter(move |(_, _, peer)| peer.port() == port)
}

/// The local and peer addresses of `fd` when it is a connected TCP socket.
fn addresses(fd: RawFd) -> Option<(SocketAddr, SocketAddr)> {
    Some((
        socket_address(fd, libc::getsockname)?,
        socket_address(fd, libc::getpeername)?,
    ))
}

type NameFn =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

fn socket_address(fd: RawFd, name: NameFn) -> Option<SocketAddr> {
    // SAFETY: a zeroed sockaddr_storage is valid; the call writes at most `len` bytes into it.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let rc = unsafe { name(fd, (&raw mut storage).cast(), &mut len) };
    if rc != 0 {
        return None;
    }
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let addr: libc::sockaddr_in = unsafe { *(&raw const storage).cast() };
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr))),
                u16::from_be(addr.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let addr: libc::sockaddr_in6 = unsafe { *(&raw const storage).cast() };
            Some(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(addr.sin6_addr.s6_addr)),
                u16::from_be(addr.sin6_port),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A watched connection to a peer that never answers (the listener and stream keep it open).
    fn watched() -> (std::net::TcpListener, std::net::TcpStream, StatementTimer) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stream, timer) = establish_watched(port, Duration::from_millis(100), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
        })
        .unwrap();
        (listener, stream, timer.expect("the new socket is found"))
    }

    fn start_statement(timer: &StatementTimer) {
        timer.state().running_since = Some(Instant::now());
    }

    fn wait_for_cut(timer: &StatementTimer) {
        let started = Instant::now();
        while !timer.was_cut() {
            assert!(started.elapsed() < Duration::from_secs(2), "cut");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_new_socket_to_a_port_is_found_and_cut_when_its_statement_overruns() {
        let (_listener, stream, mut timer) = watched();
        start_statement(&timer);
        timer.state().answered(false);
        std::thread::sleep(Duration::from_millis(400));
        assert!(!timer.was_cut(), "a finished statement is not timed");
        start_statement(&timer);
        let started = Instant::now();
        // The peer never answers: the read ends when the watchdog shuts the socket down.
        let mut buf = [0u8; 1];
        let read = std::io::Read::read(&mut &stream, &mut buf).unwrap();
        assert_eq!(read, 0, "end of stream after the shutdown");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(timer.was_cut());
        assert!(is_cut(&mut timer));
        assert!(
            !was_cut_before_commit(&mut timer),
            "an autocommit statement may have been applied"
        );
    }

    #[test]
    fn a_statement_cut_inside_a_transaction_before_its_commit_may_run_again() {
        let (_listener, _stream, mut timer) = watched();
        note_step(&mut timer, TxStep::Begin);
        start_statement(&timer);
        wait_for_cut(&timer);
        assert!(was_cut_before_commit(&mut timer));
    }

    #[test]
    fn a_statement_cut_while_its_commit_was_sent_may_have_committed() {
        let (_listener, _stream, mut timer) = watched();
        note_step(&mut timer, TxStep::Begin);
        note_step(&mut timer, TxStep::Commit);
        start_statement(&timer);
        wait_for_cut(&timer);
        assert!(!was_cut_before_commit(&mut timer));
    }

    #[test]
    fn a_cut_after_an_earlier_transaction_of_the_work_committed_is_not_rerun() {
        let (_listener, _stream, mut timer) = watched();
        start_work(&mut timer);
        note_step(&mut timer, TxStep::Begin);
        note_step(&mut timer, TxStep::Commit);
        timer.state().answered(false);
        note_step(&mut timer, TxStep::Begin);
        start_statement(&timer);
        wait_for_cut(&timer);
        assert!(
            !was_cut_before_commit(&mut timer),
            "the first one would repeat"
        );
    }

    #[test]
    fn a_commit_refused_by_the_server_leaves_the_work_rerunnable() {
        let (_listener, _stream, mut timer) = watched();
        // An earlier work's commit belongs to it alone.
        note_step(&mut timer, TxStep::Begin);
        note_step(&mut timer, TxStep::Commit);
        timer.state().answered(false);
        start_work(&mut timer);
        // A certification conflict at COMMIT, then the retry's statement gets no answer.
        note_step(&mut timer, TxStep::Begin);
        note_step(&mut timer, TxStep::Commit);
        timer.state().answered(true);
        note_step(&mut timer, TxStep::Rollback);
        note_step(&mut timer, TxStep::Begin);
        start_statement(&timer);
        wait_for_cut(&timer);
        assert!(was_cut_before_commit(&mut timer));
    }
}
