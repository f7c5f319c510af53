import pytest

from facilitation import consumers


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The flood limit is per process; each test starts with a clean window."""
    consumers._recent_sends.clear()
    yield
    consumers._recent_sends.clear()
