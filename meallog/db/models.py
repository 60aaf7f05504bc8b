"""The meal log's tables as SQLAlchemy 2 declarative models.

Only `meallog.store` queries these; everything else sees the frozen views it returns. Constraint and
index names come from `NAMING_CONVENTION`, so migrations can name them on every database alike.
Timestamps are stored as timezone-aware UTC (`UTCDateTime`), whatever the database keeps natively.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class MealStatus(StrEnum):
    """A meal is a draft while the person corrects it, then saved with its numbers frozen."""

    DRAFT = "draft"
    SAVED = "saved"


MEAL_STATUSES = tuple(status.value for status in MealStatus)
UPDATE_STATES = ("new", "done", "failed")
ITEM_SOURCES = ("model", "changed", "typed", "again")
CORRECTION_KINDS = ("changed", "removed", "added")
MEMORY_SOURCES = ("corrected", "added", "confirmed", "taught")
BUNDLE_STATES = ("candidate", "serving", "retired", "refused")


def _now() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC and read back as aware UTC on every database.

    SQLite keeps no offset, so values are converted to UTC before they are written (which also keeps
    its text ordering right); naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given where an aware UTC datetime is stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and its naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        date: Date(),
        float: Double(),
        bool: Boolean(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class User(Base):
    """A Telegram user: where to write to, their zone, settings, goals and the prompt they answer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    goals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    blocked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)
    # The daily summary (see meallog.summary_times): its wall time in minutes after local midnight, whether
    # it is on, when the next one falls due (UTC; NULL until the scheduler first plans it), when a bot
    # process claimed it for sending (NULL when nobody holds it), and the last local day summed up.
    summary_minute: Mapped[int] = mapped_column(Integer, default=1260, server_default="1260")
    summaries_on: Mapped[bool] = mapped_column(default=True, server_default=true())
    summary_due_at: Mapped[datetime | None] = mapped_column(index=True)
    summary_claimed_at: Mapped[datetime | None] = mapped_column()
    summary_last_date: Mapped[date | None] = mapped_column()
    # A new random number at every change to the person's own foods (0: they never had one), so each bot
    # process can tell, from the row it reads anyway, whether its copy of them is current
    # (`meallog.store.my_foods`). Random, not counted: after /forget a counter would start again and meet
    # a number an old copy holds.
    my_foods_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    meals: Mapped[list[Meal]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class Meal(Base):
    """One meal: a draft while the person corrects it, then saved with its numbers frozen."""

    __tablename__ = "meals"
    __table_args__ = (
        CheckConstraint(_one_of("status", MEAL_STATUSES), name="status"),
        Index(None, "user_id", "local_date", "status"),
        Index(None, "user_id", "status"),
        Index(None, "user_id", "source_message_id"),
        # Never reuse the id of a deleted meal: old buttons carrying it must not reach a new meal.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    eaten_at: Mapped[datetime] = mapped_column()
    local_date: Mapped[date] = mapped_column()
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    photo_unique_id: Mapped[str | None] = mapped_column(String(255))
    caption: Mapped[str | None] = mapped_column(Text)
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)
    saved_at: Mapped[datetime | None] = mapped_column()
    # A saved meal reopened for changes is edited as a copy (a draft): saving the copy replaces the
    # original, discarding it leaves the original as it was.
    replaces_meal_id: Mapped[int | None] = mapped_column(
        ForeignKey("meals.id", ondelete="CASCADE"), index=True
    )
    # Bumped by every change of a draft: the card's buttons carry it, so a press made on an older state
    # (a double tap, a replayed update) is recognised and applied once.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The person's message (in their private chat) the draft came from: a retried or edited message
    # finds its draft instead of starting another.
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)

    user: Mapped[User] = relationship(back_populates="meals", lazy="raise")
    items: Mapped[list[MealItem]] = relationship(
        back_populates="meal",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(MealItem.position, MealItem.id)",
        lazy="raise",
    )
    prediction: Mapped[Prediction | None] = relationship(
        back_populates="meal", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class MealItem(Base):
    """One food of a meal with its grams and macros (computed when it changes, frozen once saved)."""

    __tablename__ = "meal_items"
    __table_args__ = (
        CheckConstraint(_one_of("source", ITEM_SOURCES), name="source"),
        CheckConstraint("grams > 0", name="grams_positive"),
        Index(None, "meal_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meal_id: Mapped[int] = mapped_column(ForeignKey("meals.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    food_key: Mapped[str] = mapped_column(String(128))
    grams: Mapped[float] = mapped_column()
    kcal: Mapped[float] = mapped_column()
    protein_g: Mapped[float] = mapped_column()
    fat_g: Mapped[float] = mapped_column()
    carbs_g: Mapped[float] = mapped_column()
    source: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column()
    # The food the model proposed for this item, kept through the person's changes; None for a food
    # the person added. It is what a correction compares the item's food against.
    model_key: Mapped[str | None] = mapped_column(String(128))
    # The person's message that added this food to a meal made earlier (typed while the meal was open),
    # so a retried message finds its food instead of adding it twice.
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)

    meal: Mapped[Meal] = relationship(back_populates="items", lazy="raise")


class Prediction(Base):
    """What the model said about a meal's photo: the raw labels and the ranked foods."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meal_id: Mapped[int] = mapped_column(ForeignKey("meals.id", ondelete="CASCADE"), unique=True)
    bundle_id: Mapped[str] = mapped_column(String(128))
    labels: Mapped[list[Any]] = mapped_column()
    foods: Mapped[list[Any]] = mapped_column()
    no_food: Mapped[bool] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=_now)
    # The photo's embedding (`model.recognition.encode_embedding`), kept until the meal is saved and
    # teaches the memory of corrections; NULL when the model gave none.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)

    meal: Mapped[Meal] = relationship(back_populates="prediction", lazy="raise")


class Correction(Base):
    """A person's answer to the model for one food of a photo, kept for training.

    One row per corrected item holds the item's latest state: changing a food twice updates the row,
    changing it back to the model's food removes it. The row outlives its meal (`meal_id` and `item_id`
    become NULL), but not its user.
    """

    __tablename__ = "corrections"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CORRECTION_KINDS), name="kind"),
        Index(None, "user_id"),
        Index(None, "meal_id"),
        Index(None, "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    meal_id: Mapped[int | None] = mapped_column(ForeignKey("meals.id", ondelete="SET NULL"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("meal_items.id", ondelete="SET NULL"))
    photo_file_id: Mapped[str] = mapped_column(String(255))
    photo_unique_id: Mapped[str | None] = mapped_column(String(255))
    bundle_id: Mapped[str] = mapped_column(String(128))
    model_foods: Mapped[list[Any]] = mapped_column()
    model_key: Mapped[str | None] = mapped_column(String(128))
    final_key: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=_now)


class MemoryExample(Base):
    """One example the person taught: this photo (its embedding under one bundle) shows this food.

    Made when a photo meal is saved (`meallog.memory.teaching` says which foods count and how) or by
    `foodbot teach`. It outlives the meal (deleting a meal keeps what it taught) but not the person.
    `photo_unique_id` says which photo taught it, so saving the same photo's meal again replaces its
    examples instead of adding more; `photo_file_id` lets the bot embed the photo again under another
    bundle (rows from `foodbot teach` have none).
    """

    __tablename__ = "memory_examples"
    __table_args__ = (
        CheckConstraint(_one_of("source", MEMORY_SOURCES), name="source"),
        Index(None, "user_id", "bundle_id"),
        Index(None, "bundle_id", "food_key"),
        Index(None, "user_id", "photo_unique_id"),
        # Never reuse an id: a person's memory is cached by (row count, newest id), which must change
        # when a re-saved meal replaces the newest rows.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    food_key: Mapped[str] = mapped_column(String(128))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    bundle_id: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    photo_unique_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=_now)


class Favourite(Base):
    """A meal the person starred to log again with one tap (`/again`): its name, foods, grams and numbers.

    A copy, not a link to the meal: it stays when that meal is deleted or changed, and logging it again
    gives the numbers the person saw. One per set of foods (`signature`, `meallog.again.signature`), so
    starring the same breakfast twice keeps one. It goes with the person (`/forget`).
    """

    __tablename__ = "favourites"
    __table_args__ = (
        UniqueConstraint("user_id", "signature"),
        # Never reuse an id: the buttons of an old /again list carry it.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    signature: Mapped[str] = mapped_column(String(64))
    caption: Mapped[str | None] = mapped_column(Text)
    # [[food_key, grams, kcal, protein_g, fat_g, carbs_g], ...] in the meal's order.
    foods: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=_now)


class MyFood(Base):
    """A food the person defined (`/myfoods`, `meallog.my_foods`): per 100 g, with its default portion.

    Its food key is `my_<id>`. Deleting it only sets `deleted_at`: meals logged with it keep its name,
    while search and the list no longer show it. It goes with the person (`/forget`).
    """

    __tablename__ = "my_foods"
    # Never reuse an id: meals, corrections and the memory of corrections hold `my_<id>`.
    __table_args__ = (Index(None, "user_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    kcal: Mapped[float] = mapped_column()
    protein_g: Mapped[float] = mapped_column()
    fat_g: Mapped[float] = mapped_column()
    carbs_g: Mapped[float] = mapped_column()
    portion_g: Mapped[float] = mapped_column()
    portion_name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now)
    deleted_at: Mapped[datetime | None] = mapped_column()


class RegisteredBundle(Base):
    """A model bundle in the registry (`meallog.store.registry`): where it came from, what it saw, how it
    scored, and whether it serves. Exactly one row is "serving" once any is; every bot process and
    `foodbot worker` switches to it between batches. Its files are `BundleFile` rows, so a worker on
    another machine needs only the database to fetch them."""

    __tablename__ = "model_bundles"
    __table_args__ = (CheckConstraint(_one_of("state", BUNDLE_STATES), name="state"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(120))
    arch: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(16))
    # What the bundle was trained on (counts only: examples, foods, people), and the gate's report.
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    promoted_at: Mapped[datetime | None] = mapped_column()


class BundleFile(Base):
    """One file of a registered bundle (`bundle.json`, `model.safetensors`, `model.onnx`)."""

    __tablename__ = "model_bundle_files"

    bundle_id: Mapped[str] = mapped_column(
        String(120), ForeignKey("model_bundles.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class RetrainRun(Base):
    """One scheduled retrain, claimed by exactly one process (the key is the day it is for)."""

    __tablename__ = "retrain_runs"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(120))
    claimed_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReceivedUpdate(Base):
    """An update from Telegram, recorded before it is handled (`meallog.store.updates`).

    "new" until handled: `owner` and `lease_until` say which process holds it and until when (a process
    that died lets its lease run out, and another takes the update over); a failure that may pass (a
    network error) leaves it "new" with `lease_until` as the time of the next try. "done" and "failed"
    rows stay a while so that a redelivered update is recognised, then they are pruned.
    """

    __tablename__ = "updates"
    __table_args__ = (
        CheckConstraint(_one_of("state", UPDATE_STATES), name="state"),
        Index(None, "state", "lease_until"),
        Index(None, "received_at"),
    )

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[dict[str, Any]] = mapped_column()
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="new")
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=_now)
    finished_at: Mapped[datetime | None] = mapped_column()
