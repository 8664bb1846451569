"""Secrets out of logs (issue 9 §3.3): query parameters that carry credentials are replaced by
``***`` in every log record the process writes — uvicorn's access log (which prints the request
line with its query string), its error log, and the app's own loggers.

Clients should not put secrets in addresses at all (the realtime socket no longer accepts
``?token=``; Open311 keys go in a header), but the GeoReport specification's ``api_key`` and any
client's mistake still arrive there. The redaction happens when a record is created (a log record
factory), so every handler — console, file, syslog, whatever an operator configures — only ever
sees the redacted text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "***"
# Whole names (token, key, password, secret, api_key, access_token …) or names ending in one of
# them after a separator (client_secret, x-api-key, refresh_token, user.password).
SECRET_NAMES = ("token", "access_token", "refresh_token", "api_key", "apikey", "key", "password", "passwd",
                "pwd", "secret", "client_secret", "signature", "sig", "auth", "authorization", "credential",
                "credentials", "session", "sessionid")
_QUERY_SECRET = re.compile(
    r"(?i)((?:^|[?&;\s])(?:[\w.\-]*[_.\-])?(?:" + "|".join(map(re.escape, SECRET_NAMES)) + r")=)[^&;\s\"'#]*")


def redact(text: str) -> str:
    """``text`` with the value of every secret-looking query parameter replaced by ``***``."""
    if "=" not in text:
        return text
    return _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """The same redaction as a filter, for log configurations that build their own records
    (attach it to a handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(arg) for key, arg in record.args.items()}
        return True


_installed = False


def install_log_redaction() -> None:
    """Wrap the process's log record factory so that every record is redacted (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()
    scrub = RedactSecrets()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
