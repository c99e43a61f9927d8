//! A byte relay in front of tiny_http, so that the server can close client connections itself.
//!
//! tiny_http owns the sockets it accepts: it offers no way to close one without answering, nor
//! to close idle keep-alive connections when the server stops (its connection threads block on
//! the client until the client leaves). So clients connect to the relay instead; for each client
//! connection the relay opens one connection to tiny_http and copies bytes both ways, untouched.
//! It never looks at HTTP. It keeps both sockets of each pair, keyed by the address tiny_http
//! reports as the request's remote address, so the server can cut one pair
//! ([`ScriptedResponse::drop_connection`](super::ScriptedResponse::drop_connection)) or all of
//! them (shutdown).
//!
//! Threads: one acceptor, and two per open connection (one per direction), all joined by
//! [`Relay::stop`]. At most [`MAX_CONNECTIONS`] are open at once; further clients wait in the
//! listen backlog until one closes.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::MAX_CONNECTIONS;

/// The relay: its listener's address, the open links, the acceptor thread.
pub(super) struct Relay {
    addr: SocketAddr,
    links: Arc<Links>,
    acceptor: Option<JoinHandle<()>>,
}

/// Cuts links; handed to the server's workers.
#[derive(Clone)]
pub(super) struct Cutter(Arc<Links>);

/// The open links, shared by the acceptor, the link threads and the workers.
struct Links {
    state: Mutex<LinksState>,
    /// Signalled when a link closes or the relay stops.
    changed: Condvar,
}

struct LinksState {
    /// Keyed by the local address of the upstream socket (tiny_http's `remote_addr`).
    open: HashMap<SocketAddr, Link>,
    stopping: bool,
}

/// Both sockets of one relayed connection (clones of the ones the link threads use).
struct Link {
    client: TcpStream,
    upstream: TcpStream,
}

impl Link {
    /// Closes both directions of both sockets: blocked reads return end-of-stream, blocked
    /// writes fail, and the client reads end-of-stream.
    fn cut(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
    }
}

impl Links {
    fn lock(&self) -> MutexGuard<'_, LinksState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Cutter {
    /// Cuts the connection whose upstream socket tiny_http sees as `peer`. Unknown peers (a
    /// connection already gone) are ignored.
    pub(super) fn cut(&self, peer: SocketAddr) {
        if let Some(link) = self.0.lock().open.get(&peer) {
            link.cut();
        }
    }
}

impl Relay {
    /// Listens on `127.0.0.1:port` (0: a port the OS picks) and relays every connection to
    /// `upstream`.
    pub(super) fn start(port: u16, upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        let addr = listener.local_addr()?;
        let links = Arc::new(Links {
            state: Mutex::new(LinksState {
                open: HashMap::new(),
                stopping: false,
            }),
            changed: Condvar::new(),
        });
        let acceptor = {
            let links = Arc::clone(&links);
            thread::Builder::new()
                .name("paceline-loopback-accept".into())
                .spawn(move || accept_loop(&listener, upstream, &links))?
        };
        Ok(Self {
            addr,
            links,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients connect.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle for cutting single connections.
    pub(super) fn cutter(&self) -> Cutter {
        Cutter(Arc::clone(&self.links))
    }

    /// Stops accepting, cuts every open connection and joins all relay threads. Idempotent.
    pub(super) fn stop(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.links.lock().stopping = true;
        self.links.changed.notify_all();
        // Wakes the acceptor if it is blocked in `accept`; it sees `stopping` and ends.
        let _ = TcpStream::connect(self.addr);
        // The acceptor only copies bytes and cannot panic short of a bug in std; if it did, the
        // panic has been printed already and the relay is stopped either way.
        let _ = acceptor.join();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Accepts clients until the relay stops, then cuts every link; the scope joins the link
/// threads before returning.
fn accept_loop(listener: &TcpListener, upstream: SocketAddr, links: &Links) {
    thread::scope(|scope| {
        loop {
            {
                let mut state = links.lock();
                while !state.stopping && state.open.len() >= MAX_CONNECTIONS {
                    state = links
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if state.stopping {
                    break;
                }
            }
            let accepted = listener.accept();
            if links.lock().stopping {
                break;
            }
            let Ok((client, _)) = accepted else {
                // Transient (a client gave up before being accepted) or resource exhaustion;
                // a short pause keeps the latter from spinning a core.
                thread::sleep(Duration::from_millis(10));
                continue;
            };
            match open_link(client, upstream, links) {
                Ok((key, client, upstream)) => {
                    scope.spawn(move || relay_link(key, client, upstream, links));
                }
                Err(_) => continue, // the client's connection is dropped, which closes it
            }
        }
        for link in links.lock().open.values() {
            link.cut();
        }
    });
}

/// Connects upstream and registers the pair before any byte flows, so a request tiny_http
/// reports can always be traced back to its link.
fn open_link(
    client: TcpStream,
    upstream: SocketAddr,
    links: &Links,
) -> io::Result<(SocketAddr, TcpStream, TcpStream)> {
    let upstream = TcpStream::connect(upstream)?;
    // Small writes (a response head, then its body) should not wait for Nagle's algorithm.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let key = upstream.local_addr()?;
    let link = Link {
        client: client.try_clone()?,
        upstream: upstream.try_clone()?,
    };
    links.lock().open.insert(key, link);
    Ok((key, client, upstream))
}

/// Copies bytes both ways until either side is done, then closes the pair and unregisters it.
fn relay_link(key: SocketAddr, mut client: TcpStream, mut upstream: TcpStream, links: &Links) {
    let halves = client
        .try_clone()
        .and_then(|c| Ok((c, upstream.try_clone()?)));
    if let Ok((mut client_read, mut upstream_write)) = halves {
        thread::scope(|scope| {
            scope.spawn(move || {
                let _ = io::copy(&mut client_read, &mut upstream_write);
                // The client sent all it will: tiny_http sees end-of-stream after the requests
                // it has, and still answers them.
                let _ = upstream_write.shutdown(Shutdown::Write);
            });
            let _ = io::copy(&mut upstream, &mut client);
            // tiny_http closed its side (after `Connection: close`, or the link was cut): the
            // connection is over. This also ends the other direction's blocked read.
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
        });
    }
    links.lock().open.remove(&key);
    links.changed.notify_all();
}
