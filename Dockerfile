# safer in a container. `docker run IMAGE` does one pass (from cron, a systemd timer or a
# Kubernetes CronJob); `docker run IMAGE schedule --config /data/safer.toml` keeps it running on
# the [schedule] triggers. Everything it keeps (database, landed files, outbox, lock, status)
# lives under the /data volume, with safer.toml; the SMTP password comes from the environment
# (SAFER_SMTP_PASSWORD) or a mounted secret file (SAFER_SMTP_PASSWORD_FILE).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/safer
COPY pyproject.toml constraints.txt README.md scheduler.py ./
COPY safer ./safer
COPY pipelines ./pipelines
COPY checks ./checks
COPY indicators ./indicators
COPY alerts ./alerts
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin safer \
    && mkdir -p /data \
    && chown safer:safer /data

# Never root: the job needs nothing but its own volume.
USER safer
VOLUME ["/data"]
WORKDIR /data

# For a long-running `schedule` container: unhealthy when a run failed, no run succeeded in the
# expected window, or a source keeps failing (the same test as `safer status --check`).
HEALTHCHECK --interval=30m --timeout=60s --start-period=5m \
    CMD ["safer", "status", "--check", "--config", "/data/safer.toml"]

ENTRYPOINT ["safer"]
CMD ["run", "--config", "/data/safer.toml"]
