//! `paceline simulate` and `paceline serve`, run as a user would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testkit/scenarios")
        .join(format!("{name}.toml"))
        .to_string_lossy()
        .into_owned()
}

fn paceline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_paceline"))
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn simulate_json_has_the_contracted_keys() {
    let out = paceline(&[
        "simulate",
        &scenario("throttle-honest-xratelimit"),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "requests",
        "status_429",
        "status_5xx",
        "transport_errors",
        "utilisation",
        "virtual_duration_s",
        "records_expected",
        "records_delivered",
        "records_lost",
        "records_duplicated",
        "seed",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["status_429"], 0);
    assert!(v["utilisation"].as_f64().unwrap() >= 0.99);
    assert_eq!(v["seed"], 3);
}

#[test]
fn simulate_prints_a_report_a_trace_and_a_plot() {
    let svg = std::env::temp_dir().join(format!("paceline-plot-{}.svg", std::process::id()));
    let out = paceline(&[
        "simulate",
        &scenario("lying-headers"),
        "--trace",
        "--trace-lines",
        "3",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("utilisation"), "{text}");
    assert_eq!(
        text.lines().skip_while(|l| *l != "trace:").skip(1).count(),
        3,
        "{text}"
    );
    let drawn = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).ok();
    assert!(
        drawn.starts_with("<svg") && drawn.contains("virtual time (s)"),
        "{drawn:.200}"
    );
}

#[test]
fn simulate_refuses_a_bad_scenario() {
    let out = paceline(&["simulate", "/nonexistent/scenario.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serve_announces_its_port_and_answers_like_the_model() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paceline"))
        .args(["serve", &scenario("throttle-honest-github")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .expect(&first)
        .to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.write_all(b"GET /items HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("x-ratelimit-remaining: 4999"),
        "{response}"
    );
}
