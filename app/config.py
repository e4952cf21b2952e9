"""Configuration, read from the environment in this one place.

Every variable is documented in README.md ("Configuration").
"""
import os
import secrets
from pathlib import Path


def _float(name, default):
    return float(os.environ.get(name, default))


def _int(name, default):
    return int(os.environ.get(name, default))


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(name, default=""):
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def _optional_int(name):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept under instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance_path / 'library.db'}"
    # psycopg 3 is the PostgreSQL driver; accept the common short forms.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def from_environment(instance_path) -> dict:
    """Build the app's configuration mapping from environment variables."""
    instance_path = Path(instance_path)
    redis_url = os.environ.get("REDIS_URL") or None
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "REDIS_URL": redis_url,
        "SQLITE_BUSY_TIMEOUT_MS": _int("SQLITE_BUSY_TIMEOUT_MS", 30000),
        # Monitoring thresholds (names and defaults from the original guide).
        "ALERT_ERROR_RATE_PERCENT": _float("ALERT_ERROR_RATE_PERCENT", 5.0),
        "ALERT_BOOK_AVAILABILITY_PERCENT": _float("ALERT_BOOK_AVAILABILITY_PERCENT", 20.0),
        "ALERT_OVERDUE_RATE_PERCENT": _float("ALERT_OVERDUE_RATE_PERCENT", 10.0),
        "ALERT_RESPONSE_TIME_MS": _float("ALERT_RESPONSE_TIME_MS", 1000),
        "LOW_STOCK_THRESHOLD": _int("LOW_STOCK_THRESHOLD", 2),
        "MONITOR_CACHE_SECONDS": _int("MONITOR_CACHE_SECONDS", 60),
        # Scheduled jobs and alerting (docs/jobs-and-alerts.md).
        "MONITOR_COLLECT_INTERVAL_SECONDS": _int("MONITOR_COLLECT_INTERVAL_SECONDS", 60),
        # In-process scheduler without Redis: auto (only under `flask run`, i.e. `make run`), true, false.
        "MONITOR_EMBEDDED_SCHEDULER": os.environ.get("MONITOR_EMBEDDED_SCHEDULER", "auto").strip().lower(),
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "library-monitor"),
        "MONITOR_REDIS_PREFIX": os.environ.get("MONITOR_REDIS_PREFIX", "library:monitor"),
        "JOB_RETRY_INTERVALS": [int(v) for v in _csv("JOB_RETRY_INTERVALS", "5,30,120")],
        "ALERT_FOR_SECONDS": _optional_int("ALERT_FOR_SECONDS"),
        "ALERT_KEEP_FIRING_SECONDS": _optional_int("ALERT_KEEP_FIRING_SECONDS"),
        "ALERT_VERIFICATION_BACKLOG_HOURS": _float("ALERT_VERIFICATION_BACKLOG_HOURS", 72),
        "ALERT_QUEUE_DEPTH": _int("ALERT_QUEUE_DEPTH", 50),
        "ALERT_FAILED_JOBS": _int("ALERT_FAILED_JOBS", 1),
        "ALERT_WEBHOOK_URLS": _csv("ALERT_WEBHOOK_URLS", ""),
        "ALERTMANAGER_URL": os.environ.get("ALERTMANAGER_URL") or None,
        "ALERT_NOTIFY_RETRIES": _int("ALERT_NOTIFY_RETRIES", 3),
        "ALERT_NOTIFY_TIMEOUT_SECONDS": _float("ALERT_NOTIFY_TIMEOUT_SECONDS", 5),
        "ALERT_EXTERNAL_URL": os.environ.get("ALERT_EXTERNAL_URL", "http://127.0.0.1:8000"),
        "RETENTION_SNAPSHOT_DAYS": _int("RETENTION_SNAPSHOT_DAYS", 30),
        "RETENTION_SEARCH_LOG_DAYS": _int("RETENTION_SEARCH_LOG_DAYS", 180),
        "RETENTION_ALERT_HISTORY_DAYS": _int("RETENTION_ALERT_HISTORY_DAYS", 90),
        "RETENTION_JOB_RUNS_DAYS": _int("RETENTION_JOB_RUNS_DAYS", 30),
        # Lending rules.
        "LOAN_DAYS": _int("LOAN_DAYS", 14),
        "LOAN_LIMIT": _int("LOAN_LIMIT", 5),
        "MAX_RENEWALS": 2,
        "FINE_PER_DAY_CENTS": _int("FINE_PER_DAY_CENTS", 25),
        # Login throttling (Flask-Limiter syntax).
        "LOGIN_RATE_LIMIT_ACCOUNT": os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "5 per 15 minutes"),
        "LOGIN_RATE_LIMIT_ADDRESS": os.environ.get("LOGIN_RATE_LIMIT_ADDRESS", "20 per 15 minutes"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # X-RateLimit-* and Retry-After on rate-limited routes (the login endpoints).
        "RATELIMIT_HEADERS_ENABLED": True,
        # If Redis goes away, keep limiting logins in memory instead of failing them.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "CACHE_TYPE": "RedisCache" if redis_url else "SimpleCache",
        "CACHE_REDIS_URL": redis_url,
        "CACHE_DEFAULT_TIMEOUT": _int("MONITOR_CACHE_SECONDS", 60),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "ADMIN_USERNAME": os.environ.get("ADMIN_USERNAME", "admin"),
        "ADMIN_PASSWORD": os.environ.get("ADMIN_PASSWORD") or None,
        # OpenAPI (flask-smorest).
        "API_TITLE": "Library service",
        "API_VERSION": "1.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Telemetry (app/telemetry; docs/telemetry.md). Other OTEL_* variables (exporter
        # headers, timeout, compression, OTEL_RESOURCE_ATTRIBUTES, OTEL_METRIC_EXPORT_INTERVAL,
        # OTEL_SEMCONV_STABILITY_OPT_IN) are read by the OpenTelemetry SDK itself.
        "OTEL_SDK_DISABLED": _bool("OTEL_SDK_DISABLED", False),
        "OTEL_SERVICE_NAME": os.environ.get("OTEL_SERVICE_NAME") or "library-service",
        "SERVICE_VERSION": os.environ.get("SERVICE_VERSION") or "1.0.0",
        "DEPLOYMENT_ENVIRONMENT": os.environ.get("DEPLOYMENT_ENVIRONMENT") or "production",
        "OTEL_EXPORTER_OTLP_ENDPOINT": os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        "OTEL_EXPORTER_OTLP_PROTOCOL": os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf",
        "OTEL_TRACES_SAMPLER": os.environ.get("OTEL_TRACES_SAMPLER") or "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": os.environ.get("OTEL_TRACES_SAMPLER_ARG") or "0.1",
        "TELEMETRY_EXCLUDED_URLS": (os.environ.get("OTEL_PYTHON_FLASK_EXCLUDED_URLS")
                                    or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")
                                    or "/metrics,/healthz,/readyz"),
        "TELEMETRY_DEFER_START": _bool("TELEMETRY_DEFER_START", False),
        "LOG_FORMAT": (os.environ.get("LOG_FORMAT") or "text").strip().lower(),
        "LOG_LEVEL": (os.environ.get("LOG_LEVEL") or "INFO").strip().upper(),
    }
