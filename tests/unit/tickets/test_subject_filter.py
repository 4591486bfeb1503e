"""Which tickets a privacy request about one data subject reaches."""

import re

from zumik_tickets.privacy import subject_filter

PROJECT = "prj_01m8x2v9c4k7q3w5e6r8t0y1z2"


def test_the_subject_filter_matches_the_address_literally() -> None:
    query = subject_filter(PROJECT, "e.r+in@example.com")

    pattern = query["contact_email"]["$regex"]
    assert query["contact_email"]["$options"] == "i"
    assert re.fullmatch(pattern, "E.R+IN@EXAMPLE.COM", re.IGNORECASE)
    assert not re.fullmatch(pattern, "eXr+in@example.com", re.IGNORECASE)
    assert not re.fullmatch(pattern, "other.e.r+in@example.com", re.IGNORECASE)
    assert subject_filter(PROJECT, None) == {"project_id": PROJECT}
