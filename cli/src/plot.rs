//! `paceline simulate --plot out.svg`: the send rate against the limit over virtual time, with
//! throttled answers marked, drawn with plotters.

use std::path::Path;

use paceline_testkit::sim::Run;
use plotters::prelude::*;

/// Draws `run` into an SVG file at `path`.
pub fn draw(run: &Run, title: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let width = run.bucket_s.max(1e-9);
    let rates: Vec<(f64, f64)> = run
        .series
        .iter()
        .map(|b| (b.start_s, b.sent as f64 / width))
        .collect();
    let end_s = run
        .series
        .last()
        .map_or(1.0, |b| b.start_s + width)
        .max(1.0);
    let top = rates
        .iter()
        .map(|r| r.1)
        .chain(run.limit_rate)
        .fold(1.0_f64, f64::max)
        * 1.15;

    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..end_s, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc(format!("requests/s (per {width:.0} s)"))
        .draw()?;
    chart
        .draw_series(LineSeries::new(rates.iter().copied(), &BLUE))?
        .label("sent")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE));
    if let Some(limit) = run.limit_rate {
        chart
            .draw_series(LineSeries::new(vec![(0.0, limit), (end_s, limit)], &RED))?
            .label("limit")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED));
    }
    let marks = run
        .series
        .iter()
        .filter(|b| b.throttled > 0)
        .map(|b| Cross::new((b.start_s, b.sent as f64 / width), 4, RED.filled()));
    chart
        .draw_series(marks)?
        .label("429 in bucket")
        .legend(|(x, y)| Cross::new((x + 9, y), 4, RED.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
