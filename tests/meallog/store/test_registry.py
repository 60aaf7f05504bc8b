"""The model registry in the database (SQLite and PostgreSQL): files in, files out, one serving bundle,
rollback, and the nightly retrain claimed once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meallog.store.registry import RegistryError, RegistryStore


def _bundle(root: Path, bundle_id: str, weights: bytes) -> Path:
    """A bundle directory as the registry reads it (its id is in bundle.json)."""
    path = root / bundle_id
    path.mkdir(parents=True)
    (path / "bundle.json").write_text(f'{{"id": "{bundle_id}", "arch": "tf_efficientnet_lite0"}}')
    (path / "model.safetensors").write_bytes(weights)
    (path / "model.onnx").write_bytes(weights[::-1])
    return path


async def test_files_go_in_and_come_out_the_same_on_another_machine(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    registry = RegistryStore(sessions)
    weights = bytes(range(256)) * 4000  # a megabyte
    source = _bundle(tmp_path / "here", "a-1", weights)
    record = await registry.register(source, parent_id=None, data={"examples": 3})
    assert (record.id, record.state, record.data["examples"]) == ("a-1", "candidate", 3)
    assert (await registry.register(source, parent_id="x")).parent_id is None, "registered once"

    fetched = await registry.fetch("a-1", tmp_path / "there")
    for name in ("bundle.json", "model.safetensors", "model.onnx"):
        assert (fetched / name).read_bytes() == (source / name).read_bytes()
    assert await registry.fetch("a-1", tmp_path / "there") == fetched, "fetched once per machine"
    with pytest.raises(RegistryError):
        await registry.fetch("nope", tmp_path / "there")


async def test_one_bundle_serves_and_rollback_goes_back_to_what_served_before(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    registry = RegistryStore(sessions)
    assert await registry.serving() is None
    assert await registry.serving_dir(tmp_path / "cache") is None
    await registry.register(_bundle(tmp_path, "base", b"0"), parent_id=None, state="serving")
    await registry.register(_bundle(tmp_path, "next", b"1"), parent_id="base")
    promoted = await registry.promote("next")
    assert promoted.state == "serving" and promoted.promoted_at is not None
    states = {r.id: r.state for r in await registry.records()}
    assert states == {"base": "retired", "next": "serving"}
    served = await registry.serving_dir(tmp_path / "cache")
    assert served is not None and (served / "model.safetensors").read_bytes() == b"1"

    back = await registry.rollback()
    assert back.id == "base"
    assert {r.id: r.state for r in await registry.records()} == {"base": "serving", "next": "retired"}
    with pytest.raises(RegistryError):
        await registry.promote("unknown")
    with pytest.raises(RegistryError, match="no earlier"):
        await registry.rollback()  # base has no parent and nothing else served before


async def test_two_promotions_at_once_leave_one_bundle_serving(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    registry = RegistryStore(sessions)
    for name in ("a", "b", "c"):
        await registry.register(_bundle(tmp_path, name, name.encode()), parent_id=None)
    await asyncio.gather(registry.promote("a"), registry.promote("b"), registry.promote("c"))
    serving = [r.id for r in await registry.records() if r.state == "serving"]
    assert len(serving) == 1


async def test_the_nightly_retrain_is_claimed_by_one_process(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stores = [RegistryStore(sessions) for _ in range(4)]
    claims = await asyncio.gather(*(s.claim_run("2026-12-01", f"p{n}") for n, s in enumerate(stores)))
    assert sorted(claims) == [False, False, False, True]
    await stores[0].finish_run("2026-12-01", {"outcome": "promoted"})
    assert await stores[1].claim_run("2026-12-01", "late") is False
    assert await stores[1].claim_run("2026-12-02", "next night") is True


async def test_a_head_only_child_shares_its_parents_memory_on_promotion_and_rollback(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    from meallog.store.account import AccountStore
    from meallog.store.memory import MemoryStore
    from meallog.store.registry import embedding_space
    from tests.meallog.store.conftest import TABLE

    registry, memory = RegistryStore(sessions), MemoryStore(sessions)
    parent = await registry.register(_bundle(tmp_path, "parent", b"0"), parent_id=None, state="serving")
    child_dir = _bundle(tmp_path, "child", b"1")
    (child_dir / "bundle.json").write_text(
        '{"id": "child", "arch": "x", "provenance": {"embeddings_of": "parent"}}'
    )
    child = await registry.register(child_dir, parent_id="parent")
    assert embedding_space(child) == embedding_space(parent) == "parent"

    await memory.teach(7, "mandarin", b"\x01\x02", "parent", photo_unique_id="u1")
    await memory.teach(8, "mandarin", b"\x03\x04", "parent")
    await memory.teach(9, "kiwi", b"\x05\x06", "parent")
    await AccountStore(sessions, TABLE).forget_user(9)
    await registry.promote("child")
    await registry.rollback()
    await registry.promote("child")
    assert {(e.user_id, e.embedding) for e in await memory.every_example("child")} == {
        (7, b"\x01\x02"),
        (8, b"\x03\x04"),
    }, "carried over once, and not a forgotten person's"
    other = await registry.register(_bundle(tmp_path, "other", b"2"), parent_id="child")
    await registry.promote(other.id)
    assert await memory.every_example("other") == [], "another network's embeddings are not its own"


async def test_a_refused_candidates_files_go_and_it_cannot_be_promoted(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    registry = RegistryStore(sessions)
    await registry.register(_bundle(tmp_path, "worse", b"w" * 1000), parent_id=None)
    await registry.set_outcome("worse", "refused", {"promote": False})
    await registry.drop_files("worse")
    with pytest.raises(RegistryError, match="refused"):
        await registry.promote("worse")
    (record,) = await registry.records()
    assert (record.state, record.metrics) == ("refused", {"promote": False}), "the report stays"
