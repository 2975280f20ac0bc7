"""What tests share beyond fixtures (those are in conftest.py): records and assertions."""

import os
import subprocess
import sys
from typing import NamedTuple

import pytest

from chat.errors import ChatError


class Published(NamedTuple):
    """One publish a service made after commit: to a `room`'s or a `user`'s sockets,
    or a `grant`/`revoke` of `room` to a user's sockets (`target` is the room or user id)."""

    to: str
    target: int
    frame: dict
    room: int | None = None

    @property
    def brief(self) -> tuple[str, int, str]:
        return (self.to, self.target, self.frame["type"])


def refused(code: str, call, *args, **kwargs) -> ChatError:
    """Call, expecting a ChatError with this code; the error."""
    with pytest.raises(ChatError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


MEASURE = """
import resource, sys
import django
django.setup()
{imports}
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
{judge}
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, result)
"""


def peak_memory_of(imports: str, judge: str, path) -> tuple[int, str]:
    """(MiB the peak memory of a fresh process grew by running `judge` on the bytes of the
    file at `path` (`data`), the `result` it set); `imports` run before measuring."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE.format(imports=imports, judge=judge), str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    grown, result = done.stdout.split()
    return int(grown), result
