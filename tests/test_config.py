from pathlib import Path

import pytest

from aisle.config import REPO_ROOT, ConfigError, Settings
from aisle.rasa_cli import lock_store_environment, rasa_database_url


def test_defaults_put_everything_under_var():
    s = Settings.from_env({})
    assert s.data_dir == REPO_ROOT / "var"
    assert s.database_url == f"sqlite:///{REPO_ROOT / 'var' / 'aisle.db'}"
    assert (s.rasa_port, s.action_port, s.nlu_port, s.web_port) == (5005, 5055, 5006, 8000)
    assert s.nlu_url == "http://127.0.0.1:5006"
    assert s.action_url == "http://127.0.0.1:5055/webhook"
    assert s.nlu_model_dir == REPO_ROOT / "var" / "nlu"


def test_data_dir_moves_the_database_and_models(tmp_path: Path):
    s = Settings.from_env({"AISLE_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'aisle.db'}"
    assert s.rasa_model_dir == tmp_path / "models"


def test_relative_data_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"AISLE_DATA_DIR": "scratch"}).data_dir == tmp_path / "scratch"


def test_explicit_database_url_and_ports_win():
    s = Settings.from_env({
        "AISLE_DATABASE_URL": "postgresql+psycopg://aisle@db/aisle",
        "AISLE_NLU_PORT": "7001", "AISLE_HOST": "0.0.0.0",
    })
    assert s.database_url == "postgresql+psycopg://aisle@db/aisle"
    assert s.nlu_url == "http://0.0.0.0:7001"


@pytest.mark.parametrize("env, message", [
    ({"AISLE_RASA_PORT": "fifty"}, "AISLE_RASA_PORT must be an integer"),
    ({"AISLE_NLU_THRESHOLD": "1.5"}, "AISLE_NLU_THRESHOLD must be between 0 and 1"),
    ({"AISLE_NLU_THRESHOLD": "high"}, "AISLE_NLU_THRESHOLD must be a number"),
    ({"AISLE_DATABASE_URL": "aisle.db"}, "AISLE_DATABASE_URL must be an SQLAlchemy URL"),
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
