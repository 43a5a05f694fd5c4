import pytest

from tests.lab.netns import NamespacesUnavailable, NetnsPair


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
