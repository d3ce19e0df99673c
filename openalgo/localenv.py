"""Create the local .env with generated secrets on first run (never printed, never committed)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from core.filelock import locked

# Settings that must never be shared between installations; each gets a fresh random value.
GENERATED_SECRETS = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "API_KEY_PEPPER": lambda: secrets.token_hex(32),
    "FERNET_KEYS": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
}


def _defined_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].removeprefix("export ").strip())
    return names


def ensure_local_secrets(path: Path) -> list[str]:
    """Append any missing generated secret to ``path``; return the names that were added.

    A secret already present in the process environment is left alone (deployments that
    inject secrets never get a file). The file is created 0600 and appended under an
    exclusive lock, so processes starting together agree on one value.
    """
    wanted = [name for name in GENERATED_SECRETS if not os.environ.get(name)]
    if not wanted:
        return []
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as handle, locked(handle):
        present = _defined_names(handle.read())
        missing = [name for name in wanted if name not in present]
        if missing:
            handle.seek(0, os.SEEK_END)
            if handle.tell() and not _ends_with_newline(path):
                handle.write("\n")
            handle.write("# Generated on first run. Keep private; losing FERNET_KEYS loses broker tokens.\n")
            for name in missing:
                handle.write(f"{name}={GENERATED_SECRETS[name]()}\n")
            handle.flush()
            os.fsync(handle.fileno())
    return missing


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
