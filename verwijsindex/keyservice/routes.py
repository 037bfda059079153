"""The key service's HTTP app: ``GET /v1/keys`` (public keys, no authentication),
``POST /v1/evaluate`` (a batch, for an authenticated caller), ``GET /v1/usage`` (the caller's
own counts) and ``GET /healthz``. Errors are problem+json from the index's one table."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request

from verwijsindex.http.problems import ApiProblem, install_error_handlers
from verwijsindex.http.schemas import problem_responses
from verwijsindex.keyservice.callers import Caller
from verwijsindex.keyservice.schemas import (
    EvaluateRequest,
    EvaluateResponse,
    KeyOut,
    KeysOut,
    UsageOut,
)
from verwijsindex.keyservice.service import KeyService, Unauthenticated
from verwijsindex.keyservice.settings import KeyServiceSettings
from verwijsindex.logging import get_logger

log = get_logger("verwijsindex.keyservice")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ApiProblem(422, "invalid-input", "an element is not base64url") from None


def _service(request: Request) -> KeyService:
    service: KeyService = request.app.state.keyservice
    return service


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    scheme, _, token = (authorization or "").partition(" ")
    try:
        return _service(request).authenticate(token if scheme.lower() == "bearer" else None)
    except Unauthenticated as exc:
        raise ApiProblem(
            401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None


CallerDep = Annotated[Caller, Depends(_caller)]


def create_keyservice_app(settings: KeyServiceSettings) -> FastAPI:
    service = KeyService(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async def report() -> None:
            while True:
                await asyncio.sleep(settings.usage_report_seconds)
                service.usage.report()

        task = asyncio.create_task(report())
        try:
            yield
        finally:
            task.cancel()
            service.usage.report()

    app = FastAPI(
        title="Verwijsindex key service",
        version="1",
        summary="RFC 9497 VOPRF(ristretto255, SHA-512) evaluation of blinded BSNs",
        description="A separate deployment that holds the OPRF key of the blind pseudonyms. It"
        " sees only blinded elements (uniformly random group elements), never a BSN or an"
        " output. See docs/blind-pseudonyms.md.",
        lifespan=lifespan,
    )
    app.state.keyservice = service
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/keys", response_model=KeysOut, tags=["keys"], summary="Public keys")
    async def keys(request: Request) -> KeysOut:
        """Every key version the service evaluates under, newest (current) first, with its
        public key (ristretto255, base64url): clients verify each proof against it (pin it)."""
        ring = _service(request).ring
        return KeysOut(
            suite="ristretto255-SHA512",
            mode="VOPRF",
            current_version=ring.current_version,
            keys=[
                KeyOut(
                    version=v,
                    public_key=_b64(ring_key.key.public_key),
                    fingerprint=ring_key.fingerprint,
                )
                for v in ring.versions
                if (ring_key := ring.get(v)) is not None
            ],
        )

    @app.post(
        "/v1/evaluate",
        response_model=EvaluateResponse,
        tags=["evaluate"],
        summary="Evaluate a batch of blinded elements",
        responses=problem_responses(401, 404, 422, 429),
    )
    async def evaluate(
        body: EvaluateRequest, caller: CallerDep, request: Request
    ) -> EvaluateResponse:
        """BlindEvaluate (RFC 9497, VOPRF mode) for up to ``max_batch`` blinded elements, with
        one DLEQ proof covering the batch. Counts against the caller's rate limit (429 with
        Retry-After); the usage log records the caller and the count, never an element."""
        blinded = [_unb64(e) for e in body.blinded_elements]
        service = _service(request)
        version, evaluation = service.evaluate(caller, blinded, version=body.key_version)
        assert evaluation.proof is not None
        return EvaluateResponse(
            key_version=version,
            current_version=service.ring.current_version,
            evaluated_elements=[_b64(e) for e in evaluation.elements],
            proof=_b64(evaluation.proof),
        )

    @app.get(
        "/v1/usage",
        response_model=UsageOut,
        tags=["usage"],
        summary="The caller's own evaluation counts",
        responses=problem_responses(401),
    )
    async def usage(caller: CallerDep, request: Request) -> UsageOut:
        """Counts since the process started, of the calling caller only."""
        return UsageOut.model_validate(_service(request).usage.of(caller.id))

    return app
