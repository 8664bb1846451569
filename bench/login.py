"""Login answers leak nothing: the time of a refused login for a known name, an unknown name and
a locked name, over real HTTP, beside what the pre-issue-9 code did (from the issue: a locked
account answered in 3 ms, an unknown name in 184 ms).

    python bench/login.py [--tries 15]

A throw-away SQLite file, one account, the app on uvicorn in this process. Every refused
login verifies exactly one argon2 hash, so the three medians should agree within noise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'login.sqlite3'}"
        os.environ["CIVICGRID_DATABASE_URL"] = url
        os.environ["CIVICGRID_LOGIN_ADDRESS_MAX_FAILURES"] = "100000"  # measure the lock, not the throttle
        os.environ["CIVICGRID_TRUSTED_PROXIES"] = "127.0.0.1/32"
        import uvicorn

        from civicgrid.config import get_settings
        from civicgrid.db import get_engine, transaction
        from civicgrid.main import create_app
        from civicgrid.migrate import upgrade
        from civicgrid.people import service

        get_settings.cache_clear()
        upgrade(url)
        with transaction(get_engine()) as session:
            service.create_user(session, username="known", display_name="known", role="grid_worker",
                                division_code="431102001001001", password="Grid#Walk2026")
        server = uvicorn.Server(uvicorn.Config(create_app(get_settings(), start_workers=False), host="127.0.0.1",
                                               port=18765, log_level="warning", proxy_headers=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = "http://127.0.0.1:18765/api/v1/auth/login"

        def timed(name: str, address: str) -> tuple[float, int]:
            started = time.perf_counter()
            answer = httpx.post(base, json={"username": name, "password": "Wrong#Pass1"},
                                headers={"X-Forwarded-For": address})
            return (time.perf_counter() - started) * 1000, answer.status_code

        rows: dict[str, list[float]] = {"known name, wrong password": [], "unknown name": [],
                                        "locked name (423)": []}
        for i in range(args.tries):
            rows["known name, wrong password"].append(timed("known", f"10.0.{i}.1")[0])
            rows["unknown name"].append(timed(f"ghost{i}", f"10.1.{i}.1")[0])
        for _ in range(5):
            timed("known", "10.9.9.9")
        for _ in range(args.tries):
            ms, status = timed("known", "10.9.9.9")
            assert status == 423, status
            rows["locked name (423)"].append(ms)
        server.should_exit = True
        thread.join(timeout=10)
    print(f"{'refused login':<28} {'median ms':>10} {'min ms':>8}   (before issue 9: locked 3 ms, unknown 184 ms)")
    for label, values in rows.items():
        print(f"{label:<28} {statistics.median(values):>10.1f} {min(values):>8.1f}")


if __name__ == "__main__":
    main()
