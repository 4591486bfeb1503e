from zumik_contracts.ids import new_id


def test_ids_carry_their_prefix_and_a_fixed_length() -> None:
    made = new_id("spt")
    assert made.startswith("spt_")
    assert len(made) == len("spt_") + 26


def test_ids_made_by_one_process_strictly_increase() -> None:
    made = [new_id("evt") for _ in range(20_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
