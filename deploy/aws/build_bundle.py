#!/usr/bin/env python3
"""Build the AWS Elastic Beanstalk source bundle, dist/openalgo-eb.zip (`make eb-bundle`),
for the "Docker running on 64bit Amazon Linux 2023" platform. Standard library only: no eb
CLI needed (upload the zip in the console, or `eb deploy` with it as the artifact).

The bundle holds what the Dockerfile builds from (the sources of its COPY lines, read from
the Dockerfile itself, so the image is the one docker-compose.yml builds) and:

    docker-compose.yml                            <- deploy/aws/docker-compose.yml
    deploy/aws/nginx.conf                         (the proxy service mounts it)
    .ebextensions/01-openalgo.config              <- deploy/aws/ebextensions/
    .platform/hooks/predeploy/01-check-environment.sh        <- deploy/aws/check-environment.sh
    .platform/confighooks/predeploy/01-check-environment.sh  (the same, for `eb setenv`)

Never a `.env` (Elastic Beanstalk writes its own from the environment properties, and a
bundled one would stop it doing so), nor var/, .venv/, caches or compiled files. Entries are
sorted and dated 1980-01-01, so the same tree gives the same zip.

    python3 deploy/aws/build_bundle.py [--output PATH] [--root PROJECT]
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = Path("dist") / "openalgo-eb.zip"
HOOK = "01-check-environment.sh"
# Bundle path -> file of the project (relative to the root).
PLATFORM_FILES = {
    "docker-compose.yml": "deploy/aws/docker-compose.yml",
    "deploy/aws/nginx.conf": "deploy/aws/nginx.conf",
    ".ebextensions/01-openalgo.config": "deploy/aws/ebextensions/01-openalgo.config",
    f".platform/hooks/predeploy/{HOOK}": "deploy/aws/check-environment.sh",
    f".platform/confighooks/predeploy/{HOOK}": "deploy/aws/check-environment.sh",
    "Dockerfile": "Dockerfile",
    ".dockerignore": ".dockerignore",
}
EXECUTABLE = {f".platform/hooks/predeploy/{HOOK}", f".platform/confighooks/predeploy/{HOOK}",
              "deploy/docker-entrypoint.sh"}
# Never bundled, whatever the Dockerfile copies.
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", ".git", ".venv",
                  "var", "dist", "node_modules"}
EXCLUDED_NAMES = ("*.pyc", "*.pyo", "*.sqlite3", ".DS_Store")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class BundleError(RuntimeError):
    """The bundle cannot be built as it must be (a file missing, a secret about to be packed)."""


def is_env_file(name: str) -> bool:
    """.env and its variants (.env.local, .env.production): files that hold secrets."""
    return name == ".env" or (name.startswith(".env.") and name != ".env.example")


def dockerfile_sources(dockerfile: Path) -> list[str]:
    """The build-context paths the Dockerfile's COPY/ADD lines take (not --from= stages)."""
    sources: list[str] = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*(?:COPY|ADD)\s+(.+)$", line)
        if not match:
            continue
        words = [word for word in match.group(1).split() if not word.startswith("--")]
        if any(word.startswith("--from") for word in match.group(1).split()):
            continue
        sources.extend(word.rstrip("/") for word in words[:-1])
    if not sources:
        raise BundleError(f"{dockerfile}: no COPY lines found")
    return sources


def _excluded(relative: Path) -> bool:
    if any(part in EXCLUDED_PARTS for part in relative.parts):
        return True
    return is_env_file(relative.name) or any(fnmatch.fnmatch(relative.name, pattern) for pattern in EXCLUDED_NAMES)


def collect(root: Path = ROOT) -> dict[str, Path]:
    """Bundle path -> file on disk."""
    entries: dict[str, Path] = {}
    for source in dockerfile_sources(root / "Dockerfile"):
        path = root / source
        if path.is_file():
            candidates = [path]
        elif path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file())
        else:
            raise BundleError(f"the Dockerfile copies {source}, which does not exist")
        for candidate in candidates:
            relative = candidate.relative_to(root)
            if not _excluded(relative):
                entries[relative.as_posix()] = candidate
    for name, source in PLATFORM_FILES.items():
        path = root / source
        if not path.is_file():
            raise BundleError(f"missing {source}")
        entries[name] = path
    leaked = sorted(name for name in entries if is_env_file(name.rsplit("/", 1)[-1]))
    if leaked:
        raise BundleError(f"refusing to bundle env files: {leaked}")
    return entries


def build(output: Path, root: Path = ROOT) -> list[str]:
    entries = collect(root)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_suffix(output.suffix + ".tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix: the mode below is honoured on extraction
            info.external_attr = ((0o100755 if name in EXECUTABLE else 0o100644) & 0xFFFF) << 16
            bundle.writestr(info, entries[name].read_bytes())
    temporary.replace(output)
    return sorted(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help=f"default: <root>/{DEFAULT_OUTPUT}")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project to bundle (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    output = args.output or root / DEFAULT_OUTPUT
    try:
        names = build(output, root)
    except BundleError as exc:
        print(f"eb-bundle: {exc}", file=sys.stderr)
        return 1
    print(f"{output}: {len(names)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
