"""What looking a question's words up among the articles' words costs, side by side in one run.

    python -m bench.word_lookup [--questions FILE] [--rounds 3]

The questions (those in other languages about the seed by default) are answered one at a time by the
whole path with ``MATCHBOT_WORD_LOOKUP`` off, on without the glossary (``index.glossary``) and on,
interleaved question by question so that a busy machine slows them alike, after the articles' words
are encoded. Timed apart first: the first question that needs the articles' words, encoding them
itself (as ``matchbot ask`` does) and with them encoded ahead (as the bot does whenever its index
opens or changes).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from bench.rerank_cost import REPO, answering_bench, interleaved
from index.evaluation import read_questions
from index.retriever import Retriever


def main() -> int:
    args, library = answering_bench(
        __doc__.splitlines()[0], REPO / "tests/data/multilingual/seed_questions.jsonl"
    )
    pipeline = library.pipeline
    on = library.retriever
    off = on.with_pipeline(replace(pipeline, look_up_words=False))
    questions = [q.question for q in read_questions(args.questions)]
    off.search_many(questions[:20])  # the language detector's models, the sessions
    started = time.perf_counter()
    on.search(questions[0])  # and the articles' words, encoded on the first question that needs them
    print(f"the first question, encoding the articles' words itself: {time.perf_counter() - started:.3f} s")
    ahead = Retriever(on.store, pipeline)  # the same index, its words not encoded yet
    started = time.perf_counter()
    ahead.warm_word_lookup()  # as the bot does when its index opens or changes
    encoded = time.perf_counter() - started
    started = time.perf_counter()
    ahead.search(questions[0])
    answered = time.perf_counter() - started
    print(f"the same, the words encoded ahead as the bot does ({encoded:.3f} s): {answered:.3f} s")
    no_glossary = on.with_pipeline(replace(pipeline, glossary=False))
    no_glossary.search(questions[0])  # its own lookup: the articles' words read back
    variants = {"off": off, "on, without the glossary": no_glossary, "on": on}
    times = interleaved(variants, questions, rounds=args.rounds)
    print(f"{len(questions)} questions x {args.rounds}, one at a time, interleaved:")
    print(f"  {'MATCHBOT_WORD_LOOKUP':26} {'p50 ms':>8} {'p95 ms':>8} {'added p50':>10}")
    base = np.median(times["off"]) * 1000
    for name, spent in times.items():
        p50, p95 = np.median(spent) * 1000, np.percentile(spent, 95) * 1000
        print(f"  {name:26} {p50:8.1f} {p95:8.1f} {p50 - base:+10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
