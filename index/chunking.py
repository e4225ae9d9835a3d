"""Article text → sentence chunks, each with its position and metadata. Pure: no model, no disk.

Paragraphs are separated by blank lines. An embedded tweet (``text pic.twitter.com/… — Name (@handle)
December 14, 2022``) becomes one chunk of its text alone, with its author and date as metadata. Other
paragraphs are split into sentences by pysbd, which knows initials and abbreviations; a quotation that
runs over several sentences stays one chunk, so a quote keeps its speaker (``"… proud of us. We are
pleased …," Regragui said.``). A quotation's speaker, when the text names one (``"…," Regragui said``,
``said Regragui``, ``Regragui said: "…"``), is kept with the chunk, and a paragraph that is wholly a
quotation carries on the speaker of the quotation just before it, as news reports write them.

Each chunk carries its article's language (its ``language`` header, else detected by
``index.language``), and paragraphs are split by that language's rules where pysbd has them. A sentence
whose subject is only a pronoun or a pair ("He was seen…", "The duo shared…", "Il n'était…") carries the
person or people it refers to (``subject``): the first (or first two) of the article's people named in
the sentence before. The article's people are the surnames it writes both after a first name ("Kylian
Mbappe") and alone ("Mbappe"). The subject is indexed with the sentence, not quoted. In an English
article, a speaker or subject is indexed with the title the article writes before their name
(``titled``: "Regragui (Morocco's head coach)"), so a question about "the coach" finds their words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pysbd

from index.articles import Article
from index.lexical import bm25s_stopwords

# Bump when chunk boundaries or the text that is embedded change: every article is then re-embedded.
CHUNKER_VERSION = 8

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n[ \t]*\n|\s*\Z)", re.DOTALL)
_LINK = re.compile(r"\s*(?:pic\.twitter\.com/\w+|https?://t\.co/\w+)")
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_TWEET = re.compile(
    r"^(?P<text>.+?)\s*(?:pic\.twitter\.com/\w+|https?://t\.co/\w+)?\s*[—–]\s*"
    r"(?P<author>[^\n—–]*?\(@\w+\))\s*(?P<posted>" + _MONTH + r"\s+\d{1,2},\s+\d{4})\s*$",
    re.DOTALL,
)
_OPENING_QUOTES = '"“'
_CLOSING_QUOTES = '"”'
_NAME = r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3}"
_SAYS = r"(?:said|says|added|adds|explained|insisted|admitted|continued|stated|wrote|writes)"
_SPEAKER = (
    re.compile(r"[,.!?…]\s*[\"”]\s*(?P<name>" + _NAME + r")\s+" + _SAYS + r"\b"),  # "…," Regragui said
    re.compile(r"[,.!?…]\s*[\"”]\s*" + _SAYS + r"\s+(?P<name>" + _NAME + r")"),  # "…," said Regragui
    # a name starts a word: tried at every letter of a 100 kB word, the search would never end
    re.compile(r"(?<![\w'’-])(?P<name>" + _NAME + r")\s+" + _SAYS + r"\s*:\s*[\"“]"),  # Regragui said: "…"
)
_ROLE = r"(?:[Tt]he\s+[^\"“”.,:;]{1,40}?|[Hh]e|[Ss]he)"  # a role or a pronoun instead of a name
_DESCRIBED = (
    re.compile(r"[,.!?…]\s*[\"”]\s*" + _ROLE + r"\s+" + _SAYS + r"\b"),  # "…," the coach said
    re.compile(r"(?:^|[.!?]\s+)" + _ROLE + r"\s+" + _SAYS + r"\s*:\s*[\"“]"),  # The 2018 winner wrote: "…"
)
# A person's title, written before their name: "Morocco's head coach (Walid) Regragui"
_ROLE_NOUN = (
    r"head coach|coach|manager|boss|striker|forward|defender|full-back|midfielder|goalkeeper|keeper"
    r"|captain|winger|star player|playmaker"
)
_TITLE = re.compile(r"\b(?P<role>" + _ROLE_NOUN + r")\s+(?:[A-Z][\w'’-]+\s+)?(?P<name>[A-Z][\w'’-]+)")
_OPENING_NAME = re.compile(r"(?P<name>" + _NAME + r")(?=\s+[a-z])")  # "Mbappe was…", not "Meanwhile, …"
# pysbd's rules among our languages; its Arabic rules end a sentence at every comma (،) and colon, so Arabic
# takes the general rules, which end it at . ! ? as Arabic news writes them
_PYSBD = {"de", "en", "es", "fr", "it", "ja", "nl", "pl", "ru", "zh"}
_ONE = {  # a sentence opening with one of these has a person for its subject, named before
    "en": ("He", "She"),
    "fr": ("Il", "Elle"),
    "es": ("Él", "Ella"),
    "pt": ("Ele", "Ela"),
    "de": ("Er",),
    "it": ("Lui", "Lei"),
    "nl": ("Hij", "Zij"),
}
_TWO = {  # ... or two people, named before
    "en": ("The pair", "The duo", "The two", "Both men", "Both players", "The two friends"),
    "fr": ("Les deux", "Le duo", "La paire"),
    "es": ("Los dos", "El dúo", "La pareja"),
    "pt": ("Os dois", "A dupla"),
    "de": ("Die beiden", "Das Duo"),
    "it": ("I due", "Il duo", "La coppia"),
    "nl": ("De twee", "Het duo"),
}
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’-]*[a-zà-öø-ÿ][\w'’-]*"
_RUN_OF_NAMES = re.compile(rf"(?<![\w@]){_NAME_WORD}(?:[ \t]+{_NAME_WORD})*")
_POSSESSIVE = re.compile(r"['’]s?$")
STOPWORDS_EN_PLUS = bm25s_stopwords().STOPWORDS_EN_PLUS
_FUNCTION_WORDS = {word.casefold() for word in STOPWORDS_EN_PLUS} | {
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "el",
    "los",
    "las",
    "o",
    "os",
    "a",
    "as",
    "der",
    "die",
    "das",
    "il",
    "lo",
    "gli",
    "de",
    "het",
    "meanwhile",
    "while",
    "after",
    "love",
    "this",
}
_HANDLE = re.compile(r"(?<![\w@])@(\w{2,})")
_HANDLE_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")  # AchrafHakimi, ESPNFC, lewis_h44


@dataclass(frozen=True, slots=True)
class Chunk:
    """One sentence (or tweet) of an article; ``start``/``end`` index the article's body text."""

    article: str
    title: str
    date: str | None
    sentence: int  # 1-based, in article order
    paragraph: int  # 1-based
    start: int
    end: int
    text: str
    url: str | None = None
    author: str | None = None  # an embedded tweet's "Name (@handle)"
    posted: str | None = None  # an embedded tweet's date, as written
    speaker: str | None = None  # who a quotation in the chunk is attributed to, when the text says
    language: str = "en"  # its article's, ISO 639-1
    subject: str | None = None  # who a pronoun opening the sentence refers to ("Mbappe", "Mbappe and Hakimi")
    # the speaker or subject with the title the article gives them: "Regragui (Morocco's head coach)"
    titled: str | None = None


def chunk_article(article: Article, language: str | None = None) -> list[Chunk]:
    """Split one article into chunks, in reading order; ``language`` (else the article's, else detected)
    is the language they are in."""
    if language is None:
        language = article.language or _detected(article)
    segmenter = pysbd.Segmenter(language=language if language in _PYSBD else "en", clean=False)
    people = _people(article.text)
    titles = _titles(article.text, people) if language == "en" else {}
    chunks: list[Chunk] = []
    for paragraph_number, match in enumerate(_PARAGRAPH.finditer(article.text), start=1):
        for start, end, author, posted in _paragraph_spans(match.group(), segmenter):
            offset = match.start()
            text = " ".join(article.text[offset + start : offset + end].split())
            previous = chunks[-1] if chunks else None
            speaker = None
            if not author and language == "en":
                speaker = _speaker(text, previous, start)
            subject = None if author or speaker else _pronoun_subject(text, chunks, people, language)
            chunks.append(
                Chunk(
                    article=article.id,
                    title=article.title,
                    date=article.date,
                    sentence=len(chunks) + 1,
                    paragraph=paragraph_number,
                    start=offset + start,
                    end=offset + end,
                    text=text,
                    url=article.url,
                    author=author,
                    posted=posted,
                    speaker=speaker,
                    language=language,
                    subject=subject,
                    titled=_titled(speaker or subject, titles),
                )
            )
    return chunks


def _detected(article: Article) -> str:
    from index.language import detect_article_language

    return detect_article_language(f"{article.title}\n{article.text}")


def _people(text: str) -> set[str]:
    """The surnames an article writes both after a first name and alone: its people, as far as their
    names tell (``Kylian Mbappe`` … ``Mbappe``), not its places (``World Cup``, ``Paris Saint-Germain``)."""
    full = {run[-1] for run in _name_runs(text) if len(run) > 1}
    alone = {run[0] for run in _name_runs(text) if len(run) == 1}
    return full & alone


def _titles(text: str, people: set[str]) -> dict[str, str]:
    """The title an English article gives each of its ``people`` where it first writes one before the
    name: "Morocco's head coach Regragui" gives Regragui "Morocco's head coach", "the African nation's
    star player Achraf Hakimi" gives Hakimi "African nation's star player"."""
    found: dict[str, str] = {}
    for match in _TITLE.finditer(text):
        name = match["name"]
        if name in people and name not in found:
            before: list[str] = []  # up to three words before the role, back to a function word
            for word in reversed(text[max(0, match.start() - 80) : match.start()].split()[-3:]):
                if not re.fullmatch(r"[\w'’-]+", word) or _folded_word(word) in _FUNCTION_WORDS:
                    break
                before.insert(0, word)
            found[name] = " ".join([*before, match["role"]])
    return found


def _titled(names: str | None, titles: dict[str, str]) -> str | None:
    """``names`` ("Regragui", "Mbappe and Hakimi") each with their title, when the article gives one."""
    people = names.split(" and ") if names else []
    if not any(name in titles for name in people):
        return None
    return " and ".join(f"{name} ({titles[name]})" if name in titles else name for name in people)


def _name_runs(text: str) -> list[list[str]]:
    """Runs of capitalised words (``Kylian Mbappe``, ``Walid Regragui's``), possessives cut, a leading
    function word (``While``, ``The``, ``Les``) left out."""
    runs: list[list[str]] = []
    for match in _RUN_OF_NAMES.finditer(text):
        words = [_POSSESSIVE.sub("", word) for word in match[0].split()]
        if words and _folded_word(words[0]) in _FUNCTION_WORDS:
            words = words[1:]
        if words:
            runs.append(words)
    return runs


def _pronoun_subject(text: str, earlier: list[Chunk], people: set[str], language: str) -> str | None:
    """Who a sentence opening with a pronoun or a pair refers to: for a pronoun, the first of the
    article's ``people`` named in the sentence before; for a pair, the first two named in the two
    sentences before. None when the text does not say."""
    one = any(_opens_with(text, word) for word in _ONE.get(language, ()))
    two = any(_opens_with(text, words) for words in _TWO.get(language, ()))
    if not (one or two) or not earlier:
        return None
    named: list[str] = []
    for chunk in earlier[-2:] if two else earlier[-1:]:
        for run in _name_runs(chunk.text):
            if run[-1] in people and run[-1] not in named:
                named.append(run[-1])
    if two:
        return " and ".join(named[:2]) if len(named) >= 2 else None
    return named[0] if named else earlier[-1].subject


def _folded_word(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().casefold()


def _opens_with(text: str, words: str) -> bool:
    return text.startswith(words) and not text[len(words) : len(words) + 1].isalnum()


def indexed_text(chunk: Chunk) -> str:
    """What is embedded and scored for a chunk: its text, and who posted a tweet (and when), said a
    quotation or is the pronoun opening it, with social-media handles read as the words they join
    (``@AchrafHakimi`` as ``@Achraf Hakimi``), so that a question naming Hakimi finds a message addressed
    to him."""
    text = _HANDLE.sub(_handle_words, chunk.text)
    if chunk.author:
        posted = f" on {chunk.posted}" if chunk.posted else ""
        return f"Tweet by {chunk.author}{posted}: {text}"
    if chunk.speaker:
        return f"{chunk.titled or chunk.speaker} said: {text}"
    if chunk.subject:
        return f"({chunk.titled or chunk.subject}) {text}"
    return text


def _handle_words(handle: re.Match[str]) -> str:
    words = _HANDLE_WORD.findall(handle[1])
    return "@" + " ".join(words) if words else handle[0]


def neighbours(chunks: Sequence[Chunk], row: int) -> tuple[int | None, int | None]:
    """The rows just before and after ``row`` in the same article (None at an article's edge)."""

    def same_article(other: int) -> int | None:
        inside = 0 <= other < len(chunks) and chunks[other].article == chunks[row].article
        return other if inside else None

    return same_article(row - 1), same_article(row + 1)


def context_text(chunks: Sequence[Chunk], row: int) -> str:
    """The chunk at ``row`` read with the chunks before and after it: what the context vector sees."""
    before, after = neighbours(chunks, row)
    return " ".join(indexed_text(chunks[r]) for r in (before, row, after) if r is not None)


def _speaker(text: str, previous: Chunk | None, start: int) -> str | None:
    """Who the quotation in ``text`` is attributed to: named in it; attributed to a role or a pronoun,
    the person the sentence before opens with; or, for a paragraph that opens with a quotation naming
    nobody, the speaker of the quotation that ended the paragraph before."""
    for pattern in _SPEAKER:
        for found in pattern.finditer(text):
            if _is_name(found["name"]):
                return found["name"]
    if previous is not None and any(pattern.search(text) for pattern in _DESCRIBED):
        return _subject(previous)
    opens_paragraph_with_quote = start == 0 and text[:1] in _OPENING_QUOTES
    if opens_paragraph_with_quote and previous is not None and previous.text[-1:] in '."”':
        return previous.speaker
    return None


def _subject(previous: Chunk) -> str | None:
    """Who a quotation attributed to a role or a pronoun ("The 2018 World Cup winner wrote: …") is by:
    the person the sentence before opens with, else that sentence's own speaker."""
    found = _OPENING_NAME.match(previous.text)
    return found["name"] if found and _is_name(found["name"]) else previous.speaker


def _is_name(words: str) -> bool:
    """Whether capitalised words are a name, not a sentence's opening "He", "The" or "While"."""
    return words.split()[0].casefold() not in STOPWORDS_EN_PLUS


def _paragraph_spans(
    paragraph: str, segmenter: pysbd.Segmenter
) -> Iterator[tuple[int, int, str | None, str | None]]:
    """Yield ``(start, end, author, posted)`` for each chunk of one paragraph."""
    tweet = _TWEET.match(paragraph)
    if tweet:
        text_end = tweet.end("text")
        link = _LINK.search(paragraph, 0, text_end + 40)
        if link and link.start() < text_end:
            text_end = link.start()
        if text_end > tweet.start("text"):  # a tweet of a picture alone has no text to quote
            yield tweet.start("text"), text_end, " ".join(tweet["author"].split()), tweet["posted"]
        return
    # A line break inside a paragraph is a hard wrap, not the end of a sentence; the same length keeps
    # the offsets valid in the original.
    unwrapped = paragraph.replace("\r", " ").replace("\n", " ")
    for start, end in _merge_open_quotes(_sentence_spans(unwrapped, segmenter), paragraph):
        yield start, end, None, None


# pysbd rescans the whole text once per abbreviation it finds, so its time grows with the square of a
# paragraph's length (a 20,000-character run of "Mb. Mb. …" under the Italian rules takes minutes). A
# longer paragraph is read in windows of at most this many characters, each cut after a sentence's end
# where there is one.
WINDOW = 3000


def _windows(paragraph: str) -> Iterator[tuple[int, str]]:
    """``(offset, text)`` pieces of the paragraph, each at most ``WINDOW`` characters, cut after the last
    ". ", "! " or "? " of the window (else at its last blank, else anywhere)."""
    start = 0
    while len(paragraph) - start > WINDOW:
        window = paragraph[start : start + WINDOW]
        cut = max(window.rfind(". "), window.rfind("! "), window.rfind("? ")) + 1
        if cut <= 0:
            cut = window.rfind(" ") + 1
        if cut <= 0:
            cut = WINDOW
        yield start, paragraph[start : start + cut]
        start += cut
    yield start, paragraph[start:]


def _sentence_spans(paragraph: str, segmenter: pysbd.Segmenter) -> list[tuple[int, int]]:
    """Character spans of pysbd's sentences, found in the paragraph in order."""
    if len(paragraph) > WINDOW:
        return [
            (offset + start, offset + end)
            for offset, piece in _windows(paragraph)
            for start, end in _sentence_spans(piece, segmenter)
        ]
    spans = []
    cursor = 0
    for segment in segmenter.segment(paragraph):
        sentence = segment.strip()
        if not sentence:
            continue
        start = paragraph.find(sentence, cursor)
        if start < 0:  # the splitter altered the text; fall back to the rest of the paragraph
            start = cursor + (len(paragraph[cursor:]) - len(paragraph[cursor:].lstrip()))
            spans.append((start, len(paragraph.rstrip())))
            break
        spans.append((start, start + len(sentence)))
        cursor = start + len(sentence)
    return spans


def _merge_open_quotes(spans: list[tuple[int, int]], paragraph: str) -> list[tuple[int, int]]:
    """Join sentences while a quotation opened in them is still open."""
    merged: list[tuple[int, int]] = []
    open_quote = False
    for start, end in spans:
        if open_quote and merged:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
        open_quote = _quote_left_open(paragraph[merged[-1][0] : merged[-1][1]])
    return merged


def _quote_left_open(text: str) -> bool:
    straight = text.count('"')
    curly_open = sum(text.count(q) for q in _OPENING_QUOTES if q != '"')
    curly_close = sum(text.count(q) for q in _CLOSING_QUOTES if q != '"')
    return straight % 2 == 1 or curly_open > curly_close
