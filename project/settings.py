"""Haven's settings, read only from the environment, with safe embedded defaults.

Embedded default (no variables): SQLite under var/, the in-memory channel layer, a secret
generated once into var/. Production: DJANGO_DEBUG=0 with DJANGO_SECRET_KEY, DATABASE_URL and
REDIS_URL. See README.md "Environment variables".
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF

from project import __version__, config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HAVEN_VAR_DIR", BASE_DIR / "var"))

DEBUG = config.env_bool(os.environ, "DJANGO_DEBUG", default=True)
SECRET_KEY = config.secret_key(os.environ, debug=DEBUG, var_dir=VAR_DIR)
SECRET_KEY_FALLBACKS = config.env_list(os.environ, "DJANGO_SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = config.env_list(
    os.environ, "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = config.env_list(os.environ, "DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The proxies whose X-Forwarded-For hop is believed (project/clientip.py): addresses or networks.
HAVEN_TRUSTED_PROXIES = config.env_networks(os.environ, "HAVEN_TRUSTED_PROXIES")
# HTTPS is assumed whenever debug is off; a proxy terminates TLS and says so in this header.
HTTPS = config.env_bool(os.environ, "HAVEN_HTTPS", default=not DEBUG)

INSTALLED_APPS = [
    "daphne",
    # Before the admin: project/templates/admin/base_site.html adds the admin's referrer <meta>.
    "project",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "groups",
    "facilitation",
    "safeguarding",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The quick exit's sign-out, for a request that beats its beacon (Back pressed at once).
    "groups.middleware.QuickExitMiddleware",
    # Staff sessions count as signed in only after their code (groups/middleware.py).
    "django_otp.middleware.OTPMiddleware",
    "groups.middleware.SecondFactorMiddleware",
    # Issue 18: her account's language choice wins over the cookie and Accept-Language guess.
    "groups.middleware.ChosenLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "project.middleware.NoStoreMiddleware",
    "project.middleware.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "frontend.context_processors.haven",
            ]
        },
    }
]

DATABASES = {"default": config.database_config(os.environ, var_dir=VAR_DIR)}
FIELD_ENCRYPTION_KEYS = config.field_encryption_keys(os.environ, debug=DEBUG, var_dir=VAR_DIR)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CHANNEL_LAYERS = config.channel_layers_config(
    os.environ,
    prefix=os.environ.get("HAVEN_CHANNEL_PREFIX", "haven"),
    # Every key, not just the newest: a rolling rotation must not make broadcasts unreadable.
    encryption_keys=FIELD_ENCRYPTION_KEYS,
)
# Counters of the sign-in slow-down and the REST throttles (Redis when REDIS_URL is set).
CACHES = config.cache_config(os.environ, prefix=os.environ.get("HAVEN_CHANNEL_PREFIX", "haven"))

AUTH_USER_MODEL = "groups.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Lockout keyed on username + IP together, so nobody can lock a member out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = config.env_int(os.environ, "HAVEN_LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=15)
# Failed sign-ins for one username, from any address, before each further attempt waits
# (groups/services/slowdown.py: a growing delay, never a lockout).
HAVEN_USERNAME_FAILURE_LIMIT = config.env_int(
    os.environ, "HAVEN_USERNAME_FAILURE_LIMIT", default=10, minimum=1
)
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True
AXES_USERNAME_CALLABLE = "groups.services.username_normalise_from_request"
# The address project.clientip settled (never a client-written X-Forwarded-For).
AXES_CLIENT_IP_CALLABLE = "project.clientip.request_client_ip"
# Authenticator apps show this name beside the code.
OTP_TOTP_ISSUER = "Haven"
# API tokens end after this long unused, and this long after they were issued, whatever the use.
HAVEN_TOKEN_IDLE_HOURS = config.env_int(os.environ, "HAVEN_TOKEN_IDLE_HOURS", default=24, minimum=1)
HAVEN_TOKEN_MAX_DAYS = config.env_int(os.environ, "HAVEN_TOKEN_MAX_DAYS", default=30, minimum=1)
# The token view and the sign-in page answer lockouts themselves (PROTOCOL.md envelope).
SILENCED_SYSTEM_CHECKS = ["axes.W002"]

LANGUAGE_CODE = "en"
# Each language is named in its own words (the language choice shows these names as they are).
# Catalogues live in locale/<code>/LC_MESSAGES/; README "Languages" says how to add one.
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("ro", "Română"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# A signed-out choice lasts as long as the browser session, like the session cookie.
LANGUAGE_COOKIE_AGE = None
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = HTTPS
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise warns at start-up when the folder is missing (it fills only on collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Shared devices: a signed-in browser session ends after 8 hours, or when the browser closes.
SESSION_COOKIE_AGE = 8 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A session-length CSRF cookie: Django's default keeps it a year on a shared device.
CSRF_COOKIE_AGE = None
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# The quick exit's mark (exit.js sets it before the page leaves; groups.middleware
# .QuickExitMiddleware signs the browser out on the next request that carries it).
HAVEN_LEFT_COOKIE_NAME = "left"
if HTTPS:
    # __Host- cookies are bound to this exact host over HTTPS (browsers refuse them over http).
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    HAVEN_LEFT_COOKIE_NAME = "__Host-left"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = config.env_bool(os.environ, "HAVEN_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Probes and scrapers ask over plain HTTP on loopback (docs/operations.md); everything else
# is redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
# Every response says "no-referrer". Pages narrow it to "same-origin" with a <meta> tag in
# base.html: under "no-referrer" browsers send `Origin: null` with a page's own form posts,
# which CSRF protection must refuse; "same-origin" still tells no other site anything.
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes "not signed in" a 401, not a 403.
        "groups.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "project.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "project.exceptions.api_exception_handler",
    # project/throttling.py: which routes are limited and how they are counted.
    "DEFAULT_THROTTLE_CLASSES": ["project.throttling.RouteThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "signin": "30/min",  # per client address
        "invite_redeem": "20/hour",  # per client address
        "invite_code": "30/hour",  # per invite code
        "concern_raise": "30/hour",  # per account
        "proposal": "20/hour",  # per account
        "export": "10/hour",  # per account
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Haven API",
    "DESCRIPTION": "REST half of the Haven wire contract (PROTOCOL.md). The live room is a "
    "WebSocket at /ws/sessions/{session_id}/.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "project.throttling.document_throttles",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "GroupRoleEnum": "groups.models.GroupRole",
        "OrgRoleEnum": "groups.models.OrgRole",
        "ProposalStatusEnum": "groups.models.ProposalStatus",
        "ProposalDecisionEnum": ["adopted", "declined"],
        "SessionStatusEnum": "facilitation.models.SessionStatus",
        "SessionKindEnum": "facilitation.models.SessionKind",
        "PlanItemKindEnum": "facilitation.models.PlanItemKind",
        "ConcernStatusEnum": "safeguarding.models.ConcernStatus",
        "ConcernCategoryEnum": "safeguarding.models.Category",
        "UrgencyEnum": "safeguarding.models.Urgency",
        "ReferralStatusEnum": "safeguarding.models.ReferralStatus",
        "NeedWordsEnum": "safeguarding.models.NeedWords",
    },
}

# Logs never carry message or concern text, display names or tokens; the filter also strips
# invite codes, which PROTOCOL.md puts in a URL path.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "project.logfilters.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "project.logfilters.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # The redaction first: every handler's only filter, before any formatter runs.
            "filters": ["redact"],
            # HAVEN_LOG_FORMAT=json: one JSON object per line, for a log collector.
            "formatter": config.env_choice(
                os.environ, "HAVEN_LOG_FORMAT", choices=("plain", "json"), default="plain"
            ),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("HAVEN_LOG_LEVEL", "INFO")},
    "loggers": {
        # Replaces Django's own "django" handler (plain, unfiltered, on under DEBUG), which would
        # write a request's path, invite codes included, before ours redacts it.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "daphne.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

HAVEN_NEUTRAL_EXIT_URL = os.environ.get("HAVEN_EXIT_URL", "https://www.bbc.co.uk/weather")
# How often each live connection checks the session log for anything the layer lost.
# Below a tenth of a second the heartbeat would spend the event loop on reading the log.
HAVEN_HEARTBEAT_SECONDS = config.env_float(
    os.environ, "HAVEN_HEARTBEAT_SECONDS", default=20.0, minimum=0.1
)
# Threads per process for the live room's database calls on PostgreSQL (project/realtime.py);
# each keeps one pooled connection from call to call, so keep it below HAVEN_DB_POOL_MAX.
# 0: Channels' single database thread, as on SQLite.
HAVEN_DB_THREADS = config.env_int(os.environ, "HAVEN_DB_THREADS", default=4, minimum=0)
# On PostgreSQL, write `message.send` on the event loop (project/asyncdb.py); 0 (false, off,
# no) keeps it on the database threads with every other call.
HAVEN_FAST_POST = config.env_bool(os.environ, "HAVEN_FAST_POST", default=True)
# Those connections prepare a statement the second time they run it (PostgreSQL then skips
# parsing and planning it); 0 turns it off, e.g. behind a transaction-mode pooler that cannot
# keep prepared statements. A `prepare_threshold` in the database OPTIONS wins.
HAVEN_FAST_POST_PREPARE = config.env_int(
    os.environ, "HAVEN_FAST_POST_PREPARE", default=2, minimum=0
)
# How soon a concern should be acknowledged, by urgency (hours; at least one, or every concern
# would be overdue the moment it is raised).
HAVEN_CONCERN_ACK_HOURS = {
    "urgent": config.env_int(os.environ, "HAVEN_CONCERN_ACK_URGENT_HOURS", default=1, minimum=1),
    "normal": config.env_int(os.environ, "HAVEN_CONCERN_ACK_NORMAL_HOURS", default=24, minimum=1),
    "low": config.env_int(os.environ, "HAVEN_CONCERN_ACK_LOW_HOURS", default=72, minimum=1),
}
# The organisation's urgent help ("I'm not safe right now" shows it at once, and the Get help
# page's "If you are in danger now, call:" line; default 999): a JSON list of
# {"label", "contact", "href"?}; checked at start-up (project.config.env_urgent_help).
HAVEN_URGENT_HELP = config.env_urgent_help(os.environ, "HAVEN_URGENT_HELP")
HAVEN_INVITE_DEFAULT_HOURS = 72
HAVEN_INVITE_MAX_HOURS = 24 * 30
# Issue 16: the address printed on an invite card, where she goes to join. Neutral by rule: it
# must never say what Haven is for. Empty: the card shows this site's own join page.
HAVEN_NEUTRAL_ADDRESS = os.environ.get("HAVEN_NEUTRAL_ADDRESS", "").strip()
# Issue 17: the organisation that runs Haven, named on the front door and the About page, and a
# contact line shown there (one line each; blank: a neutral translated wording). Checked at
# start-up (project.config.env_line).
HAVEN_ORGANISATION_NAME = config.env_line(
    os.environ,
    "HAVEN_ORGANISATION_NAME",
    maximum=config.ORGANISATION_TEXT_MAX["HAVEN_ORGANISATION_NAME"],
)
HAVEN_ORGANISATION_CONTACT = config.env_line(
    os.environ,
    "HAVEN_ORGANISATION_CONTACT",
    maximum=config.ORGANISATION_TEXT_MAX["HAVEN_ORGANISATION_CONTACT"],
)
# Issue 17: the organisation's own "Who sees what" (a UTF-8 text file, read and checked at
# start-up); unset: Haven's default text (frontend/templates/frontend/_who_sees_what.html).
HAVEN_WHO_SEES_WHAT = config.env_text_file(
    os.environ, "HAVEN_WHO_SEES_WHAT", maximum=config.WHO_SEES_WHAT_MAX
)
# Issue 19: Prometheus metrics at /metrics, off by default (docs/operations.md "What to watch").
# With HAVEN_METRICS_TOKEN set a scraper sends `Authorization: Bearer <token>`; without it only
# loopback may scrape. Every Daphne process of a machine writes its numbers into one directory,
# PROMETHEUS_MULTIPROC_DIR (default var/metrics; a tmpfs such as /run/haven-metrics is best: it
# must be emptied while no process runs, and a reboot does that). Set before prometheus_client
# is first imported, which happens only after the settings.
HAVEN_METRICS = config.env_bool(os.environ, "HAVEN_METRICS", default=False)
HAVEN_METRICS_TOKEN = os.environ.get("HAVEN_METRICS_TOKEN", "").strip()
_METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
if HAVEN_METRICS and not _METRICS_DIR:
    _METRICS_DIR = str(VAR_DIR / "metrics")
if _METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _METRICS_DIR
    Path(_METRICS_DIR).mkdir(parents=True, exist_ok=True)
else:
    # prometheus_client turns multi-process mode on for the name alone, even blank (an env
    # file's `PROMETHEUS_MULTIPROC_DIR=`), and would then write into the working directory.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
