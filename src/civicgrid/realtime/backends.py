"""How published messages reach every process that serves WebSocket clients.

* :class:`InProcessBackend` (``CIVICGRID_REALTIME_BACKEND=memory``, and the default for an
  in-memory SQLite database): the publishing process delivers to its own subscribers. Right
  for one process.
* :class:`SocketBackend` (default with a SQLite file, or ``CIVICGRID_REALTIME_BACKEND=socket``):
  the processes serving one SQLite file on one machine each bind a Unix datagram socket in a
  private folder named after the database; a publisher delivers to its own subscribers and
  sends the message to every other socket there. So ``civicgrid serve --workers 2`` on SQLite
  reaches every client, whichever process it is connected to.
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

import errno
import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
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

    def send(self, messages: Sequence[Message], hub: Hub) -> None:
        """Carry a committed transaction's messages, in order."""

    def start(self, hub: Hub) -> None: ...

    def stop(self) -> None: ...


class InProcessBackend:
    """One process: deliver straight to this hub's subscribers."""

    name = "memory"

    def send(self, messages: Sequence[Message], hub: Hub) -> None:
        for message in messages:
            hub.deliver(message)

    def start(self, hub: Hub) -> None:
        return None

    def stop(self) -> None:
        return None


DATAGRAM_LIMIT = 60_000  # bytes; a larger message goes without its data, as over NOTIFY


class SocketBackend:
    """Several processes on one machine, no PostgreSQL: a Unix datagram socket per process.

    Each process that starts the backend binds ``<folder>/<pid>-<random>.sock``; the folder is
    private to the service's user (mode 0700, refused if another user owns it) and named after
    the database file, so only processes serving the same database meet there. ``send``
    delivers to this process's hub, then sends the message to every other socket in the folder
    (it looks each time, so a process started a moment ago is reached). A socket whose process
    has died refuses the datagram and is removed. A receiver too busy to take a message (its
    socket buffer full) loses it, as a listener that is reconnecting does: clients treat the
    socket as a hint and re-fetch.
    """

    name = "socket"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)
        self._send_lock = threading.Lock()
        self._own: Path | None = None
        self._receiver: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def for_database(cls, database: str) -> SocketBackend:
        """The backend of a SQLite database file (the folder is in the temporary directory:
        socket paths must stay under 108 bytes)."""
        digest = hashlib.sha256(str(Path(database).resolve()).encode()).hexdigest()[:16]
        return cls(Path(tempfile.gettempdir()) / f"civicgrid-realtime-{digest}")

    def _prepare_folder(self) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        info = self.folder.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(f"realtime folder {self.folder} must belong to this user with mode 0700")

    # ------------------------------------------------------------------ sending

    def send(self, messages: Sequence[Message], hub: Hub) -> None:
        for message in messages:
            hub.deliver(message)
        try:
            peers = [entry.path for entry in os.scandir(self.folder)
                     if entry.name.endswith(".sock") and entry.path != str(self._own)]
        except FileNotFoundError:
            return  # no process has started a receiver yet
        if not peers:
            return
        payloads = [_fit(message, DATAGRAM_LIMIT).encode() for message in messages]
        with self._send_lock:
            for peer in peers:
                for payload in payloads:
                    try:
                        self._sender.sendto(payload, peer)
                    except (ConnectionRefusedError, FileNotFoundError):
                        # Its process is gone (or just stopped): nobody reads there any more.
                        Path(peer).unlink(missing_ok=True)
                        break
                    except OSError as error:
                        if error.errno not in (errno.EAGAIN, errno.ENOBUFS):
                            raise
                        log.warning("realtime: %s is not keeping up; a message to it was dropped", peer)

    # ------------------------------------------------------------------ receiving

    def start(self, hub: Hub) -> None:
        """Bind this process's socket and receive in a thread; returns once bound, so nothing
        sent afterwards is missed."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._prepare_folder()
        own = self.folder / f"{os.getpid()}-{os.urandom(4).hex()}.sock"
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.bind(str(own))
        receiver.settimeout(0.5)
        self._own, self._receiver = own, receiver
        self._stop.clear()
        self._thread = threading.Thread(target=self._receive, args=(hub, receiver), name="realtime-socket",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None
        if self._own is not None:
            self._own.unlink(missing_ok=True)
            self._own = None

    def _receive(self, hub: Hub, receiver: socket.socket) -> None:
        from civicgrid.realtime.hub import Message

        while not self._stop.is_set():
            try:
                payload = receiver.recv(DATAGRAM_LIMIT + 4096)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                log.exception("realtime: receiving failed")
                time.sleep(0.5)
                continue
            try:
                hub.deliver(Message.from_json(payload.decode()))
            except Exception:
                log.exception("realtime: bad message on %s", self._own)


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

    def send(self, messages: Sequence[Message], hub: Hub) -> None:
        """One round trip for a transaction's messages: a NOTIFY each, in one simple query
        (the statements of one query run in order, so listeners hear them in order)."""
        from psycopg import sql

        if not messages:
            return
        channel = sql.Identifier(self.channel)
        notify = sql.SQL("; ").join(sql.SQL("NOTIFY {}, {}").format(channel, sql.Literal(_fit(message)))
                                    for message in messages)
        with self._send_lock:
            for attempt in (1, 2):
                try:
                    self._connection().execute(notify)
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


def _fit(message: Message, limit: int = NOTIFY_LIMIT) -> str:
    payload = message.to_json()
    if len(payload.encode()) <= limit:
        return payload
    from civicgrid.realtime.hub import Message as Msg

    slim: dict[str, Any] = {"truncated": True}
    if isinstance(message.data.get("id"), str | int):
        slim["id"] = message.data["id"]
    log.warning("realtime: %s on %s is too large to send; sent without its data", message.event,
                message.channel)
    return Msg(message.channel, message.event, slim, message.division_code, message.at).to_json()


def _sqlite_file(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def backend_mode(settings: Settings) -> str:
    """``memory``, ``socket`` or ``postgres``: the setting (``auto`` by default) resolved for the
    database (``auto``: PostgreSQL → ``postgres``, a SQLite file → ``socket``, else ``memory``)."""
    mode = settings.realtime_backend.lower()
    is_postgres = settings.database_url.startswith("postgresql")
    sqlite_file = _sqlite_file(settings.database_url)
    if mode == "auto":
        return "postgres" if is_postgres else "socket" if sqlite_file else "memory"
    if mode not in ("memory", "socket", "postgres"):
        raise ValueError(f"CIVICGRID_REALTIME_BACKEND must be auto, memory, socket or postgres, not {mode!r}")
    if mode == "postgres" and not is_postgres:
        raise ValueError("CIVICGRID_REALTIME_BACKEND=postgres needs a PostgreSQL database_url")
    if mode == "socket" and not sqlite_file:
        raise ValueError("CIVICGRID_REALTIME_BACKEND=socket needs a SQLite database file")
    return mode


def backend_for(settings: Settings) -> Backend:
    """The backend the settings call for."""
    mode = backend_mode(settings)
    if mode == "postgres":
        return PostgresBackend(settings.database_url)
    if mode == "socket":
        return SocketBackend.for_database(_sqlite_file(settings.database_url) or "")
    return InProcessBackend()

