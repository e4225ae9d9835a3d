"""matchbot's benchmarks: what its speed and scale figures (README, Speed and Scale) come from.

- ``bench.speed``: ``matchbot bench``, matchbot beside the naive path, section by section, ratios first;
- ``bench.scale``: its section d, and ``python -m bench.scale``: indexes of 10k to 1M synthetic passages;
- ``bench.synthetic``: the synthetic corpora those are made of (topics above articles, or none);
- ``bench.rerank_cost``: ``make bench-rerank``, what the second stage costs each question;
- ``bench.ready``: ``make bench-ready``, ``matchbot run`` against the Discord stand-in of the tests: from
  start to READY, and from READY to the first answer.

The benchmarks use ``index`` and the bot's configuration and batcher; the command line reaches them only
for ``matchbot bench``, and nothing here imports the command line.
"""
