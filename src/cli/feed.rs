//! `iscriviti feed ...`: RSS and Atom feeds that bring articles to a list's digests.

use anyhow::Context;
use clap::Subcommand;

use crate::config::Settings;
use crate::domain::{FeedInterval, FeedUrl, ListSlug};
use crate::feeds::{self, FeedPoller, Polled};
use crate::startup::open_database;

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Pull articles from an RSS or Atom feed into a list's digests. A running `serve` polls
    /// it within a minute, then every --interval; `feed poll` fetches it now.
    Add {
        /// The feed's address (http or https).
        url: String,
        /// The list whose digests get the feed's articles.
        #[arg(long)]
        list: String,
        /// How often to poll: 90s, 30m, 2h, 1d (1m to 7d; default: feeds.default_interval_secs,
        /// 30m).
        #[arg(long)]
        interval: Option<String>,
    },
    /// Show every feed: its list, interval, next poll, last success and last error.
    Ls,
    /// Stop polling a feed (the articles it brought stay).
    Rm { id: i64 },
    /// Poll now (one feed, or every feed) and print how many new articles each brought.
    Poll {
        /// Only this feed (see `feed ls`).
        id: Option<i64>,
    },
}

pub async fn feed(settings: &Settings, cmd: FeedCommand) -> anyhow::Result<()> {
    let pool = open_database(settings).await?;
    match cmd {
        FeedCommand::Add {
            url,
            list,
            interval,
        } => {
            let interval = match interval {
                Some(i) => FeedInterval::parse(&i)?,
                None => settings.feeds.default_interval_secs,
            };
            let list = ListSlug::parse(&list)?;
            let feed = feeds::add(&pool, FeedUrl::parse(&url)?, list.clone(), interval).await?;
            println!(
                "added feed {} to list {}, polled every {interval}",
                feed.id,
                list.as_str()
            );
        }
        FeedCommand::Ls => {
            println!(
                "{:>4}  {:<20} {:>5}  {:<16}  {:<16}  {:>5}  URL / LAST ERROR",
                "ID", "LIST", "EVERY", "NEXT POLL (UTC)", "LAST OK (UTC)", "FAILS"
            );
            let time = |t: Option<chrono::NaiveDateTime>| {
                t.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
            };
            for f in feeds::all(&pool).await? {
                let feed = f.feed;
                let every = FeedInterval::from_secs(feed.interval_secs)
                    .map_or_else(|_| format!("{}s", feed.interval_secs), |i| i.to_string());
                println!(
                    "{:>4}  {:<20} {:>5}  {:<16}  {:<16}  {:>5}  {}",
                    feed.id,
                    f.list_slug,
                    every,
                    time(Some(feed.next_poll_at)),
                    time(feed.last_ok_at),
                    feed.consecutive_failures,
                    feed.url,
                );
                if let Some(e) = feed.last_error.filter(|_| feed.consecutive_failures > 0) {
                    println!("      last error: {e}");
                }
            }
        }
        FeedCommand::Rm { id } => {
            feeds::remove(&pool, id).await?;
            println!("feed {id} removed (its articles stay)");
        }
        FeedCommand::Poll { id } => {
            let poller = FeedPoller::new(
                pool.clone(),
                &settings.feeds,
                crate::outbound::Policy::new(settings.outbound.allow.clone()),
                settings.base_url.as_str(),
            )?;
            let ids = match id {
                Some(id) => vec![id],
                None => feeds::all(&pool).await?.iter().map(|f| f.feed.id).collect(),
            };
            let mut failed = 0;
            for id in &ids {
                let polled = poller
                    .poll_now(*id)
                    .await?
                    .with_context(|| format!("no feed with id {id} (see `iscriviti feed ls`)"))?;
                failed += usize::from(polled.outcome.is_err());
                println!("{}", describe(&polled));
            }
            anyhow::ensure!(failed == 0, "{failed} of {} feeds failed", ids.len());
        }
    }
    Ok(())
}

fn describe(p: &Polled) -> String {
    match &p.outcome {
        Ok(ok) if ok.not_modified => format!("feed {}: not modified", p.feed_id),
        Ok(ok) => {
            let plural = |n: usize, one: &str, many: &str| match n {
                1 => format!("1 {one}"),
                n => format!("{n} {many}"),
            };
            let skipped = match ok.skipped {
                0 => String::new(),
                n => format!(
                    " ({} skipped, see the log)",
                    plural(n, "invalid entry", "invalid entries")
                ),
            };
            let new = plural(ok.new_articles, "new article", "new articles");
            format!("feed {}: {new}{skipped}", p.feed_id)
        }
        Err(e) => format!("feed {}: failed: {e}", p.feed_id),
    }
}
