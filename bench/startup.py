"""Time from `make run` in a fresh clone to the setup page answering (goal: < 120 s on a
warm pip cache). Prints the figure; not a test. Usage: python bench/startup.py"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import ROOT, free_port, stop_group

GOAL_SECONDS = 120


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="openalgo-startup-") as tmp:
        clone = Path(tmp) / "openalgo"
        subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV")}
        env.update(PORT=str(port), WS_PORT=str(free_port()),
                   ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}")
        log = open(Path(tmp) / "run.log", "w")  # noqa: SIM115 - lives as long as the process
        started = time.monotonic()
        proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}/"
        elapsed = None
        try:
            while time.monotonic() - started < 600 and proc.poll() is None:
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200 and response.url.endswith("/setup/"):
                            elapsed = time.monotonic() - started
                            break
                except (urllib.error.URLError, OSError):
                    time.sleep(0.25)
        finally:
            stop_group(proc, timeout=30)
            log.close()
        if elapsed is None:
            print("startup: the setup page never answered; log follows", file=sys.stderr)
            print((Path(tmp) / "run.log").read_text()[-4000:], file=sys.stderr)
            return 1
        verdict = "OK" if elapsed < GOAL_SECONDS else "OVER GOAL"
        print(f"startup: fresh clone -> `make run` -> setup page in {elapsed:.1f} s "
              f"(goal < {GOAL_SECONDS} s) {verdict}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
