from __future__ import annotations

import asyncio
from pathlib import Path

from pyk8s.images import airgap, manifest
from pyk8s.images import store as store_mod
from tests import imagekit


async def test_server_start_imports_the_folder_once(tmp_path: Path) -> None:
    root = tmp_path / "images"
    folder = root / "import"
    folder.mkdir(parents=True)
    built = imagekit.build_image([{"a": "1"}])
    await asyncio.to_thread(imagekit.write_docker_archive, folder / "app.tar", built, ["app:1"])
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.tar").write_bytes(b"junk" * 100)
    assert await airgap.import_dir(root) == ["docker.io/library/app:1"]
    store = await asyncio.to_thread(store_mod.Store, root, manifest.Platform("linux", "amd64"))
    assert (await asyncio.to_thread(store.resolve, "app:1")).id == built.config
    assert await airgap.import_dir(root) == []  # unchanged: not again
    await asyncio.to_thread(store.remove_refs, ["docker.io/library/app:1"])
    await asyncio.to_thread(imagekit.write_docker_archive, folder / "app.tar", built, ["app:2"])
    assert await airgap.import_dir(root) == ["docker.io/library/app:2"]
