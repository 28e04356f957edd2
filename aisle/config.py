"""All configuration, read once from the environment.

Stdlib only: this module is imported from both virtual environments (the Rasa one runs
``aisle.rasa_server``). Every variable is documented in docs/configuration.md.
"""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aisle.cart_link import CartLinkTemplate

REPO_ROOT = Path(__file__).resolve().parent.parent
PRECISIONS = ("int8", "fp32")
DEFAULT_NLU_PRECISION = "fp32"  # int8 lost 0.33 points on the held-out NLU set (bound: 0.3)
DEFAULT_ENCODER_PRECISION = "int8"  # NDCG@10 within 0.003 of torch on both search benchmarks
LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A configuration variable holds a value Aisle cannot use."""


def _number(env: dict[str, str], name: str, default: float, cast: type, what: str):  # type: ignore[no-untyped-def]
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None


def _int(env: dict[str, str], name: str, default: int) -> int:
    return int(_number(env, name, default, int, "an integer"))


def _float(env: dict[str, str], name: str, default: float) -> float:
    return float(_number(env, name, default, float, "a number"))


def _positive(env: dict[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _origin(raw: str) -> str:
    """An origin as browsers send it: scheme://host[:port], lower case, no path."""
    value = raw.strip().rstrip("/").lower()
    scheme, sep, rest = value.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
        raise ConfigError(f"AISLE_WIDGET_ORIGINS: {raw.strip()!r} is not an origin like https://shop.example.com")
    return value


PROXY_HEADERS = ("x-forwarded", "forwarded")


def _networks(raw: str) -> tuple[str, ...]:
    """AISLE_TRUSTED_PROXIES: comma-separated addresses or CIDR networks, normalised ("10.0.0.0/8")."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item)))
        except ValueError:
            raise ConfigError(f"AISLE_TRUSTED_PROXIES: {item!r} is not an IP address or network like "
                              "10.0.0.0/8 (host bits must be zero)") from None
    return tuple(networks)


MIN_SECRET_CHARS = 16


def read_or_create_secret(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600), made once: every process on the same data dir reads
    the same value. Written whole to a temporary file and linked into place, so a process starting at
    the same moment never reads a half-written secret."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass  # another service made it first: use theirs
        finally:
            scratch.unlink()
        mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} holds a secret but others can read it: chmod 600 {path}")
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_CHARS:
        raise ConfigError(f"{path} must hold a secret of at least {MIN_SECRET_CHARS} characters")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str  # the public web app's bind address
    internal_host: str  # Rasa, the action server and the NLU server bind here: never the public side
    web_port: int
    rasa_port: int
    action_port: int
    nlu_port: int
    nlu_threshold: float | None  # None: the threshold tuned when the model was trained
    nlu_max_chars: int
    rasa_urls: tuple[str, ...]  # one Rasa server, or several sharing a Redis lock store
    action_url: str
    nlu_url: str
    log_level: str
    log_format: str  # "text" (timestamped lines) or "json" (one JSON object a line, for log shippers)
    max_message_chars: int  # longest shopper message the gateway accepts
    rate_per_conversation: str  # "N/second|minute|hour" (limits' syntax), per conversation
    rate_per_ip: str  # the same, per client IP address
    cookie_secure: bool  # console cookies Secure even over plain HTTP (behind a TLS proxy); HTTPS requests get it anyway
    retention_days: int  # transcripts older than this are deleted; 0 keeps them
    redis_url: str | None  # production mode: Redis for Rasa's lock store, live fan-out and limits
    turn_timeout_s: float  # longest a shopper waits for the bot before an honest "one moment"
    torch_threads: int  # inference threads per serving process (ONNX Runtime, or torch where it runs); more only spin on 2 cores
    internal_secret_env: str | None  # AISLE_INTERNAL_SECRET; None: a per-data-dir secret file
    # Reverse proxies whose X-Forwarded-* (or Forwarded) headers say who the client is and whether it came
    # over HTTPS; from any other peer those headers are ignored. Empty: nobody's are believed.
    trusted_proxies: tuple[str, ...]
    proxy_headers: str  # "x-forwarded" or "forwarded": the one header family the proxies set
    widget_origins: tuple[str, ...]  # store sites that embed the widget (may frame Aisle's pages, open /ws)
    api_keys: tuple[str, ...]  # chat API keys from the environment (automation, tests), besides admins' keys
    widget_idle_s: int  # a widget conversation left this long without a message is not resumed
    widget_secret_env: str | None  # AISLE_WIDGET_SECRET; None: a per-data-dir secret file
    order_verification_idle_s: float  # a shopper's order verification ends after this long unused
    # ONNX Runtime graph each serving process runs: "int8" (dynamic quantisation) or "fp32";
    # the defaults are what kept quality within bounds in reports/onnx.md.
    nlu_precision: str
    encoder_precision: str
    store_url: str | None  # the shop's own site (AISLE_STORE_URL): imported products link to pages under it
    # Bearer token Prometheus sends to /metrics; None: /metrics answers only direct loopback callers.
    metrics_token: str | None
    cart_link: CartLinkTemplate | None  # AISLE_CART_LINK_TEMPLATE (+ _JOIN): the store's cart; None: Aisle's own
    # AISLE_SHOPIFY_WEBHOOK_SECRET: signs Shopify's order webhooks; None: the webhook routes are off (404)
    shopify_webhook_secret: str | None
    webhook_max_age_s: float  # a webhook triggered longer ago than this is refused as a replay
    recs_rebuild_s: float  # the least time between two background rebuilds of the recommender

    @property
    def internal_secret_file(self) -> Path:
        return self.data_dir / "internal-secret"

    def internal_secret(self) -> str:
        """The shared secret of the web app, Rasa, the action server and the NLU server: callers send it
        as ``Authorization: Bearer`` (Rasa's HTTP API as its auth token). AISLE_INTERNAL_SECRET, or one
        generated once per data dir."""
        return self.internal_secret_env or read_or_create_secret(self.internal_secret_file)

    @property
    def widget_secret_file(self) -> Path:
        return self.data_dir / "widget-secret"

    def widget_signing_key(self) -> bytes:
        """Signs the widget's conversation tokens: AISLE_WIDGET_SECRET, or one generated once per data dir
        (shared by every web app process on it, so tokens survive restarts)."""
        return (self.widget_secret_env or read_or_create_secret(self.widget_secret_file)).encode()

    @property
    def rasa_url(self) -> str:
        """The first (or only) Rasa server."""
        return self.rasa_urls[0]

    @property
    def nlu_model_dir(self) -> Path:
        return self.data_dir / "nlu"

    @property
    def encoder_dir(self) -> Path:
        """The sentence encoder exported to ONNX (written on first use when missing)."""
        return self.data_dir / "encoder"

    @property
    def rasa_model_dir(self) -> Path:
        return self.data_dir / "models"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("AISLE_DATA_DIR") or REPO_ROOT / "var")
        if not data_dir.is_absolute():
            data_dir = (Path.cwd() / data_dir).resolve()
        database_url = env.get("AISLE_DATABASE_URL") or f"sqlite:///{data_dir / 'aisle.db'}"
        if "://" not in database_url:
            raise ConfigError(f"AISLE_DATABASE_URL must be an SQLAlchemy URL, got {database_url!r}")
        host = env.get("AISLE_HOST") or "127.0.0.1"
        internal_host = env.get("AISLE_INTERNAL_HOST") or "127.0.0.1"
        internal_secret = env.get("AISLE_INTERNAL_SECRET", "").strip() or None
        if internal_secret is not None and len(internal_secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"AISLE_INTERNAL_SECRET must be at least {MIN_SECRET_CHARS} characters")
        widget_secret = env.get("AISLE_WIDGET_SECRET", "").strip() or None
        if widget_secret is not None and len(widget_secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"AISLE_WIDGET_SECRET must be at least {MIN_SECRET_CHARS} characters")
        widget_idle_s = _int(env, "AISLE_WIDGET_IDLE_MINUTES", 30) * 60
        if widget_idle_s <= 0:
            raise ConfigError("AISLE_WIDGET_IDLE_MINUTES must be positive")
        rasa_port = _int(env, "AISLE_RASA_PORT", 5005)
        action_port = _int(env, "AISLE_ACTION_PORT", 5055)
        nlu_port = _int(env, "AISLE_NLU_PORT", 5006)
        rasa_urls = tuple(u.strip().rstrip("/") for u in (env.get("AISLE_RASA_URL") or "").split(",") if u.strip())
        redis_url = env.get("AISLE_REDIS_URL", "").strip() or None
        if len(rasa_urls) > 1 and not redis_url:
            raise ConfigError("several AISLE_RASA_URL servers need AISLE_REDIS_URL: their shared lock store "
                              "is what keeps one conversation's turns in order")
        if redis_url and not redis_url.startswith(("redis://", "rediss://")):
            raise ConfigError(f"AISLE_REDIS_URL must be a redis:// URL, got {redis_url!r}")
        turn_timeout = _positive(env, "AISLE_TURN_TIMEOUT_S", 15.0)
        verification_idle = _positive(env, "AISLE_ORDER_VERIFICATION_IDLE_MINUTES", 30.0)
        store_url = (env.get("AISLE_STORE_URL") or "").strip().rstrip("/") or None
        if store_url is not None and not re.match(r"^https?://[^/\s]+", store_url):
            raise ConfigError(f"AISLE_STORE_URL must be an http(s) URL, got {store_url!r}")
        cart_link = None
        if (env.get("AISLE_CART_LINK_TEMPLATE") or "").strip():
            try:
                cart_link = CartLinkTemplate.parse(env["AISLE_CART_LINK_TEMPLATE"],
                                                   env.get("AISLE_CART_LINK_JOIN") or None)
            except ValueError as exc:
                raise ConfigError(f"AISLE_CART_LINK_TEMPLATE: {exc}") from None
        webhook_secret = (env.get("AISLE_SHOPIFY_WEBHOOK_SECRET") or "").strip() or None
        if webhook_secret is not None and len(webhook_secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"AISLE_SHOPIFY_WEBHOOK_SECRET must be at least {MIN_SECRET_CHARS} characters")
        # Shopify retries a delivery for 4 hours, with the time it was first triggered.
        webhook_max_age = _positive(env, "AISLE_WEBHOOK_MAX_AGE_MINUTES", 300.0)
        recs_rebuild_s = _positive(env, "AISLE_RECS_REBUILD_SECONDS", 30.0)
        threshold = _float(env, "AISLE_NLU_THRESHOLD", 0.0) if env.get("AISLE_NLU_THRESHOLD", "").strip() else None
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"AISLE_NLU_THRESHOLD must be between 0 and 1, got {threshold}")
        log_format = (env.get("AISLE_LOG_FORMAT") or "text").strip().lower()
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"AISLE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
        metrics_token = env.get("AISLE_METRICS_TOKEN", "").strip() or None
        if metrics_token is not None and len(metrics_token) < MIN_SECRET_CHARS:
            raise ConfigError(f"AISLE_METRICS_TOKEN must be at least {MIN_SECRET_CHARS} characters")
        proxy_headers = (env.get("AISLE_PROXY_HEADERS") or "x-forwarded").strip().lower()
        if proxy_headers not in PROXY_HEADERS:
            raise ConfigError(f"AISLE_PROXY_HEADERS must be one of {', '.join(PROXY_HEADERS)}, "
                              f"got {proxy_headers!r}")
        precisions = {}
        for name, default in (("AISLE_NLU_PRECISION", DEFAULT_NLU_PRECISION),
                              ("AISLE_ENCODER_PRECISION", DEFAULT_ENCODER_PRECISION)):
            precisions[name] = (env.get(name) or default).strip().lower()
            if precisions[name] not in PRECISIONS:
                raise ConfigError(f"{name} must be one of {', '.join(PRECISIONS)}, got {env.get(name)!r}")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=host,
            internal_host=internal_host,
            web_port=_int(env, "AISLE_WEB_PORT", 8000),
            rasa_port=rasa_port,
            action_port=action_port,
            nlu_port=nlu_port,
            nlu_threshold=threshold,
            nlu_max_chars=_int(env, "AISLE_NLU_MAX_CHARS", 2000),
            rasa_urls=rasa_urls or (f"http://{internal_host}:{rasa_port}",),
            action_url=env.get("AISLE_ACTION_URL") or f"http://{internal_host}:{action_port}/webhook",
            nlu_url=env.get("AISLE_NLU_URL") or f"http://{internal_host}:{nlu_port}",
            log_level=(env.get("AISLE_LOG_LEVEL") or "INFO").upper(),
            log_format=log_format,
            max_message_chars=_int(env, "AISLE_MAX_MESSAGE_CHARS", 2000),
            rate_per_conversation=env.get("AISLE_RATE_PER_CONVERSATION") or "30/minute",
            rate_per_ip=env.get("AISLE_RATE_PER_IP") or "300/minute",
            cookie_secure=env.get("AISLE_COOKIE_SECURE", "").strip().lower() in ("1", "true", "yes"),
            retention_days=_int(env, "AISLE_TRANSCRIPT_RETENTION_DAYS", 180),
            redis_url=redis_url,
            turn_timeout_s=turn_timeout,
            torch_threads=max(1, _int(env, "AISLE_TORCH_THREADS", 1)),
            internal_secret_env=internal_secret,
            trusted_proxies=_networks(env.get("AISLE_TRUSTED_PROXIES") or ""),
            proxy_headers=proxy_headers,
            widget_origins=tuple(_origin(o) for o in (env.get("AISLE_WIDGET_ORIGINS") or "").split(",") if o.strip()),
            api_keys=tuple(k.strip() for k in (env.get("AISLE_API_KEYS") or "").split(",") if k.strip()),
            widget_idle_s=widget_idle_s,
            widget_secret_env=widget_secret,
            order_verification_idle_s=verification_idle * 60,
            nlu_precision=precisions["AISLE_NLU_PRECISION"],
            encoder_precision=precisions["AISLE_ENCODER_PRECISION"],
            store_url=store_url,
            metrics_token=metrics_token,
            cart_link=cart_link,
            shopify_webhook_secret=webhook_secret,
            webhook_max_age_s=webhook_max_age * 60,
            recs_rebuild_s=recs_rebuild_s,
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings (an explicit cache: the environment is read once)."""
    return Settings.from_env()
