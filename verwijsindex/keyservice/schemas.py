"""The key service's request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_version: int | None = Field(
        default=None, ge=1, description="Evaluate under this key version (default: current)"
    )
    blinded_elements: list[str] = Field(
        min_length=1,
        max_length=10_000,
        description="Blinded elements (32-byte ristretto255 encodings, base64url without"
        " padding); the service's max_batch (default 1,000) applies",
    )


class EvaluateResponse(BaseModel):
    key_version: int = Field(description="The version the batch was evaluated under")
    current_version: int = Field(
        description="The service's current version: a client that knows an older one fetches"
        " GET /v1/keys again"
    )
    evaluated_elements: list[str] = Field(description="In the order of the request")
    proof: str = Field(description="The batch's DLEQ proof c || s (64 bytes, base64url)")


class KeyOut(BaseModel):
    version: int
    public_key: str = Field(description="ristretto255 element, base64url")
    fingerprint: str = Field(description="First 16 hex digits of SHA-256(public key)")


class KeysOut(BaseModel):
    suite: Literal["ristretto255-SHA512"]
    mode: Literal["VOPRF"]
    current_version: int
    keys: list[KeyOut] = Field(description="Newest first")


class UsageOut(BaseModel):
    caller: str
    requests: int
    evaluations: int
    evaluations_by_key_version: dict[str, int]
    rate_limited: int
