//! `iscriviti article ...` and `iscriviti digest ...`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use clap::{Args, Subcommand};

use crate::app::AppContext;
use crate::config::Settings;
use crate::db::{self, articles};
use crate::digests::{self, Added, Control};
use crate::domain::{
    ArticleDraft, ArticleFields, AuditAction, DigestStatus, ListSlug, SubscriberEmail,
};
use crate::staff::{self, Actor};
use crate::startup::{self, open_database};

#[derive(Debug, Subcommand)]
pub enum ArticleCommand {
    /// Add an article by hand.
    Add(Box<ArticleAdd>),
    /// Show the latest articles.
    Ls {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Debug, Args)]
pub struct ArticleAdd {
    #[arg(long)]
    pub title: String,
    /// The article's address (also its identity unless --guid is given).
    #[arg(long)]
    pub url: String,
    #[arg(long)]
    pub author: Option<String>,
    /// Publication time: 2026-11-28, 2026-11-28T08:00:00Z or with an offset (default: now).
    #[arg(long)]
    pub published: Option<String>,
    #[arg(long, default_value = "")]
    pub summary: String,
    /// it or en.
    #[arg(long, default_value = "it")]
    pub language: String,
    /// Address of an image shown above the article.
    #[arg(long)]
    pub image: Option<String>,
    /// What the image shows, for readers who do not see it.
    #[arg(long)]
    pub image_alt: Option<String>,
    /// Only for this list's digests (default: every list's).
    #[arg(long)]
    pub list: Option<String>,
    /// A stable identifier (a feed item's GUID); defaults to the URL.
    #[arg(long)]
    pub guid: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Compose a draft from the articles published since the list's last digest; prints its id.
    Create {
        #[arg(long)]
        list: String,
        /// Default: "<list name>: <title of the newest article>".
        #[arg(long)]
        subject: Option<String>,
        /// Take articles published after this time instead (2026-11-01 or RFC 3339).
        #[arg(long)]
        since: Option<String>,
    },
    /// Print the digest as a reader gets it (HTML unless --text).
    Preview {
        id: i64,
        #[arg(long)]
        text: bool,
    },
    /// Send one copy to an address (through the outbox, like any mail).
    Test {
        id: i64,
        #[arg(long)]
        to: String,
    },
    /// Send to every confirmed reader of the list, now or --at a time.
    Send {
        id: i64,
        /// Start at this time (2026-11-30T08:00:00+01:00) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Stay, help deliver, and show progress (rate, time left) until it is done.
        #[arg(long)]
        wait: bool,
    },
    /// Show delivery progress.
    Status { id: i64 },
    /// Queue the failed deliveries again.
    RetryFailed { id: i64 },
    /// Stop claiming new deliveries (messages in flight finish).
    Pause { id: i64 },
    /// Continue a paused digest.
    Resume { id: i64 },
    /// Stop for good; what was sent stays sent.
    Cancel { id: i64 },
}

/// Parses `2026-11-28`, or RFC 3339 with `Z` or an offset, into naive UTC.
fn parse_time(s: &str) -> anyhow::Result<NaiveDateTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.naive_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists"));
    }
    anyhow::bail!(
        "{s:?} is not a date (2026-11-28) or an RFC 3339 time (2026-11-28T08:00:00+01:00)"
    )
}

pub async fn article(settings: &Settings, cmd: ArticleCommand) -> anyhow::Result<()> {
    let pool = open_database(settings).await?;
    match cmd {
        ArticleCommand::Add(a) => {
            let published = a
                .published
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or_else(|| Utc::now().naive_utc());
            let draft = ArticleDraft::parse(
                ArticleFields {
                    guid: a.guid.as_deref(),
                    title: &a.title,
                    url: &a.url,
                    author: a.author.as_deref(),
                    summary: Some(&a.summary),
                    language: Some(&a.language),
                    image_url: a.image.as_deref(),
                    image_alt: a.image_alt.as_deref(),
                },
                published,
            )?;
            let list = a.list.as_deref().map(ListSlug::parse).transpose()?;
            let added = digests::add_article(&pool, draft, list).await?;
            println!(
                "{}",
                match added {
                    Added::New => "article added",
                    Added::AlreadyThere => "already there (same URL or GUID): nothing changed",
                }
            );
        }
        ArticleCommand::Ls { limit } => {
            let rows = db::run(&pool, move |conn| {
                Ok::<_, db::DbError>(articles::latest(conn, limit.clamp(1, 1000))?)
            })
            .await?;
            for a in rows {
                println!(
                    "{:>6}  {}  {}  {}",
                    a.id,
                    a.published_at.format("%Y-%m-%d %H:%M"),
                    a.title,
                    a.url
                );
            }
        }
    }
    Ok(())
}

/// Each command builds only what it needs: most take the database alone; preview renders
/// (templates, links), test also sends, and `send --wait` may run a digest engine.
pub async fn digest(settings: &Settings, cmd: DigestCommand) -> anyhow::Result<()> {
    let needs_context = matches!(
        cmd,
        DigestCommand::Preview { .. }
            | DigestCommand::Test { .. }
            | DigestCommand::Send { wait: true, .. }
    );
    let ctx = match needs_context {
        true => Some(startup::context(settings).await?),
        false => None,
    };
    let pool = match &ctx {
        Some(ctx) => ctx.pool.clone(),
        None => open_database(settings).await?,
    };
    let pool = &pool;
    let ctx = || ctx.as_ref().expect("built for this command");
    match cmd {
        DigestCommand::Create {
            list,
            subject,
            since,
        } => {
            let since = since.as_deref().map(parse_time).transpose()?;
            let d = digests::create(pool, ListSlug::parse(&list)?, subject, since).await?;
            println!("{}", d.id);
        }
        DigestCommand::Preview { id, text } => {
            let (subject, plain, html) = digests::preview(ctx(), id).await?;
            if text {
                println!("Subject: {subject}\n\n{plain}");
            } else {
                println!("{html}");
            }
        }
        DigestCommand::Test { id, to } => {
            digests::send_test(ctx(), id, SubscriberEmail::parse(&to)?).await?;
            let worker = startup::outbox_worker(ctx(), &startup::instance(ctx()));
            let sent = worker.drain().await?;
            println!(
                "test sent to {to} ({} delivered, {} to retry)",
                sent.sent, sent.retrying
            );
        }
        DigestCommand::Send { id, at, wait } => {
            let detail = match at.as_deref().map(parse_time).transpose()? {
                Some(at) => {
                    digests::schedule(pool, id, at).await?;
                    println!("digest {id} scheduled for {at} UTC");
                    format!("scheduled for {at} UTC")
                }
                None => {
                    let n = digests::start(pool, id).await?;
                    println!("digest {id}: sending to {n} readers");
                    format!("{n} readers")
                }
            };
            // Who started it: the trail the admins read shows every send, not only the pages'.
            let (actor, action) = (Actor::CommandLine, AuditAction::DigestSent);
            staff::record_on(pool, &actor, action, format!("digest #{id}"), detail).await?;
            if wait {
                watch(ctx(), id).await?;
            }
        }
        DigestCommand::Status { id } => {
            let (d, p) = digests::status(pool, id).await?;
            println!(
                "digest {id} ({}): {} — {} sent, {} queued ({} retrying), {} sending, {} failed, {} skipped of {}",
                d.status, d.subject, p.sent, p.queued, p.retrying, p.sending, p.failed, p.skipped, p.total()
            );
        }
        DigestCommand::RetryFailed { id } => println!(
            "{} deliveries queued again",
            digests::retry_failed(pool, id).await?
        ),
        DigestCommand::Pause { id } => digests::control(pool, id, Control::Pause).await?,
        DigestCommand::Resume { id } => digests::control(pool, id, Control::Resume).await?,
        DigestCommand::Cancel { id } => digests::control(pool, id, Control::Cancel).await?,
    }
    Ok(())
}

/// Shows progress until the digest is done. The command delivers too only when no instance
/// with a running engine is seen (checked at every poll): beside a running `serve` it only
/// watches, since a second engine on the same database (on SQLite, the same write lock)
/// costs more CPU per message than it adds.
async fn watch(ctx: &AppContext, id: i64) -> anyhow::Result<()> {
    let instance = startup::instance(ctx);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut delivering = None;
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut last_print = Instant::now() - Duration::from_secs(10);
    let result = loop {
        if delivering.is_none() && !instance.engine_elsewhere().await? {
            eprintln!("no instance is delivering digests: delivering from this command");
            let beating = instance.keep_alive(true);
            let engine = startup::digest_engine(ctx, &instance);
            let engine = tokio::spawn(engine.run(stop_rx.clone()));
            delivering = Some((beating, engine));
        }
        let (d, p) = digests::status(&ctx.pool, id).await?;
        let done = p.sent + p.failed + p.skipped;
        let rate = done as f64 / started.elapsed().as_secs_f64().max(0.001);
        let left = (p.total() - done).max(0);
        let eta = if rate > 0.0 { left as f64 / rate } else { 0.0 };
        if tty
            || last_print.elapsed() >= Duration::from_secs(5)
            || d.status != DigestStatus::Sending
        {
            let end = if tty { "\r" } else { "\n" };
            eprint!(
                "{done}/{} sent or settled ({} failed, {} retrying) · {rate:.0} msgs/s · {eta:.0} s left   {end}",
                p.total(),
                p.failed,
                p.retrying
            );
            std::io::stderr().flush().ok();
            last_print = Instant::now();
        }
        if !matches!(d.status, DigestStatus::Sending | DigestStatus::Scheduled) {
            eprintln!();
            println!(
                "digest {id}: {} ({} sent, {} failed, {} skipped)",
                d.status, p.sent, p.failed, p.skipped
            );
            break Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let _ = stop_tx.send(true);
    if let Some((beating, engine)) = delivering {
        engine.await?;
        beating.stop().await;
    }
    result
}
