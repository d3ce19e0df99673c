"""OpenAlgo on Django: the project package (settings, urls, ASGI routing, Celery app)."""

import sys

# httpx imports its command-line tool when click, rich and pygments are installed (the test
# tools bring them): about 4 MB in every process, and no process here runs httpx's CLI.
# A None entry makes that import fail, which httpx expects and handles.
sys.modules.setdefault("httpx._main", None)

from openalgo.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
