"""The article parser, the chunker and question handling against hostile text (hypothesis).

Nothing crashes: a bad article is an ArticleError naming it, a bad question a QuestionError; anything
else is parsed, chunked and answered. Inputs from tests/hostile.py; counted and printed after the run.
"""

from __future__ import annotations

from pathlib import Path

import hostile
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from index.articles import Article, decode_text, parse_text_article, read_seeds
from index.chunking import chunk_article
from index.errors import ArticleError, QuestionError
from index.library import Library
from index.pipeline import Pipeline
from index.retriever import MAX_QUESTION_CHARS, check_question

EXAMPLES = settings(
    max_examples=120, deadline=None, phases=hostile.NO_SHRINKING, suppress_health_check=[HealthCheck.too_slow]
)
text = hostile.hostile_text()
header = st.sampled_from(["", "title ", "date ", "date 2022-12-15 ", "url ", "title: ", "DATE 2022-13-45\n"])


@EXAMPLES
@given(stem=hostile.hostile_text(max_pieces=6, long_lines=0), head=header, body=text)
def test_any_text_file_parses_into_an_article_or_is_refused_with_one_line(
    stem: str, head: str, body: str
) -> None:
    hostile.tried()
    try:
        article = parse_text_article(stem or "x", decode_text((head + body).encode("utf-8"), "upload.txt"))
    except ArticleError as exc:
        assert "\n" not in str(exc)
        return
    assert article.text.strip() and article.text == article.text.strip()
    assert article.date is None or len(article.date) == 10


@EXAMPLES
@given(data=st.binary(max_size=2000))
def test_any_bytes_decode_or_are_refused_with_one_line(data: bytes) -> None:
    hostile.tried()
    try:
        decoded = decode_text(data, "upload.txt")
    except ArticleError as exc:
        assert "\n" not in str(exc) and "upload.txt" in str(exc)
    else:
        assert decoded.strip()


@settings(
    max_examples=60, deadline=None, phases=hostile.NO_SHRINKING, suppress_health_check=[HealthCheck.too_slow]
)
@given(body=hostile.hostile_text(long_lines=20), title=hostile.hostile_text(max_pieces=6, long_lines=0))
@example(  # and always an ordinary article: hard wraps, runs of blanks, a quotation, a tweet
    body='France beat  Morocco 2-0.\tMbappe\nconsoled Hakimi.\n\n"We are proud. We gave\r\neverything," '
    "Regragui said.\n\nWhat a night pic.twitter.com/AbC123 — Fan (@fan) December 14, 2022",
    title="Semi-final",
)
def test_the_chunker_splits_anything_into_sentences_that_are_in_the_text(body: str, title: str) -> None:
    hostile.tried()
    if not body.strip():
        return
    article = Article(id="hostile", title=title, text=body.strip())
    chunks = chunk_article(article)
    assert [chunk.sentence for chunk in chunks] == list(range(1, len(chunks) + 1))
    end = 0
    for chunk in chunks:
        assert end <= chunk.start < chunk.end <= len(article.text)  # in reading order, never overlapping
        quoted = article.text[chunk.start : chunk.end]
        assert quoted == quoted.strip()  # the offsets hold the sentence, not the blanks around it
        assert chunk.text == " ".join(
            quoted.split()
        )  # the body at its offsets, its blanks made single spaces
        end = chunk.end


@EXAMPLES
@given(question=text)
def test_a_question_is_cleaned_to_one_line_or_refused_with_one_line(question: str) -> None:
    hostile.tried()
    try:
        cleaned = check_question(question)
    except QuestionError as exc:
        assert "\n" not in str(exc)
        return
    assert 1 <= len(cleaned) <= MAX_QUESTION_CHARS and cleaned == " ".join(cleaned.split())


@pytest.fixture(scope="module")
def hostile_library(tmp_path_factory: pytest.TempPathFactory, make_embedder) -> Library:
    """An index over a hostile article and an ordinary one (model-free embedder)."""
    seeds = tmp_path_factory.mktemp("hostile-seeds")
    (seeds / "ordinary.txt").write_text("France beat Morocco 2-0. Mbappe consoled Hakimi after the match.")
    (seeds / "hostile.txt").write_text(
        "title @everyone **READ** <@&1> \u202egnp.exe\n\n"
        "Fans shouted @everyone and @here at <@123456789012345678> and <@&987654321098765432> in <#1>. "
        "```py\nprint('hi')\n``` ||spoiler|| [click](https://evil.example) \u200b\u200d\u2066x\u2069 "
        + "Z" * 100_000
        + " The end \\*\\*."
    )
    library = Library(Path(seeds), tmp_path_factory.mktemp("hostile-data"), Pipeline(make_embedder()))
    library.open()
    assert [a.id for a in read_seeds(Path(seeds)).articles] == ["hostile", "ordinary"]
    return library


@EXAMPLES
@given(question=text, k=st.integers(1, 10), offset=st.sampled_from([0, 3, 30]))
def test_any_question_is_answered_or_refused_with_one_line(
    hostile_library: Library, question: str, k: int, offset: int
) -> None:
    hostile.tried()
    try:
        answer = hostile_library.retriever.search(question, k, offset=offset)
    except QuestionError as exc:
        assert "\n" not in str(exc)
        return
    assert len(answer.passages) <= k
    assert 0.0 <= answer.threshold <= 1.0
