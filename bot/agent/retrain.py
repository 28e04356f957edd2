"""Retraining the NLU model from the console: train a candidate beside the live model, show both
models' validation results, and make the candidate live only when an admin says so.

The candidate is trained by the same command as ``make train`` (``python -m nlu_models train``) in a
child process, into AISLE_DATA_DIR/nlu-candidate; going live swaps folders and the NLU server picks
the new model up by itself (it watches meta.json), without a restart.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aisle.config import REPO_ROOT

LOG_TAIL_CHARS = 3000


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def summary(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    if meta is None:
        return None
    return {"trained_at": meta.get("trained_at"), "examples": meta.get("n_examples"),
            "threshold": meta.get("threshold"), **(meta.get("validation") or {})}


class RetrainError(RuntimeError):
    pass


@dataclass
class NluRetraining:
    data_dir: Path
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def live(self) -> Path:
        return self.data_dir / "nlu"

    @property
    def candidate(self) -> Path:
        return self.data_dir / "nlu-candidate"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "nlu-candidate.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        if self.running:
            raise RetrainError("a retraining is already running")
        shutil.rmtree(self.candidate, ignore_errors=True)
        with open(self.log_file, "wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "nlu_models", "train", "--force", "--out", str(self.candidate),
                cwd=REPO_ROOT, stdout=log, stderr=asyncio.subprocess.STDOUT)

    def status(self) -> dict[str, Any]:
        log = self.log_file.read_text(errors="replace")[-LOG_TAIL_CHARS:] if self.log_file.exists() else ""
        return {
            "running": self.running,
            "returncode": None if self._process is None else self._process.returncode,
            "log": log.replace("\r", "\n"),
            "live": summary(read_meta(self.live)),
            "candidate": None if self.running else summary(read_meta(self.candidate)),
        }

    def promote(self) -> None:
        """The candidate becomes the live model; the previous one is kept as nlu-previous."""
        if self.running or read_meta(self.candidate) is None:
            raise RetrainError("there is no finished candidate model to make live")
        previous = self.data_dir / "nlu-previous"
        shutil.rmtree(previous, ignore_errors=True)
        if self.live.exists():
            self.live.rename(previous)
        self.candidate.rename(self.live)
