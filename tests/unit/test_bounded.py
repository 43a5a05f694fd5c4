import pytest

from nitools.bounded import Bounded


def test_the_oldest_entries_are_forgotten_past_the_limit():
    table: Bounded[str, int] = Bounded(3)
    for index, key in enumerate("abcd"):
        forgotten = table.put(key, index)
    assert forgotten == [("a", 0)]
    assert list(table) == ["b", "c", "d"]


def test_putting_a_key_again_makes_it_the_newest():
    table: Bounded[str, int] = Bounded(2)
    table.put("a", 1)
    table.put("b", 2)
    table.put("a", 3)  # now b is the oldest
    assert table.put("c", 4) == [("b", 2)]
    assert dict(table) == {"a": 3, "c": 4}


def test_touch_keeps_an_entry_without_changing_it():
    table: Bounded[str, int] = Bounded(2)
    table.put("a", 1)
    table.put("b", 2)
    table.touch("a")
    table.put("c", 3)
    assert dict(table) == {"a": 1, "c": 3}


def test_a_table_must_hold_something():
    with pytest.raises(ValueError):
        Bounded(0)
