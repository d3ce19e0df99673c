"""Celery's queue on the embedded defaults (no REDIS_URL): kombu's filesystem transport, with
each message published whole.

kombu writes a message by creating its final ``*.<queue>.msg`` file, then locking and filling
it; the consumer takes any such file without locking (it moves it away, then reads it). A
consumer that comes between the two reads an empty message: the worker stopped with
"Unrecoverable error: JSONDecodeError" (seen in bench/soak.py, beat sending every few
seconds on a loaded machine), and the message, written after the move, was lost. Here the
message is written under a name no consumer looks at and renamed into place in one step.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{uuid.uuid4()}.partial")  # matches no queue
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
