"""The typed pending prompt: every kind keeps the stored shape earlier versions wrote and read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meallog.prompts import PROMPT_TTL, Prompt, PromptKind

STORED: list[tuple[dict[str, Any], Prompt]] = [
    ({"kind": "grams", "meal_id": 5, "item_id": 9}, Prompt(PromptKind.GRAMS, meal_id=5, item_id=9)),
    ({"kind": "search", "meal_id": 5, "item_id": 0}, Prompt(PromptKind.SEARCH, meal_id=5, item_id=0)),
    (
        {"kind": "results", "meal_id": 5, "item_id": 0, "keys": ["rice", "egg"], "grams": None},
        Prompt(PromptKind.RESULTS, meal_id=5, item_id=0, keys=("rice", "egg")),
    ),
    ({"kind": "meal_time", "meal_id": 7}, Prompt(PromptKind.MEAL_TIME, meal_id=7)),
    ({"kind": "tz"}, Prompt(PromptKind.TIMEZONE)),
    ({"kind": "goal_typed"}, Prompt(PromptKind.GOAL_TYPED)),
    ({"kind": "goal_sex"}, Prompt(PromptKind.GOAL_SEX)),
    ({"kind": "goal_body", "sex": "f"}, Prompt(PromptKind.GOAL_BODY, sex="f")),
    (
        {"kind": "goal_activity", "sex": "m", "age": 34, "height_cm": 180.0, "weight_kg": 80.0},
        Prompt(PromptKind.GOAL_ACTIVITY, sex="m", age=34, height_cm=180.0, weight_kg=80.0),
    ),
    (
        {
            "kind": "goal_aim",
            "sex": "m",
            "age": 34,
            "height_cm": 180.0,
            "weight_kg": 80.0,
            "activity": "light",
        },
        Prompt(PromptKind.GOAL_AIM, sex="m", age=34, height_cm=180.0, weight_kg=80.0, activity="light"),
    ),
    (
        {"kind": "goal_proposal", "goals": {"kcal": 2000}},
        Prompt(PromptKind.GOAL_PROPOSAL, goals={"kcal": 2000}),
    ),
    ({"kind": "summary_time"}, Prompt(PromptKind.SUMMARY_TIME)),
    ({"kind": "my_food"}, Prompt(PromptKind.MY_FOOD)),
    ({"kind": "my_food", "item_id": 4}, Prompt(PromptKind.MY_FOOD, item_id=4)),
]


@pytest.mark.parametrize(("stored", "prompt"), STORED, ids=[s["kind"] for s, _ in STORED])
def test_every_kind_reads_and_writes_the_stored_shape(stored: dict[str, Any], prompt: Prompt) -> None:
    assert Prompt.from_json(stored) == prompt
    assert prompt.to_json() == stored


def test_every_kind_is_covered() -> None:
    assert {prompt.kind for _, prompt in STORED} == set(PromptKind)


def test_a_walk_through_steps_keeps_what_was_answered() -> None:
    body = Prompt(PromptKind.GOAL_ACTIVITY, sex="f", age=30, height_cm=165.0, weight_kg=60.0)
    aim = body.then(PromptKind.GOAL_AIM, activity="moderate")
    assert (aim.kind, aim.age, aim.activity) == (PromptKind.GOAL_AIM, 30, "moderate")


@pytest.mark.parametrize(
    "stored",
    [None, "grams", {"kind": "dance"}, {"kind": "grams", "meal_id": "five"}, {"meal_id": 5}, []],
)
def test_what_cannot_be_read_is_no_prompt(stored: object) -> None:
    assert Prompt.from_json(stored) is None


def test_a_prompt_expires_after_its_time_and_old_ones_without_a_time_never_do() -> None:
    asked = datetime(2026, 5, 7, 12, 0, tzinfo=UTC)
    prompt = Prompt(PromptKind.SEARCH, meal_id=5, item_id=0, asked_at=asked)
    assert Prompt.from_json(prompt.to_json()) == prompt
    assert not prompt.expired(asked + PROMPT_TTL)
    assert prompt.expired(asked + PROMPT_TTL + timedelta(seconds=1))
    assert not Prompt(PromptKind.SEARCH, meal_id=5).expired(asked + timedelta(days=9))
