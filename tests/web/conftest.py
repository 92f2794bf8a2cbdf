"""The browser tests' server: one per test module, with an account of every role and two
collections with a legal basis, on the real engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from facelens.config import Settings
from facelens.pipeline.analyse import FacePipeline
from facelens.security.accounts import Role, create_account
from facelens.security.crypto import TemplateCipher, generate_key
from facelens.store import create_store
from tests.conftest import TEST_POLICY
from tests.web.browser import console_errors, page, serving

__all__ = ["console_errors", "page"]


@dataclass(frozen=True)
class Web:
    url: str
    keys: dict[Role, str]
    settings: Settings

    def client(self, who: Role | str) -> httpx.Client:
        """The API as the role's account (or the account of a key) calls it."""
        key = self.keys[who] if isinstance(who, Role) else who
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=120)

    def upload(self, collection: str, *files: Path, **provenance: str) -> dict[str, Any]:
        """Photos uploaded by the enroller, by the API; its report."""
        with self.client(Role.ENROLLER) as api:
            sent = [("files", (f.name, f.read_bytes(), "image/jpeg")) for f in files]
            answer = api.post(f"/collections/{collection}/images", files=sent, data=provenance)
        assert answer.status_code in (200, 201), answer.text
        report: dict[str, Any] = answer.json()
        return report


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline) -> Iterator[Web]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("web-data"))
    store = create_store(settings, TemplateCipher(generate_key()))  # accounts only: no template
    keys = {role: create_account(store, f"{role}-web", role)[1] for role in Role}
    for name in ("press", "archive"):
        store.create_collection(name, TEST_POLICY)
    store.close()
    with serving(settings, pipeline) as url:
        yield Web(url, keys, settings)
