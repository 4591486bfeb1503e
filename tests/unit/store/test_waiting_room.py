"""WaitingRoom: how many callers of a process wait for one key (a lease, an idempotency key)."""

from zumik_store.lease import WaitingRoom


def test_a_full_room_turns_the_next_waiter_away_until_one_leaves() -> None:
    room = WaitingRoom(2)
    assert room.enter("spt_a")
    assert room.enter("spt_a")
    assert not room.enter("spt_a")
    assert room.enter("spt_b")  # each key has a room of its own
    room.leave("spt_a")
    assert room.enter("spt_a")


def test_without_a_limit_everyone_waits() -> None:
    room = WaitingRoom(None)
    assert all(room.enter("spt_a") for _ in range(1000))
