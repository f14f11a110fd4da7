"""``core.forked``: a generator run in a child process hands back every item in order, and its failures."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from sampark.core.forked import can_fork, forked
from sampark.territory.importers.base import BadFile, Issue

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs fork and a second core")


def test_it_yields_every_item_in_order_computed_in_another_process():
    parent = os.getpid()

    def produce() -> Iterator[tuple[int, int]]:
        for i in range(500):
            yield i, os.getpid()

    items = list(forked(produce, ahead=3, what="counting"))
    assert [i for i, _pid in items] == list(range(500))
    assert {pid for _i, pid in items} != {parent}  # computed in the child, not here


def test_an_import_error_raised_in_the_child_comes_back_whole():
    def produce() -> Iterator[int]:
        yield 1
        raise BadFile(Issue("x.csv", 7, "phone", "not a number"))

    items = []
    with pytest.raises(BadFile) as caught:
        items.extend(forked(produce, ahead=2, what="reading x.csv"))
    assert items == [1]
    assert caught.value.issue == Issue("x.csv", 7, "phone", "not a number")


def test_an_exception_that_cannot_be_pickled_is_named_in_a_runtime_error():
    class Unpicklable(Exception):
        def __init__(self) -> None:
            super().__init__("boom")
            self.lock = threading.Lock()

    def produce() -> Iterator[int]:
        raise Unpicklable()
        yield 0

    with pytest.raises(RuntimeError, match=r"reading y\.csv failed in the child process: .*boom"):
        list(forked(produce, ahead=2, what="reading y.csv"))


def test_a_child_that_dies_is_an_error_not_a_short_result():
    def produce() -> Iterator[int]:
        yield 1
        os._exit(3)

    with pytest.raises(RuntimeError, match="ended without finishing"):
        list(forked(produce, ahead=2, what="dying"))


def test_closing_early_stops_the_child():
    def produce() -> Iterator[int]:
        i = 0
        while True:  # would never end on its own
            yield i
            i += 1

    items = forked(produce, ahead=2, what="endless")
    assert next(items) == 0
    items.close()  # must return: the child is killed and reaped, the drain thread ends
    assert not [t for t in threading.enumerate() if t.name == "forked-drain-endless"]
