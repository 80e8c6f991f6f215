"""Settings of the django-oauth-toolkit peer of `scripts/bench --peers` (its URLs: urls.py).

Django's and DOT's defaults but for the database. In particular DOT stores client secrets hashed
with Django's password hasher (PBKDF2-SHA256) and checks them that way on every request: that is
how it ships, and it is measured that way. The database is SQLite on disk in BENCH_PEER_DATA, in
WAL mode with synchronous=FULL (as Strongroom's), and transactions take the write lock at BEGIN
(no lock upgrades between gunicorn's threads).
"""
import os

DATA = os.environ["BENCH_PEER_DATA"]

SECRET_KEY = os.environ.get("BENCH_PEER_SECRET_KEY", "bench-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "urls"
APPEND_SLASH = False
MIDDLEWARE = []
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "oauth2_provider"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(DATA, "dot.sqlite"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 10,
        },
    }
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
OAUTH2_PROVIDER = {
    "SCOPES": {"profile": "profile", "introspection": "introspect tokens"},
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
}
