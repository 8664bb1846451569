"""Run several commands at once, each into a log of its own, and print each log whole as soon as
its command ends (in the order they end), with its wall time; exit non-zero, naming each command
that failed, if any did.

``make pytest`` runs the SQLite and the PostgreSQL passes of the test suite this way (and, in CI,
the schema fuzzing beside them): on two cores the passes overlap each other's waits (sockets,
subprocesses, the browser) and their output stays readable.

    python tools/together.py --logs test-artifacts/logs sqlite='make pytest-sqlite' postgres='make pytest-postgres'
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=Path, default=Path("test-artifacts/logs"), help="folder for the logs")
    parser.add_argument("jobs", nargs="+", metavar="NAME=COMMAND", help="a name and a shell command")
    args = parser.parse_args(argv)
    jobs: dict[str, str] = {}
    for spec in args.jobs:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command.strip():
            parser.error(f"expected NAME=COMMAND, got {spec!r}")
        jobs[name] = command
    args.logs.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    running: dict[str, tuple[subprocess.Popen[bytes], Path, float]] = {}
    for name, command in jobs.items():
        log = args.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", command],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        running[name] = (process, log, time.monotonic())
        print(f"[together] {name}: started `{command}` (log: {log})", flush=True)

    failed: list[str] = []
    try:
        while running:
            for name, (process, log, began) in list(running.items()):
                code = process.poll()
                if code is None:
                    continue
                del running[name]
                seconds = time.monotonic() - began
                print(f"\n{'=' * 30} {name} ({seconds:.0f} s) {'=' * 30}", flush=True)
                sys.stdout.flush()
                with log.open("rb") as text:
                    sys.stdout.buffer.write(text.read())
                sys.stdout.buffer.flush()
                verdict = "passed" if code == 0 else f"FAILED (exit {code})"
                print(f"[together] {name}: {verdict} in {seconds:.0f} s", flush=True)
                if code != 0:
                    failed.append(name)
            time.sleep(0.2)
    except KeyboardInterrupt:
        for process, _, _ in running.values():
            os.killpg(process.pid, signal.SIGTERM)
        raise
    total = time.monotonic() - started
    if failed:
        print(f"[together] FAILED: {', '.join(failed)} (all done in {total:.0f} s; logs in {args.logs})", flush=True)
        return 1
    print(f"[together] all passed: {', '.join(jobs)} in {total:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
