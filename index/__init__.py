"""matchbot's retrieval core: articles in, quoted passages out. Knows nothing about Discord."""
