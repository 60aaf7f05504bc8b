"""Callback data: short ids only, and anything forged or malformed is rejected."""

from __future__ import annotations

import pytest

from bot.callbacks import MAX_BYTES, Action, Press, decode, encode


@pytest.mark.parametrize("action", list(Action))
def test_every_action_round_trips_within_64_bytes(action: Action) -> None:
    data = encode(action, 2**53, 2**53, "0123456789")
    assert len(data.encode()) <= MAX_BYTES
    assert decode(data) == Press(action, 2**53, 2**53, "0123456789")


def test_item_and_arg_are_optional() -> None:
    assert decode(encode(Action.SAVE, 42)) == Press(Action.SAVE, 42)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "ok",
        "ok:42",
        "zz:1::",
        "ok:abc::",
        "ok:-1::",
        "ok:0::",
        "x:1:-2:h",
        "ok:1::" + "a" * 20,
        "a:b:c:d:e",
    ],
)
def test_malformed_or_forged_data_is_rejected(data: str | None) -> None:
    assert decode(data) is None


def test_oversized_data_is_refused_when_encoding() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        encode(Action.PICK, 1, 1, "x" * 60)


def test_number_args_are_ascii_digits_only() -> None:
    from bot.callbacks import number_arg

    assert number_arg("42") == 42 and number_arg("0") == 0
    assert number_arg("²") is None and number_arg("٣") is None and number_arg("-1") is None
    assert number_arg("") is None and number_arg("12345678901") is None
