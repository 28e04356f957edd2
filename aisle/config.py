"""All configuration, read once from the environment.

Stdlib only: this module is imported from both virtual environments (the Rasa one runs
``aisle.rasa_server``). Every variable is documented in README.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


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


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str
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
    max_message_chars: int  # longest shopper message the gateway accepts
    rate_per_conversation: str  # "N/second|minute|hour" (limits' syntax), per conversation
    rate_per_ip: str  # the same, per client IP address
    cookie_secure: bool  # console cookies only over HTTPS (set when served behind TLS)
    retention_days: int  # transcripts older than this are deleted; 0 keeps them
    redis_url: str | None  # production mode: Redis for Rasa's lock store, live fan-out and limits
    turn_timeout_s: float  # longest a shopper waits for the bot before an honest "one moment"
    torch_threads: int  # intra-op threads per serving process (NLU, actions); more only spin on 2 cores

    @property
    def rasa_url(self) -> str:
        """The first (or only) Rasa server."""
        return self.rasa_urls[0]

    @property
    def nlu_model_dir(self) -> Path:
        return self.data_dir / "nlu"

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
        turn_timeout = _float(env, "AISLE_TURN_TIMEOUT_S", 15.0)
        if turn_timeout <= 0:
            raise ConfigError(f"AISLE_TURN_TIMEOUT_S must be positive, got {turn_timeout}")
        threshold = _float(env, "AISLE_NLU_THRESHOLD", 0.0) if env.get("AISLE_NLU_THRESHOLD", "").strip() else None
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"AISLE_NLU_THRESHOLD must be between 0 and 1, got {threshold}")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=host,
            web_port=_int(env, "AISLE_WEB_PORT", 8000),
            rasa_port=rasa_port,
            action_port=action_port,
            nlu_port=nlu_port,
            nlu_threshold=threshold,
            nlu_max_chars=_int(env, "AISLE_NLU_MAX_CHARS", 2000),
            rasa_urls=rasa_urls or (f"http://{host}:{rasa_port}",),
            action_url=env.get("AISLE_ACTION_URL") or f"http://{host}:{action_port}/webhook",
            nlu_url=env.get("AISLE_NLU_URL") or f"http://{host}:{nlu_port}",
            log_level=(env.get("AISLE_LOG_LEVEL") or "INFO").upper(),
            max_message_chars=_int(env, "AISLE_MAX_MESSAGE_CHARS", 2000),
            rate_per_conversation=env.get("AISLE_RATE_PER_CONVERSATION") or "30/minute",
            rate_per_ip=env.get("AISLE_RATE_PER_IP") or "300/minute",
            cookie_secure=env.get("AISLE_COOKIE_SECURE", "").strip().lower() in ("1", "true", "yes"),
            retention_days=_int(env, "AISLE_TRANSCRIPT_RETENTION_DAYS", 180),
            redis_url=redis_url,
            turn_timeout_s=turn_timeout,
            torch_threads=max(1, _int(env, "AISLE_TORCH_THREADS", 1)),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings (an explicit cache: the environment is read once)."""
    return Settings.from_env()
