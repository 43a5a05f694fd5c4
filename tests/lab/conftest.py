import pytest

from tests.lab.netns import NamespacesUnavailable, NetnsPair
from tests.lab.stations import Station


@pytest.fixture
def netns_pair():
    try:
        pair = NetnsPair.create()
    except NamespacesUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield pair
    finally:
        pair.destroy()


@pytest.fixture
def station(netns_pair, tmp_path):
    """A station and its emulated boards in a fresh pair of namespaces."""
    return Station(netns_pair, tmp_path)
