//! The HTML report opened in headless Chromium (Debian's `chromium` package): it
//! renders non-blank, its charts are drawn, and it makes no network request: every
//! request goes to a proxy this test listens on (which answers nothing), and none but
//! Chromium's own background calls arrive. A control page that does fetch proves the
//! proxy sees page requests.
#![cfg(feature = "charts")]
use crate::report_common;

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lgb_core::report::{Format, Report};
use report_common::{run, slow_run};

fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("LGB_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("headless Chromium is needed for this test: install Debian's package (apt-get install chromium) or set LGB_CHROMIUM");
}

/// Records the first line of every request to a local port that Chromium is told to
/// use as its proxy.
fn recording_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).unwrap_or(0);
            let line = String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(line);
        }
    });
    (port, seen)
}

/// Hosts Chromium itself calls (component updates, sign-in) whatever the page is;
/// requests to them are not the page's.
const BROWSER_HOSTS: [&str; 4] = [
    "update.googleapis.com",
    "accounts.google.com",
    "clients2.google.com",
    "clientservices.googleapis.com",
];

fn page_requests(all: &[String]) -> Vec<String> {
    all.iter()
        .filter(|line| {
            !BROWSER_HOSTS
                .iter()
                .any(|h| line.contains(&format!(" {h}:")) || line.contains(&format!("//{h}/")))
        })
        .cloned()
        .collect()
}

struct Rendered {
    stderr: String,
    requests: Vec<String>,
    screenshot: Vec<u8>,
}

fn render(html: &str) -> Rendered {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("report.html");
    std::fs::write(&page, html).unwrap();
    let shot = tmp.path().join("shot.png");
    let (port, requests) = recording_proxy();
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--metrics-recording-only",
            "--no-pings",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--proxy-server=http://127.0.0.1:{port}"))
        .arg("--proxy-bypass-list=<-loopback>")
        .arg(format!("--user-data-dir={}", tmp.path().join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {stderr}");
    // Give a late connection time to be recorded.
    std::thread::sleep(Duration::from_millis(300));
    let requests = requests.lock().unwrap().clone();
    Rendered {
        stderr,
        requests,
        screenshot: std::fs::read(&shot).unwrap(),
    }
}

#[test]
fn the_harness_sees_a_page_fetch() {
    let r = render(
        "<!DOCTYPE html><html><body><img src=\"http://example.invalid/pixel.png\"></body></html>",
    );
    let page = page_requests(&r.requests);
    assert!(
        page.iter().any(|l| l.contains("example.invalid")),
        "the proxy saw {:?}",
        r.requests
    );
}

#[test]
fn headless_chromium_renders_the_page_without_network_requests() {
    let report = Report::compare(vec![run(), slow_run()]).unwrap();
    let html = String::from_utf8(report.to_bytes(Format::Html).unwrap()).unwrap();
    let r = render(&html);
    for bad in ["Uncaught", "CONSOLE(", "net::ERR_"] {
        assert!(
            !r.stderr.contains(bad),
            "console or network error `{bad}`:\n{}",
            r.stderr
        );
    }
    let page = page_requests(&r.requests);
    assert!(page.is_empty(), "the page made network requests: {page:?}");

    let mut reader = png::Decoder::new(std::io::Cursor::new(&r.screenshot))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000));
    let channels = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let white = px.iter().filter(|p| p[..3] == [255, 255, 255]).count();
    assert!(
        white < px.len() * 98 / 100,
        "screenshot is blank: {white} of {} white",
        px.len()
    );
    // The charts' series colours are on screen, so the SVGs were drawn.
    for (r, g, b) in [(31u8, 119u8, 180u8), (255, 127, 14)] {
        let near =
            |p: &&&[u8]| p[0].abs_diff(r) < 12 && p[1].abs_diff(g) < 12 && p[2].abs_diff(b) < 12;
        assert!(
            px.iter().filter(near).count() > 200,
            "too few pixels of colour ({r},{g},{b})"
        );
    }
}

/// A memory sweep as `lgb sweep` writes it: cost falls then rises, latency falls with
/// memory, cold workers slower than warm; 512 MB recommended.
fn sweep_report() -> lgb_core::sweep::SweepReport {
    use lgb_core::sweep::{StartLatencies, SweepPlan, SweepPoint, SweepReport};
    let point = |mb: u32, p50_ms: f64, p99_ms: f64, cost: f64| SweepPoint {
        memory_mb: mb,
        operations: 10_000,
        throughput: 1000.0,
        p50_ns: (p50_ms * 1e6) as u64,
        p99_ns: (p99_ms * 1e6) as u64,
        mean_ns: p50_ms * 1.1e6,
        billed_gb_seconds: f64::from(mb) / 1024.0 * 10.0,
        cost_per_million_ops_usd: Some(cost),
        lambda_per_million_ops_usd: Some(cost * 0.7),
        database_per_million_ops_usd: Some(cost * 0.3),
        seen_memory_mb: vec![mb],
        workers: 10,
        cold_workers: 4,
        cold: Some(StartLatencies {
            workers: 4,
            operations: 4000,
            p50_ns: (p50_ms * 1.5e6) as u64,
            p99_ns: (p99_ms * 1.8e6) as u64,
        }),
        warm: Some(StartLatencies {
            workers: 6,
            operations: 6000,
            p50_ns: (p50_ms * 1e6) as u64,
            p99_ns: (p99_ms * 0.9e6) as u64,
        }),
        version: Some(mb.to_string()),
    };
    let points = vec![
        point(128, 9.0, 40.0, 0.9),
        point(512, 4.0, 14.0, 0.6),
        point(1024, 3.0, 9.0, 0.8),
        point(1769, 2.8, 8.0, 1.2),
    ];
    let plan = SweepPlan::new(vec![128, 512, 1024, 1769], Some(Duration::from_millis(20))).unwrap();
    let report = SweepReport::new(points, &plan, 1024);
    assert_eq!(report.recommended, Some(512));
    report
}

/// Pixels of `rgb` (within 12 per channel) in a decoded PNG.
fn pixels_near(png_bytes: &[u8], (r, g, b): (u8, u8, u8)) -> (usize, (u32, u32)) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let n = buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p[0].abs_diff(r) < 12 && p[1].abs_diff(g) < 12 && p[2].abs_diff(b) < 12)
        .count();
    (n, (info.width, info.height))
}

/// The sweep chart, screenshot-tested like the report: the HTML report of a sweep
/// opens with it in headless Chromium (cost line blue, the recommendation's red mark
/// and line on screen), and the PNG report draws it too.
#[test]
fn the_sweep_chart_is_drawn_in_html_and_png() {
    let report = Report::new(run()).with_sweep(sweep_report());
    let html = String::from_utf8(report.to_bytes(Format::Html).unwrap()).unwrap();
    assert!(html.contains("<h2>Memory sweep</h2>") && html.contains("512 MB (recommended)"));
    assert!(
        html.contains("recommended (cost with p99 ≤ 20.0ms): 512 MB"),
        "{html}"
    );
    let r = render(&html);
    let page = page_requests(&r.requests);
    assert!(page.is_empty(), "the page made network requests: {page:?}");
    let (red, size) = pixels_near(&r.screenshot, (214, 39, 40));
    assert_eq!(size, (1280, 2000));
    assert!(
        red > 300,
        "too few pixels of the recommendation's red: {red}"
    );
    let (blue, _) = pixels_near(&r.screenshot, (31, 119, 180));
    assert!(blue > 300, "too few pixels of the cost line's blue: {blue}");
    // Without a sweep, no red mark: the red is the sweep's.
    let plain = String::from_utf8(Report::new(run()).to_bytes(Format::Html).unwrap()).unwrap();
    assert!(!plain.contains("Memory sweep"));

    let png = report.to_bytes(Format::Png).unwrap();
    let (red, (w, h)) = pixels_near(&png, (214, 39, 40));
    assert_eq!((w, h), (1200, 2250), "the sweep adds half the height");
    assert!(red > 300, "too few red pixels in the PNG: {red}");
}
