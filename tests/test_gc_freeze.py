"""Start-up objects are frozen out of full collections, and later garbage is still collected."""
import gc
import weakref

import pytest

from foundation.gc_freeze import freeze_startup_objects


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it


def test_objects_alive_at_start_up_are_frozen_out_of_full_collections(unfrozen):
    kept = [_Node() for _ in range(100)]
    assert gc.get_freeze_count() == 0
    frozen = freeze_startup_objects()
    # Not an equality with get_freeze_count() afterwards: frozen objects other threads drop
    # (the test runner's own) are freed by reference counting and leave the count.
    assert frozen >= len(kept)
    in_collected_generations = {id(o) for g in range(3) for o in gc.get_objects(generation=g)}
    assert all(gc.is_tracked(n) for n in kept)
    assert not any(id(n) in in_collected_generations for n in kept)


def test_cyclic_garbage_made_after_the_freeze_is_still_collected(unfrozen):
    freeze_startup_objects()
    later = _Node()
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None
