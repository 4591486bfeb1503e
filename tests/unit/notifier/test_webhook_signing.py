"""Standard Webhooks signatures, checked against the specification's published example and an
HMAC computed here independently."""

import base64
import hashlib
import hmac

import pytest
from zumik_notifier.channels.webhook import sign, signed_headers
from zumik_notifier.settings import webhook_secret_key

# The example from the Standard Webhooks / Svix documentation.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_published_example() -> None:
    key = webhook_secret_key(SPEC_SECRET)
    assert sign(key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    key = b"\x00\x01secret-key-bytes\xff"
    body = '{"id":"evt_1","data":{"subject":"Ünïcode"}}'.encode()
    expected = base64.b64encode(
        hmac.new(key, b"evt_1.1700000000." + body, hashlib.sha256).digest()
    ).decode()
    assert sign(key, "evt_1", 1700000000, body) == f"v1,{expected}"


def test_headers_carry_id_timestamp_and_signature() -> None:
    key = webhook_secret_key(SPEC_SECRET)
    headers = signed_headers(key, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers == {
        "content-type": "application/json",
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_secret_without_prefix_is_accepted() -> None:
    assert webhook_secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == webhook_secret_key(SPEC_SECRET)


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_"])
def test_bad_secrets_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError, match=r"whsec_|empty") as refused:
        webhook_secret_key(bad)
    assert "not base64!" not in str(refused.value)


def test_a_short_secret_is_refused() -> None:
    short = "whsec_" + base64.b64encode(b"only-sixteen-byt").decode()
    with pytest.raises(ValueError, match="at least 24 bytes") as refused:
        webhook_secret_key(short)
    assert "only-sixteen" not in str(refused.value)
