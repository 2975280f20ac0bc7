"""Parley settings, read from the environment (see .env.example).

With nothing set, Parley runs locally on SQLite, with events, presence and cache in
process memory.
With DEBUG off, an unsafe configuration stops the process at start-up instead
of serving with it.
"""

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config.origins import site_of

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", parse_comments=True)

DEV_SECRET_KEY = "parley-insecure-development-key-do-not-use-in-production"  # noqa: S105

DEBUG = env.bool("DEBUG", default=True)
# Django's technical error pages (a 404 listing the URL patterns) under DEBUG. Off, people
# get Parley's 404 and 403 pages as in production, `make run` included
# (chat/http/errorpages.py); a developer sets DEBUG_PAGES=true.
DEBUG_PAGES = env.bool("DEBUG_PAGES", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)

# The local server's origins, used for the defaults below. `make run` exports
# HOST and PORT so that the defaults match the address actually served.
LOCAL_HOST = env.str("HOST", default="127.0.0.1")
LOCAL_PORT = env.int("PORT", default=8000)


LOOPBACK_NAMES = {"127.0.0.1": ["127.0.0.1", "localhost"], "::1": ["[::1]", "localhost"]}
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104


def local_hostnames(host: str) -> list[str]:
    """The host names a browser on this machine uses to reach a server bound to `host`."""
    host = WILDCARD_HOSTS.get(host, host)
    return LOOPBACK_NAMES.get(host, [host])


def local_origins(host: str, port: int) -> list[str]:
    """The exact origins of a local server, for the WebSocket allow-list."""
    return [f"http://{name}:{port}" for name in local_hostnames(host)]


# The site's public address (https://chat.example.com): where set, it gives ALLOWED_HOSTS
# its host and CSRF_TRUSTED_ORIGINS and PARLEY_ORIGINS its origin, unless those are set.
PUBLIC_URL = env.str("PUBLIC_URL", default="")
PUBLIC_SITE = site_of(PUBLIC_URL) if PUBLIC_URL else None
if PUBLIC_URL and PUBLIC_SITE is None:
    raise ImproperlyConfigured(
        f"PUBLIC_URL must be the site's address, such as https://chat.example.com "
        f"(http or https, a host, no path), not {PUBLIC_URL!r}."
    )

if PUBLIC_SITE:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[PUBLIC_SITE.host])
else:
    ALLOWED_HOSTS = env.list(
        "ALLOWED_HOSTS",
        default=[*local_hostnames(LOCAL_HOST), "testserver"] if DEBUG else [],
    )
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[PUBLIC_SITE.origin] if PUBLIC_SITE else []
)
# Exact scheme://host:port origins allowed to open the WebSocket.
PARLEY_ORIGINS = env.list(
    "PARLEY_ORIGINS",
    default=local_origins(LOCAL_HOST, LOCAL_PORT)
    if DEBUG and not PUBLIC_SITE
    else CSRF_TRUSTED_ORIGINS,
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "servestatic",
    "channels",
    "accounts",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chat.http.bearer.BearerTokenMiddleware",  # an API token in place of the session
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "chat.http.errorpages.ErrorPages",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.csp",
                "chat.i18n.client_catalog",
            ],
        },
    },
]

# Database: SQLite file by default, tuned so concurrent writers queue instead
# of failing with "database is locked".
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, each statement's placeholders rewritten once (config/sqlite/).
    DATABASES["default"]["ENGINE"] = "config.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=20000;"
            "PRAGMA foreign_keys=ON;"
            # A send's client_msg_id goes to a random page of its author's part of the
            # unique index, so the pages sends write outgrow SQLite's default 2 MB
            # cache with a few 100,000 messages; the cache grows only as pages are read.
            "PRAGMA cache_size=-65536;"
        ),
    }
    # Opening a SQLite connection (pragmas, SQL functions) costs more than a send's
    # queries: keep each thread's connection open.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=None)
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Fan-out between processes (chat/realtime/bus/): Redis pub/sub when REDIS_URL is set, else
# the process-local bus. No Channels layer is configured: Parley's consumer has no layer
# channel (channel_layer_alias = None), and nothing else asks Channels for a layer.
REDIS_URL = env.str("REDIS_URL", default="")
# Hosted Redis that speaks TLS with a certificate no authority signed gives a bare
# rediss:// URL that it owns (Heroku's add-on): REDIS_SSL_CERT_REQS=none adds
# ssl_cert_reqs=none to it, for every connection Parley opens, unless the URL says otherwise.
REDIS_SSL_CERT_REQS = env.str("REDIS_SSL_CERT_REQS", default="")
if REDIS_SSL_CERT_REQS not in ("", "none", "optional", "required"):
    raise ImproperlyConfigured("REDIS_SSL_CERT_REQS must be none, optional or required.")


def with_cert_reqs(url: str, cert_reqs: str) -> str:
    """A rediss:// `url` with ssl_cert_reqs=`cert_reqs` unless it has its own; others as given."""
    parts = urlsplit(url)
    if not cert_reqs or parts.scheme != "rediss" or "ssl_cert_reqs" in parse_qs(parts.query):
        return url
    return parts._replace(
        query="&".join(filter(None, [parts.query, f"ssl_cert_reqs={cert_reqs}"]))
    ).geturl()


REDIS_URL = with_cert_reqs(REDIS_URL, REDIS_SSL_CERT_REQS)
# Prefix of every Redis key and pub/sub channel Parley makes (fan-out, presence).
REDIS_PREFIX = env.str("CHANNEL_PREFIX", default="parley")

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "resume"  # the room this browser last showed (chat.http.pages.resume)
LOGOUT_REDIRECT_URL = "login"

# Mail (password resets, confirming an address): EMAIL_URL, e.g. smtp+tls://user:pass@host:587,
# read by django-environ and given to Django as its MAILERS. Unset, mail is printed on the
# console in DEBUG (`make run` shows the links) and dropped otherwise: a production server
# without EMAIL_URL sends nothing.
EMAIL = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "dummymail://")
EMAIL_OPTIONS = {  # django-environ's names → the mail backend's arguments
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
    "EMAIL_FILE_PATH": "file_path",
}
MAILERS = {
    "default": {
        "BACKEND": {  # on the console, mails as people read them (config/mail.py)
            "django.core.mail.backends.console.EmailBackend": "config.mail.ConsoleBackend"
        }.get(EMAIL["EMAIL_BACKEND"], EMAIL["EMAIL_BACKEND"]),
        "OPTIONS": {
            **{arg: EMAIL[name] for name, arg in EMAIL_OPTIONS.items() if EMAIL.get(name)},
            **{name.lower(): value for name, value in EMAIL.get("OPTIONS", {}).items()},
        },
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Parley <parley@localhost>")

# The interface languages: English, and German from locale/ (README: Languages).
# The language is the one chosen on the profile page, else the browser's Accept-Language.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Serve uploaded avatars from the app itself (they are re-encoded PNGs); turn off
# when a web server or object storage serves MEDIA_URL instead.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
# Message attachments: private files, outside MEDIA_ROOT (which SERVE_MEDIA serves to
# anyone), served only by the access-checked /files/ views.
UPLOAD_ROOT = env.path("UPLOAD_ROOT", default=BASE_DIR / "uploads")
if Path(UPLOAD_ROOT).resolve().is_relative_to(Path(MEDIA_ROOT).resolve()):
    raise ImproperlyConfigured("UPLOAD_ROOT must not lie inside MEDIA_ROOT: media is public.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "uploads": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": UPLOAD_ROOT, "base_url": "/files/"},
    },
    "staticfiles": {
        "BACKEND": "config.storage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
SERVESTATIC_USE_FINDERS = DEBUG

# Avatars: the profile form enforces these limits.
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = AVATAR_MAX_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Message attachments: the largest file accepted. A request body larger than this
# (plus a little for the multipart framing) is refused before it is read.
PARLEY_UPLOAD_MAX_BYTES = env.int("PARLEY_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)

# Content-Security-Policy: no inline script, ever.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    # 'self' covers ws(s): for current browsers; older Safari needs the origins spelled out.
    "connect-src": ["'self'", *(o.replace("http", "ws", 1) for o in PARLEY_ORIGINS)],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if not DEBUG:
    if (
        SECRET_KEY in ("", DEV_SECRET_KEY)
        or SECRET_KEY.startswith("change-me")
        or len(SECRET_KEY) < 32
    ):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a long random value when DEBUG is off "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS (or PUBLIC_URL) must be set when DEBUG is off.")
    if PUBLIC_SITE and not PUBLIC_SITE.origin.startswith("https://"):
        raise ImproperlyConfigured(
            "PUBLIC_URL must be https:// when DEBUG is off: the session and CSRF cookies "
            "then travel over HTTPS only."
        )
    if not PARLEY_ORIGINS:
        raise ImproperlyConfigured(
            "PARLEY_ORIGINS (or CSRF_TRUSTED_ORIGINS, or PUBLIC_URL) must list the site's "
            "https:// origin when DEBUG is off."
        )
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"without_connection_open": {"()": "config.logfilters.WithoutConnectionOpen"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "uvicorn.error": {"filters": ["without_connection_open"]},
    },
}

# Chat behaviour.
PARLEY_SEND_RATE = tuple(env.list("PARLEY_SEND_RATE", cast=int, default=[30, 10]))
# Budgets (chat/limits.py): at most `count` per `seconds`, in any such span, per person
# (or per address), shared through Redis when REDIS_URL is set. Each can be set with
# PARLEY_LIMIT_<NAME>=count,seconds; a count of 0 turns that one off.
PARLEY_LIMIT_DEFAULTS = {
    "edit": (30, 60),  # edits of messages
    "delete": (30, 60),  # deletions of messages
    "react": (60, 60),  # reactions added or taken back
    "pin": (30, 60),  # messages pinned or unpinned
    "typing": (60, 60),  # typing notices (besides one per room per 2 s)
    "read": (240, 60),  # read pointers moved
    "room_create": (10, 600),  # rooms created (public or private), direct rooms opened
    "room_change": (30, 600),  # renames, topics, leaving, notification settings
    "member_change": (60, 600),  # members added, removed or given a role
    "webhook": (20, 3600),  # webhooks made or revoked
    "hook_miss": (30, 600),  # posts to an unknown or revoked webhook from one address
    "upload": (20, 300),  # files uploaded
    "search": (30, 60),  # searches
    "history": (300, 60),  # history pages read (socket fetch and API)
    "block": (30, 600),  # blocks and unblocks
    "login_account": (10, 900),  # failed logins for one account
    "login_address": (50, 900),  # failed logins from one address
    "register_address": (10, 3600),  # accounts registered from one address
    "reset_address": (10, 3600),  # password-reset requests from one address
    "reset_account": (3, 3600),  # password-reset mails to one account
    "confirm_email": (5, 3600),  # mails one account has sent to confirm its address
    "data_export": (5, 3600),  # downloads of one's own data
    "token_create": (20, 3600),  # API tokens made (a bot's new token included)
    "bot_create": (10, 3600),  # bots made
}
# Sockets: per process, per client address (in this process), per user (in every process).
PARLEY_MAX_SOCKETS = env.int("PARLEY_MAX_SOCKETS", default=10_000)
PARLEY_MAX_SOCKETS_PER_ADDRESS = env.int("PARLEY_MAX_SOCKETS_PER_ADDRESS", default=200)
PARLEY_MAX_SOCKETS_PER_USER = env.int("PARLEY_MAX_SOCKETS_PER_USER", default=30)
PARLEY_LIMITS = {
    name: tuple(env.list(f"PARLEY_LIMIT_{name.upper()}", cast=int, default=list(default)))
    for name, default in PARLEY_LIMIT_DEFAULTS.items()
}
PARLEY_HEADS_INTERVAL = env.float("PARLEY_HEADS_INTERVAL", default=25.0)
# Rooms up to this many members (and every direct room) carry live presence.
PARLEY_PRESENCE_MAX_MEMBERS = env.int("PARLEY_PRESENCE_MAX_MEMBERS", default=100)
# How long after sending its author may edit a message (seconds; 0: always).
PARLEY_EDIT_WINDOW = env.int("PARLEY_EDIT_WINDOW", default=3600)
# Under load, how long (ms) the fan-out holds events (coalescing) before writing them out, so
# a socket gets several in one write (chat/realtime/coalescing.py); below ~2 events per window,
# nothing waits.
PARLEY_FANOUT_COALESCE_MS = env.int("PARLEY_FANOUT_COALESCE_MS", default=5)
if not 0 <= PARLEY_FANOUT_COALESCE_MS <= 100:
    raise ImproperlyConfigured("PARLEY_FANOUT_COALESCE_MS must be 0 (off) to 100 milliseconds.")
if not 0 < PARLEY_HEADS_INTERVAL < 30:
    raise ImproperlyConfigured(
        "PARLEY_HEADS_INTERVAL must be above 0 and under 30 seconds: clients count on "
        "a heads frame at least every 30 s."
    )

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CSRF_FAILURE_VIEW = "chat.http.api.csrf_failure"
