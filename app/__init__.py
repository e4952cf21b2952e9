"""Library service: application factory."""
from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Create and wire the app. No I/O beyond reading configuration."""
    app = Flask(__name__, instance_relative_config=True)
    from . import config

    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)

    from . import auth, database, errors, telemetry
    from .extensions import api, cache, csrf, limiter
    from .library import blueprint as library
    from .monitor import blueprint as monitor

    telemetry.init_app(app)
    database.init_app(app)
    cache.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    library.init_app(app)
    monitor.init_app(app)
    telemetry.start(app)  # instruments the engines and cache created above
    return app
