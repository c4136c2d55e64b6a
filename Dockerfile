# Build: docker build -t iscriviti .
# Run:   docker run -p 8080:8080 -v iscriviti-data:/data iscriviti
# Liveness and database check for an orchestrator: GET /health.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
# Declared in Cargo.toml, so cargo wants them present even when it does not build them.
COPY benches ./benches
RUN cargo build --release --locked && strip target/release/iscriviti

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data iscriviti \
    && mkdir -p /data && chown iscriviti /data
COPY --from=build /src/target/release/iscriviti /usr/local/bin/iscriviti
USER iscriviti
WORKDIR /data
VOLUME ["/data"]
ENV ISCRIVITI_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/iscriviti.db \
    ISCRIVITI_MAIL_DIR=/data/mail
EXPOSE 8080
ENTRYPOINT ["iscriviti"]
CMD ["serve"]
