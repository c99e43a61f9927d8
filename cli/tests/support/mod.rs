//! Helpers the CLI's test files share (each file includes this module and uses what it needs).
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh, empty directory under the system's temp dir, named for the test and the process.
/// How extract reads the tests' scripted cursor lists: records under `/data`, the next cursor
/// at `/next`, sent back as `?cursor=`.
#[allow(dead_code)] // not every test binary reads a cursor list
pub const CURSOR_FLAGS: &[&str] = &[
    "--paginate",
    "cursor",
    "--items",
    "/data",
    "--next",
    "/next",
    "--param",
    "cursor",
];

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("paceline-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How one `paceline extract` ended.
pub struct Exit {
    /// The exit code; `None` when killed (past the deadline, or by a signal).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub seconds: f64,
    pub stderr: String,
}

/// `paceline extract URL -o OUT FLAGS...` (the binary `bin`), killed past `deadline`; its
/// standard error kept beside `out`.
pub fn extract_until(bin: &str, url: &str, out: &Path, flags: &[&str], deadline: Duration) -> Exit {
    let stderr_path = out.with_extension("stderr");
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("extract")
        .arg(url)
        .arg("-o")
        .arg(out)
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .expect("paceline starts");
    let (code, timed_out) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status.code(), false);
        }
        if started.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Exit {
        code,
        timed_out,
        seconds: started.elapsed().as_secs_f64(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    }
}

/// nginx, where Debian and others put it.
pub fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Every case file of `cli/tests/corpus/SUB/` (`*.json`), in name order, parsed.
pub fn corpus(sub: &str) -> Vec<(PathBuf, serde_json::Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let v = serde_json::from_slice(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, v)
        })
        .collect()
}

/// Runs `cmd` (stdin empty, both streams captured) and waits for it at most `limit`: its
/// output and how long it ran. Past `limit` the process is killed and the test fails: a hang,
/// named by `what`.
pub fn output_within(
    cmd: &mut Command,
    limit: Duration,
    what: &str,
) -> (std::process::Output, Duration) {
    let child = cmd
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => (output.unwrap(), started.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{what} still running after {limit:?}: a hang");
        }
    }
}

/// Runs `cmd` with `input` on its standard input; its output, both streams captured. The
/// process may exit before reading (a usage error): a broken pipe is not an error here, its
/// exit status says what happened.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn paceline");
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

/// Stops an nginx started with `-p prefix -c conf` and no daemon: `nginx -s stop` (its master
/// stops its workers), waited for up to 5 s, then SIGKILL. Killing the master outright would
/// leave its worker behind, orphaned, after the test.
#[allow(dead_code)]
pub fn stop_nginx(bin: &Path, prefix: &Path, conf: &Path, child: &mut std::process::Child) {
    if let Ok(None) = child.try_wait() {
        let _ = std::process::Command::new(bin)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(conf)
            .args(["-s", "stop"])
            .stderr(std::process::Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
