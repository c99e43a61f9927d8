//! A `redis-server` of a test's own: on a free loopback port, in a temp dir, persisting
//! nothing, stopped (killed and waited for) when dropped, pass or fail.
//!
//! `redis-server` is the Debian package of that name (`.ci/run` installs it). A test asks
//! [`RedisServer::available`] first: outside CI a missing server is a printed skip, under
//! `CI` it is a failure.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server has to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A running `redis-server` of a test's own: on a free loopback port, in a temp dir,
/// persisting nothing (`--save '' --appendonly no`), killed and waited for when dropped, pass
/// or fail. `redis-server` is the Debian package of that name (`.ci/run` installs it); ask
/// [`RedisServer::available`] first.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Where `redis-server` is, if installed.
    pub fn binary() -> Option<PathBuf> {
        [
            "/usr/bin/redis-server",
            "/usr/local/bin/redis-server",
            "/usr/sbin/redis-server",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    }

    /// Whether a test can start a server: `true` when installed; otherwise a panic under
    /// `CI` (CI must install it) and a printed skip naming `test` outside it.
    pub fn available(test: &str) -> bool {
        if RedisServer::binary().is_some() {
            return true;
        }
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI must install redis-server (apt-get install redis-server; .ci/run does)"
        );
        eprintln!("{test}: skipped, redis-server is not installed (apt-get install redis-server)");
        false
    }

    /// Starts a server on a free loopback port and waits until it accepts connections.
    ///
    /// # Errors
    /// When `redis-server` is not installed, will not start, or is not ready in 10 s.
    pub fn start() -> io::Result<RedisServer> {
        let binary = RedisServer::binary()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "redis-server not installed"))?;
        let mut last = None;
        // A port found free can be taken before the server binds it: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port();
            let dir =
                std::env::temp_dir().join(format!("paceline-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let mut server = RedisServer {
                binary: binary.clone(),
                child: None,
                port,
                dir,
            };
            match server.restart() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the server (SIGKILL: what a crash looks like) and waits for it to exit. Its
    /// data is gone: nothing is persisted.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::stop`]) and waits
    /// until it accepts connections.
    ///
    /// # Errors
    /// When it will not start or is not ready in 10 s.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let log = std::fs::File::create(self.dir.join("redis.log"))?;
        let mut child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "redis-server exited ({status}): {}",
                    log.lines().last().unwrap_or_default()
                )));
            }
            if TcpStream::connect_timeout(
                &(Ipv4Addr::LOCALHOST, self.port).into(),
                Duration::from_millis(100),
            )
            .is_ok()
            {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "redis-server not ready in 10 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
