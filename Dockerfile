# Image de production de Parentalités : la même image sert à web (gunicorn), worker, beat et
# migrate (voir docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PARENTALITES_DATA_DIR=/data \
    WEB_CONCURRENCY=3 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/parentalites-metrics

WORKDIR /app

# pg_dump and pg_restore for `parentalites backup` / `restore`, of the server's major version (the
# compose file runs postgres:16; Debian's own client is older and refuses a newer server): from the
# PostgreSQL project's apt repository, as its download page says.
ARG PG_MAJOR=16
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && . /etc/os-release \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
    && apt-get purge -y --auto-remove curl \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The whole repository: the app reads templates/ (and translations/) next to its packages, so it
# is installed in place (editable), never as a wheel in site-packages.
COPY . .
RUN pip install --no-deps -e . \
    && if [ -d translations ]; then pybabel -q compile --use-fuzzy -d translations; fi

# Non-root user; the code stays owned by root (read-only for the app), only /data is writable
# (and the home directory, where gunicorn keeps its control socket, ~/.gunicorn).
RUN groupadd --system --gid 1000 parentalites \
    && useradd --system --uid 1000 --gid parentalites --create-home --home-dir /home/parentalites \
        --shell /usr/sbin/nologin parentalites \
    && mkdir -p /data \
    && chown parentalites:parentalites /data
USER parentalites

EXPOSE 8000

# Workers: WEB_CONCURRENCY (gunicorn reads it), 4 threads each. Their request counts go to files
# in PROMETHEUS_MULTIPROC_DIR (emptied at each start), which /metrics adds up (parentalites/ops.py).
# No gunicorn access log: its lines hold whole URLs, tokens included; the app logs each request's
# route pattern instead (logger parentalites.access).
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec gunicorn --bind 0.0.0.0:8000 --threads 4 'parentalites.app:create_app()'"]
