"""Schema fuzzing of the live API with schemathesis (issue 9 §3.5): no request may answer 5xx.

Builds a fresh database with the demo data (``civicgrid demo --no-serve``: Yongzhou, one account
per role, a few days of matters), starts ``civicgrid serve`` on it, and runs ``schemathesis run``
over the app's OpenAPI once per role — by default the system administrator and a volunteer, the
time budget split between them — with the ``not_a_server_error`` check only and a fixed seed.
Prints, per role, the requests made, the statuses seen and the time; exits 1 on any 5xx (the
schemathesis output names the operation and a ``curl`` line that reproduces it) or on a
traceback in the server's log.

    python tools/fuzz_api.py                       # 240 s: volunteer 120 s, then sysadmin 120 s
    python tools/fuzz_api.py --roles sysadmin --seconds 60
    make fuzz                                      # the same; `make test` runs it when CI=true

``--roles`` takes role codes of roles.json that have a demo account (``simulate/demo.py``). Each
account's first login is completed (new password, authenticator) so the fuzzer has a full session.
Roles run in the order given: put the system administrator last, since its run creates, locks and
resets accounts (the others' included).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261203
# Revoking the fuzzer's own token would turn the rest of the run into 401s.
EXCLUDED_PATHS = ("/api/v1/auth/logout",)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo_user(role: str) -> str:
    from civicgrid.simulate.demo import ACCOUNTS

    for username, code, _where, _name in ACCOUNTS:
        if code == role:
            return username
    known = ", ".join(sorted({code for _, code, _, _ in ACCOUNTS}))
    raise SystemExit(f"no demo account has the role {role!r} (demo roles: {known})")


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"civicgrid serve exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("civicgrid serve did not answer /api/v1/health in time")


FUZZ_PASSWORD = "Fuzz#Yongzhou-2026"


def _login(url: str, username: str) -> str:
    """A full session of the demo account, as its first login makes one: the demo password, a new
    password (every demo account must change it), then an authenticator where the role needs a
    second factor. A session left limited would answer 403 everywhere and fuzz nothing."""
    from civicgrid.kit.clock import utcnow
    from civicgrid.people import totp
    from civicgrid.simulate.demo import DEMO_PASSWORD

    response = httpx.post(f"{url}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD},
                          timeout=30)
    response.raise_for_status()
    token = str(response.json()["access_token"])
    headers = {"Authorization": f"Bearer {token}"}
    pending = httpx.get(f"{url}/api/v1/auth/me", headers=headers, timeout=30).json().get("pending")
    if pending == "password_change":
        changed = httpx.post(f"{url}/api/v1/auth/password", headers=headers, timeout=30,
                             json={"current_password": DEMO_PASSWORD, "new_password": FUZZ_PASSWORD})
        changed.raise_for_status()
        pending = changed.json()["pending"]
    if pending == "totp_enrolment":
        secret = httpx.post(f"{url}/api/v1/auth/totp/enrol", headers=headers, timeout=30).json()["secret"]
        confirmed = httpx.post(f"{url}/api/v1/auth/totp/confirm", headers=headers, timeout=30,
                               json={"code": totp.code_for_step(secret, totp.step_of(utcnow()))})
        confirmed.raise_for_status()
        pending = confirmed.json()["pending"]
    if pending:
        raise SystemExit(f"{username}: the session is still limited ({pending}); nothing to fuzz")
    return token


def _statuses(ndjson: Path) -> collections.Counter[int]:
    """The status of every response schemathesis recorded."""
    found: collections.Counter[int] = collections.Counter()
    if ndjson.exists():
        for line in ndjson.read_text(encoding="utf-8").splitlines():
            for code in re.findall(r'"status_code":\s*(\d{3})', line):
                found[int(code)] += 1
    return found


def fuzz_role(url: str, role: str, seconds: int, seed: int, out: Path) -> tuple[int, collections.Counter[int], float]:
    """One schemathesis run as ``role``; (exit status, statuses seen, seconds taken)."""
    token = _login(url, _demo_user(role))
    report = out / f"{role}.ndjson"
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/api/openapi.json",
               "--checks", "not_a_server_error", "--seed", str(seed), "--max-time", str(seconds),
               "--workers", "1", "--request-timeout", "30", "--header", f"Authorization: Bearer {token}",
               "--header", "Accept-Language: zh-CN", "--report", "ndjson", "--report-ndjson-path", str(report),
               "--warnings", "off", "--output-sanitize", "true"]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    started = time.monotonic()
    status = subprocess.run(command, cwd=out, check=False).returncode
    return status, _statuses(report), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", default="volunteer,sysadmin",
                        help="comma-separated role codes (default %(default)s)")
    parser.add_argument("--seconds", type=int, default=240, help="fuzzing time, split between the roles")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--days", type=float, default=3, help="days of demo matters to replay (default %(default)s)")
    parser.add_argument("--database-url", default="",
                        help="an empty database to use instead of a fresh SQLite file (e.g. a throw-away "
                             "PostgreSQL database; it is filled with the demo data)")
    parser.add_argument("--keep", action="store_true", help="keep the database, reports and server log")
    args = parser.parse_args(argv)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    for role in roles:
        _demo_user(role)  # refuse an unknown role before spending a minute on the database

    work = Path(tempfile.mkdtemp(prefix="civicgrid-fuzz-"))
    env = {**os.environ, "CIVICGRID_DATABASE_URL": args.database_url or f"sqlite:///{work / 'fuzz.sqlite3'}",
           "CIVICGRID_RUN_TIMER_WORKER": "false"}
    cli = [sys.executable, "-m", "civicgrid.cli"]
    began = time.monotonic()
    print(f"[fuzz] demo database in {work}", flush=True)
    subprocess.run([*cli, "demo", "--no-serve", "--weeks", str(args.days / 7), "--matters-per-day", "20"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"[fuzz] demo data loaded in {time.monotonic() - began:.0f} s", flush=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "serve.log").open("wb")
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    failed = False
    rows = []
    try:
        _wait_healthy(url, server)
        share = max(1, args.seconds // len(roles))
        for role in roles:
            print(f"[fuzz] schemathesis as {role} for {share} s (seed {args.seed})", flush=True)
            status, statuses, took = fuzz_role(url, role, share, args.seed, work)
            errors = sum(n for code, n in statuses.items() if code >= 500)
            failed |= status != 0 or errors > 0
            rows.append((role, sum(statuses.values()), errors, took, status, statuses))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    traceback = "Traceback" in (work / "serve.log").read_text(encoding="utf-8", errors="replace")
    print("\n[fuzz] role        requests  5xx  seconds  statuses")
    for role, requests, errors, took, _status, statuses in rows:
        seen = " ".join(f"{code}×{n}" for code, n in sorted(statuses.items()))
        print(f"[fuzz] {role:<11} {requests:>8} {errors:>4} {took:>8.0f}  {seen}")
    total = sum(r[1] for r in rows)
    print(f"[fuzz] {total} requests in {sum(r[3] for r in rows):.0f} s of fuzzing; "
          f"{time.monotonic() - began:.0f} s in all")
    if traceback:
        print(f"[fuzz] the server logged a traceback: see {work / 'serve.log'}")
        failed = True
    if failed:
        print("[fuzz] FAILED: a request answered 5xx (schemathesis printed how to reproduce it)")
    if args.keep or failed:
        print(f"[fuzz] kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
