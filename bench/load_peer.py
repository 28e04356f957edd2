"""The load benchmark's peer baseline: a stock Rasa 3.6 assistant built from Aisle's own domain and rules.

Stock means Rasa's default configuration (the DIET pipeline and default policies, default epochs),
Rasa's in-memory tracker store, its REST channel, and responses only: every custom action or form a
rule starts becomes a fixed response, so the peer does no search, database or recommendation work at
all. Same intents, NLU examples and first reply per intent as Aisle; trained once and cached in
``$AISLE_DATA_DIR/peer`` (retrained when Aisle's domain, rules or NLU data change).
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from pathlib import Path

import yaml

from aisle.config import REPO_ROOT, Settings

log = logging.getLogger(__name__)
RASA_PYTHON = REPO_ROOT / ".venv-rasa" / "bin" / "python"
# Rasa fills in its default pipeline and policies where these keys are empty (what `rasa init` writes).
STOCK_CONFIG = "recipe: default.v1\nlanguage: en\nassistant_id: aisle-peer\npipeline:\npolicies:\n"


def stock_rules_and_domain() -> tuple[dict, dict]:
    """Each intent's first rule (intent → first action), custom actions and forms turned into responses."""
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())
    custom = set(domain.get("actions") or []) | set(domain.get("forms") or {})
    responses = dict(domain.get("responses") or {})
    rules, seen = [], set()
    for path in sorted((REPO_ROOT / "data" / "rules").glob("*.yml")):
        for rule in yaml.safe_load(path.read_text()).get("rules") or []:
            steps = rule.get("steps") or []
            if rule.get("condition") or len(steps) < 2 or "intent" not in steps[0] or "action" not in steps[1]:
                continue
            intent, action = steps[0]["intent"], steps[1]["action"]
            if intent in seen:
                continue
            seen.add(intent)
            if action in custom:
                name = "utter_stock_" + action.removeprefix("action_")
                responses.setdefault(name, [{"text": f"(a fixed reply where Aisle runs {action})"}])
                action = name
            rules.append({"rule": f"answer {intent}", "steps": [{"intent": intent}, {"action": action}]})
    peer_domain = {"version": "3.1", "intents": domain["intents"], "entities": domain.get("entities") or [],
                   "responses": responses, "session_config": domain.get("session_config")}
    return {"version": "3.1", "rules": rules}, peer_domain


def build_project(folder: Path) -> str:
    """Write the peer project into ``folder``; returns a fingerprint of everything training reads."""
    rules, domain = stock_rules_and_domain()
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    files = {folder / "config.yml": STOCK_CONFIG, folder / "domain.yml": yaml.safe_dump(domain, sort_keys=False),
             folder / "credentials.yml": "rest:\n", data / "rules.yml": yaml.safe_dump(rules, sort_keys=False)}
    for path in sorted((REPO_ROOT / "data" / "nlu").glob("*.yml")):
        files[data / f"nlu_{path.name}"] = path.read_text()
    digest = hashlib.sha256()
    for path, text in sorted(files.items()):
        path.write_text(text)
        digest.update(path.name.encode() + text.encode())
    return digest.hexdigest()[:16]


def trained_model(settings: Settings) -> Path:
    """The peer's model, trained with `rasa train` (default epochs: minutes) unless already cached."""
    folder = settings.data_dir / "peer"
    fingerprint = build_project(folder)
    model = folder / "models" / f"peer-{fingerprint}.tar.gz"
    if model.exists():
        log.info("stock Rasa peer model is up to date: %s", model)
        return model
    log.info("training the stock Rasa peer (default DIET pipeline and policies; this takes several minutes)")
    subprocess.run([str(RASA_PYTHON), "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml",
                    "--data", "data", "--out", "models", "--fixed-model-name", f"peer-{fingerprint}"],
                   cwd=folder, check=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    return model


def start_server(settings: Settings, model: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`rasa run` with the REST channel only and Rasa's default (in-memory) tracker and lock stores."""
    folder = settings.data_dir / "peer"
    return subprocess.Popen(
        [str(RASA_PYTHON), "-m", "rasa", "run", "--model", str(model), "--port", str(port),
         "--interface", "127.0.0.1", "--credentials", "credentials.yml"],
        cwd=folder, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


if __name__ == "__main__":  # train (or confirm) the peer model on its own: python -m bench.load_peer
    logging.basicConfig(level=logging.INFO)
    print(trained_model(Settings.from_env()))
