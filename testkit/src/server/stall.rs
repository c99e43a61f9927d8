//! A server that stalls below HTTP, for testing client timeouts: [`StallingServer`].

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How a [`StallingServer`] stalls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stall {
    /// Reads the request, sends a `200` head announcing a 100-byte JSON body, then nothing: a
    /// half-dead proxy.
    AfterHead,
    /// Reads the request, sends a `200` head announcing `body`'s length, then `body` one byte
    /// every `every`. A body of a million bytes at one a second never ends in a test.
    Trickle {
        /// The time between two bytes (the first one included).
        every: Duration,
        /// What is sent, a byte at a time.
        body: Vec<u8>,
    },
    /// Reads the request and never answers (the connection stays open).
    Silent,
    /// Accepts nothing: the listen queue is full, so a connect hangs (the kernel drops the
    /// SYNs, as Linux and the BSDs do when a listener's backlog is full). No request is ever
    /// seen.
    Connect,
}

/// A TCP server on `127.0.0.1` that stalls in the way its [`Stall`] says, on every
/// connection, and counts the requests it read.
///
/// It writes its few bytes of HTTP by hand: its point is to misbehave below what an HTTP
/// server library allows. It stops on drop: every connection is closed (clients still waiting
/// read end-of-stream) and its threads are joined.
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::TcpStream;
/// use std::time::Duration;
/// use paceline_testkit::{Stall, StallingServer};
///
/// let server = StallingServer::start(Stall::AfterHead)?;
/// let mut tcp = TcpStream::connect(server.addr())?;
/// write!(tcp, "GET /items HTTP/1.1\r\nHost: test\r\n\r\n")?;
/// tcp.set_read_timeout(Some(Duration::from_millis(200)))?;
/// let mut head = [0; 15];
/// tcp.read_exact(&mut head)?;
/// assert_eq!(&head, b"HTTP/1.1 200 OK");
/// let mut rest = Vec::new();
/// // Then nothing: the read times out.
/// assert!(tcp.read_to_end(&mut rest).is_err());
/// assert_eq!(server.requests(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StallingServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    /// [`Stall::Connect`]: the listener (never accepted from) and the connection filling its
    /// queue.
    _full: Option<(socket2::Socket, TcpStream)>,
}

/// What the acceptor and the connection threads share.
struct Shared {
    stopping: AtomicBool,
    requests: AtomicUsize,
    /// Open connections (clones), closed on stop; and the connection threads, joined on stop.
    open: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
    /// Wakes trickling threads early when stopping.
    wake: (Mutex<()>, Condvar),
}

impl StallingServer {
    /// Starts a server on a port the OS picks.
    ///
    /// # Errors
    /// If a socket cannot be bound or a thread cannot be started.
    pub fn start(stall: Stall) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            open: Mutex::new(Vec::new()),
            wake: (Mutex::new(()), Condvar::new()),
        });
        if stall == Stall::Connect {
            use socket2::{Domain, Socket, Type};
            let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            listener.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
            // A backlog of 0 holds one connection; the one made here fills it.
            listener.listen(0)?;
            let addr = listener
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("not an inet address"))?;
            let filler = TcpStream::connect(addr)?;
            return Ok(StallingServer {
                addr,
                shared,
                acceptor: None,
                _full: Some((listener, filler)),
            });
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("paceline-stalling".into())
                .spawn(move || accept(&listener, &shared, &stall))?
        };
        Ok(StallingServer {
            addr,
            shared,
            acceptor: Some(acceptor),
            _full: None,
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests read so far (each one's head, up to its blank line).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for StallingServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            // Under the lock, so that no trickling thread checks the flag and then misses this.
            let _guard = self
                .shared
                .wake
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.shared.wake.1.notify_all();
        }
        if let Some(acceptor) = self.acceptor.take() {
            // Wakes the acceptor, which sees the flag and returns.
            let _ = TcpStream::connect(self.addr);
            let _ = acceptor.join();
        }
        let open = std::mem::take(
            &mut *self
                .shared
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (stream, _) in &open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (_, thread) in open {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for StallingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StallingServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>, stall: &Stall) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let thread = {
            let (shared, stall) = (Arc::clone(shared), stall.clone());
            thread::Builder::new()
                .name("paceline-stalling-conn".into())
                .spawn(move || {
                    // Errors mean the client left (or the server is stopping).
                    let _ = stall_one(stream, &shared, &stall);
                })
        };
        if let Ok(thread) = thread {
            shared
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((clone, thread));
        }
    }
}

/// Serves one connection: every request on it, stalled.
fn stall_one(mut stream: TcpStream, shared: &Shared, stall: &Stall) -> io::Result<()> {
    loop {
        read_head(&mut stream)?;
        shared.requests.fetch_add(1, Ordering::SeqCst);
        let Stall::Trickle { every, body } = stall else {
            break;
        };
        stream.write_all(&head(body.len()))?;
        for byte in body {
            let (lock, wake) = &shared.wake;
            let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = wake
                .wait_timeout_while(guard, *every, |()| !shared.stopping.load(Ordering::SeqCst))
                .unwrap_or_else(PoisonError::into_inner);
            if shared.stopping.load(Ordering::SeqCst) {
                return Ok(());
            }
            stream.write_all(&[*byte])?;
        }
        // The body is complete: a keep-alive client may send its next request.
    }
    if *stall == Stall::AfterHead {
        stream.write_all(&head(100))?;
    }
    // Hold the connection until the client leaves or the server stops (which shuts it down).
    let mut sink = [0; 1024];
    while stream.read(&mut sink)? > 0 {}
    Ok(())
}

/// Reads up to the blank line that ends a request head (requests here have no body).
fn read_head(stream: &mut TcpStream) -> io::Result<()> {
    let mut seen = Vec::new();
    let mut byte = [0; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        seen.push(byte[0]);
    }
    Ok(())
}

fn head(len: usize) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n")
        .into_bytes()
}
