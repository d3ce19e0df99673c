"""All settings, read from the environment (and a local .env) in this one place."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import environ
from csp.constants import NONCE as _CSP_NONCE

from openalgo.localenv import ensure_local_secrets
from openalgo.logging import install_secret_masking

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("OPENALGO_ENV_FILE", BASE_DIR / ".env"))
VAR_DIR = Path(os.environ.get("OPENALGO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

ensure_local_secrets(ENV_FILE)
install_secret_masking()
env = environ.Env()
environ.Env.read_env(ENV_FILE, overwrite=False)

# --- Core -------------------------------------------------------------------------------
SECRET_KEY = env.str("SECRET_KEY")
API_KEY_PEPPER = env.str("API_KEY_PEPPER")
# Comma-separated; the first encrypts, all decrypt (rotation: prepend a new key).
FERNET_KEYS = env.list("FERNET_KEYS")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
HOST = env.str("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=5000)
# Long-lived threads per web process that run Django's sync code (openalgo/threads.py).
WEB_THREADS = env.int("WEB_THREADS", default=8)
# Benchmarks only (bench/hotpath.py): serve /api/v1/bench/bare, an async view that answers
# at once, through the same server and API middleware as every /api/v1 call (the reference
# the hot path's cost is measured against). Off in production.
BENCH_BARE_VIEW = env.bool("BENCH_BARE_VIEW", default=False)
WS_PORT = env.int("WS_PORT", default=8765)
# Processes of the HTTP server (Procfile web, on PORT) and of the feed server (Procfile ws, on
# WS_PORT): uvicorn's --workers. The Procfile reads them; `make run` picks them from the CPUs.
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=1)
FEED_PROCESSES = env.int("FEED_PROCESSES", default=1)
# The feed process serves the WebSocket feed itself (no `ws` process): `make run` sets it when
# FEED_PROCESSES is 1, one Django process fewer on a small host (marketdata/stream/server.py).
FEED_SERVES_WS = env.bool("FEED_SERVES_WS", default=False)

# daphne's app only gives `manage.py runserver` its ASGI server; installed, it imports Twisted
# and autobahn into every process (feed, worker, each manage.py command: ~18 MB and 0.4 s
# apiece). The web process runs daphne itself (Procfile), so the app is there for runserver only.
SERVES_WITH_RUNSERVER = sys.argv[1:2] == ["runserver"]
INSTALLED_APPS = [
    *(["daphne"] if SERVES_WITH_RUNSERVER else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_celery_beat",
    "accounts",
    "brokers",
    "brokers.sandbox",
    "orders",
    "marketdata",
    "strategies",
]
# Live broker packages installed here (brokers/<name>/, each an app that registers itself).
# The test suite adds FakeLive, the broker its tests serve over respx.
# Live broker packages installed by default (each is brokers/<name>/); BROKERS may narrow them.
LIVE_BROKERS: list[str] = ["angel", "dhan", "fyers", "upstox", "zerodha"]
BROKERS = env.list("BROKERS", default=[*LIVE_BROKERS, *(["fakelive"] if "pytest" in sys.modules else [])])
INSTALLED_APPS += [f"brokers.{name}" for name in BROKERS]
MASTER_CONTRACT_HOUR = env.int("MASTER_CONTRACT_HOUR", default=8)  # IST, daily download of live brokers' contracts
FAKELIVE_BASE_URL = env.str("FAKELIVE_BASE_URL", default="https://fakelive.invalid")
# SEBI's 2026 retail-algo rules: brokers take API orders only from the client's registered
# static IP. Bind broker calls to that local address, or send them through a proxy that has it.
BROKER_EGRESS_IP = env.str("BROKER_EGRESS_IP", default="")
BROKER_EGRESS_PROXY = env.str("BROKER_EGRESS_PROXY", default="")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Under daphne /api/ has its own stack (openalgo/threads.py); here for the test client's calls.
    "openalgo.middleware.ApiRequestLogMiddleware",
    "openalgo.middleware.AsyncWhiteNoiseMiddleware",
    "openalgo.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "openalgo.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "openalgo.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "orders:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.frame",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
SILENCED_SYSTEM_CHECKS: list[str] = []
# Embedded default: SQLite in WAL mode, so web, worker and beat can share it.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend with fair write turns: writers queue in arrival order instead of
    # racing in SQLite's sleeping busy handler, whose losers waited seconds (core/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "core.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
    # Tests use a file too: an in-memory shared-cache database fails concurrent writers at
    # once ("table is locked") instead of waiting, unlike the real thing.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    # MySQL 8 / MariaDB 10.11 (mysqlclient). Options in the URL's query string win.
    _mysql = DATABASES["default"].setdefault("OPTIONS", {})
    _mysql.setdefault("charset", "utf8mb4")  # symbols and names are Unicode; MySQL's "utf8" is 3-byte
    # Strict mode: a value that does not fit its column (a price, a quantity, a symbol) is an
    # error, never silently truncated or zeroed. Set whole, so a server default cannot drop it.
    _mysql.setdefault("init_command", "SET SESSION sql_mode='STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                                      "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'")
    # READ COMMITTED, as on PostgreSQL, for which the ledger's locking was written: a
    # statement sees rows committed before it, so a read after waiting for a row lock, or
    # the re-read of get_or_create after losing an insert race, sees the winner's row
    # (REPEATABLE READ would keep serving the transaction's first snapshot). It also takes
    # no gap locks, which under REPEATABLE READ deadlock concurrent inserts into one index.
    _mysql.setdefault("isolation_level", "read committed")
    # Django's built-in pool is PostgreSQL-only: each thread (web's long-lived ones, worker,
    # feed) keeps its own connection for DB_CONN_MAX_AGE (600 s here), checked before reuse.
    # MySQL has no partial indexes, so Django skips unique constraints with a condition (W036)
    # and builds conditional indexes whole (W037). Each such constraint has a MySQL-only
    # migration that enforces it instead (core/mysql_schema.py), and a test fails if one
    # lacks it (openalgo/tests/test_database_portability.py).
    SILENCED_SYSTEM_CHECKS += ["models.W036", "models.W037"]
# PostgreSQL: a psycopg pool per process hands every thread (web, worker, feed) a warm
# connection and takes it back when the request or task ends (DB_POOL=false turns it off,
# e.g. behind PgBouncer or RDS Proxy, which pool themselves).
DB_POOL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DB_POOL", default=True)
# Seconds a connection outlives its request when there is no pool: "none" keeps it (the web
# threads keep theirs; health-checked before reuse), 0 closes it after every request.
_MYSQL = DATABASES["default"]["ENGINE"] == "django.db.backends.mysql"
_conn_max_age = env.str("DB_CONN_MAX_AGE", default="0" if DB_POOL else "600" if _MYSQL else "none").strip().lower()
if not (_conn_max_age in ("none", "") or _conn_max_age.isdigit()):
    raise ValueError(f"DB_CONN_MAX_AGE must be a number of seconds or 'none', not {_conn_max_age!r}")
DATABASES["default"]["CONN_MAX_AGE"] = None if _conn_max_age in ("none", "") else int(_conn_max_age)
if DB_POOL:
    if DATABASES["default"]["CONN_MAX_AGE"] != 0:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DB_CONN_MAX_AGE must be 0 while the PostgreSQL pool is on (DB_POOL=true): "
                                   "the pool keeps the connections")
    _pool: dict = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=20),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10),
        "max_idle": env.float("DB_POOL_MAX_IDLE", default=600),
        "max_lifetime": env.float("DB_POOL_MAX_LIFETIME", default=3600),
    }
    if env.bool("DB_POOL_CHECK", default=False):
        from psycopg_pool import ConnectionPool

        _pool["check"] = ConnectionPool.check_connection
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = _pool
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery --------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "openalgo",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # Redis down must not take login or the API with it: degrade and log.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "openalgo.cache"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "openalgo"},
        }
    }
    # Counters every process must share (rate limits, the risk check's orders per second,
    # one-at-a-time flags): Redis, like everything cached.
    CACHES["counters"] = CACHES["default"]
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Per process, LocMemCache would give each web process (WEB_CONCURRENCY) a limit of its
        # own: these counters live in a memory-mapped file that every process of this host
        # shares (core/counters.py).
        "counters": {"BACKEND": "core.counters.CountersCache", "LOCATION": str(VAR_DIR / "counters.bin"),
                     "OPTIONS": {"MAX_ENTRIES": env.int("COUNTERS_MAX_ENTRIES", default=16_384)}},
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# django-ratelimit counts in the shared counters, so N web processes enforce one limit.
RATELIMIT_USE_CACHE = "counters"

# Sessions live in the database so a Redis outage never logs anyone out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Throttle the real client, not the proxy: the address our own proxy appended.
    RATELIMIT_IP_META_KEY = "core.api.ratelimit.client_ip_behind_proxy"
    # HSTS is sent on HTTPS responses only, so never without TLS.
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    # A page request that reached us over plain HTTP anyway is sent to HTTPS; health checks
    # and the metrics scraper talk to the app port directly, without the proxy.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics"]
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is the domain owner's decision (it binds every
        # subdomain for months); without it `check --deploy` would warn forever.
        SILENCED_SYSTEM_CHECKS += ["security.W021"]

# Content-Security-Policy (django-csp): everything from our own origin, no inline script or
# style unless it carries the request's nonce (the Swagger UI page), no framing, no plugins.
# openalgo/middleware.py adds per-path extras (CSP_PATH_UPDATES) and the API's own policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", _CSP_NONCE],
        "style-src": ["'self'", _CSP_NONCE],
        # DaisyUI draws checkbox marks and select arrows as data: SVG images in its CSS.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
CSP_PATH_UPDATES: dict[str, dict[str, list[str]]] = {}

# Daily expiry of UI sessions and broker tokens (Indian brokers expire tokens overnight).
SESSION_EXPIRY_TIME = env.str("SESSION_EXPIRY_TIME", default="03:00")
MARKET_TIMEZONE = "Asia/Kolkata"

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_RESULT_BACKEND = REDIS_URL or f"file://{VAR_DIR / 'celery-results'}"
if not REDIS_URL:
    _celery_queue = VAR_DIR / "celery-queue"
    for _folder in (_celery_queue, VAR_DIR / "celery-processed", VAR_DIR / "celery-results",
                    VAR_DIR / "celery-control"):
        _folder.mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport, publishing each message whole (core/queuefiles.py).
    CELERY_BROKER_TRANSPORT = "core.queuefiles:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_queue),
        "data_folder_out": str(_celery_queue),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
CELERY_TIMEZONE = MARKET_TIMEZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Messages a worker may hold unacknowledged: this times its concurrency (acks are late, so a
# task holds its slot until it ends). With the threads pool on Redis a window of 1 x 4 left
# the consumer waiting with a full window for seconds (bench/webhook.py: alert to worker p50
# 2.9-4.6 s at 4 alerts/s, tasks of 90 ms) where 8 x 4 takes each at once (p50 12 ms). What a
# killed worker held comes back like the task it was running (acks late; alerts also through
# the recovery sweep at the next worker start).
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("WORKER_PREFETCH_MULTIPLIER", default=8)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Everything on one host (`make run`): the worker runs beat's scheduler in a thread of its own
# instead of a beat process (~100 MB less). Only where no `beat` process runs: one beat per
# host (a lock in OPENALGO_VAR_DIR refuses a second), one per deployment.
WORKER_BEAT = env.bool("WORKER_BEAT", default=False)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Feed bus (ZeroMQ) ----------------------------------------------------------------------
# Publishers connect to XSUB, subscribers connect to XPUB; only the feed process binds.
ZMQ_XSUB_ADDRESS = env.str("ZMQ_XSUB_ADDRESS", default="tcp://127.0.0.1:5555")
ZMQ_XPUB_ADDRESS = env.str("ZMQ_XPUB_ADDRESS", default="tcp://127.0.0.1:5556")
# Where the feed process binds them (e.g. tcp://0.0.0.0:5555 to serve other hosts).
ZMQ_XSUB_BIND = env.str("ZMQ_XSUB_BIND", default=ZMQ_XSUB_ADDRESS)
ZMQ_XPUB_BIND = env.str("ZMQ_XPUB_BIND", default=ZMQ_XPUB_ADDRESS)

# The simulated market behind the sandbox broker.
SIM_MARKET_HOURS = env.str("SIM_MARKET_HOURS", default="always")  # always | exchange
SIM_SEED = env.int("SIM_SEED", default=20250101)
SIM_TICKS_PER_SECOND = env.float("SIM_TICKS_PER_SECOND", default=1.5)
SANDBOX_POLL_SECONDS = env.float("SANDBOX_POLL_SECONDS", default=5.0)
# Paper margin leverage by kind (spec §2.9 defaults): equity_mis, equity_cnc, futures, options.
SANDBOX_LEVERAGE = env.dict("SANDBOX_LEVERAGE",
                            default={"equity_mis": "5", "equity_cnc": "1", "futures": "10", "options": "1"})

# Seconds a new WebSocket connection may stay unauthenticated before it is closed (4401).
WS_AUTH_GRACE_SECONDS = env.float("WS_AUTH_GRACE_SECONDS", default=15)

# Crash tests only: <point>:<action> makes this process fail at that point of an order's
# life (orders/faults.py). Never set it in production.
OPENALGO_FAULT = env.str("OPENALGO_FAULT", default="")

# --- Order safety (orders/risk.py, orders/reconcile.py) --------------------------------------
# A ledger row still "submitting" after this many seconds lost its process (crash, kill -9):
# reconciliation looks it up in the broker's order book. Keep it above the broker timeout.
RECONCILE_GRACE_SECONDS = env.float("RECONCILE_GRACE_SECONDS", default=30)
# The web process reconciles, when it starts, the orders a stopped process of this host left.
# Off by default inside the test suite: a test that imports openalgo.asgi (to drive its
# WebSocket routes) would otherwise start a sweep thread at collection time, whose database
# connection (and pool) is opened before the test database exists.
RECONCILE_ON_STARTUP = env.bool("RECONCILE_ON_STARTUP", default="pytest" not in sys.modules)
# How often Celery beat reconciles ledgers and positions with the brokers' books.
RECONCILE_INTERVAL_SECONDS = env.float("RECONCILE_INTERVAL_SECONDS", default=60)
# How often beat checks daily loss limits between orders (the kill switch).
RISK_MONITOR_SECONDS = env.float("RISK_MONITOR_SECONDS", default=5)
# How often an account's order book is read at brokers that neither push order updates nor
# post them back (orders/order_updates.py), while it has working orders there.
ORDER_POLL_SECONDS = env.float("ORDER_POLL_SECONDS", default=2)
# Brokers that push or post order updates are read too, this rarely: what a dropped socket missed.
ORDER_SAFETY_POLL_SECONDS = env.float("ORDER_SAFETY_POLL_SECONDS", default=60)

# --- Metrics (/metrics for Prometheus) --------------------------------------------------------
# Bearer token a scraper must send; empty turns /metrics off (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# web, feed and worker each count in their own files in this folder (prometheus_client's
# multiprocess mode); /metrics sums them. prometheus_client reads the variable when it is first
# imported, so it is set here, before anything imports it, and always from this setting (a child
# process with another VAR_DIR must not inherit its parent's folder). A test run counts in a
# folder of its own, never in the live processes' one (core/metrics.py: housekeeping).
METRICS_DIR = Path(env.str("METRICS_DIR", default=str(VAR_DIR / "metrics")))
if "pytest" in sys.modules and "METRICS_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    METRICS_DIR = Path(tempfile.mkdtemp(prefix="openalgo-metrics-"))
    atexit.register(shutil.rmtree, METRICS_DIR, True)
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
# Its AppConfig counts database statements in every process (django-prometheus's DB metrics:
# a few microseconds a statement; METRICS_DB=false leaves only the new-connections count).
INSTALLED_APPS += ["core.metrics.MetricsConfig"]
METRICS_DB = env.bool("METRICS_DB", default=True)

# --- API ------------------------------------------------------------------------------------
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="50 per second")
ORDER_RATE_LIMIT = env.str("ORDER_RATE_LIMIT", default="10 per second")
# Longest a request thread waits for a broker's order rate limit (brokers/ratelimit.py)
# before the call is refused with 429 and when to retry.
BROKER_PACING_MAX_WAIT = env.float("BROKER_PACING_MAX_WAIT", default=0.25)
SMART_ORDER_RATE_LIMIT = env.str("SMART_ORDER_RATE_LIMIT", default="10 per second")
GREEKS_RATE_LIMIT = env.str("GREEKS_RATE_LIMIT", default="30 per minute")
# /strategy/webhook/<id> and /chartink/webhook/<id> (spec §2.7), and how long a repeated
# alert body counts as a retry of the first (answered, logged as a duplicate, no second order).
WEBHOOK_RATE_LIMIT = env.str("WEBHOOK_RATE_LIMIT", default="100 per minute")
WEBHOOK_DUPLICATE_SECONDS = env.int("WEBHOOK_DUPLICATE_SECONDS", default=30)
# The interpreter hosted Python strategies run in: an environment of their own with the
# official openalgo client (requirements-strategies.txt, built by `make install`).
_STRATEGY_VENV = BASE_DIR / ".venv-strategies" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STRATEGY_PYTHON = env.str("STRATEGY_PYTHON", default=str(_STRATEGY_VENV))
# Telegram (strategies/telegram): the bot's token (or stored encrypted from the Telegram page),
# the Bot API's address, the public URL Telegram posts updates to (empty: the worker long-polls),
# the limit of /api/v1/telegram/* (spec §2.7) and how long a /link code is valid.
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default="https://api.telegram.org")
TELEGRAM_WEBHOOK_URL = env.str("TELEGRAM_WEBHOOK_URL", default="")
TELEGRAM_RATE_LIMIT = env.str("TELEGRAM_RATE_LIMIT", default="30 per minute")
TELEGRAM_LINK_CODE_MINUTES = env.int("TELEGRAM_LINK_CODE_MINUTES", default=10)
# Records of sent order alerts (their dedupe across workers) are kept this many days.
TELEGRAM_ALERT_KEEP_DAYS = env.int("TELEGRAM_ALERT_KEEP_DAYS", default=7)
LOGIN_RATE_LIMIT_MIN = env.str("LOGIN_RATE_LIMIT_MIN", default="5 per minute")
LOGIN_RATE_LIMIT_HOUR = env.str("LOGIN_RATE_LIMIT_HOUR", default="25 per hour")
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_FAIL_OPEN = True  # a cache outage degrades throttling instead of refusing everyone
# Verified API keys are cached in-process; each cached key's row is re-read at most this
# often, so a revocation from any process takes effect everywhere within this bound.
API_KEY_RECHECK_SECONDS = env.float("API_KEY_RECHECK_SECONDS", default=0.5)
API_KEY_CACHE_TTL_SECONDS = env.float("API_KEY_CACHE_TTL_SECONDS", default=300)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=1024 * 1024)

# The API request log behind the monitoring pages (accounts/request_log.py): rows kept this
# many days and at most this many rows (pruned by beat); written in batches by a thread of
# each web process (tests flush it themselves).
REQUEST_LOG_DAYS = env.int("REQUEST_LOG_DAYS", default=7)
REQUEST_LOG_MAX_ROWS = env.int("REQUEST_LOG_MAX_ROWS", default=200_000)
REQUEST_LOG_THREAD = env.bool("REQUEST_LOG_THREAD", default="pytest" not in sys.modules)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.LenientJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,  # `format` is a field of ours (instruments, ticker), not a renderer switch
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ContractSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OpenAlgo API v1",
    "DESCRIPTION": "Broker-agnostic trading API, wire-compatible with OpenAlgo v1.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets ship with the package: the docs work offline.
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DerivativeExchangeEnum": ["NFO", "BFO", "CDS", "BCD", "MCX", "NCDEX", "NCO", "CRYPTO"],
        "ExchangeEnum": "brokers.enums.Exchange",
        "ProductEnum": ["CNC", "NRML", "MIS"],
        "OptionProductEnum": ["MIS", "NRML"],
        "PricetypeEnum": ["MARKET", "LIMIT", "SL", "SL-M"],
        "GttPricetypeEnum": ["LIMIT", "MARKET"],
        "GttProductEnum": ["CNC", "NRML"],
    },
}

# --- Static files, i18n -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "openalgo.storage.StaticStorage"},
}
# Before `collectstatic` (tests, a first `manage.py` call) pages still render and serve assets.
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-in"
TIME_ZONE = MARKET_TIMEZONE
USE_I18N = True
USE_TZ = True

PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher",
                    "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
OTP_TOTP_ISSUER = "OpenAlgo"
# Password reset by e-mail is offered only when an SMTP server is configured (else: by the
# authenticator code, for users with two-factor on). Django's own default host would be localhost.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OpenAlgo <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)

# --- Logging: secrets are masked when a record is made, and again in the formatted line ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text")  # or "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {
            "()": "openalgo.logging.MaskingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "openalgo.logging.JsonFormatter"},
    },
    "filters": {"quiet_connections": {"()": "openalgo.logging.QuietConnections"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
        # uvicorn (Procfile web, ws) logs every WebSocket it accepts at INFO: not those lines.
        "uvicorn.error": {"filters": ["quiet_connections"]},
        # httpx logs every request's full URL at INFO, and some brokers take tokens in the
        # query string (Kite's logout): broker calls are logged by the adapters, never by URL.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # The same for the brokers' feed sockets (Dhan's URL carries the access token), whose
        # handshake lines websockets logs at DEBUG.
        "websockets": {"level": "WARNING"},
    },
}

# --- Hosted Python strategies (strategies/hosted/) --------------------------------------------
# Each runs in its own process, started by a worker, under these limits (README: Hosted Python
# strategies). Code, working folders and logs live under this folder.
HOSTED_DIR = Path(env.str("HOSTED_DIR", default=str(VAR_DIR / "hosted")))
# What a strategy's OPENALGO_HOST and OPENALGO_WS_URL say: this platform's real addresses.
# honcho gives each process of the Procfile its own PORT (web's +100 per line): the worker learns
# the web process's port from WEB_PORT, which `make run` sets.
_LOCAL_HOST = "127.0.0.1" if HOST in ("0.0.0.0", "::", "") else HOST  # noqa: S104  (a wildcard bind is reached locally)
_WEB_PORT = env.int("WEB_PORT", default=PORT)
HOSTED_PLATFORM_URL = env.str("HOSTED_PLATFORM_URL", default=f"http://{_LOCAL_HOST}:{_WEB_PORT}")
HOSTED_WS_URL = env.str("HOSTED_WS_URL", default=f"ws://{_LOCAL_HOST}:{WS_PORT}")
# The OS account strategies run as. Empty: "nobody" when the worker runs as root (so a script
# cannot read the platform's files and RLIMIT_NPROC counts strategies only), else the worker's own.
HOSTED_RUN_AS = env.str("HOSTED_RUN_AS", default="")
HOSTED_CPU_SECONDS = env.int("HOSTED_CPU_SECONDS", default=3600)  # per run; a restart starts afresh
HOSTED_MEMORY_MB = env.int("HOSTED_MEMORY_MB", default=1024)  # address space
HOSTED_OPEN_FILES = env.int("HOSTED_OPEN_FILES", default=256)
# RLIMIT_NPROC counts threads too, and every task of the account: high enough for the official
# client's WebSocket threads. Fork bombs meet HOSTED_MAX_PROCESSES first (the runner's watch).
HOSTED_MAX_TASKS = env.int("HOSTED_MAX_TASKS", default=256)
HOSTED_MAX_PROCESSES = env.int("HOSTED_MAX_PROCESSES", default=32)
HOSTED_FILE_MB = env.int("HOSTED_FILE_MB", default=100)  # largest file a strategy may write
HOSTED_LOG_MAX_BYTES = env.int("HOSTED_LOG_MAX_BYTES", default=5 * 2**20)
HOSTED_LOG_BACKUPS = env.int("HOSTED_LOG_BACKUPS", default=3)
HOSTED_OUTPUT_BYTES_PER_MINUTE = env.int("HOSTED_OUTPUT_BYTES_PER_MINUTE", default=10 * 2**20)
HOSTED_STOP_GRACE_SECONDS = env.float("HOSTED_STOP_GRACE_SECONDS", default=5)
HOSTED_SUPERVISE_SECONDS = env.float("HOSTED_SUPERVISE_SECONDS", default=15)
# A runner that hears nothing from the supervisor this long stops its strategy (platform down).
HOSTED_LEASE_SECONDS = env.float("HOSTED_LEASE_SECONDS", default=120)
HOSTED_BACKOFF_SECONDS = env.float("HOSTED_BACKOFF_SECONDS", default=5)  # doubles per crash...
HOSTED_BACKOFF_MAX_SECONDS = env.float("HOSTED_BACKOFF_MAX_SECONDS", default=300)  # ...up to this
HOSTED_STABLE_SECONDS = env.float("HOSTED_STABLE_SECONDS", default=600)  # a run this long resets it
