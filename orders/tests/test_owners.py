"""A process forked after the order modules were imported (Celery's prefork pool) owns its
orders and idempotency keys under its own identity, so one child killed mid-call is seen
as gone while its parent and siblings live on."""

from __future__ import annotations

import os

from orders import owners


def test_a_forked_child_writes_its_own_identity_and_its_parent_sees_it_gone():
    parent = owners.this_process()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its identity and exit at once
        os.close(read)
        os.write(write, owners.this_process().encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    assert owners.this_process() == parent
    assert child != parent and child.split(":")[1] == str(pid)
    assert owners.owner_is_gone(child) and not owners.owner_is_gone(parent)
