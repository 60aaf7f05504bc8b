"""The stores: people, their meals, their summaries and the corrections they make to the model.

This is the only package that queries the tables. The Telegram layer (through `bot.services`) and
training call the stores and get frozen views back (`meallog.store.views`), never ORM objects, so nothing
outside can lazy-load or write by accident. All state lives in the database (a person's pending prompt
included), so several bot processes can serve one person.

One module a concern, each a store over the same async sessionmaker (`meallog.store.base`):

* `people`: `PeopleStore`, a person, their zone, pending prompt, settings, goals and summary time;
* `meals`: `MealStore`, drafts and their items, saving, deleting, reading, reopening saved meals;
* `corrections`: how edits of a photo's meal become correction rows, and `CorrectionStore` to read them;
* `summaries`: `SummaryStore`, planning, claiming and finishing daily summaries;
* `account`: `AccountStore`, a person's day totals, all their meals for the export, forgetting them;
* `repeats`: `RepeatStore`, recent meals and favourites, and drafts copied from them (/again);
* `items`: the rules for items' grams and sources, and their stored macros;
* `views`: the frozen views and how they are made from rows.

Every mutating method runs in one transaction that first checks the meal belongs to the person and is
still a draft (on PostgreSQL it also locks the meal's row, so two button presses on one meal apply one
after the other). Ids come from callback data anyone can forge, so a stale, foreign or nonsensical id
gives None or False, never an exception. Bad values (grams out of range, a food the table lacks) are
the caller's to check first and raise ValueError here.

Macros are computed from the nutrition table whenever an item changes and stored with it; saving a
meal freezes the numbers the person saw, so a later change to the table does not rewrite history.
Names and portion names are read from the table when a view is made.
"""
