//! Signup throughput of the real binary: N form POSTs with distinct addresses from C concurrent
//! clients, each recorded with its confirmation mail in the outbox and delivered by the worker
//! into a counting SMTP sink. Prints signups/s, server CPU per signup and peak RSS; repeats
//! ROUNDS times on a fresh database and prints the medians.
//!
//!   cargo bench --bench signup                     # SQLite
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/postgres cargo bench --bench signup
//!   SIGNUPS=20000 CLIENTS=64 ROUNDS=3 cargo bench --bench signup

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cpu_seconds, free_port, median, peak_rss_mib, serve, sink::Sink, BenchDb};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let (signups, clients, rounds) = (
        env_or("SIGNUPS", 20_000),
        env_or("CLIENTS", 64),
        env_or("ROUNDS", 3),
    );
    let mut rates = Vec::new();
    let mut cpus = Vec::new();
    let mut rsss = Vec::new();
    let mut backend = "";
    for round in 1..=rounds {
        let db = BenchDb::create();
        backend = db.backend;
        let sink = Sink::start().await;
        let port = free_port();
        let mut server = serve(
            &db,
            sink.port,
            port,
            &[("ISCRIVITI_SIGNUPS_PER_IP_PER_MINUTE", "0".into())],
        )
        .await;
        let pid = server.id();
        let cpu_before = cpu_seconds(pid);
        let next = Arc::new(AtomicUsize::new(0));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .unwrap();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (next, client) = (next.clone(), client.clone());
            let url = format!("http://127.0.0.1:{port}/subscribe");
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= signups {
                        return latencies;
                    }
                    let t = Instant::now();
                    let res = client
                        .post(&url)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(format!("email=lettore{i}%40example.org&name=Lettore+{i}&lists=newsletter&lang=it"))
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(res.status(), 200, "signup {i}");
                    res.bytes().await.unwrap();
                    latencies.push(t.elapsed());
                }
            }));
        }
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu_before;
        // Every confirmation mail must arrive, exactly once each.
        let deadline = Instant::now() + Duration::from_secs(120);
        while sink.received() < signups as u64 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let rss = peak_rss_mib(pid);
        server.kill().ok();
        server.wait().ok();
        latencies.sort();
        let p =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        let rate = signups as f64 / elapsed;
        println!(
            "round {round} ({backend}): {signups} signups in {elapsed:.2} s = {rate:.0}/s; server CPU {:.1} µs/signup (requests + delivery); p50 {:?} p99 {:?}; {} mails delivered; peak RSS {rss:.1} MiB",
            cpu / signups as f64 * 1e6,
            p(0.5),
            p(0.99),
            sink.received(),
        );
        assert_eq!(
            sink.received(),
            signups as u64,
            "every confirmation mail arrives"
        );
        rates.push(rate);
        cpus.push(cpu / signups as f64 * 1e6);
        rsss.push(rss);
    }
    println!(
        "median of {rounds} ({backend}, {clients} clients): {:.0} signups/s, {:.1} µs server CPU per signup, peak RSS {:.1} MiB",
        median(rates),
        median(cpus),
        median(rsss)
    );
}
