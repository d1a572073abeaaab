# Rendez in a container: built with both backends (SQLite by default, MariaDB/MySQL by URL),
# run as an unprivileged user, with a health check on /readyz.
#
#   docker build -t rendez .
#   docker run -p 8080:8080 -v rendez-data:/var/lib/rendez rendez
#
# deploy/compose.yaml runs it beside MariaDB.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --features mysql --bin rendez \
 && install -m 0755 target/release/rendez /usr/local/bin/rendez

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/rendez --create-home --shell /usr/sbin/nologin rendez
COPY --from=build /usr/local/bin/rendez /usr/local/bin/rendez
USER rendez
WORKDIR /var/lib/rendez
ENV DATABASE_URL=sqlite:///var/lib/rendez/rendez.db \
    RENDEZ_SECRET_KEY_FILE=/var/lib/rendez/rendez.key \
    RENDEZ_BIND=0.0.0.0:8080
VOLUME ["/var/lib/rendez"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["rendez"]
CMD ["serve"]
