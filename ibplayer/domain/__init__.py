"""Pure domain logic: models, chapters, people, topics, text. No I/O, no Qt."""
