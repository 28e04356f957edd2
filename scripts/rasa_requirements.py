"""Derive the Rasa 3.6 dependency list for Python 3.11 (used only when regenerating locks/rasa.lock).

rasa 3.6.21 declares Requires-Python <3.11 and hides its numpy/scipy/scikit-learn/dask pins behind
``python_version < "3.11"`` markers, so its metadata is evaluated as if for Python 3.10 and two pins are
replaced by ones that have cp311 wheels (see ../shared/notes/platform-facts.md).
"""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

PY310 = {"python_version": "3.10", "python_full_version": "3.10.12", "sys_platform": "linux",
         "platform_machine": "x86_64", "platform_system": "Linux", "extra": ""}
OVERRIDES = {
    "matplotlib": "matplotlib>=3.6,<3.7",  # 3.5 has no cp311 wheel; its sdist downloads freetype
    "setuptools": "setuptools>=70.3,<81",  # 81+ drops pkg_resources, which rasa imports
}
EXTRA_CONSTRAINTS = [
    "numpy>=1.22,<1.24", "scipy>=1.10,<1.11", "scikit-learn>=0.22,<1.2", "dask==2022.10.2",
    "jax==0.4.23", "pyparsing<3.3",
]


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode().splitlines()
    out: list[str] = []
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        if req.marker is not None and not req.marker.evaluate(PY310):
            continue
        if req.name.lower() in ("rasa-sdk", "rasa_sdk"):
            continue  # installed with --no-deps next to rasa
        req.marker = None
        out.append(OVERRIDES.get(req.name.lower(), str(req)))
    return out


def main() -> None:
    reqs: list[str] = []
    for wheel in sys.argv[1:]:
        reqs += requirements(Path(wheel))
    print("\n".join(sorted(set(reqs)) + EXTRA_CONSTRAINTS))


if __name__ == "__main__":
    main()
