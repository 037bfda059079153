"""Standard Webhooks signatures, checked against the independent ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from crypto import (
    CryptoError,
    InvalidWebhookMessage,
    InvalidWebhookSecret,
    InvalidWebhookSignature,
    generate_ed25519_signing_key,
    generate_webhook_secret,
    parse_ed25519_public_key,
    parse_ed25519_signing_key,
    parse_webhook_secret,
    sign_v1,
    sign_v1a,
    signature_header,
    verify_webhook,
    verify_webhook_ed25519,
)

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "standard_webhooks.json").read_text("utf-8")
)

BODY = b'{"type":"match.created","timestamp":"2026-01-05T10:00:00Z","data":{"match_id":"m_1"}}'
SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(100, 132))


def _headers(msg_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def _whsec(raw: bytes) -> str:
    return "whsec_" + base64.b64encode(raw).decode()


class TestKnownAnswerVectors:
    @pytest.mark.parametrize("vector", VECTORS["v1"])
    def test_standard_webhooks_reference_vector(self, vector: dict[str, Any]) -> None:
        secret = parse_webhook_secret(vector["secret"])
        body = vector["body"].encode()
        signature = sign_v1(
            secret=secret, msg_id=vector["msg_id"], timestamp=vector["timestamp"], body=body
        )
        assert signature == vector["signature"]
        verify_webhook(
            secret=secret,
            headers=_headers(vector["msg_id"], vector["timestamp"], vector["signature"]),
            body=body,
            now=vector["timestamp"],
        )


class TestWebhookSecret:
    def test_generated_secret_parses_to_32_bytes(self) -> None:
        text = generate_webhook_secret()
        assert text.startswith("whsec_")
        assert len(parse_webhook_secret(text)) == 32

    def test_generated_secrets_differ(self) -> None:
        assert len({generate_webhook_secret() for _ in range(20)}) == 20

    def test_generated_secret_is_accepted_by_standardwebhooks(self) -> None:
        text = generate_webhook_secret()
        now = int(time.time())
        header = sign_v1(secret=parse_webhook_secret(text), msg_id="m", timestamp=now, body=b"{}")
        Webhook(text).verify(b"{}", _headers("m", now, header))

    @pytest.mark.parametrize(
        "value",
        [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
            "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # wrong prefix
            "whsec_" + base64.b64encode(b"x" * 23).decode(),  # too short
            "whsec_" + base64.b64encode(b"x" * 65).decode(),  # too long
            "whsec_not base64!",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
            "whsec_",
        ],
    )
    def test_rejects_malformed(self, value: str) -> None:
        with pytest.raises(InvalidWebhookSecret):
            parse_webhook_secret(value)

    def test_accepts_unpadded_base64(self) -> None:
        raw = b"y" * 25  # 25 bytes -> base64 needs padding
        text = "whsec_" + base64.b64encode(raw).decode().rstrip("=")
        assert parse_webhook_secret(text) == raw

    def test_error_never_echoes_the_secret(self) -> None:
        value = "whsec_" + base64.b64encode(b"TOPSECRET" * 1).decode()
        with pytest.raises(InvalidWebhookSecret) as info:
            parse_webhook_secret(value)
        assert value[6:] not in str(info.value)
        assert isinstance(info.value, CryptoError)


class TestSignV1:
    def test_verified_by_standardwebhooks(self) -> None:
        now = int(time.time())
        signature = sign_v1(secret=SECRET, msg_id="msg_abc", timestamp=now, body=BODY)
        assert signature.startswith("v1,")
        result = Webhook(_whsec(SECRET)).verify(BODY, _headers("msg_abc", now, signature))
        assert result["type"] == "match.created"

    def test_rotation_header_verifies_with_each_secret_alone(self) -> None:
        now = int(time.time())
        header = signature_header(
            msg_id="msg_rot", timestamp=now, body=BODY, secrets=[OTHER_SECRET, SECRET]
        )
        assert len(header.split(" ")) == 2
        headers = _headers("msg_rot", now, header)
        Webhook(_whsec(OTHER_SECRET)).verify(BODY, headers)
        Webhook(_whsec(SECRET)).verify(BODY, headers)
        verify_webhook(secret=OTHER_SECRET, headers=headers, body=BODY, now=now)
        verify_webhook(secret=SECRET, headers=headers, body=BODY, now=now)
        with pytest.raises(WebhookVerificationError):
            Webhook(_whsec(b"z" * 32)).verify(BODY, headers)

    @pytest.mark.parametrize("msg_id", ["", "msg.1", "msg 1", "msg,1", "msg\n1", "é", "m" * 257])
    def test_rejects_unsignable_message_id(self, msg_id: str) -> None:
        with pytest.raises(InvalidWebhookMessage):
            sign_v1(secret=SECRET, msg_id=msg_id, timestamp=1, body=b"")

    @pytest.mark.parametrize("timestamp", [-1, True, 10**12])
    def test_rejects_bad_timestamp(self, timestamp: int) -> None:
        with pytest.raises(InvalidWebhookMessage):
            sign_v1(secret=SECRET, msg_id="m", timestamp=timestamp, body=b"")

    def test_rejects_short_raw_secret(self) -> None:
        with pytest.raises(InvalidWebhookSecret):
            sign_v1(secret=b"short", msg_id="m", timestamp=1, body=b"")


class TestEd25519:
    def test_key_pair_serialisation(self) -> None:
        pair = generate_ed25519_signing_key()
        assert pair.signing_key.startswith("whsk_")
        assert pair.public_key.startswith("whpk_")
        assert len(base64.b64decode(pair.signing_key[5:])) == 32
        assert len(base64.b64decode(pair.public_key[5:])) == 32
        private = parse_ed25519_signing_key(pair.signing_key)
        public = parse_ed25519_public_key(pair.public_key)
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) == raw

    def test_v1a_verifies_with_plain_ed25519(self) -> None:
        pair = generate_ed25519_signing_key()
        private = parse_ed25519_signing_key(pair.signing_key)
        signature = sign_v1a(private_key=private, msg_id="msg_x", timestamp=1674087231, body=BODY)
        version, _, encoded = signature.partition(",")
        assert version == "v1a"
        raw_public = base64.b64decode(pair.public_key[len("whpk_") :])
        public = Ed25519PublicKey.from_public_bytes(raw_public)
        public.verify(base64.b64decode(encoded), b"msg_x.1674087231." + BODY)
        with pytest.raises(InvalidSignature):
            public.verify(base64.b64decode(encoded), b"msg_x.1674087232." + BODY)

    def test_verify_webhook_ed25519(self) -> None:
        private = Ed25519PrivateKey.generate()
        header = signature_header(
            msg_id="msg_a", timestamp=1000, body=BODY, secrets=[SECRET], ed25519_keys=[private]
        )
        headers = _headers("msg_a", 1000, header)
        verify_webhook_ed25519(
            public_key=private.public_key(), headers=headers, body=BODY, now=1000
        )
        with pytest.raises(InvalidWebhookSignature) as info:
            verify_webhook_ed25519(
                public_key=Ed25519PrivateKey.generate().public_key(),
                headers=headers,
                body=BODY,
                now=1000,
            )
        assert info.value.reason == "no-matching-signature"

    def test_accepts_64_byte_libsodium_signing_key(self) -> None:
        pair = generate_ed25519_signing_key()
        seed = base64.b64decode(pair.signing_key[5:])
        public = base64.b64decode(pair.public_key[5:])
        long_form = "whsk_" + base64.b64encode(seed + public).decode()
        assert (
            parse_ed25519_signing_key(long_form)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
            == public
        )

    def test_rejects_64_byte_key_with_foreign_public_half(self) -> None:
        seed = base64.b64decode(generate_ed25519_signing_key().signing_key[5:])
        other = base64.b64decode(generate_ed25519_signing_key().public_key[5:])
        with pytest.raises(InvalidWebhookSecret):
            parse_ed25519_signing_key("whsk_" + base64.b64encode(seed + other).decode())

    @pytest.mark.parametrize(
        "value", ["whpk_" + base64.b64encode(b"a" * 31).decode(), "whsk_AAAA", "AAAA"]
    )
    def test_rejects_malformed_public_key(self, value: str) -> None:
        with pytest.raises(InvalidWebhookSecret):
            parse_ed25519_public_key(value)


class TestSignatureHeader:
    def test_mixed_header_lists_every_signature(self) -> None:
        key = Ed25519PrivateKey.generate()
        header = signature_header(
            msg_id="m", timestamp=5, body=b"{}", secrets=[SECRET, OTHER_SECRET], ed25519_keys=[key]
        )
        entries = header.split(" ")
        assert [e.partition(",")[0] for e in entries] == ["v1", "v1", "v1a"]
        assert entries[0] == sign_v1(secret=SECRET, msg_id="m", timestamp=5, body=b"{}")
        assert entries[1] == sign_v1(secret=OTHER_SECRET, msg_id="m", timestamp=5, body=b"{}")

    def test_standardwebhooks_skips_v1a_and_finds_v1(self) -> None:
        now = int(time.time())
        header = signature_header(
            msg_id="m",
            timestamp=now,
            body=BODY,
            secrets=[SECRET],
            ed25519_keys=[Ed25519PrivateKey.generate()],
        )
        Webhook(_whsec(SECRET)).verify(BODY, _headers("m", now, header))

    def test_requires_at_least_one_key(self) -> None:
        with pytest.raises(InvalidWebhookSecret):
            signature_header(msg_id="m", timestamp=5, body=b"{}", secrets=[], ed25519_keys=[])


class TestVerifyWebhook:
    NOW = 1_700_000_000

    def _signed(self, timestamp: int, body: bytes = BODY) -> dict[str, str]:
        signature = sign_v1(secret=SECRET, msg_id="msg_v", timestamp=timestamp, body=body)
        return _headers("msg_v", timestamp, signature)

    def test_accepts_signature_from_standardwebhooks(self) -> None:
        from datetime import UTC, datetime

        signature = Webhook(_whsec(SECRET)).sign(
            msg_id="msg_v", timestamp=datetime.fromtimestamp(self.NOW, UTC), data=BODY.decode()
        )
        verify_webhook(
            secret=SECRET, headers=_headers("msg_v", self.NOW, signature), body=BODY, now=self.NOW
        )

    def test_accepts_at_the_edge_of_tolerance(self) -> None:
        verify_webhook(secret=SECRET, headers=self._signed(self.NOW - 300), body=BODY, now=self.NOW)
        verify_webhook(secret=SECRET, headers=self._signed(self.NOW + 300), body=BODY, now=self.NOW)

    def test_stale_timestamp_rejected(self) -> None:
        with pytest.raises(InvalidWebhookSignature) as info:
            verify_webhook(
                secret=SECRET, headers=self._signed(self.NOW - 301), body=BODY, now=self.NOW
            )
        assert info.value.reason == "stale-timestamp"

    def test_future_timestamp_rejected(self) -> None:
        with pytest.raises(InvalidWebhookSignature) as info:
            verify_webhook(
                secret=SECRET, headers=self._signed(self.NOW + 301), body=BODY, now=self.NOW
            )
        assert info.value.reason == "future-timestamp"

    def test_custom_tolerance(self) -> None:
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook(
                secret=SECRET,
                headers=self._signed(self.NOW - 11),
                body=BODY,
                now=self.NOW,
                tolerance_seconds=10,
            )

    def test_tampered_body_rejected(self) -> None:
        with pytest.raises(InvalidWebhookSignature) as info:
            verify_webhook(
                secret=SECRET, headers=self._signed(self.NOW), body=BODY + b" ", now=self.NOW
            )
        assert info.value.reason == "no-matching-signature"

    def test_wrong_secret_rejected(self) -> None:
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook(
                secret=OTHER_SECRET, headers=self._signed(self.NOW), body=BODY, now=self.NOW
            )

    def test_timestamp_is_bound_into_signature(self) -> None:
        headers = self._signed(self.NOW)
        headers["webhook-timestamp"] = str(self.NOW + 1)
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook(secret=SECRET, headers=headers, body=BODY, now=self.NOW)

    def test_hmac_presented_as_other_version_is_ignored(self) -> None:
        headers = self._signed(self.NOW)
        headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook(secret=SECRET, headers=headers, body=BODY, now=self.NOW)

    def test_headers_are_case_insensitive(self) -> None:
        headers = {k.title(): v for k, v in self._signed(self.NOW).items()}
        verify_webhook(secret=SECRET, headers=headers, body=BODY, now=self.NOW)

    @pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    def test_missing_header_rejected(self, missing: str) -> None:
        headers = self._signed(self.NOW)
        del headers[missing]
        with pytest.raises(InvalidWebhookSignature) as info:
            verify_webhook(secret=SECRET, headers=headers, body=BODY, now=self.NOW)
        assert info.value.reason == "missing-header"

    @pytest.mark.parametrize("value", ["1.7e9", "-1700000000", " 1700000000", "", "abc", "１７"])
    def test_malformed_timestamp_rejected(self, value: str) -> None:
        headers = self._signed(self.NOW)
        headers["webhook-timestamp"] = value
        with pytest.raises(InvalidWebhookSignature) as info:
            verify_webhook(secret=SECRET, headers=headers, body=BODY, now=self.NOW)
        assert info.value.reason == "malformed-timestamp"

    def test_garbage_signatures_do_not_crash(self) -> None:
        headers = self._signed(self.NOW)
        headers["webhook-signature"] = "v1 v1,!!! ,,, v1a,AAAA " + headers["webhook-signature"]
        verify_webhook(secret=SECRET, headers=headers, body=BODY, now=self.NOW)


_MSG_IDS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=".,"),
    min_size=1,
    max_size=40,
)


class TestRoundTripProperty:
    @given(
        secret=st.binary(min_size=24, max_size=64),
        msg_id=_MSG_IDS,
        timestamp=st.integers(min_value=0, max_value=10**12 - 1),
        body=st.binary(max_size=512),
    )
    def test_sign_then_verify(
        self, secret: bytes, msg_id: str, timestamp: int, body: bytes
    ) -> None:
        header = signature_header(msg_id=msg_id, timestamp=timestamp, body=body, secrets=[secret])
        headers = _headers(msg_id, timestamp, header)
        verify_webhook(secret=secret, headers=headers, body=body, now=timestamp)
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook(secret=secret, headers=headers, body=body + b"\x00", now=timestamp)

    @settings(max_examples=50)
    @given(secret=st.binary(min_size=24, max_size=64), msg_id=_MSG_IDS, body=st.text(max_size=200))
    def test_standardwebhooks_agrees(self, secret: bytes, msg_id: str, body: str) -> None:
        now = int(time.time())
        data = body.encode()
        signature = sign_v1(secret=secret, msg_id=msg_id, timestamp=now, body=data)
        Webhook(secret).verify(data, _headers(msg_id, now, signature), json_parse=False)
