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
    /// A commit was asked for and no transaction began since: a statement cut now may have
    /// committed (the server may have applied the COMMIT whose answer never came).
    committing: bool,
    cut_while_committing: bool,
}

/// The instrumentation a watched connection carries.
pub struct StatementTimer(Arc<Watch>);

impl Instrumentation for StatementTimer {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.statement_started(),
            InstrumentationEvent::FinishQuery { .. } => self.statement_finished(),
            InstrumentationEvent::BeginTransaction { .. } => self.set_committing(false),
            InstrumentationEvent::CommitTransaction { .. } => self.set_committing(true),
            _ => {}
        }
    }
}

impl StatementTimer {
    fn statement_started(&self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running_since = Some(Instant::now());
    }

    fn statement_finished(&self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running_since = None;
    }

    fn set_committing(&self, committing: bool) {
        self.0
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .committing = committing;
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

/// True when `instrumentation` is a watched connection whose statement ran out of time before
/// any commit was asked for: the server rolls such a transaction back as the connection drops,
/// so its work may run again on another connection.
pub fn was_cut_before_commit(instrumentation: &mut dyn Instrumentation) -> bool {
    instrumentation
        .downcast_ref::<StatementTimer>()
        .is_some_and(|timer| {
            let state = timer.0.state.lock().unwrap_or_else(|p| p.into_inner());
            state.cut && !state.cut_while_committing
        })
}

/// Notes on a watched connection that a transaction begins (`false`) or that its commit is
/// being sent (`true`), for the transactions that run without Diesel's transaction manager
/// (`SET autocommit = 0` ... `SET autocommit = 1`).
pub fn note_commit(instrumentation: &mut dyn Instrumentation, committing: bool) {
    if let Some(timer) = instrumentation.downcast_ref::<StatementTimer>() {
        timer.set_committing(committing);
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

static ESTABLISHING: Mutex<()> = Mutex::new(());

/// Opens a connection with `open` and finds its TCP socket to `server_port`; `None` when it
/// cannot be told apart (a Unix socket, or another connection opened outside this module at the
/// same moment).
pub fn establish_watched<C, E>(
    server_port: u16,
    limit: Duration,
    open: impl FnOnce() -> Result<C, E>,
) -> Result<(C, Option<StatementTimer>), E> {
    let _one_at_a_time = ESTABLISHING.lock().unwrap_or_else(|p| p.into_inner());
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
                state.cut_while_committing = state.committing;
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

    #[test]
    fn the_new_socket_to_a_port_is_found_and_cut_when_its_statement_overruns() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stream, timer) = establish_watched(port, Duration::from_millis(100), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
        })
        .unwrap();
        let mut timer = timer.expect("the new socket is found");
        timer.statement_started();
        timer.statement_finished();
        std::thread::sleep(Duration::from_millis(400));
        assert!(!timer.was_cut(), "a finished statement is not timed");
        timer.statement_started();
        let started = Instant::now();
        // The peer never answers: the read ends when the watchdog shuts the socket down.
        let mut buf = [0u8; 1];
        let read = std::io::Read::read(&mut &stream, &mut buf).unwrap();
        assert_eq!(read, 0, "end of stream after the shutdown");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(timer.was_cut());
        assert!(is_cut(&mut timer));
        assert!(was_cut_before_commit(&mut timer));
    }

    #[test]
    fn a_statement_cut_while_its_commit_was_sent_may_have_committed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_stream, timer) = establish_watched(port, Duration::from_millis(100), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
        })
        .unwrap();
        let mut timer = timer.expect("the new socket is found");
        note_commit(&mut timer, false);
        note_commit(&mut timer, true);
        timer.statement_started();
        let started = Instant::now();
        while !timer.was_cut() {
            assert!(started.elapsed() < Duration::from_secs(2), "cut");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!was_cut_before_commit(&mut timer));
    }
}
