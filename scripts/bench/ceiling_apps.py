"""Ceiling servers for the benchmark: the same uvicorn settings as ``verwijsindex serve``.

``bare``     a raw ASGI app that reads the body and answers 201 with a fixed JSON body;
``fastapi``  a minimal FastAPI endpoint that parses the registration body (the service's own
             ``RegistrationCreate`` model) and answers 201.

    python -m scripts.bench.ceiling_apps fastapi --port 8091
"""

from __future__ import annotations

import argparse
import json
from typing import Any

# At module level: FastAPI resolves the endpoint's (postponed) annotations in the module's
# namespace; a name imported inside ``fastapi_app`` is not found there, and the body would be
# taken for a query parameter (every request answered 422 without parsing the body).
from verwijsindex.http.schemas import RegistrationCreate

_BODY = json.dumps({"id": "00000000-0000-0000-0000-000000000000", "status": "active"}).encode()


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": _BODY})


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/registrations", status_code=201)
    async def create(body: RegistrationCreate) -> dict[str, Any]:
        return {
            "id": "00000000-0000-0000-0000-000000000000",
            "status": "active",
            "bsn_len": len(body.bsn),
        }

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=["bare", "fastapi"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    app = bare_app if args.app == "bare" else fastapi_app()
    # Exactly the uvicorn.run() arguments of ``verwijsindex serve`` (verwijsindex/cli/__init__.py).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
