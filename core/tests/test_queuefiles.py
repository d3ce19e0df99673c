"""The embedded Celery queue (core/queuefiles.py) over real folders: messages round-trip, and a
message still being written is never taken (kombu's own transport handed it over empty)."""

from __future__ import annotations

import os
import threading

from kombu import Connection

from core.queuefiles import Transport


def _connection(folder) -> Connection:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    return Connection("filesystem://", transport=Transport, transport_options=options)


def test_messages_round_trip_and_a_partial_file_is_not_taken(tmp_path):
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("jobs")
        (tmp_path / ".writing.partial").write_bytes(b"")  # a publisher mid-write
        queue.put({"n": 1})
        assert queue.get(timeout=2).payload == {"n": 1}
        assert os.listdir(tmp_path) == [".writing.partial"]
        queue.close()


def test_concurrent_publishers_and_one_consumer_lose_nothing(tmp_path):
    sent = 300
    with _connection(tmp_path) as conn:
        consumer = conn.SimpleQueue("jobs")

        def publish(start: int) -> None:
            with _connection(tmp_path) as own:
                queue = own.SimpleQueue("jobs")
                for n in range(start, start + sent // 3):
                    queue.put({"n": n})
                queue.close()

        threads = [threading.Thread(target=publish, args=(i * sent // 3,)) for i in range(3)]
        for thread in threads:
            thread.start()
        received = []
        while len(received) < sent:
            message = consumer.get(timeout=20)
            received.append(message.payload["n"])
            message.ack()
        for thread in threads:
            thread.join()
        assert sorted(received) == list(range(sent))
        consumer.close()
