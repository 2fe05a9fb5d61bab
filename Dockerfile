# schoon in a container. Untested here (no container engine runs on the project's machines);
# see README.md, "Operations / several nodes".
#
#   docker build -t schoon .
#   docker run -p 8080:8080 -v schoon-data:/var/lib/schoon schoon
#   docker run -e SCHOON_DATABASE_URL=postgres://… schoon --role worker
#
# Builder and runtime use the same Debian release, so the binary finds the glibc it was linked
# against.

FROM rust:1.95-trixie AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p schoon \
    && install -D -m 0755 target/release/schoon /out/schoon

FROM debian:trixie-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/schoon --create-home \
       --shell /usr/sbin/nologin schoon \
    && chmod 0700 /var/lib/schoon
COPY --from=build /out/schoon /usr/local/bin/schoon
USER schoon:schoon
WORKDIR /var/lib/schoon
# The data directory: SQLite database (unless SCHOON_DATABASE_URL is set), evidence vault, keys.
VOLUME ["/var/lib/schoon"]
ENV SCHOON_LOG_FORMAT=json
EXPOSE 8080
# Extra arguments (`--role worker`, `--database URL`, `--config FILE`) follow `docker run IMAGE`.
ENTRYPOINT ["/usr/local/bin/schoon", "serve", "--data", "/var/lib/schoon", "--listen", "0.0.0.0:8080"]
