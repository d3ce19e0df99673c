#!/usr/bin/env bash
# Container entrypoint: `docker-entrypoint.sh ROLE [ARGS...]`.
#
#   web     migrate + collectstatic, then uvicorn: WEB_CONCURRENCY HTTP processes (default 1)
#           on PORT (5000), on 0.0.0.0 (the container is the boundary)
#   ws      the WebSocket feed server: FEED_PROCESSES uvicorn processes (default 1) on
#           WS_PORT (8765), on 0.0.0.0
#   feed    manage.py runfeed (binds the ZeroMQ XSUB/XPUB forwarder)
#   worker  Celery worker (WORKER_CONCURRENCY processes, default 2)
#   beat    Celery beat (django-celery-beat's database scheduler)
#   manage  manage.py ARGS...   e.g. `docker compose run --rm web manage apikey admin`
#   other   executed as given   e.g. `docker compose run --rm web bash`
#
# Every role first waits for DATABASE_URL's PostgreSQL to accept connections
# (DB_WAIT_SECONDS, default 60). Only `web` runs migrations. The web and ws commands are the
# Procfile's (tests/test_deploy_files.py holds them equal), with HOST=0.0.0.0.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."

role="${1:-web}"
[ "$#" -gt 0 ] && shift

wait_for_database() {
  case "${DATABASE_URL:-}" in
    postgres://* | postgresql://*) ;;
    *) return 0 ;;  # unset or SQLite: nothing to wait for
  esac
  python -c '
import os, sys, time
import psycopg
deadline = time.monotonic() + float(os.environ.get("DB_WAIT_SECONDS", "60"))
while True:
    try:
        psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=3).close()
        break
    except psycopg.OperationalError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"database not reachable: {exc.__class__.__name__}")
        print("waiting for the database...", file=sys.stderr, flush=True)
        time.sleep(1)
'
}

wait_for_database

case "$role" in
  web)
    python manage.py migrate --noinput
    python manage.py loadsandbox
    # The var volume outlives the image: refresh its static files from this build.
    python manage.py collectstatic --noinput --verbosity 0
    exec python -m uvicorn openalgo.asgi:application --host 0.0.0.0 --port "${PORT:-5000}" \
      --workers "${WEB_CONCURRENCY:-1}" --lifespan off --no-access-log --no-proxy-headers --no-server-header \
      --ws-max-size 1048576 --ws-per-message-deflate false --ws-ping-interval 20 --ws-ping-timeout 20 \
      --timeout-graceful-shutdown 10 --timeout-worker-healthcheck 20 "$@"
    ;;
  ws)
    exec python -m uvicorn openalgo.feed_asgi:application --host 0.0.0.0 --port "${WS_PORT:-8765}" \
      --workers "${FEED_PROCESSES:-1}" --lifespan off --no-access-log --no-proxy-headers --no-server-header \
      --ws-max-size 1048576 --ws-per-message-deflate false --ws-ping-interval 20 --ws-ping-timeout 20 \
      --timeout-graceful-shutdown 5 --timeout-worker-healthcheck 20 "$@"
    ;;
  feed)
    exec python manage.py runfeed "$@"
    ;;
  worker)
    exec celery -A openalgo worker --loglevel="${LOG_LEVEL:-INFO}" \
      --concurrency="${WORKER_CONCURRENCY:-2}" "$@"
    ;;
  beat)
    exec celery -A openalgo beat --loglevel="${LOG_LEVEL:-INFO}" "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
