"""The text scrubber: JWTs and Zumik keys masked in raw bytes, nothing else touched, whatever the
chunking; a bounded carry between chunks."""

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zumik_files.scrub import MAX_CARRY, REDACTED, TextScrubber


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict[str, object], header: dict[str, object] | None = None) -> str:
    header = header if header is not None else {"alg": "RS256", "kid": "k1"}
    return ".".join(
        [
            _b64url(json.dumps(header).encode()),
            _b64url(json.dumps(claims).encode()),
            _b64url(b"\x01\x02signature-bytes\xfe\xff" * 3),
        ]
    )


TOKEN = jwt({"sub": "usr_1", "email": "ana@example.com"})
API_KEY = "zsk_" + "Ab3-_x" * 7 + "Q"
STAFF = "zst_" + "k9" * 21 + "z"
SIGN_IN = "zsl_" + "Zz0" * 10
SECRETS = [TOKEN, API_KEY, STAFF, SIGN_IN]

LOG = (
    f"2024-05-01T10:00:00Z INFO request Authorization: Bearer {TOKEN}\r\n"
    f"2024-05-01T10:00:01Z WARN key={API_KEY} staff={STAFF}; "
    f"link https://zumik.example/s/{SIGN_IN}\n"
    f'   unicode: héllo 世界 😀, a JSON line: {{"token": "{TOKEN}", "n": 1.0}}\n'
    "zsk_short zsk_... eyJnotajwt eyJhbGciOiJIUzI1NiJ9 (a header alone)\n"
).encode() + b"\xff\xfe raw bytes\x00\n"
EXPECTED = LOG
for secret in SECRETS:
    EXPECTED = EXPECTED.replace(secret.encode(), REDACTED.encode())


def scrub_in_chunks(data: bytes, size: int) -> tuple[bytes, TextScrubber]:
    scrubber = TextScrubber()
    out = [scrubber.feed(data[start : start + size]) for start in range(0, len(data), size)]
    out.append(scrubber.close())
    return b"".join(out), scrubber


def test_secrets_are_masked_and_every_other_byte_kept() -> None:
    output, scrubber = scrub_in_chunks(LOG, len(LOG))
    assert output == EXPECTED
    assert scrubber.redactions.as_dict() == {"jwts": 2, "api_keys": 3}


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 13, 64, 4096])
def test_any_chunk_size_gives_the_same_output(size: int) -> None:
    output, scrubber = scrub_in_chunks(LOG, size)
    assert output == EXPECTED
    assert scrubber.redactions.total == 5


def test_a_secret_split_at_any_byte_is_found() -> None:
    data = b"before " + TOKEN.encode() + b" middle " + API_KEY.encode() + b"\nafter"
    expected = b"before " + REDACTED.encode() + b" middle " + REDACTED.encode() + b"\nafter"
    for cut in range(len(data) + 1):
        scrubber = TextScrubber()
        output = scrubber.feed(data[:cut]) + scrubber.feed(data[cut:]) + scrubber.close()
        assert output == expected, cut


def test_output_comes_out_as_input_goes_in() -> None:
    scrubber = TextScrubber()
    assert scrubber.feed(b"hello world ") == b"hello world "
    assert scrubber.feed(b"and zsk_abc") == b"and "  # held: the key may go on
    assert scrubber.feed(b"defghij more") == REDACTED.encode() + b" "
    assert scrubber.close() == b"more"


def test_a_header_that_is_not_a_jwt_header_is_left_alone() -> None:
    not_jwt = jwt({"sub": "x"}, header={"typ": "not-a-jwt"})
    output, scrubber = scrub_in_chunks(f"id {not_jwt} ok".encode(), 7)
    assert output == f"id {not_jwt} ok".encode()
    assert scrubber.redactions.total == 0


def test_a_jwt_cut_after_its_payload_is_masked() -> None:
    cut = TOKEN.rsplit(".", 1)[0]
    output, _ = scrub_in_chunks(f"truncated: {cut}".encode(), 5)
    assert output == f"truncated: {REDACTED}".encode()


def test_an_overlong_run_with_a_secret_is_masked_to_its_end_with_bounded_carry() -> None:
    prefix = b"A" * (MAX_CARRY + 10_000)
    run = prefix + API_KEY.encode() + b"B" * 100_000
    data = b"start " + run + b" end"
    scrubber = TextScrubber()
    out = []
    for start in range(0, len(data), 4096):
        out.append(scrubber.feed(data[start : start + 4096]))
        assert len(scrubber._carry) <= MAX_CARRY
    out.append(scrubber.close())
    assert b"".join(out) == b"start " + prefix + REDACTED.encode() + b" end"
    assert scrubber.redactions.as_dict() == {"api_keys": 1}


def test_an_overlong_run_without_a_secret_passes_through() -> None:
    data = b"x " + b"Q" * (3 * MAX_CARRY) + b"eyJ" + b" y"
    output, scrubber = scrub_in_chunks(data, 10_000)
    assert output == data
    assert scrubber.redactions.total == 0


def test_feeding_after_close_is_an_error() -> None:
    scrubber = TextScrubber()
    scrubber.close()
    with pytest.raises(RuntimeError):
        scrubber.feed(b"x")


_filler = st.text(st.characters(codec="utf-8", blacklist_categories=["Cs"]), max_size=30).map(
    lambda text: text.encode()
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_filler, st.sampled_from(SECRETS)), max_size=6),
    _filler,
    st.lists(st.integers(1, 40), min_size=1, max_size=10),
)
def test_chunking_never_changes_the_output_nor_lets_a_secret_through(
    parts: list[tuple[bytes, str]], tail: bytes, sizes: list[int]
) -> None:
    # Each secret is set apart by a space, as anything glued to it would become part of it.
    data = b"".join(filler + b" " + secret.encode() + b" " for filler, secret in parts) + tail
    whole, _ = scrub_in_chunks(data, len(data) or 1)
    scrubber = TextScrubber()
    out, start, turn = [], 0, 0
    while start < len(data):
        size = sizes[turn % len(sizes)]
        out.append(scrubber.feed(data[start : start + size]))
        start, turn = start + size, turn + 1
    out.append(scrubber.close())
    assert b"".join(out) == whole
    assert not any(secret.encode() in whole for secret in SECRETS)
    assert scrubber.redactions.total == len(parts)
