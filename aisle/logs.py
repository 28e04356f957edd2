"""One logging set-up for every Aisle process: timestamped text lines, or JSON lines with
``AISLE_LOG_FORMAT=json`` (python-json-logger) for log shippers."""
from __future__ import annotations

import logging

# ISO 8601 with the date and UTC offset: a line read days later (or merged from several pods) still
# says when it happened.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def formatter(log_format: str = "text") -> logging.Formatter:
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(JSON_FIELDS, datefmt=DATE_FORMAT, rename_fields=JSON_RENAMES)
    return logging.Formatter(TEXT_FORMAT, datefmt=DATE_FORMAT)


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler])
    # faiss logs every optional CPU-specific build it fails to import before the one that loads.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
