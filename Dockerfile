# OpenAlgo on Django: one image for every process (web, feed, worker, beat).
# The role is the first argument: see deploy/docker-entrypoint.sh and docker-compose.yml.
#
#   docker build -t openalgo-django .
#   docker run --rm -p 127.0.0.1:5000:5000 -p 127.0.0.1:8765:8765 -v openalgo-var:/app/var openalgo-django web
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPENALGO_VAR_DIR=/app/var \
    OPENALGO_ENV_FILE=/app/var/.env

# An unprivileged user owns only the data directory; the code stays read-only to it.
RUN groupadd --system --gid 10001 openalgo \
 && useradd --system --uid 10001 --gid openalgo --home-dir /app/var --no-create-home \
      --shell /usr/sbin/nologin openalgo

WORKDIR /app

# Dependencies first, so code changes do not reinstall them. mysqlclient (MySQL/MariaDB)
# compiles against the client library: the build tools leave again, the library stays.
COPY requirements.txt ./
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config default-libmysqlclient-dev libmariadb3 \
 && python -m pip install --no-cache-dir -r requirements.txt \
 && apt-get purge -y --auto-remove build-essential pkg-config default-libmysqlclient-dev \
 && rm -rf /var/lib/apt/lists/*

# Only the application: never the local .venv, var/ or .env (which holds secrets).
COPY manage.py ./
COPY core/ core/
COPY openalgo/ openalgo/
COPY accounts/ accounts/
COPY brokers/ brokers/
COPY orders/ orders/
COPY marketdata/ marketdata/
COPY strategies/ strategies/
COPY templates/ templates/
COPY static/ static/
COPY deploy/docker-entrypoint.sh deploy/docker-entrypoint.sh

RUN chmod 0755 deploy/docker-entrypoint.sh \
 && install -d -o openalgo -g openalgo -m 0750 /app/var

USER openalgo

# Static files are collected into the image. Settings need the three secrets to import:
# throwaway values on this line only, never stored in the image or reused at runtime.
RUN SECRET_KEY=build-only-not-secret \
    API_KEY_PEPPER=build-only-not-secret \
    FERNET_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput --verbosity 0

# 5000: HTTP (UI, admin, /api/v1/); 8765: the WebSocket feed. The feed role also
# listens on 5555/5556 (ZeroMQ) inside the compose network. Mount a volume on /app/var
# (database files of the embedded mode, static files, generated .env when no secrets are
# passed in the environment).
EXPOSE 5000 8765

ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
CMD ["web"]
