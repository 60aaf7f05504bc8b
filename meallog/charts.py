"""`/week`'s chart: kcal per local day as bars split into protein, fat and carbs, against the goal line.

Rendered with matplotlib's Agg backend through the object API (no pyplot, no global state), so it
is safe to draw in a worker thread: call `week_chart_png` via `asyncio.to_thread`. Each bar is the
day's logged kcal; its three parts are the shares of energy from protein, fat and carbohydrate
(4, 9 and 4 kcal per gram), scaled to the logged kcal so the bar's height stays the logged number.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date

from meallog.goals import KCAL_PER_G_CARBS, KCAL_PER_G_FAT, KCAL_PER_G_PROTEIN
from meallog.portions import Macros

COLOURS = {"protein": "#d1495b", "fat": "#edae49", "carbs": "#66a182", "goal": "#00798c"}


def energy_split(day: Macros) -> tuple[float, float, float]:
    """The day's kcal split into (protein, fat, carbs) by their share of macro energy."""
    energy = (
        day.protein_g * KCAL_PER_G_PROTEIN,
        day.fat_g * KCAL_PER_G_FAT,
        day.carbs_g * KCAL_PER_G_CARBS,
    )
    whole = sum(energy)
    if whole <= 0 or day.kcal <= 0:
        return (0.0, 0.0, 0.0)
    protein, fat, carbs = (part / whole * day.kcal for part in energy)
    return (protein, fat, carbs)


def week_chart_png(days: Mapping[date, Macros], goal_kcal: float | None, title: str = "Last 7 days") -> bytes:
    """A PNG bar chart of the days in order (oldest left), with a dashed goal line when there is one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ordered = sorted(days.items())
    labels = [f"{day:%a}\n{day:%-d %b}" for day, _ in ordered]
    splits = [energy_split(macros) for _, macros in ordered]
    positions = list(range(len(ordered)))

    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bottom = [0.0] * len(ordered)
    for index, name in enumerate(("protein", "fat", "carbs")):
        heights = [split[index] for split in splits]
        axes.bar(positions, heights, bottom=bottom, color=COLOURS[name], width=0.65, label=name)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for position, (_, macros) in zip(positions, ordered, strict=True):
        if macros.kcal > 0:
            axes.annotate(
                f"{macros.kcal:.0f}",
                (position, macros.kcal),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=9,
            )
    if goal_kcal:
        axes.axhline(
            goal_kcal, color=COLOURS["goal"], linestyle="--", linewidth=1.5, label=f"goal {goal_kcal:.0f}"
        )
    top = max([m.kcal for _, m in ordered] + [goal_kcal or 0.0, 100.0])
    axes.set_ylim(0, top * 1.15)
    axes.set_xticks(positions, labels)
    axes.set_ylabel("kcal")
    axes.set_title(title)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="upper left", ncols=4, frameon=False, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
