"""Static files: hashed, compressed names after `collectstatic`; plain names before it."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Pages render before `collectstatic` has run (tests, a first `manage.py` call):
    an asset missing from the manifest gets its plain URL, served by WhiteNoise's finders."""

    manifest_strict = False

    def url(self, name, force=False):
        try:
            return super().url(name, force)
        except ValueError:
            return FileSystemStorage.url(self, name)
