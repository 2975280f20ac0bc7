"""A database connection that dies under a batch of consumer calls (chat/realtime/dbcalls.py):
the call that hit it fails alone, and the next call of the same batch reconnects."""

import asyncio

import pytest
from django.db import OperationalError, connection

from chat.models import Room
from chat.realtime.dbcalls import Batcher
from tests.support import HeldCall, until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def terminate_own_backend() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def count_rooms() -> int:
    return Room.objects.count()


async def test_a_call_whose_connection_dies_fails_alone_and_the_next_call_reconnects():
    calls, held = Batcher(), HeldCall()
    first = await held.occupy(calls)  # the thread is busy: the next two go over together
    dying = asyncio.ensure_future(calls.call(terminate_own_backend))
    after = asyncio.ensure_future(calls.call(count_rooms))
    await until(lambda: len(calls.waiting) == 2, "both calls queued")
    held.release()
    await first
    with pytest.raises(OperationalError):
        await dying
    assert await after == 0
    assert calls.batches == 2
