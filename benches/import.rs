//! Import throughput of the real binary: a generated CSV of N rows imported into a list on a
//! fresh database, then the same file again (which must change nothing). Prints rows/s and the
//! importer's peak memory; repeats ROUNDS times and prints the medians. ROWS=1000000 shows that
//! memory does not grow with the file.
//!
//!   cargo bench --bench import                     # SQLite
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/postgres cargo bench --bench import
//!   ROWS=100000 ROUNDS=3 cargo bench --bench import

mod common;

use std::io::{BufWriter, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{iscriviti, median, status_mib, BenchDb};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `rows` subscribers the way another tool exports them: extra columns, mixed case,
/// accented names, a quoted field now and then.
fn write_csv(path: &std::path::Path, rows: usize) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "Email,Name,Created,City").unwrap();
    let cities = ["Roma", "Milano", "\"Reggio, Emilia\"", "Forlì"];
    for i in 0..rows {
        writeln!(
            out,
            "Lettore.{i}@Example.org,Niccolò Lettore {i},2024-03-{:02} 10:00:00,{}",
            i % 28 + 1,
            cities[i % cities.len()]
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn run(db: &BenchDb, args: &[&str]) {
    let status = iscriviti(db, 25, &[], args)
        .status()
        .expect("the binary runs");
    assert!(status.success(), "iscriviti {args:?}");
}

fn main() {
    let (rows, rounds) = (env_or("ROWS", 100_000), env_or("ROUNDS", 3));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iscritti.csv");
    write_csv(&file, rows);
    let file = file.to_str().unwrap();
    let (mut rates, mut peaks, mut anons, mut agains) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut backend = "";
    for round in 1..=rounds {
        let db = BenchDb::create();
        backend = db.backend;
        run(&db, &["migrate"]);
        run(&db, &["list", "create", "newsletter", "--name", "News"]);

        let started = Instant::now();
        let mut child = iscriviti(&db, 25, &[], &["import", file, "--list", "newsletter"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let pid = child.id();
        // VmHWM is the kernel's own high-water mark; RssAnon has none, so it is sampled.
        let (mut peak, mut anon) = (0.0f64, 0.0f64);
        while child.try_wait().unwrap().is_none() {
            peak = peak.max(status_mib(pid, "VmHWM").unwrap_or(0.0));
            anon = anon.max(status_mib(pid, "RssAnon").unwrap_or(0.0));
            std::thread::sleep(Duration::from_millis(5));
        }
        let elapsed = started.elapsed().as_secs_f64();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let summary = String::from_utf8_lossy(&output.stdout);
        assert!(
            summary.starts_with(&format!("{rows} rows read: {rows} imported,")),
            "every row is imported: {summary}"
        );
        let rate = rows as f64 / elapsed;

        // The same file again: every row is found on the list and nothing is written.
        let started = Instant::now();
        let output = iscriviti(&db, 25, &[], &["import", file, "--list", "newsletter"])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        let again = rows as f64 / started.elapsed().as_secs_f64();
        let summary = String::from_utf8_lossy(&output.stdout);
        assert!(
            summary.starts_with(&format!("{rows} rows read: 0 imported, {rows} already")),
            "a re-run changes nothing: {summary}"
        );
        println!(
            "round {round} ({backend}): {rows} rows in {elapsed:.2} s = {rate:.0} rows/s (process start to exit); peak RSS {peak:.1} MiB, peak anonymous {anon:.1} MiB; the same file again: {again:.0} rows/s"
        );
        rates.push(rate);
        agains.push(again);
        peaks.push(peak);
        anons.push(anon);
    }
    println!(
        "median of {rounds} ({backend}, {rows} rows): {:.0} rows/s, peak RSS {:.1} MiB, peak anonymous {:.1} MiB; the same file again: {:.0} rows/s",
        median(rates),
        median(peaks),
        median(anons),
        median(agains)
    );
}
