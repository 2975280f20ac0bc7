import pytest


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service call, then its after-commit callbacks (the publishing)."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run
