"""The Redis connection of the jobs subsystem (None without REDIS_URL)."""
from redis import Redis


def redis_for(app) -> Redis | None:
    """One client per app, with short timeouts so a dead Redis fails fast instead of hanging."""
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    client = app.extensions.get("monitor_redis")
    if client is None:
        client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=3, health_check_interval=30)
        app.extensions["monitor_redis"] = client
    return client
