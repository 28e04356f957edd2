"""One logging set-up for every Aisle process."""
from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # faiss logs every optional CPU-specific build it fails to import before the one that loads.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
