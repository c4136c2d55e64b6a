//! The admin's subscriber search at scale, through the real binary and its HTTP pages: ROWS
//! readers (default 1,000,000) with Italian names are imported with `iscriviti import`, 2% of
//! them unsubscribe, an admin signs in, and each kind of search page is fetched REQUESTS times
//! (default 100, parameters varying) by one client. Prints p50 and p99 per kind and over
//! all, per round (ROUNDS, default 3, on the same database), then the medians.
//!
//!   cargo bench --bench search                     # SQLite
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1/postgres cargo bench --bench search
//!   ROWS=100000 REQUESTS=50 cargo bench --bench search
//!   BENCH_KEEP_DB=1 ...                          # keep the database, to EXPLAIN its queries

mod common;

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use common::{free_port, iscriviti, median, serve, sign_in, BenchDb};
use diesel::{Connection, RunQueryDsl};

const FIRST: &[&str] = &[
    "Giulia",
    "Marco",
    "Francesca",
    "Luca",
    "Chiara",
    "Alessandro",
    "Sara",
    "Matteo",
    "Martina",
    "Lorenzo",
    "Valentina",
    "Andrea",
    "Elena",
    "Davide",
    "Federica",
    "Simone",
    "Alessia",
    "Niccolò",
    "Giorgia",
    "Tommaso",
    "Anna",
    "Gabriele",
    "Ilaria",
    "Riccardo",
    "Beatrice",
    "Stefano",
    "Elisa",
    "Paolo",
    "Silvia",
    "Giovanni",
    "Laura",
    "Pietro",
    "Marta",
    "Filippo",
    "Camilla",
    "Emanuele",
    "Greta",
    "Nicola",
    "Aurora",
    "Fabio",
];
const LAST: &[&str] = &[
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Lombardo",
    "Serra",
    "Coppola",
    "De Santis",
    "D'Angelo",
    "Marchetti",
    "Parisi",
    "Villa",
    "Conte",
    "Ferraro",
    "Ferri",
    "Fabbri",
    "Bianco",
    "Marini",
    "Grasso",
    "Valentini",
    "Messina",
    "Sala",
    "De Angelis",
    "Gatti",
    "Pellegrini",
    "Palumbo",
    "Sanna",
    "Farina",
    "Rizzi",
    "Monti",
    "Cattaneo",
    "Morelli",
    "Amato",
    "Silvestri",
    "Mazza",
    "Testa",
    "Grassi",
    "Pellegrino",
    "Carbone",
    "Giuliani",
    "Benedetti",
    "Barone",
    "Rossetti",
    "Caputo",
    "Montanari",
    "Guerra",
    "Palmieri",
    "Bernardi",
    "Martino",
    "Fiore",
    "De Rosa",
    "Ferretti",
    "Bellini",
    "Basile",
    "Riva",
    "Donati",
    "Piras",
    "Vitali",
    "Battaglia",
    "Sartori",
    "Neri",
    "Costantini",
    "Milani",
    "Pagano",
    "Ruggiero",
    "Sorrentino",
    "D'Amico",
    "Orlando",
    "Damico",
    "Negri",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "libero.it",
    "outlook.it",
    "yahoo.it",
    "tiscali.it",
];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), so runs search the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn person(i: usize) -> (&'static str, &'static str) {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    (FIRST[r.next(FIRST.len())], LAST[r.next(LAST.len())])
}

fn address(i: usize) -> String {
    let (first, last) = person(i);
    let local = format!("{first}.{last}{i}")
        .to_lowercase()
        .replace([' ', '\''], "")
        .replace('ò', "o");
    format!("{local}@{}", DOMAINS[i % DOMAINS.len()])
}

fn write_csv(path: &std::path::Path, rows: usize) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "email,name").unwrap();
    for i in 0..rows {
        let (first, last) = person(i);
        writeln!(out, "{},{first} {last}", address(i)).unwrap();
    }
    out.flush().unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A kind of search page: its name and the query of its n-th request.
type Kind = (&'static str, Box<dyn Fn(usize) -> String>);

/// The kinds of search page.
fn kinds(rows: usize) -> Vec<Kind> {
    let q = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    vec![
        ("all, first page", Box::new(|_| String::new())),
        (
            "all, a deep page",
            Box::new(move |n| format!("before={}", 1 + (n * 7919) % rows)),
        ),
        (
            "status unsubscribed (2%)",
            Box::new(move |n| {
                format!(
                    "list=newsletter&status=unsubscribed&before={}",
                    rows - (n * 97) % rows
                )
            }),
        ),
        (
            "list + confirmed, deep",
            Box::new(move |n| {
                format!(
                    "list=newsletter&status=confirmed&before={}",
                    1 + (n * 7919) % rows
                )
            }),
        ),
        (
            "a surname",
            Box::new(move |n| format!("q={}", q(LAST[n % LAST.len()]))),
        ),
        (
            "first name + surname",
            Box::new(move |n| {
                let (f, l) = person(n * 31);
                format!("q={}", q(&format!("{f} {l}")))
            }),
        ),
        (
            "address prefix",
            Box::new(move |n| {
                let a = address((n * 104_729) % rows);
                format!("q={}", q(&a[..a.find('@').unwrap()]))
            }),
        ),
        (
            "one letter",
            Box::new(move |n| format!("q={}", ["m", "s", "g", "a", "z", "b"][n % 6])),
        ),
        (
            "surname + unsubscribed",
            Box::new(move |n| format!("q={}&status=unsubscribed", q(LAST[n % LAST.len()]))),
        ),
        ("no match", Box::new(|n| format!("q=zqx{n}"))),
    ]
}

#[tokio::main]
async fn main() {
    let (rows, requests, rounds) = (
        env_or("ROWS", 1_000_000),
        env_or("REQUESTS", 100),
        env_or("ROUNDS", 3),
    );
    let db = BenchDb::create();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lettori.csv");
    write_csv(&file, rows);
    let run = |args: &[&str], env: &[(&str, String)]| {
        let status = iscriviti(&db, 25, env, args).status().unwrap();
        assert!(status.success(), "iscriviti {args:?}");
    };
    run(&["migrate"], &[]);
    run(
        &["list", "create", "newsletter", "--name", "Newsletter"],
        &[],
    );
    let started = Instant::now();
    run(
        &[
            "import",
            file.to_str().unwrap(),
            "--list",
            "newsletter",
            "--source",
            "bench",
        ],
        &[],
    );
    let import_secs = started.elapsed().as_secs_f64();
    // 2% leave: the rare status a filter must find without reading everyone.
    let leave = "UPDATE subscriptions SET status = 'unsubscribed', \
                 unsubscribed_at = created_at WHERE subscriber_id % 50 = 0";
    match db.backend {
        "postgres" => {
            let mut c = diesel::PgConnection::establish(&db.url).unwrap();
            diesel::sql_query(leave).execute(&mut c).unwrap();
            // What autovacuum does within a minute or two of a large import: it sets the
            // visibility map that index-only scans rely on, and fresh statistics. Without it,
            // the first searches after an import read the table for every match.
            diesel::sql_query("VACUUM ANALYZE subscribers, subscriptions, subscriber_terms")
                .execute(&mut c)
                .unwrap();
        }
        _ => {
            let path = db.url.trim_start_matches("sqlite://");
            let mut c = diesel::SqliteConnection::establish(path).unwrap();
            diesel::sql_query(leave).execute(&mut c).unwrap();
        }
    }
    let password = "bench password long enough".to_owned();
    run(
        &["user", "create", "bench@example.org", "--role", "admin"],
        &[("ISCRIVITI_PASSWORD", password.clone())],
    );
    println!(
        "search bench: {} backend, {rows} readers imported in {import_secs:.1} s ({:.0} rows/s)",
        db.backend,
        rows as f64 / import_secs
    );

    let port = free_port();
    let mut server = serve(&db, 25, port, &[]).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let session = sign_in(&http, &base, "bench@example.org", &password).await;
    let kinds = kinds(rows);
    let mut p99s: Vec<Vec<f64>> = vec![Vec::new(); kinds.len() + 1];
    let mut p50s: Vec<Vec<f64>> = vec![Vec::new(); kinds.len() + 1];
    for round in 1..=rounds {
        let mut all = Vec::new();
        println!("round {round}:");
        for (k, (name, query)) in kinds.iter().enumerate() {
            let mut ms = Vec::with_capacity(requests);
            for n in 0..requests {
                let url = format!("{base}/admin/subscribers?{}", query(n));
                let t = Instant::now();
                let res = http
                    .get(&url)
                    .header("Cookie", format!("iscriviti_session={session}"))
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                let body = res.bytes().await.unwrap();
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
            }
            ms.sort_by(f64::total_cmp);
            let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
            println!("  {name:<28} p50 {p50:>7.1} ms   p99 {p99:>7.1} ms");
            p50s[k].push(p50);
            p99s[k].push(p99);
            all.extend(ms);
        }
        all.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&all, 0.5), percentile(&all, 0.99));
        println!(
            "  {:<28} p50 {p50:>7.1} ms   p99 {p99:>7.1} ms",
            "every page"
        );
        p50s[kinds.len()].push(p50);
        p99s[kinds.len()].push(p99);
    }
    println!("medians of {rounds} rounds ({requests} requests per kind per round):");
    for (k, name) in kinds
        .iter()
        .map(|(n, _)| *n)
        .chain(["every page"])
        .enumerate()
    {
        println!(
            "  {name:<28} p50 {:>7.1} ms   p99 {:>7.1} ms",
            median(p50s[k].clone()),
            median(p99s[k].clone())
        );
    }
    server.kill().ok();
    server.wait().ok();
    if std::env::var_os("BENCH_KEEP_DB").is_some() {
        // To look at the plans afterwards (EXPLAIN ANALYZE on the same data).
        println!("kept the database: {}", db.url);
        std::mem::forget(db);
        std::mem::forget(dir);
    }
}
