"""The memory of corrections: what each person taught the bot about their photos, and ranking with it.

* `teaching`: which foods a saved photo meal teaches, and as what kind of example;
* `ranking`: one ranked list from the classifier's probabilities and the memory's nearest examples
  (pure numpy; knows nothing of Telegram, torch or the database);
* `recall`: a person's memory loaded from the store, cached, and applied to a recognition.

The examples live in `memory_examples` (`meallog.store.memory`).
"""
