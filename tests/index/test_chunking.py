"""Sentence chunks: the seed's tweets, quotations and emoji; initials; offsets back into the text."""

from __future__ import annotations

import pytest

from index.articles import Article, read_seeds
from index.chunking import Chunk, chunk_article, indexed_text


@pytest.fixture(scope="module")
def seed(seed_file) -> Article:
    return read_seeds(seed_file).articles[0]


@pytest.fixture(scope="module")
def seed_chunks(seed: Article) -> list[Chunk]:
    return chunk_article(seed)


def chunk_with(chunks: list[Chunk], words: str) -> Chunk:
    [found] = [chunk for chunk in chunks if words in chunk.text]
    return found


def texts(text: str) -> list[str]:
    return [chunk.text for chunk in chunk_article(Article(id="a", title="A", text=text))]


def test_each_embedded_tweet_is_one_chunk_of_its_text_with_author_and_date(seed_chunks) -> None:
    tweets = [chunk for chunk in seed_chunks if chunk.author]

    assert [(tweet.text, tweet.author, tweet.posted) for tweet in tweets] == [
        (
            "This Morocco team may have not won the World Cup, but they won our hearts ❤️🇲🇦",
            "ESPN FC (@ESPNFC)",
            "December 14, 2022",
        ),
        (
            "Kylian Mbappe went straight over to console his good friend and teammate Achraf Hakimi.🤗",
            "Ben Jacobs (@JacobsBen)",
            "December 14, 2022",
        ),
        (
            "Love that after reaching the World Cup Final, Kylian Mbappe chose to just chill on the floor "
            "in the tunnel next to his friend Achraf Hakimi.❤️",
            "Ben Jacobs (@JacobsBen)",
            "December 14, 2022",
        ),
    ]


def test_no_chunk_quotes_a_tweet_link_or_byline(seed_chunks) -> None:
    for chunk in seed_chunks:
        assert "pic.twitter.com" not in chunk.text
        assert "—" not in chunk.text
        assert "(@" not in chunk.text
        assert "December 14, 2022" not in chunk.text


def test_a_quotation_over_two_sentences_stays_one_chunk_with_its_speaker(seed_chunks) -> None:
    quote = chunk_with(seed_chunks, "We knew we had achieved")

    assert quote.text.startswith('"We knew we had achieved something great already')
    assert "proud of us. We are pleased with what we have done" in quote.text
    assert quote.text.endswith('could have gone even further," Regragui said.')


def speakers(text: str) -> list[tuple[str, str | None]]:
    return [(chunk.text, chunk.speaker) for chunk in chunk_article(Article(id="a", title="A", text=text))]


def test_a_quotation_paragraph_naming_nobody_carries_on_the_speaker_before_it(seed_chunks) -> None:
    said = chunk_with(seed_chunks, "We knew we had achieved")
    carried_on = chunk_with(seed_chunks, "I told the players I was proud of them")

    assert said.speaker == carried_on.speaker == "Regragui"
    assert chunk_with(seed_chunks, "This Morocco team may have not won").speaker is None  # a tweet
    assert chunk_with(seed_chunks, "He was seen sitting").speaker is None


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ('"We were honest," Walid Regragui said.', "Walid Regragui"),
        ("“We were honest,” said Regragui.", "Regragui"),
        ('Hakimi wrote: "Thank you, brother."', "Hakimi"),
        ('"We were honest," the coach said.', None),
        ("Regragui said the team was honest.", None),  # reported speech: no quotation
    ],
)
def test_a_quotation_keeps_the_speaker_the_text_names(text: str, speaker: str | None) -> None:
    assert speakers(text) == [(text, speaker)]


def test_a_quotation_attributed_to_a_role_is_by_the_person_the_sentence_before_names(seed_chunks) -> None:
    assert chunk_with(seed_chunks, "The 2018 World Cup winner wrote").speaker == "Mbappe"


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ('Kylian Mbappe hugged Hakimi. He said: "Bro."', "Kylian Mbappe"),
        ('Regragui praised them. "We were honest," the coach said.', "Regragui"),
        ('"We were honest," Regragui said. "We showed our values," he added.', "Regragui"),
        ('He said: "Bro."', None),  # nobody named before it
        ('Meanwhile, Morocco lost. He said: "Sad."', None),  # "Meanwhile" is not a name
        ('The duo hugged. The striker said: "Bro."', None),  # nor is "The duo"
    ],
)
def test_a_role_or_pronoun_takes_the_speaker_from_the_sentence_before(text: str, speaker: str) -> None:
    assert speakers(text)[-1][1] == speaker


def test_a_quotation_is_indexed_with_the_title_the_article_gives_its_speaker(seed_chunks) -> None:
    """The seed calls Regragui "Morocco's head coach" once; his quotations are read with it, so a question
    about "the coach" finds them, while the quoted text stays as written."""
    quote = chunk_with(seed_chunks, "I told the players I was proud of them")
    assert indexed_text(quote).startswith("Regragui (Morocco's head coach) said: ")
    assert quote.text.startswith('"I told the players')
    pronoun = chunk_with(seed_chunks, "He is certain the players")
    assert indexed_text(pronoun).startswith("(Regragui (Morocco's head coach)) He is certain")


@pytest.mark.parametrize(
    ("text", "indexed"),
    [
        (  # a first name between the title and the surname; "Meanwhile," is not part of the title
            'Meanwhile, Morocco coach Walid Regragui was proud. "We were honest," Regragui said.',
            'Regragui (Morocco coach) said: "We were honest," Regragui said.',
        ),
        (  # a title given to somebody else leaves the speaker untitled
            'Morocco coach Walid Regragui spoke. "Bro," Kylian Mbappe wrote. "Sad," Mbappe said.',
            'Mbappe said: "Sad," Mbappe said.',
        ),
    ],
)
def test_a_speaker_is_titled_only_by_a_title_written_before_their_name(text: str, indexed: str) -> None:
    chunks = chunk_article(Article(id="a", title="A", text=text))
    assert indexed_text(chunks[-1]) == indexed


def test_only_a_paragraph_that_opens_with_a_quotation_carries_on_a_speaker() -> None:
    found = speakers(
        '"We were honest," Regragui said.\n\n"We showed our values."\n\nThe fans sang "Dima Maghrib".'
    )
    assert [speaker for _, speaker in found] == ["Regragui", "Regragui", None]


def test_emoji_survive_in_the_quoted_text(seed_chunks) -> None:
    assert chunk_with(seed_chunks, "won our hearts").text.endswith("❤️🇲🇦")
    assert chunk_with(seed_chunks, "Achraf Hakimi.🤗").text.endswith("🤗")


def test_the_seed_is_cut_into_whole_sentences(seed_chunks) -> None:
    assert seed_chunks[0].text == (
        "Morocco won the hearts of the global football fanbase with their spirited performances "
        "at the ongoing World Cup in Qatar."
    )
    tunnel = chunk_with(seed_chunks, "tunnel greeting")
    assert (
        tunnel.text
        == "He was seen sitting on the floor of the tunnel greeting other players from the Moroccan team."
    )
    message = chunk_with(seed_chunks, "Don't be sad bro")
    assert message.text.startswith("The 2018 World Cup winner wrote:")
    assert message.text.endswith('you made history - @AchrafHakimi."')


def test_offsets_point_at_each_chunk_in_the_article_text(seed, seed_chunks) -> None:
    for chunk in seed_chunks:
        original = " ".join(seed.text[chunk.start : chunk.end].split())
        if chunk.author:  # a tweet's span may run on over the cut link; its text is what comes first
            assert original.startswith(chunk.text)
        else:
            assert original == chunk.text


def test_chunks_carry_the_article_and_are_numbered_in_reading_order(seed, seed_chunks) -> None:
    assert [chunk.sentence for chunk in seed_chunks] == list(range(1, len(seed_chunks) + 1))
    assert [chunk.start for chunk in seed_chunks] == sorted(chunk.start for chunk in seed_chunks)
    paragraphs = [chunk.paragraph for chunk in seed_chunks]
    assert paragraphs == sorted(paragraphs)
    assert paragraphs[0] == 1
    assert paragraphs[-1] == len([part for part in seed.text.split("\n\n") if part.strip()])
    for chunk in seed_chunks:
        assert (chunk.article, chunk.title, chunk.date) == (seed.id, seed.title, "2022-12-15")


def test_initials_and_abbreviations_do_not_end_a_sentence() -> None:
    assert texts("J. R. R. Tolkien met Mr. Smith in the U.S. on Monday. He left at 5 p.m.") == [
        "J. R. R. Tolkien met Mr. Smith in the U.S. on Monday.",
        "He left at 5 p.m.",
    ]


def test_curly_quotes_over_two_sentences_stay_together() -> None:
    assert texts("“I am proud. We made history,” Hakimi said. Then he hugged Mbappe.") == [
        "“I am proud. We made history,” Hakimi said.",
        "Then he hugged Mbappe.",
    ]


def test_a_hard_wrapped_paragraph_is_cut_at_sentences_not_at_line_ends() -> None:
    assert texts(
        "Mbappe was quick to console his PSG teammate on the\npitch. The 2018 World Cup winner\nwrote to him."
    ) == [
        "Mbappe was quick to console his PSG teammate on the pitch.",
        "The 2018 World Cup winner wrote to him.",
    ]


def test_blank_lines_separate_paragraphs_and_inner_whitespace_is_normalised() -> None:
    chunks = chunk_article(
        Article(id="a", title="A", text="One  goal.\n\n\n  Two\ngoals.   Three.\n \nFour.")
    )

    assert [(chunk.paragraph, chunk.text) for chunk in chunks] == [
        (1, "One goal."),
        (2, "Two goals."),
        (2, "Three."),
        (3, "Four."),
    ]


def test_a_tweet_with_only_a_picture_gives_no_empty_chunk() -> None:
    text = "Before the tweet.\n\npic.twitter.com/abc123 — ESPN FC (@ESPNFC) December 14, 2022\n\nAfter it."

    assert texts(text) == ["Before the tweet.", "After it."]


def test_a_very_long_paragraph_is_split_in_windows_the_sentence_splitter_reads_quickly(monkeypatch) -> None:
    """pysbd's time grows with the square of what it reads (a long run of abbreviations under the Italian
    rules took minutes), so it never reads more than a window of a paragraph, and nothing is lost."""
    import pysbd

    from index import chunking

    lengths: list[int] = []
    segment = pysbd.Segmenter.segment

    def measured(self, text):  # type: ignore[no-untyped-def]
        lengths.append(len(text))
        return segment(self, text)

    monkeypatch.setattr(pysbd.Segmenter, "segment", measured)
    body = " ".join(f"Mb. {n} gol di Mbappé." for n in range(1500))
    chunks = chunk_article(Article(id="long", title="Lungo", text=body), language="it")
    assert max(lengths) <= chunking.WINDOW < len(body)
    assert " ".join(chunk.text for chunk in chunks) == body
