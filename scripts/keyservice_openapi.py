"""Write the key service's OpenAPI document to docs/keyservice-openapi.json.

Run: ``python -m scripts.keyservice_openapi`` (a test checks the file matches the app)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from verwijsindex.keyservice.routes import create_keyservice_app
from verwijsindex.keyservice.settings import KeyServiceSettings


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_keyservice_app(KeyServiceSettings(data_dir=Path(data_dir)))
        target = Path(__file__).parent.parent / "docs" / "keyservice-openapi.json"
        target.write_text(json.dumps(app.openapi(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
