//! The command line: `serve` (the default), `migrate`, and admin commands that work directly on
//! the database (lists, subscribers, imports, digests, feeds, staff accounts).

mod digest;
mod feed;
mod import;
mod user;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::db;
use crate::digests;
use crate::domain::{parse_time_zone, Cadence, Lang, ListSlug, Sender, SubscriptionStatus};
use crate::startup::{self, open_database, Application};
use crate::subscriptions::{self, ListInput};
use crate::telemetry;

/// Iscriviti: a self-hosted newsletter service.
///
/// Settings come from defaults, then ./iscriviti.toml or --config, then the environment
/// (DATABASE_URL, ISCRIVITI_SMTP_URL, ISCRIVITI_BIND, ISCRIVITI_BASE_URL...).
#[derive(Debug, Parser)]
#[command(name = "iscriviti", version)]
pub struct Cli {
    /// A TOML settings file.
    #[arg(long, global = true, env = "ISCRIVITI_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web pages and deliver mail until SIGTERM or Ctrl-C (the default command).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create and look at mailing lists.
    #[command(subcommand)]
    List(ListCommand),
    /// Look at subscribers.
    #[command(subcommand)]
    Subscriber(SubscriberCommand),
    /// Subscribe the addresses of a CSV file (another tool's export) to a list.
    Import(import::ImportArgs),
    /// Write a list's subscribers to standard output as CSV.
    Export(import::ExportArgs),
    /// Add and look at articles.
    #[command(subcommand)]
    Article(digest::ArticleCommand),
    /// Compose, preview, send and watch digests.
    #[command(subcommand)]
    Digest(digest::DigestCommand),
    /// Pull articles from RSS and Atom feeds into lists.
    #[command(subcommand)]
    Feed(feed::FeedCommand),
    /// Create and manage staff accounts (admins and editors of the web pages).
    #[command(subcommand)]
    User(user::UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Create a list.
    Create(ListCreate),
    /// Show every list.
    Ls,
    /// Build and send a list's digest automatically when there are new articles, e.g.
    /// `list cadence economia "weekly mon 08:00"`; `off` stops it; no arguments show them all.
    Cadence {
        slug: Option<String>,
        /// "daily 08:00", "weekly mon 08:00", "weekly mon,thu 07:30", or "off".
        cadence: Option<String>,
        /// The time zone the time is in (an IANA name).
        #[arg(long, default_value = "Europe/Rome")]
        time_zone: String,
    },
}

#[derive(Debug, Args)]
pub struct ListCreate {
    /// Identifier used in forms and URLs: lower-case letters, digits and dashes.
    pub slug: String,
    /// The name readers see.
    #[arg(long)]
    pub name: String,
    /// One line shown under the name on the signup form.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Hide the list from the public form (admins add subscribers).
    #[arg(long)]
    pub private: bool,
    /// Subscribe readers without a confirmation mail (double opt-in is the default).
    #[arg(long)]
    pub single_opt_in: bool,
    /// Publish its digests at /archive/<slug>, with an RSS feed.
    #[arg(long)]
    pub public_archive: bool,
    /// Sender of the list's mail, e.g. "Redazione <news@example.org>" (default: mail.from).
    #[arg(long)]
    pub from: Option<String>,
    /// Where replies go, e.g. "Redazione <redazione@example.org>".
    #[arg(long)]
    pub reply_to: Option<String>,
    /// Language of the list's mail: it or en.
    #[arg(long, default_value = "it")]
    pub language: String,
}

#[derive(Debug, Subcommand)]
pub enum SubscriberCommand {
    /// List subscriptions, newest subscriber first.
    Ls {
        /// Only this list.
        #[arg(long)]
        list: Option<String>,
        /// Only this status: pending, confirmed or unsubscribed.
        #[arg(long)]
        status: Option<SubscriptionStatus>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Skip this many rows (paging).
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Mail every pending subscriber of a list a fresh confirmation link (after an import with
    /// --status pending, say), except those whose last link is still valid.
    Remind {
        #[arg(long)]
        list: String,
    },
}

/// The command did its work but left some input out, as reported above it: the process exits
/// with status 2, so a script can tell this from success (0) and from failure (1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Incomplete(pub String);

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    // Only `serve` logs to stdout: other commands print their result there (a table, a CSV).
    let to_stderr = !matches!(cli.command, None | Some(Command::Serve));
    telemetry::init(settings.log_format, to_stderr);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings.clone()).await?;
            app.announce_setup_link().await?;
            tracing::info!(
                address = %settings.bind,
                port = app.port(),
                base_url = %settings.base_url,
                mail = if settings.mail.smtp_url.is_some() { "smtp" } else { "files" },
                "serving",
            );
            app.run_until_stopped().await
        }
        Command::Migrate => {
            open_database(&settings).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::List(cmd) => list(&settings, cmd).await,
        Command::Subscriber(cmd) => subscriber(&settings, cmd).await,
        Command::Import(args) => import::import(&settings, args).await,
        Command::Export(args) => import::export(&settings, args).await,
        Command::Article(cmd) => digest::article(&settings, cmd).await,
        Command::Digest(cmd) => digest::digest(&settings, cmd).await,
        Command::Feed(cmd) => feed::feed(&settings, cmd).await,
        Command::User(cmd) => user::user(&settings, cmd).await,
    }
}

async fn list(settings: &Settings, cmd: ListCommand) -> anyhow::Result<()> {
    let pool = open_database(settings).await?;
    match cmd {
        ListCommand::Create(args) => {
            let input = ListInput {
                slug: ListSlug::parse(&args.slug)?,
                name: non_blank(&args.name, "--name")?,
                description: args.description.trim().to_owned(),
                public: !args.private,
                double_opt_in: !args.single_opt_in,
                language: Lang::parse(&args.language)?,
                from: match args.from.as_deref() {
                    Some(from) => Sender::parse(from)?,
                    None => settings.mail.from.clone(),
                },
                reply_to: args.reply_to.as_deref().map(Sender::parse).transpose()?,
                public_archive: args.public_archive,
            };
            let list = db::run(&pool, move |conn| subscriptions::create_list(conn, &input)).await?;
            println!("created list {} (id {})", list.slug, list.id);
        }
        ListCommand::Ls => {
            let lists = db::run(&pool, |conn| Ok::<_, db::DbError>(db::lists::all(conn)?)).await?;
            println!(
                "{:<24} {:<32} {:<8} {:<7} {:<4} FROM",
                "SLUG", "NAME", "VISIBLE", "OPT-IN", "LANG"
            );
            for l in lists {
                println!(
                    "{:<24} {:<32} {:<8} {:<7} {:<4} {} <{}>{}",
                    l.slug,
                    l.name,
                    if l.public { "public" } else { "private" },
                    if l.double_opt_in { "double" } else { "single" },
                    l.language,
                    l.from_name,
                    l.from_address,
                    if l.archived { " (archived)" } else { "" },
                );
            }
        }
        ListCommand::Cadence {
            slug,
            cadence,
            time_zone,
        } => cadence_command(&pool, slug, cadence, &time_zone).await?,
    }
    Ok(())
}

async fn cadence_command(
    pool: &db::Pool,
    slug: Option<String>,
    cadence: Option<String>,
    time_zone: &str,
) -> anyhow::Result<()> {
    match (slug, cadence) {
        (None, _) => {
            println!(
                "{:<24} {:<28} {:<20} NEXT RUN (UTC)",
                "SLUG", "CADENCE", "TIME ZONE"
            );
            for (slug, s) in digests::schedules(pool).await? {
                println!(
                    "{slug:<24} {:<28} {:<20} {}",
                    s.cadence,
                    s.time_zone,
                    s.next_run_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        (Some(slug), None) => {
            anyhow::bail!("give a cadence for {slug}, e.g. \"weekly mon 08:00\", or \"off\"")
        }
        (Some(slug), Some(c)) if c.trim().eq_ignore_ascii_case("off") => {
            let had = digests::unset_schedule(pool, ListSlug::parse(&slug)?).await?;
            println!(
                "{}",
                if had {
                    "automatic digests stopped"
                } else {
                    "the list had no cadence: nothing changed"
                }
            );
        }
        (Some(slug), Some(c)) => {
            let (cadence, tz) = (Cadence::parse(&c)?, parse_time_zone(time_zone)?);
            let next = digests::set_schedule(pool, ListSlug::parse(&slug)?, cadence, tz).await?;
            println!(
                "next automatic digest: {} UTC (when there are new articles)",
                next.format("%Y-%m-%d %H:%M")
            );
        }
    }
    Ok(())
}

async fn subscriber(settings: &Settings, cmd: SubscriberCommand) -> anyhow::Result<()> {
    match cmd {
        SubscriberCommand::Ls {
            list,
            status,
            limit,
            offset,
        } => subscriber_ls(settings, list, status, limit, offset).await,
        SubscriberCommand::Remind { list } => remind(settings, &list).await,
    }
}

async fn subscriber_ls(
    settings: &Settings,
    list: Option<String>,
    status: Option<SubscriptionStatus>,
    limit: i64,
    offset: i64,
) -> anyhow::Result<()> {
    let pool = open_database(settings).await?;
    let list_id = match list {
        Some(slug) => {
            let slug = ListSlug::parse(&slug)?;
            let found = db::run(&pool, move |conn| {
                Ok::<_, db::DbError>(db::lists::by_slug(conn, slug.as_str())?)
            })
            .await?;
            Some(
                found
                    .ok_or_else(|| {
                        anyhow::anyhow!("no list with that slug (see `iscriviti list ls`)")
                    })?
                    .id,
            )
        }
        None => None,
    };
    let rows = db::run(&pool, move |conn| {
        Ok::<_, db::DbError>(db::subscribers::search(
            conn,
            list_id,
            status,
            limit.clamp(1, 10_000),
            offset.max(0),
        )?)
    })
    .await?;
    println!(
        "{:<40} {:<24} {:<13} {:<20} NAME",
        "EMAIL", "LIST", "STATUS", "SINCE"
    );
    for r in rows {
        println!(
            "{:<40} {:<24} {:<13} {:<20} {}",
            r.subscriber.email,
            r.list_slug,
            r.subscription.status,
            r.subscription.updated_at.format("%Y-%m-%d %H:%M"),
            r.subscriber.name.unwrap_or_default(),
        );
    }
    Ok(())
}

/// `subscriber remind`: queues the mails, then helps the outbox deliver them.
async fn remind(settings: &Settings, list: &str) -> anyhow::Result<()> {
    let slug = ListSlug::parse(list)?;
    let ctx = startup::context(settings).await?;
    let done = match subscriptions::remind_pending(&ctx, slug).await {
        Err(crate::app::UseCaseError::UnknownList) => {
            anyhow::bail!("no list with the slug {list:?} (see `iscriviti list ls`)")
        }
        other => other?,
    };
    let worker = startup::outbox_worker(&ctx, &startup::instance(&ctx));
    let sent = worker.drain().await?;
    println!(
        "asked {} pending subscribers of {list} to confirm ({} delivered now, {} to retry); \
         skipped {} whose link is still valid and {} blocked",
        done.asked, sent.sent, sent.retrying, done.recently, done.blocked
    );
    if done.unmailable > 0 {
        eprintln!(
            "{} pending subscribers have a stored address no mail can be built for (see the log)",
            done.unmailable
        );
    }
    Ok(())
}

fn non_blank(s: &str, flag: &str) -> anyhow::Result<String> {
    let s = s.trim();
    anyhow::ensure!(
        !s.is_empty() && !s.chars().any(char::is_control),
        "{flag} must be a non-empty single line"
    );
    Ok(s.to_owned())
}
