//! Digest send throughput of the real binary: seeds N confirmed readers, composes a digest of
//! ten Italian articles, starts `iscriviti serve` against a counting SMTP sink, runs
//! `iscriviti digest send`, and measures until the sink has N messages. Prints msgs/s, CPU per
//! delivered message (the service's: rendering, MIME, SMTP and recording outcomes; the
//! `digest send` command's: writing a delivery row per reader; on PostgreSQL the server's) and
//! the service's peak RSS; repeats ROUNDS times on a fresh database and prints the medians.
//!
//!   cargo bench --bench send                    # SQLite, 100,000 readers
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench send
//!   READERS=1000000 ROUNDS=1 cargo bench --bench send
//!   CONNECTIONS=16 BATCH=1000 cargo bench --bench send   # engine settings
//!   DKIM_KEY=tests/fixtures/dkim-ed25519.pem cargo bench --bench send   # with DKIM signing
//!   WAIT=1 cargo bench --bench send   # `digest send --wait` beside the server (its CPU counted)
//!   PROGRESS_VIEW=1 cargo bench --bench send   # an editor's progress page open during the send
//!
//! PROGRESS_VIEW=1 signs an editor in, loads the digest's progress page (and its script) and
//! polls its counts every 2 seconds, as the page does, for the whole send: that work is part of
//! the service's CPU.
//!
//! After each send it also times `iscriviti digest status` (the query `--wait` polls), median
//! of five runs of the whole command.

mod common;

use std::time::{Duration, Instant};

use common::{
    children_cpu_seconds, cpu_seconds, cpu_seconds_of_all, free_port, median, peak_rss_mib, run,
    seed, serve, sign_in, sink::Sink, BenchDb,
};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let (readers, rounds) = (env_or("READERS", 100_000), env_or("ROUNDS", 3));
    let connections = env_or("CONNECTIONS", 32);
    let batch = env_or("BATCH", 500);
    let long_summaries = env_or("LONG_SUMMARIES", 0) == 1;
    let (mut rates, mut cpus, mut rsss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut totals, mut servers) = (Vec::new(), Vec::new());
    let mut backend = "";
    for round in 1..=rounds {
        let db = BenchDb::create();
        backend = db.backend;
        run(&db, &["migrate"]);
        run(
            &db,
            &[
                "list",
                "create",
                "newsletter",
                "--name",
                "Economia",
                "--from",
                "Redazione <redazione@example.org>",
            ],
        );
        seed(&db, readers);
        let summary = "Il porto cresce ancora: più navi, più merci e un’intesa «storica» con le ferrovie. Perché è così? Lo spiegano gli armatori, già al lavoro sulla città di domani. ";
        // LONG_SUMMARIES=1: one 1,700-octet paragraph per article, a line too long for 8bit, so
        // the bodies go quoted-printable.
        let summary = summary.repeat(if long_summaries { 10 } else { 1 });
        for i in 1..=10 {
            let url = format!("https://www.example.org/articolo-{i}");
            let title = format!("Il porto di Trieste, capitolo {i}: “è già più grande”");
            run(
                &db,
                &[
                    "article",
                    "add",
                    "--title",
                    &title,
                    "--url",
                    &url,
                    "--author",
                    "Niccolò Ferrè",
                    "--summary",
                    summary.trim_end(),
                ],
            );
        }
        let id = run(
            &db,
            &[
                "digest",
                "create",
                "--list",
                "newsletter",
                "--subject",
                "Le notizie più lette della settimana",
            ],
        );
        let id = id.trim().to_owned();
        let progress_view = env_or("PROGRESS_VIEW", 0) == 1;
        let password = "bench password long enough";
        if progress_view {
            common::iscriviti(
                &db,
                1,
                &[("ISCRIVITI_PASSWORD", password.into())],
                &[
                    "user",
                    "create",
                    "redazione@example.org",
                    "--role",
                    "editor",
                ],
            )
            .status()
            .unwrap();
        }

        let sink = Sink::start().await;
        let port = free_port();
        let mut env = vec![
            ("ISCRIVITI_DIGEST_CONNECTIONS", connections.to_string()),
            ("ISCRIVITI_DIGEST_BATCH_SIZE", batch.to_string()),
        ];
        if let Ok(key) = std::env::var("DKIM_KEY") {
            env.push(("ISCRIVITI_DKIM_KEY_FILE", key));
            env.push(("ISCRIVITI_DKIM_DOMAIN", "example.org".to_owned()));
        }
        let mut server = serve(&db, sink.port, port, &env).await;
        let pid = server.id();
        let viewer = match progress_view {
            true => Some(ProgressView::open(port, &id, password).await),
            false => None,
        };
        let cpu_before = cpu_seconds(pid);
        let sink_cpu_before = cpu_seconds(std::process::id());
        let db_cpu_before = cpu_seconds_of_all("postgres");
        let started = Instant::now();
        // The command that starts the send also freezes its audience: one delivery row per
        // reader, written by that process (and, on PostgreSQL, the server).
        let cli_cpu_before = children_cpu_seconds();
        let waiting = if env_or("WAIT", 0) == 1 {
            // Runs until the digest is sent, beside the server: its CPU is counted when it
            // has been waited for, below.
            let child = common::iscriviti(&db, sink.port, &[], &["digest", "send", &id, "--wait"])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            Some(child)
        } else {
            run(&db, &["digest", "send", &id]);
            None
        };
        let deadline = Instant::now() + Duration::from_secs(1800);
        while sink.received() < readers as u64 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        if let Some(viewer) = viewer {
            let polls = viewer.close().await;
            println!("round {round}: the progress view polled {polls} times");
        }
        if let Some(mut child) = waiting {
            child.wait().unwrap();
        }
        let cli_cpu = children_cpu_seconds() - cli_cpu_before;
        let cpu = cpu_seconds(pid) - cpu_before;
        let sink_cpu = cpu_seconds(std::process::id()) - sink_cpu_before;
        let db_cpu = cpu_seconds_of_all("postgres") - db_cpu_before;
        let rss = peak_rss_mib(pid);
        server.kill().ok();
        server.wait().ok();
        let status_ms = median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    run(&db, &["digest", "status", &id]);
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        );
        assert_eq!(
            sink.received(),
            readers as u64,
            "every reader got the digest"
        );
        let rate = readers as f64 / elapsed;
        let per = |seconds: f64| seconds / readers as f64 * 1e6;
        let (cpu_per, cli_per) = (per(cpu), per(cli_cpu));
        println!(
            "round {round} ({backend}): {readers} messages in {elapsed:.2} s = {rate:.0} msgs/s; CPU per message: service {cpu_per:.1} µs + `digest send` {cli_per:.1} µs = {:.1} µs (sink: {:.1} µs, PostgreSQL server: {:.1} µs); peak RSS {rss:.1} MiB; `digest status` {status_ms:.0} ms",
            cpu_per + cli_per,
            per(sink_cpu),
            per(db_cpu),
        );
        rates.push(rate);
        cpus.push(cpu_per);
        totals.push(cpu_per + cli_per);
        servers.push(per(db_cpu));
        rsss.push(rss);
    }
    println!(
        "median of {rounds} ({backend}, {readers} readers, {connections} SMTP connections, batches of {batch}): {:.0} msgs/s, {:.1} µs service CPU per message ({:.1} µs with `digest send`; PostgreSQL server {:.1} µs), peak RSS {:.1} MiB",
        median(rates), median(cpus), median(totals), median(servers), median(rsss)
    );
}

/// An editor's progress page: loaded once with its script, then its counts polled every two
/// seconds, as progress.js does, until closed.
struct ProgressView {
    stop: tokio::sync::oneshot::Sender<()>,
    polls: tokio::task::JoinHandle<usize>,
}

impl ProgressView {
    async fn open(port: u16, id: &str, password: &str) -> Self {
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let session = sign_in(&http, &base, "redazione@example.org", password).await;
        let cookie = format!("iscriviti_session={session}");
        for path in [format!("/admin/digests/{id}"), "/static/progress.js".into()] {
            let res = http
                .get(format!("{base}{path}"))
                .header("Cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
        }
        let url = format!("{base}/admin/digests/{id}/progress");
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let polls = tokio::spawn(async move {
            let mut n = 0;
            loop {
                let res = http
                    .get(&url)
                    .header("Cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                res.bytes().await.unwrap();
                n += 1;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = &mut stopped => return n,
                }
            }
        });
        Self { stop, polls }
    }

    async fn close(self) -> usize {
        let _ = self.stop.send(());
        self.polls.await.unwrap()
    }
}
