import stat
from pathlib import Path

import pytest

from aisle.config import REPO_ROOT, ConfigError, Settings
from aisle.rasa_cli import lock_store_environment, rasa_arguments, rasa_database_url, rasa_environment


def test_defaults_put_everything_under_var():
    s = Settings.from_env({})
    assert s.data_dir == REPO_ROOT / "var"
    assert s.database_url == f"sqlite:///{REPO_ROOT / 'var' / 'aisle.db'}"
    assert (s.rasa_port, s.action_port, s.nlu_port, s.web_port) == (5005, 5055, 5006, 8000)
    assert s.nlu_url == "http://127.0.0.1:5006"
    assert s.action_url == "http://127.0.0.1:5055/webhook"
    assert s.nlu_model_dir == REPO_ROOT / "var" / "nlu"
    assert s.order_verification_idle_s == 30 * 60
    assert Settings.from_env({"AISLE_ORDER_VERIFICATION_IDLE_MINUTES": "2.5"}).order_verification_idle_s == 150


def test_data_dir_moves_the_database_and_models(tmp_path: Path):
    s = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'aisle.db'}"
    assert s.rasa_model_dir == tmp_path / "models"
    assert s.encoder_dir == tmp_path / "encoder"


def test_onnx_precision_per_model():
    s = Settings.from_env({"AISLE_NLU_PRECISION": " INT8 ", "AISLE_ENCODER_PRECISION": "fp32"})
    assert (s.nlu_precision, s.encoder_precision) == ("int8", "fp32")


def test_relative_data_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"AISLE_DATA_DIR": "scratch"}).data_dir == tmp_path / "scratch"


def test_explicit_database_url_and_ports_win():
    s = Settings.from_env({
        "AISLE_DATABASE_URL": "postgresql+psycopg://aisle@db/aisle",
        "AISLE_NLU_PORT": "7001", "AISLE_INTERNAL_HOST": "10.0.0.5",
    })
    assert s.database_url == "postgresql+psycopg://aisle@db/aisle"
    assert s.nlu_url == "http://10.0.0.5:7001"


def test_a_public_web_app_leaves_the_internal_services_on_loopback():
    s = Settings.from_env({"AISLE_HOST": "0.0.0.0"})
    assert (s.host, s.internal_host) == ("0.0.0.0", "127.0.0.1")
    assert s.rasa_url == "http://127.0.0.1:5005"
    assert s.action_url == "http://127.0.0.1:5055/webhook" and s.nlu_url == "http://127.0.0.1:5006"


def test_the_internal_secret_is_made_once_per_data_dir(tmp_path: Path):
    s = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)})
    secret = s.internal_secret()
    assert len(secret) >= 32
    assert stat.S_IMODE(s.internal_secret_file.stat().st_mode) == 0o600
    assert Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)}).internal_secret() == secret  # every service
    assert Settings.from_env({"AISLE_DATA_DIR": str(tmp_path / "other")}).internal_secret() != secret
    assert sorted(p.name for p in tmp_path.iterdir()) == ["internal-secret", "other"]  # no scratch file left
    explicit = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path), "AISLE_INTERNAL_SECRET": "x" * 20})
    assert explicit.internal_secret() == "x" * 20


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path):
    s = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)})
    s.internal_secret()
    s.internal_secret_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        s.internal_secret()


def test_rasa_run_is_internal_with_a_token_and_no_cors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    secret = "-" + "s" * 23  # token_urlsafe makes secrets starting with "-" one time in 64
    monkeypatch.setattr("aisle.rasa_cli.settings", lambda: Settings.from_env(
        {"AISLE_DATA_DIR": str(tmp_path), "AISLE_HOST": "0.0.0.0", "AISLE_INTERNAL_SECRET": secret}))
    args = rasa_arguments(["run"])
    assert "--cors" not in args
    assert f"--auth-token={secret}" in args
    assert args[args.index("--interface") + 1] == "127.0.0.1"
    assert rasa_environment({})["AISLE_INTERNAL_SECRET"] == secret


@pytest.mark.parametrize("env, message", [
    ({"AISLE_RASA_PORT": "fifty"}, "AISLE_RASA_PORT must be an integer"),
    ({"AISLE_NLU_THRESHOLD": "1.5"}, "AISLE_NLU_THRESHOLD must be between 0 and 1"),
    ({"AISLE_NLU_THRESHOLD": "high"}, "AISLE_NLU_THRESHOLD must be a number"),
    ({"AISLE_DATABASE_URL": "aisle.db"}, "AISLE_DATABASE_URL must be an SQLAlchemy URL"),
    ({"AISLE_INTERNAL_SECRET": "short"}, "AISLE_INTERNAL_SECRET must be at least 16 characters"),
    ({"AISLE_WIDGET_ORIGINS": "shop.example.com"}, "not an origin"),
    ({"AISLE_WIDGET_ORIGINS": "https://shop.example.com/page"}, "is not an origin"),
    ({"AISLE_WIDGET_IDLE_MINUTES": "0"}, "AISLE_WIDGET_IDLE_MINUTES must be positive"),
    ({"AISLE_WIDGET_SECRET": "short"}, "AISLE_WIDGET_SECRET must be at least 16 characters"),
    ({"AISLE_ORDER_VERIFICATION_IDLE_MINUTES": "0"}, "AISLE_ORDER_VERIFICATION_IDLE_MINUTES must be positive"),
    ({"AISLE_ORDER_VERIFICATION_IDLE_MINUTES": "soon"}, "AISLE_ORDER_VERIFICATION_IDLE_MINUTES must be a number"),
    ({"AISLE_NLU_PRECISION": "int4"}, "AISLE_NLU_PRECISION must be one of int8, fp32"),
    ({"AISLE_ENCODER_PRECISION": "torch"}, "AISLE_ENCODER_PRECISION must be one of int8, fp32"),
])
def test_bad_values_are_named_in_the_error(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_rasa_gets_the_same_database_with_its_own_driver():
    assert rasa_database_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    assert rasa_database_url("postgresql+psycopg://u:p@h:5432/d") == "postgresql+psycopg2://u:p@h:5432/d"
    assert rasa_database_url("postgresql://u@h/d") == "postgresql+psycopg2://u@h/d"


def test_production_settings_several_rasa_servers_need_redis():
    urls = "http://127.0.0.1:5005, http://127.0.0.1:5015/"
    with pytest.raises(ConfigError, match="AISLE_REDIS_URL"):
        Settings.from_env({"AISLE_RASA_URL": urls})
    settings = Settings.from_env({"AISLE_RASA_URL": urls, "AISLE_REDIS_URL": "redis://cache:6380/2"})
    assert settings.rasa_urls == ("http://127.0.0.1:5005", "http://127.0.0.1:5015")
    assert settings.rasa_url == "http://127.0.0.1:5005"
    with pytest.raises(ConfigError, match="redis://"):
        Settings.from_env({"AISLE_REDIS_URL": "cache:6379"})
    with pytest.raises(ConfigError, match="AISLE_TURN_TIMEOUT_S"):
        Settings.from_env({"AISLE_TURN_TIMEOUT_S": "0"})


def test_rasa_lock_store_follows_the_redis_url():
    assert lock_store_environment(None)["AISLE_RASA_LOCK_STORE"] == "in_memory"
    env = lock_store_environment("redis://:s%40cret@cache.internal:6380/3")
    assert env == {"AISLE_RASA_LOCK_STORE": "redis", "AISLE_REDIS_HOST": "cache.internal", "AISLE_REDIS_PORT": "6380",
                   "AISLE_REDIS_DB": "3", "AISLE_REDIS_PASSWORD": "s@cret"}


def test_chat_api_keys_and_widget_settings():
    s = Settings.from_env({"AISLE_API_KEYS": " key-one, ,key-two ", "AISLE_WIDGET_IDLE_MINUTES": "45",
                           "AISLE_WIDGET_ORIGINS": "https://Shop.Example.com/, http://localhost:3000"})
    assert s.api_keys == ("key-one", "key-two")
    assert s.widget_idle_s == 45 * 60
    assert s.widget_origins == ("https://shop.example.com", "http://localhost:3000")
    defaults = Settings.from_env({})
    assert (defaults.api_keys, defaults.widget_origins, defaults.widget_idle_s) == ((), (), 1800)


def test_the_widget_secret_is_made_once_per_data_dir_unless_set(tmp_path: Path):
    first = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)}).widget_signing_key()
    again = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)}).widget_signing_key()
    assert first == again and len(first) >= 40
    assert (tmp_path / "widget-secret").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert first != Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)}).internal_secret().encode()  # its own
    chosen = "a widget secret of 32 characters"
    assert Settings.from_env({"AISLE_DATA_DIR": str(tmp_path), "AISLE_WIDGET_SECRET": chosen}).widget_signing_key() \
        == chosen.encode()
