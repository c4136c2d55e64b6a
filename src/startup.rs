//! Building the application: pool, migrations, templates, transport, worker, and the one
//! route table. `Application::build` binds the listener (port 0 in tests) before running, so
//! tests and `main` start exactly the same server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tokio::sync::{watch, Notify};

use crate::app::AppContext;
use crate::config::Settings;
use crate::db::{self, Pool};
use crate::delivery::{DigestEngine, Instance, OutboxWorker};
use crate::feeds::FeedPoller;
use crate::links::Links;
use crate::mail::{MailOptions, Transport};
use crate::outbound::Policy;
use crate::ratelimit::IpRateLimiter;
use crate::routes::{self, AppState};
use crate::subscriptions;
use crate::templates::Templates;

/// A bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    instance: Instance,
    worker: OutboxWorker,
    engine: DigestEngine,
    poller: FeedPoller,
    run_worker: bool,
    run_engine: bool,
    run_poller: bool,
}

/// Opens the pool and applies migrations; used by `serve`, `migrate` and the other commands.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Pool> {
    let url = settings.database_url.expose().clone();
    let size = settings.db_pool_size.max(2);
    let pool = tokio::task::spawn_blocking(move || db::connect(&url, size))
        .await?
        .context("opening the database")?;
    let applied = db::run(&pool, db::migrate).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    // Made once; converts unkeyed suppression entries left by an older version.
    db::write(&pool, |conn| {
        Ok::<_, db::DbError>(db::suppressions::key(conn)?)
    })
    .await?;
    Ok(pool)
}

/// The context use cases take: opens the database (migrating it), loads templates, reads the
/// shared link key, and on a database without lists creates the default one.
pub async fn context(settings: &Settings) -> anyhow::Result<AppContext> {
    let templates = Arc::new(Templates::load().context("loading templates")?);
    // Before the database: a bad DKIM key stops the start at once.
    let mail = MailOptions::from_settings(&settings.mail)?;
    let default_from = settings.mail.from.clone();
    let pool = open_database(settings).await?;
    let seed = settings.seed_default_list;
    let (link_key, suppression) =
        db::run(&pool, move |conn| {
            if seed && subscriptions::seed_default_list(conn, &default_from)? {
                tracing::info!("created the default public list `newsletter`");
            }
            let key = db::settings::get_or_init(conn, "link_key", || {
                hex::encode(rand::random::<[u8; 32]>())
            })?;
            Ok::<_, anyhow::Error>((key, db::suppressions::key(conn)?))
        })
        .await?;
    let configured = settings.links.decoded_keys().map_err(anyhow::Error::msg)?;
    let links = Links::new(
        settings.base_url.clone(),
        hex::decode(link_key).context("stored link key")?,
    )
    .with_keys(
        &configured,
        settings.links.sign_with.as_deref(),
        settings.links.retire_stored_key,
    )
    .with_preferences_ttl(chrono::Duration::days(i64::from(
        settings.links.preferences_ttl_days.get(),
    )));
    Ok(AppContext {
        pool,
        templates,
        links,
        mail,
        log_links: settings.mail.smtp_url.is_none(),
        public_lists: Arc::default(),
        suppression,
        outbox_wake: Arc::new(Notify::new()),
        settings: Arc::new(settings.clone()),
    })
}

/// The outbox worker, with the transactional mail's own SMTP connections.
pub fn outbox_worker(ctx: &AppContext, instance: &Instance) -> OutboxWorker {
    let settings = &ctx.settings;
    let transport = Transport::from_settings(&settings.mail, settings.mail.connections);
    OutboxWorker::new(
        ctx.pool.clone(),
        instance.clone(),
        Arc::new(transport),
        settings.worker.clone(),
        ctx.outbox_wake.clone(),
    )
}

/// The digest engine, with the digests' own SMTP connections: a running digest never delays
/// a confirmation.
pub fn digest_engine(ctx: &AppContext, instance: &Instance) -> DigestEngine {
    let settings = &ctx.settings;
    let transport = Transport::from_settings(&settings.mail, settings.delivery.connections);
    DigestEngine::new(
        ctx.pool.clone(),
        instance.clone(),
        Arc::new(transport),
        ctx.templates.clone(),
        ctx.links.clone(),
        ctx.mail.clone(),
        settings.delivery.clone(),
        settings.worker.clone(),
    )
}

/// This process as the owner of leases.
pub fn instance(ctx: &AppContext) -> Instance {
    Instance::new(
        ctx.pool.clone(),
        &ctx.settings.worker,
        &ctx.settings.delivery,
    )
}

impl Application {
    /// Prepares everything and binds `settings.bind`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.check()?;
        let ctx = context(&settings).await?;
        let instance = instance(&ctx);
        let worker = outbox_worker(&ctx, &instance);
        let engine = digest_engine(&ctx, &instance);
        let poller = FeedPoller::new(
            ctx.pool.clone(),
            &settings.feeds,
            Policy::new(settings.outbound.allow.clone()),
            settings.base_url.as_str(),
        )
        .context("preparing the feed poller")?;
        let state = web::Data::new(AppState {
            ctx,
            ip_limiter: IpRateLimiter::new(settings.signup.per_ip_per_minute),
        });
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let server = {
            let state = state.clone();
            HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .app_data(web::PayloadConfig::new(routes::MAX_BODY_BYTES))
                    .wrap(routes::error_pages())
                    .wrap(routes::security_headers())
                    .wrap_fn(log_request)
                    .configure(routes::configure)
            })
            .listen(listener)?
            .run()
        };
        Ok(Self {
            port,
            server,
            state,
            instance,
            worker,
            engine,
            poller,
            run_worker: settings.worker.enabled,
            run_engine: settings.delivery.enabled,
            run_poller: settings.feeds.enabled,
        })
    }

    /// With no enabled admin account, logs a one-time link that creates the first one (it
    /// expires after `staff.link_hours`).
    pub async fn announce_setup_link(&self) -> anyhow::Result<()> {
        if let Some((url, expires)) = crate::staff::setup_link(&self.state.ctx).await? {
            tracing::warn!(
                %url,
                expires = %expires.format("%Y-%m-%d %H:%M UTC"),
                "no admin account yet: open this link to create the first one (or run \
                 `iscriviti user create EMAIL --role admin`)",
            );
        }
        Ok(())
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests read the pool from it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The digest engine (tests drain it).
    pub fn engine(&self) -> DigestEngine {
        self.engine.clone()
    }

    /// The outbox worker (tests drain it).
    pub fn worker(&self) -> OutboxWorker {
        self.worker.clone()
    }

    /// The feed poller (tests drain it).
    pub fn poller(&self) -> FeedPoller {
        self.poller.clone()
    }

    /// Serves until SIGINT/SIGTERM (actix stops accepting and finishes open requests), then
    /// stops the outbox worker and the digest engine, which finish in-flight sends and release
    /// the rest of their leases, and the feed poller, whose unfinished polls are retried when
    /// their lease runs out. Meanwhile the instance's heartbeat renews its leases; it stops
    /// last.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (beat_tx, beat_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(self.instance.clone().run(self.run_engine, beat_rx));
        let worker = self
            .run_worker
            .then(|| tokio::spawn(self.worker.clone().run(stop_rx.clone())));
        let poller = self
            .run_poller
            .then(|| tokio::spawn(self.poller.clone().run(stop_rx.clone())));
        // The digest engine renders and encodes every message: it gets a runtime of its own
        // with a thread per core, while actix's per-thread runtimes serve requests.
        let engine = match self.run_engine {
            true => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .thread_name("digest-engine")
                    .enable_all()
                    .build()
                    .context("starting the digest engine's runtime")?;
                let task = runtime.spawn(self.engine.clone().run(stop_rx));
                Some((runtime, task))
            }
            false => None,
        };
        let served = self.server.await;
        let _ = stop_tx.send(true);
        if let Some(worker) = worker {
            worker.await?;
        }
        if let Some(poller) = poller {
            poller.await?;
        }
        if let Some((runtime, task)) = engine {
            task.await?;
            runtime.shutdown_background();
        }
        let _ = beat_tx.send(true);
        heartbeat.await?;
        served.context("HTTP server")
    }
}

/// Logs each request with its route pattern, never the concrete path or query: both can hold
/// tokens and signed links.
fn log_request(
    req: actix_web::dev::ServiceRequest,
    srv: &impl actix_web::dev::Service<
        actix_web::dev::ServiceRequest,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
) -> impl std::future::Future<
    Output = Result<
        actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        actix_web::Error,
    >,
> {
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "(unmatched)".into());
        if route != "/health" {
            tracing::info!(%method, %route, status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
        }
        Ok(res)
    }
}
