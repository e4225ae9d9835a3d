"""matchbot's cogs, one feature each: ``ask`` (questions and answers) and ``moderation`` (``/matchbot``)."""
