"""How published messages reach every process that serves WebSocket clients.

* :class:`InProcessBackend` (default with SQLite, or ``CIVICGRID_REALTIME_BACKEND=memory``):
  the publishing process delivers to its own subscribers. Right for one process.
* :class:`PostgresBackend` (default with PostgreSQL, or ``CIVICGRID_REALTIME_BACKEND=postgres``):
  after commit, the message is sent with ``pg_notify`` on the database; every process's hub
  LISTENs on the same channel and delivers what it hears to its own subscribers — the
  publisher included, so one process and many behave alike. It is the default on PostgreSQL
  because any process may publish (a request in one ``uvicorn`` worker, a timer handler in
  another) while the client is connected to a third; a few hundred microseconds per message
  buy not having to know how many processes run.

NOTIFY payloads are limited to 8000 bytes: a larger message is sent with its data cut down to
``{"truncated": true}`` plus its ``id`` (clients re-fetch anyway). Messages published while a
listener is reconnecting are lost for that process: clients treat the socket as a hint and
re-fetch after reconnecting.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import psycopg

    from civicgrid.config import Settings
    from civicgrid.realtime.hub import Hub, Message

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "civicgrid_realtime"
NOTIFY_LIMIT = 7900  # bytes; PostgreSQL's limit is 8000 including the channel name


class Backend(Protocol):
    """Carries committed messages to the hubs of every process."""

    name: str

    def send(self, message: Message, hub: Hub) -> None: ...

    def start(self, hub: Hub) -> None: ...

    def stop(self) -> None: ...


class InProcessBackend:
    """One process: deliver straight to this hub's subscribers."""

    name = "memory"

    def send(self, message: Message, hub: Hub) -> None:
        hub.deliver(message)

    def start(self, hub: Hub) -> None:
        return None

    def stop(self) -> None:
        return None


def libpq_dsn(url: str) -> str:
    """A psycopg connection string for a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBackend:
    """Several processes: NOTIFY after commit, LISTEN in a thread, deliver locally."""

    name = "postgres"

    def __init__(self, url: str, *, channel: str = NOTIFY_CHANNEL) -> None:
        self.dsn = libpq_dsn(url)
        self.channel = channel
        self._send_lock = threading.Lock()
        self._sender: psycopg.Connection[Any] | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ sending

    def send(self, message: Message, hub: Hub) -> None:
        payload = _fit(message)
        with self._send_lock:
            for attempt in (1, 2):
                try:
                    conn = self._connection()
                    conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
                    return
                except Exception:
                    # A dropped connection: reconnect once; a second failure is reported.
                    self._close_sender()
                    if attempt == 2:
                        raise

    def _connection(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._sender is None or self._sender.closed:
            self._sender = psycopg.connect(self.dsn, autocommit=True)
        return self._sender

    def _close_sender(self) -> None:
        if self._sender is not None:
            try:
                self._sender.close()
            finally:
                self._sender = None

    # ------------------------------------------------------------------ listening

    def start(self, hub: Hub, *, timeout: float = 10.0) -> None:
        """Start listening; returns once LISTEN is in place, so nothing committed afterwards
        is missed."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._listening.clear()
        self._thread = threading.Thread(target=self._listen, args=(hub,), name="realtime-listen", daemon=True)
        self._thread.start()
        if not self._listening.wait(timeout):
            log.error("realtime: could not LISTEN on PostgreSQL within %.0f s; retrying in the background",
                      timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._send_lock:
            self._close_sender()

    def _listen(self, hub: Hub) -> None:
        import psycopg

        from civicgrid.realtime.hub import Message

        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self._listening.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            try:
                                hub.deliver(Message.from_json(notice.payload))
                            except Exception:
                                log.exception("realtime: bad notification payload")
            except Exception:
                self._listening.clear()
                if self._stop.is_set():
                    break
                log.exception("realtime: PostgreSQL listener failed; reconnecting in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._listening.clear()


def _fit(message: Message) -> str:
    payload = message.to_json()
    if len(payload.encode()) <= NOTIFY_LIMIT:
        return payload
    from civicgrid.realtime.hub import Message as Msg

    slim: dict[str, Any] = {"truncated": True}
    if isinstance(message.data.get("id"), str | int):
        slim["id"] = message.data["id"]
    log.warning("realtime: %s on %s is too large for NOTIFY; sent without its data", message.event,
                message.channel)
    return Msg(message.channel, message.event, slim, message.division_code, message.at).to_json()


def backend_mode(settings: Settings) -> str:
    """``memory`` or ``postgres``: the setting (``auto`` by default) resolved for the database."""
    mode = settings.realtime_backend.lower()
    is_postgres = settings.database_url.startswith("postgresql")
    if mode == "auto":
        return "postgres" if is_postgres else "memory"
    if mode not in ("memory", "postgres"):
        raise ValueError(f"CIVICGRID_REALTIME_BACKEND must be auto, memory or postgres, not {mode!r}")
    if mode == "postgres" and not is_postgres:
        raise ValueError("CIVICGRID_REALTIME_BACKEND=postgres needs a PostgreSQL database_url")
    return mode


def backend_for(settings: Settings) -> Backend:
    """The backend the settings call for."""
    if backend_mode(settings) == "postgres":
        return PostgresBackend(settings.database_url)
    return InProcessBackend()

