#!/usr/bin/env bash
# Create `.env` (or the file given) with freshly generated SECRET_KEY, API_KEY_PEPPER and
# FERNET_KEYS, or add whichever of them it lacks; existing values are never changed.
# Uses openalgo/localenv.py, the same code the platform runs on first start, and needs
# only python3 (no virtualenv). Values are written mode 0600 and never printed.
#
#   deploy/make-env.sh                 # ./.env next to manage.py
#   deploy/make-env.sh /opt/openalgo/.env
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
target="${1:-$root/.env}"

# Secrets exported in this shell would be skipped by localenv: generate them regardless.
env -u SECRET_KEY -u API_KEY_PEPPER -u FERNET_KEYS "${PYTHON:-python3}" - "$root" "$target" <<'PY'
import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])  # for core.filelock (stdlib only, like localenv itself)
spec = importlib.util.spec_from_file_location("openalgo_localenv", Path(sys.argv[1], "openalgo", "localenv.py"))
localenv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(localenv)  # openalgo/__init__ (Celery) is not imported
added = localenv.ensure_local_secrets(Path(sys.argv[2]))
print(f"{sys.argv[2]}: " + (f"added {', '.join(added)}" if added else "all secrets already present"))
PY
