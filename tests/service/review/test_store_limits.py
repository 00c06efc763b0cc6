"""Ids and offsets beyond what the database can hold are answered without asking it: an id past
the INTEGER range names no item (ItemNotFound, as any unknown id), an offset past it is an empty page.
"""

from __future__ import annotations

import pytest

from service.review.errors import ItemNotFound
from service.review.store import MAX_ITEM_ID, ReviewStore
from tests.service.review.review_store_helpers import ItemFactory

HUGE = [MAX_ITEM_ID + 1, 2**63, 10**30]


@pytest.mark.parametrize("item_id", [0, -1, *HUGE])
def test_ids_outside_the_database_range_are_not_found(store: ReviewStore, make_item: ItemFactory, item_id: int) -> None:
    store.enqueue(make_item())
    for action in (lambda: store.get(item_id), lambda: store.claim(item_id, "agent-a"), lambda: store.decide(item_id, "support", "agent-a")):
        with pytest.raises(ItemNotFound):
            action()


@pytest.mark.parametrize("offset", HUGE)
def test_an_offset_past_any_queue_is_an_empty_page(store: ReviewStore, make_item: ItemFactory, offset: int) -> None:
    store.enqueue(make_item())
    assert store.list_pending(offset=offset) == [], "nothing lies past the end of the queue"
    assert store.count_pending() == 1, "the queue itself is untouched"
