//! Runs a scenario file and prints its report: `cargo run -p paceline-testkit --example simulate -- FILE`.
fn main() {
    for path in std::env::args().skip(1) {
        let s = paceline_testkit::scenario::Scenario::load(&path).expect("scenario");
        let t = std::time::Instant::now();
        let run = s.run();
        println!(
            "== {path} ({:.2} s wall)\n{}",
            t.elapsed().as_secs_f64(),
            run.report.to_text()
        );
    }
}
