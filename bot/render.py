"""Everything matchbot shows on Discord: answers, lists and one-line replies, within Discord's limits.

Pure functions, no network: every string that reaches Discord is escaped (markdown and mentions)
and trimmed here, so a 4,000-character sentence or an ``@everyone`` inside an article cannot break a
message or ping anyone. The bot's own words are in the language of the current command (``bot.i18n``);
what comes from an article is quoted as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.i18n import N_, _, decimal, ngettext
from bot.settings import ENTRY_ATTEMPTS
from index.errors import MatchbotError, NoArticles
from index.quotes import Quote, merge

if TYPE_CHECKING:
    from bot.feeds import FeedPoll
    from bot.settings import Feed, FeedEntry, GuildSettings, Stats
    from index.library import ArticleInfo, IndexReport
    from index.retriever import Answer, Passage
    from index.web import PageAdded

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBED_FIELDS_MAX = 25
EMBEDS_PER_MESSAGE = 10
BUTTON_LABEL_LIMIT = 80
CHOICE_NAME_LIMIT = 100
CHOICE_VALUE_LIMIT = 100
CHOICES_MAX = 25
MAX_PASSAGES = 10  # per answer embed: the most "passages per answer" allows

ELLIPSIS = "…"
UNTITLED = N_("(untitled)")  # an article with neither a title nor an id to show
ANSWERED_COLOUR = discord.Colour.green()
DECLINED_COLOUR = discord.Colour.light_grey()
INFO_COLOUR = discord.Colour.blurple()

_ZWSP = "\u200b"
_BLOCK_START = re.compile(r"^(#|-|\+|(\d+)\.)")
_ESCAPED = {ord(character): "\\" + character for character in "\\*_~`|[>"}  # markdown, escaped
# C0/C1 controls (but whitespace, which split() flattens) and bidirectional embeddings/overrides/isolates.
_UNSHOWN = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")
_URL = re.compile(r"^https?://\S+$")
# What could end a link's <…>(…) early, or read as a mention, is percent-encoded.
_URL_ESCAPES = {ord(character): f"%{ord(character):02X}" for character in "()<>@`"}


# -- text helpers ------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS if limit > 0 else ""


def neutralise_mentions(text: str) -> str:
    """Break ``@everyone``, ``@here`` and ``<@…>`` / ``<@&…>`` / ``<#…>`` so they never ping or render."""
    for syntax in ("@everyone", "@here", "<@", "<#"):
        text = text.replace(syntax, syntax[0] + _ZWSP + syntax[1:])
    return text


def escape(text: str) -> str:
    """Untrusted text (an article, a question) made safe to show: one line, markdown and mentions off.

    Every character that can open or close markdown (``\\ * _ ~ ` | [ >``) is escaped, alone or not, so
    the text cannot end our bold or quote early, open a code block or a masked link, or hide a spoiler;
    controls and bidirectional overrides are dropped, so it cannot reorder what follows it either.
    """
    flat = " ".join(_UNSHOWN.sub("", text).split())
    escaped = neutralise_mentions(flat.translate(_ESCAPED))
    # Line-start syntax (headings, lists, subtext) matters where the text starts a line.
    return _BLOCK_START.sub(lambda m: f"{m[2]}\\." if m[2] else "\\" + m[1], escaped, count=1)


def fit(text: str, limit: int, *, keep_end: bool = False) -> str:
    """``text`` escaped and then trimmed so the escaped form fits ``limit`` characters.

    Trimming happens on the raw text, so an escape sequence or a mention is never cut in half.
    ``keep_end`` keeps the end of the text (for the context before a sentence). The cut is found by
    bisection over at most ``limit`` raw characters: a 100 kB text costs no more than a short one.
    """
    flat = " ".join(_UNSHOWN.sub("", text).split())
    escaped = escape(flat)
    if len(escaped) <= limit:
        return escaped
    if limit < 1:
        return ""

    def cut(size: int) -> str:
        return flat[len(flat) - size :].lstrip() if keep_end else flat[:size].rstrip()

    low, high = 0, min(len(flat), limit)  # escaping never shortens: at most `limit` raw characters fit
    while low < high:
        middle = (low + high + 1) // 2
        if len(escape(cut(middle))) < limit:  # room for the ellipsis too
            low = middle
        else:
            high = middle - 1
    kept = escape(cut(low))
    return ELLIPSIS + kept if keep_end else kept + ELLIPSIS


def code_span(text: str, limit: int) -> str:
    """An article id as inline code: one line, no backtick to close it early, no mention, trimmed."""
    flat = " ".join(_UNSHOWN.sub("", text).split()).replace("`", "'")
    return f"`{clip(neutralise_mentions(flat), limit)}`"


def line(text: str) -> str:
    """A one-message reply of our own wording (not escaped), within the content limit."""
    return clip(text, CONTENT_LIMIT)


def retry_line(retry_at: float) -> str:
    """The cooldown reply: when to try again, as a Discord relative timestamp."""
    return _("You're asking a little fast: try again {when}.").format(when=f"<t:{math.ceil(retry_at)}:R>")


# -- answers -----------------------------------------------------------------------------------


def meter(score: float) -> str:
    """``▰▰▰▱▱ 0.62``: a score from 0 to 1 in five steps, and the number."""
    filled = round(min(max(score, 0.0), 1.0) * 5)
    return "▰" * filled + "▱" * (5 - filled) + f" {decimal(score)}"


def confidence_line(answer: Answer) -> str:
    """How sure the answer is, against the bar it had to clear."""
    if answer.answered:
        line = _("Confidence {meter} (answered; the bar is {bar})")
    else:
        line = _("Confidence {meter} (declined; the bar is {bar})")
    return line.format(meter=meter(answer.confidence), bar=decimal(answer.threshold))


def source_line(quote: Quote, limit: int = 400) -> str:
    """``— *Title* · 2022-12-15 · link · tweet by … · match ▰▰▰▱▱ 0.52`` for one quote, in ``limit``.

    A quote's article is named once, with the author and date of each tweet among its passages and the
    best of their scores. When room is short the link goes first, then the authors are shortened and
    left out, then the date; the title takes what is left. Markup is never cut through.
    """
    source = quote.source
    date = fit(source.date, 20) if source.date else ""
    link = ""
    if source.url and _URL.match(source.url) and len(source.url) <= 500:
        link = "[{label}](<{url}>)".format(label=_("link"), url=source.url.translate(_URL_ESCAPES))
    score = _("match {meter}").format(meter=meter(quote.score))
    untitled = _("untitled")
    for with_link, author_room, with_date in ((1, 80, 1), (0, 80, 1), (0, 30, 1), (0, 0, 1), (0, 0, 0)):
        tweets = [_tweet(tweet, author_room) for tweet in quote.tweets] if author_room else []
        details = [date if with_date else "", link if with_link else "", *dict.fromkeys(tweets)]
        details = [part for part in details if part] + [score]
        room = limit - len(" · ".join(["— **", *details]))
        title = fit(source.title, min(120, room)) or (untitled if room >= len(untitled) else "")
        if title:
            return " · ".join([f"— *{title}*", *details])
    return clip(score, limit)


def _tweet(tweet: Passage, author_room: int) -> str:
    """``tweet by Name (@handle), December 14, 2022``; the author in ``author_room``, the date only
    when the author has full room."""
    author = fit(tweet.author or "", author_room)
    if author and author_room == 80 and tweet.posted:
        return _("tweet by {author}, {posted}").format(author=author, posted=fit(tweet.posted, 30))
    return _("tweet by {author}").format(author=author) if author else ""


def quote_text(quote: Quote, limit: int) -> str:
    """The quote's sentences in article order, its passages' own in bold, as one block quote of at most
    ``limit``. Room goes to the bold sentences first (at least two thirds of it); a context sentence
    before the first of them keeps its end, the others their start."""
    sentences = quote.sentences
    bold = [sentence.matched for sentence in sentences]
    room = limit - len("> ") - (len(sentences) - 1) - len("****") * sum(bold)
    sizes = [len(escape(sentence.text)) for sentence in sentences]
    context_size = sum(size for size, matched in zip(sizes, bold, strict=True) if not matched)
    matched_room = max(room * 2 // 3, room - context_size)
    matched_shares = _shares(
        [size for size, matched in zip(sizes, bold, strict=True) if matched], matched_room
    )
    texts: dict[int, str] = {}
    for index, share in zip([i for i, matched in enumerate(bold) if matched], matched_shares, strict=True):
        texts[index] = fit(sentences[index].text, share)
    room -= sum(len(text) for text in texts.values())
    first_bold = bold.index(True) if any(bold) else len(sentences)
    context = [i for i, matched in enumerate(bold) if not matched]
    for index, share in zip(context, _shares([sizes[i] for i in context], room), strict=True):
        texts[index] = fit(sentences[index].text, share, keep_end=index < first_bold)
    parts = [
        (f"**{texts[index]}**" if matched else texts[index])
        for index, matched in enumerate(bold)
        if texts[index]
    ]
    return "> " + " ".join(parts)


def _shares(sizes: Sequence[int], room: int) -> list[int]:
    """``room`` shared among texts of ``sizes``: the short ones whole, the rest evenly."""
    shares = [0] * len(sizes)
    room = max(room, 0)
    by_size = sorted(range(len(sizes)), key=sizes.__getitem__)
    for done, index in enumerate(by_size):
        shares[index] = min(sizes[index], room // (len(by_size) - done))
        room -= shares[index]
    return shares


def quote_block(quote: Quote, limit: int) -> str:
    """One quote: its sentences and its source line, together at most ``limit`` characters."""
    source = source_line(quote, max(limit // 3, 1))
    return quote_text(quote, limit - len(source) - 1) + "\n" + source


def declined_reason(answer: Answer) -> str:
    """Why an answer is declined, in one sentence: the kind of answer the question asks for that none
    of the passages found holds (``Answer.missing``), else that the articles do not seem to cover it."""
    reasons = {
        "age": _("none of the passages I found gives an age."),
        "time": _("none of the passages I found gives a time or a minute of the game."),
        "money": _("none of the passages I found gives a sum of money."),
        "count": _("none of the passages I found gives that number."),
        "post": _("none of the passages I found is a post on social media."),
        "scorer": _("none of the passages I found says who scored."),
        "referee": _("none of the passages I found names the referee."),
        "card": _("none of the passages I found mentions a card."),
        "penalty": _("none of the passages I found mentions a penalty."),
        "stadium": _("none of the passages I found names the stadium."),
        "stats": _("none of the passages I found gives the match's statistics."),
        "birth": _("none of the passages I found says where or when they were born."),
        "contract": _("none of the passages I found mentions a contract."),
        "rating": _("none of the passages I found gives a player's rating."),
        "woodwork": _("none of the passages I found mentions a shot off the post or the bar."),
        "extra_time": _("none of the passages I found mentions extra time or added time."),
        "substitution": _("none of the passages I found mentions a substitution."),
        "injury": _("none of the passages I found mentions an injury."),
        "best": _("none of the passages I found names the man of the match."),
        "lineup": _("none of the passages I found gives a line-up or a formation."),
        "broadcast": _("none of the passages I found says where the match was shown."),
        "weather": _("none of the passages I found mentions the weather."),
        "var": _("none of the passages I found mentions VAR or an offside."),
        "assist": _("none of the passages I found says who set up a goal."),
        "next": _("none of the passages I found names the next match or its opponent."),
        "former": _("none of the passages I found says who held the role before."),
        "captain": _("none of the passages I found names a captain."),
        "shirt_number": _("none of the passages I found gives a shirt number."),
        "height": _("none of the passages I found gives a height or a weight."),
        "family": _("none of the passages I found mentions their family."),
        "goalkeeper": _("none of the passages I found mentions a goalkeeper or a save."),
        "fouls": _("none of the passages I found mentions a foul or a free kick."),
        "halftime": _("none of the passages I found tells of the half-time or of either half."),
        "attendance": _("none of the passages I found gives the attendance."),
        "history": _("none of the passages I found mentions the sides' earlier meetings."),
        "trouble": _("none of the passages I found mentions trouble or the police."),
        "betting": _("none of the passages I found mentions the odds or betting."),
        "score": _("none of the passages I found gives a score."),
        "role": _("none of the passages I found says who they are or what they play as."),
        "date": _("none of the passages I found gives a date."),
        "place": _("none of the passages I found names a place."),
        "club": _("none of the passages I found names a club."),
        "coach": _("none of the passages I found names a coach."),
        "number": _("none of the passages I found gives a number."),
    }
    if answer.missing in reasons:
        return reasons[answer.missing]
    return _("the articles I have don't seem to cover this.")


def answer_embed(
    answer: Answer,
    page: Sequence[Quote] | None = None,
    *,
    answer_id: int | None = None,
    offset: int = 0,
) -> discord.Embed:
    """The reply to a question, declined or not: one page of its quotes in one embed (by default its
    passages, at most ten, merged into quotes); ``offset`` is how many passages earlier pages took."""
    quotes = merge(answer.passages[:MAX_PASSAGES]) if page is None else list(page)
    title = "❓ " + fit(answer.question, EMBED_TITLE_LIMIT - 2)
    if not quotes:
        header = (
            _("No more passages for this question.")
            if offset
            else _("No confident answer: {reason}").format(reason=declined_reason(answer))
        )
    elif offset:
        header = (
            _("More passages:") if answer.answered else _("More passages (none of them a confident answer):")
        )
    elif answer.answered:
        header = ""
    else:
        header = _("No confident answer: {reason} The nearest passages, in case they help:").format(
            reason=declined_reason(answer)
        )
    if answer_id is None:
        footer = _("{confidence} · quoted as written").format(confidence=confidence_line(answer))
    else:
        footer = _("Answer #{number} · {confidence} · quoted as written · rate it with 👍 / 👎").format(
            number=answer_id, confidence=confidence_line(answer)
        )
    room = min(EMBED_DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - len(title) - len(footer)) - len(header)
    room -= 2 * len(quotes)  # the blank lines between blocks
    sentences = sum(len(quote.sentences) for quote in quotes)  # room shared by sentence
    blocks = [quote_block(quote, room * len(quote.sentences) // max(sentences, 1)) for quote in quotes]
    description = "\n\n".join(part for part in (header, *blocks) if part)
    colour = ANSWERED_COLOUR if answer.answered and quotes else DECLINED_COLOUR
    embed = discord.Embed(title=title, description=clip(description, EMBED_DESCRIPTION_LIMIT), colour=colour)
    return embed.set_footer(text=clip(footer, EMBED_FOOTER_LIMIT))


# -- moderation --------------------------------------------------------------------------------


def articles_embed(articles: Sequence[ArticleInfo]) -> discord.Embed:
    """The list of indexed articles, newest first, trimmed to one embed."""
    ordered = sorted(articles, key=lambda a: (a.date or "", a.id), reverse=True)
    lines: list[str] = []
    used = 0
    for number, article in enumerate(ordered):
        date = f" ({fit(article.date, 20)})" if article.date else ""
        code = code_span(article.id, 100)
        title = fit(article.title, 120) or _("untitled")
        entry = f"• **{title}**{date} · {code} · {passages(article.chunks)}"
        rest = len(ordered) - number
        if used + len(entry) + 40 > EMBED_DESCRIPTION_LIMIT:
            lines.append(and_more(rest))
            break
        lines.append(entry)
        used += len(entry) + 1
    description = "\n".join(lines) or _(
        "No articles have been added yet: add one with `/matchbot articles add`."
    )
    return discord.Embed(
        title=ngettext("{count} article indexed", "{count} articles indexed", len(articles)).format(
            count=len(articles)
        ),
        description=clip(description, EMBED_DESCRIPTION_LIMIT),
        colour=INFO_COLOUR,
    )


def article_choices(articles: Iterable[ArticleInfo], typed: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for an article: names matching what was typed, at most 25."""
    needle = typed.casefold().strip()
    found = [a for a in articles if needle in a.id.casefold() or needle in a.title.casefold()]
    found.sort(key=lambda a: (not a.title.casefold().startswith(needle), a.title.casefold()))
    return [
        app_commands.Choice(name=choice_name(a), value=a.id[:CHOICE_VALUE_LIMIT]) for a in found[:CHOICES_MAX]
    ]


def choice_name(article: ArticleInfo) -> str:
    """An article as an autocomplete choice shows it: its title (its id when the title is blank) and
    date, on one line, mentions broken, 1 to 100 characters as Discord requires."""

    def shown(text: str) -> str:
        return neutralise_mentions(" ".join(_UNSHOWN.sub("", text).split()))

    title = shown(article.title) or shown(article.id) or _(UNTITLED)
    date = shown(article.date or "")
    return clip(f"{title} ({date})" if date else title, CHOICE_NAME_LIMIT)


def passages(count: int) -> str:
    """``1 passage``, ``3 passages``."""
    return ngettext("{count} passage", "{count} passages", count).format(count=count)


def and_more(count: int) -> str:
    """``…and 3 more.``, closing a list cut short."""
    return ngettext("…and {count} more.", "…and {count} more.", count).format(count=count)


def index_summary(report: IndexReport) -> str:
    """What an index update changed: ``1 added, 0 changed, 0 removed, 3 unchanged; 57 chunks``."""
    text = _("{added} added, {changed} changed, {removed} removed, {unchanged} unchanged; {chunks} chunks")
    text = text.format(
        added=len(report.added),
        changed=len(report.changed),
        removed=len(report.removed),
        unchanged=report.unchanged,
        chunks=report.chunks,
    )
    if report.encoded:
        text += _("; every chunk embedded with {encoders}").format(encoders=", ".join(report.encoded))
    return text


def report_line(verb: str, report: IndexReport) -> str:
    """``Reindexed: 1 added, 0 changed, …`` plus the first skipped files, if any (``verb`` is already in
    the member's language)."""
    text = _("{verb}: {summary}").format(verb=verb, summary=index_summary(report))
    if report.skipped:
        shown = "; ".join(report.skipped[:3])
        rest = len(report.skipped) - 3
        if rest > 0:
            more = ngettext(
                "Skipped: {files} (and {count} more)", "Skipped: {files} (and {count} more)", rest
            )
            text += "\n" + more.format(files=shown, count=rest)
        else:
            text += "\n" + _("Skipped: {files}").format(files=shown)
    return line(neutralise_mentions(text))


def progress_line(done: int, total: int) -> str:
    """``Reindexing… 120/340 passages embedded (35%)``."""
    if total <= 0:
        return _("Reindexing… reading the articles.")
    return _("Reindexing… {done}/{total} passages embedded ({percent}%).").format(
        done=done, total=total, percent=done * 100 // total
    )


def settings_embed(settings: GuildSettings, *, default_threshold: float) -> discord.Embed:
    """This server's answering settings."""
    channels = (
        ", ".join(f"<#{channel}>" for channel in sorted(settings.channels))
        if settings.channels
        else _("everywhere")
    )
    threshold = (
        decimal(settings.threshold)
        if settings.threshold is not None
        else _("default ({threshold})").format(threshold=decimal(default_threshold))
    )
    embed = discord.Embed(title=_("matchbot settings for this server"), colour=INFO_COLOUR)
    embed.add_field(name=_("Answer channels"), value=clip(channels, EMBED_FIELD_VALUE_LIMIT), inline=False)
    embed.add_field(name=_("Mention answers"), value=_("on") if settings.mentions else _("off"))
    embed.add_field(name=_("Minimum confidence"), value=threshold)
    embed.add_field(name=_("Cooldown"), value=_("{seconds} s per member").format(seconds=settings.cooldown))
    embed.add_field(name=_("Passages per answer"), value=str(settings.k))
    return embed.set_footer(
        text=_("Outside the answer channels /ask still works, privately; mentions are ignored there.")
    )


def stats_embed(stats: Stats) -> discord.Embed:
    """Questions asked, the share answered, what the articles don't cover, and the votes."""
    if stats.asked:
        answered = _("{count} ({percent}%)").format(
            count=stats.answered, percent=stats.answered * 100 // stats.asked
        )
    else:
        answered = f"{stats.answered} (–)"
    embed = discord.Embed(title=_("matchbot stats for this server"), colour=INFO_COLOUR)
    embed.add_field(name=_("Questions asked"), value=str(stats.asked))
    embed.add_field(name=_("Answered"), value=answered)
    embed.add_field(name=_("Feedback"), value=f"👍 {stats.up} · 👎 {stats.down}")
    declined = "\n".join(f"{count}× {fit(question, 150)}" for question, count in stats.top_declined)
    embed.add_field(
        name=_("Most asked without a confident answer"),
        value=clip(declined or _("none yet"), EMBED_FIELD_VALUE_LIMIT),
        inline=False,
    )
    return embed


# -- articles from links and feeds -------------------------------------------------------------

WEB_STAGES = {
    "fetching": N_("Fetching the page…"),
    "reading": N_("Reading the article out of the page…"),
    "indexing": N_("Adding the article to the index…"),
}
FEED_READING = N_("Reading the feed…")
ENTRY_WORDS = {  # an entry taken from a feed: what became of it
    "claimed": N_("being added"),
    "added": N_("added"),
    "duplicate": N_("already an article"),
    "failed": N_("not added"),
    "retry": N_("not added yet"),
}


def link(url: str | None) -> str:
    """A link shown as is, without a preview (``<…>``); empty for anything that is not an http(s) URL."""
    if not url or not _URL.match(url) or len(url) > 500:
        return ""
    return "<" + url.translate(_URL_ESCAPES) + ">"


def web_stage_line(stage: str) -> str:
    """The progress of ``/matchbot articles add url:``, shown when a fetch is slow."""
    return _(WEB_STAGES[stage]) if stage in WEB_STAGES else _("Working…")


def page_added(added: PageAdded) -> str:
    """What was added from a link: title, date, passages, id, link, and its first lines."""
    info = added.info
    date = [fit(info.date, 20)] if info.date else []
    facts = ", ".join([*date, passages(info.chunks), code_span(info.id, 100)])
    if link(info.url):
        head = _("Added **{title}** ({facts}) from {link}. It begins:")
    else:
        head = _("Added **{title}** ({facts}) from the page. It begins:")
    head = head.format(title=fit(info.title, 200), facts=facts, link=link(info.url))
    return line(f"{head}\n> {fit(added.excerpt, 600)}")


def feed_progress_line(done: int, total: int, title: str) -> str:
    """``Adding 2 of 3: *Title*…`` while a feed's entries are added."""
    return _("Adding {number} of {total}: *{title}*…").format(
        number=done + 1, total=total, title=fit(title, 150)
    )


def feed_followed(poll: FeedPoll, *, interval: float) -> str:
    """The reply to following a feed: what it is, what it matches, and what it added now."""
    feed = poll.feed
    name = fit(feed.title or feed.url, 100)
    where = f" ({link(feed.url)})" if len(feed.url) <= 150 and link(feed.url) else ""
    keywords = fit(", ".join(feed.keywords), 150)
    head = _("Following **{name}**{link} for *{keywords}*; it is checked every {interval}.").format(
        name=name, link=where, keywords=keywords, interval=_duration(interval)
    )
    return line(f"{head}\n{poll_summary(poll)}")


def poll_summary(poll: FeedPoll, *, shown: int = 5) -> str:
    """What one poll did, in a few lines (at most about 1,400 characters)."""
    if poll.error:
        return _("The feed could not be read: {reason}").format(reason=fit(poll.error, 300))
    parts = []
    if poll.added:
        titles = [f"• **{fit(a.info.title, 80)}** ({code_span(a.info.id, 80)})" for a in poll.added[:shown]]
        more = [and_more(len(poll.added) - shown)] if len(poll.added) > shown else []
        added = ngettext("{count} added now:", "{count} added now:", len(poll.added))
        parts.append(added.format(count=len(poll.added)) + "\n" + "\n".join(titles + more))
    elif not poll.matching:
        parts.append(_("No entry matches the keywords yet; new ones are added as they appear."))
    else:
        parts.append(_("Nothing new to add."))
    if poll.duplicates:
        count = len(poll.duplicates)
        duplicates = ngettext(
            "{count} already among the articles.", "{count} already among the articles.", count
        )
        parts.append(duplicates.format(count=count))
    for item, message in poll.failed[:2]:
        parts.append(
            _("Not added: *{title}* — {reason}").format(title=fit(item.title, 80), reason=fit(message, 150))
        )
    if len(poll.failed) > 2:
        count = len(poll.failed) - 2
        parts.append(
            ngettext("…and {count} more not added.", "…and {count} more not added.", count).format(
                count=count
            )
        )
    if poll.waiting:
        waiting = ngettext(
            "{count} more matching entry will be added at the next check.",
            "{count} more matching entries will be added at the next check.",
            poll.waiting,
        )
        parts.append(waiting.format(count=poll.waiting))
    return "\n".join(parts)


def feed_removed(feed: Feed, removed: Sequence[str]) -> str:
    """The reply to removing a feed."""
    name = fit(feed.title or feed.url, 150)
    if removed:
        ids = ", ".join(code_span(article_id, 100) for article_id in removed)
        text = ngettext(
            "No longer following **{name}**; removed the article it added: {ids}.",
            "No longer following **{name}**; removed the {count} articles it added: {ids}.",
            len(removed),
        )
        return line(text.format(name=name, count=len(removed), ids=ids))
    return line(_("No longer following **{name}**. The articles it added are kept.").format(name=name))


def feeds_embed(feeds: Sequence[Feed], entries: Sequence[FeedEntry], *, interval: float) -> discord.Embed:
    """A server's feeds, and the entries taken from them (newest first), each with when."""
    lines = []
    for feed in feeds:
        if feed.polled_at:
            checked = _("checked {when}").format(when=f"<t:{int(feed.polled_at)}:R>")
        else:
            checked = _("not checked yet")
        keywords = _("keywords *{keywords}*").format(keywords=fit(", ".join(feed.keywords), 200))
        lines.append(
            f"• **{fit(feed.title or feed.url, 120)}** {link(feed.url)}\n"
            f"  {keywords} · {checked}" + (f"\n  ⚠ {fit(feed.poll_error, 300)}" if feed.poll_error else "")
        )
    description = "\n".join(lines) or _("No feeds yet: follow one with `/matchbot feeds add`.")
    title = ngettext(
        "{count} feed followed; each checked every {interval}",
        "{count} feeds followed; each checked every {interval}",
        len(feeds),
    )
    embed = discord.Embed(
        title=title.format(count=len(feeds), interval=_duration(interval)),
        description=clip(description, EMBED_DESCRIPTION_LIMIT - 1000),
        colour=INFO_COLOUR,
    )
    taken = []
    for entry in entries:
        when = f"<t:{int(entry.settled_at or entry.claimed_at)}:R>"
        gave_up = entry.status == "retry" and entry.attempts >= ENTRY_ATTEMPTS
        what = _(ENTRY_WORDS["failed" if gave_up else entry.status])
        article = f" {code_span(entry.article_id, 100)}" if entry.article_id else ""
        why = f" — {fit(entry.message, 160)}" if entry.message else ""
        taken.append(f"{when} {what}{article}: {fit(entry.title, 90)}{why}")
    if taken:
        value = _lines_within(taken, EMBED_FIELD_VALUE_LIMIT)
        embed.add_field(name=_("Taken from the feeds, newest first"), value=value, inline=False)
    return embed.set_footer(
        text=_("Remove an article with /matchbot articles remove, a feed with /matchbot feeds remove.")
    )


def feed_choices(feeds: Iterable[Feed], typed: str) -> list[app_commands.Choice[str]]:
    """Autocomplete choices for a followed feed: its title and link, its link (cut at 100) as value."""
    needle = typed.casefold().strip()
    found = [f for f in feeds if needle in f.url.casefold() or needle in (f.title or "").casefold()]
    return [
        app_commands.Choice(
            name=clip(f"{f.title} — {f.url}" if f.title else f.url, CHOICE_NAME_LIMIT),
            value=f.url[:CHOICE_VALUE_LIMIT],
        )
        for f in found[:CHOICES_MAX]
    ]


def _lines_within(lines: Sequence[str], limit: int) -> str:
    """As many of ``lines`` as fit in ``limit`` characters, then how many were left out."""
    shown: list[str] = []
    for number, entry in enumerate(lines):
        rest = and_more(len(lines) - number)
        if sum(len(part) + 1 for part in shown) + len(entry) + len(rest) + 1 > limit:
            return "\n".join([*shown, rest])
        shown.append(entry)
    return "\n".join(shown)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 60:
        count = math.ceil(seconds)
        return ngettext("{count} second", "{count} seconds", count).format(count=f"{seconds:g}")
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("{count} hour", "{count} hours", hours).format(count=hours)
    return ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)


# -- one-line replies --------------------------------------------------------------------------

# Written here in English (the catalogue's source), translated where shown: _(render.EXPIRED).
UNEXPECTED_ERROR = N_("Something went wrong on my side; the error is logged.")
EXPIRED = N_("This answer has expired (I no longer have its question): ask again with `/ask`.")
NOT_MODERATOR = N_("Only members with the Manage Server permission can use `/matchbot`.")
SERVER_ONLY = N_("This command works in servers only.")
MENTION_HINT = N_("Ask me about the match, e.g. `@matchbot how did the semi-final end?`")
EMPTY_MESSAGE = N_("That message has no text I could take as a question.")
NO_ARTICLES = N_(
    "No articles have been added yet, so I have nothing to quote: "
    "a moderator can add one with `/matchbot articles add`."
)
MORE_PASSAGES = N_("More passages")  # the button under an answer


def error_line(error: BaseException, *, now: float) -> str | None:
    """What to tell a user about ``error``; None for an unexpected error (logged, generic line)."""
    if isinstance(error, NoArticles):  # the core's line names the command line's ways; members need this one
        return _(NO_ARTICLES)
    if isinstance(error, MatchbotError):
        return line(neutralise_mentions(str(error)))
    if isinstance(error, app_commands.CommandOnCooldown):
        return retry_line(now + error.retry_after)
    if isinstance(error, app_commands.MissingPermissions):
        return _(NOT_MODERATOR)
    if isinstance(error, app_commands.NoPrivateMessage):
        return _(SERVER_ONLY)
    if isinstance(error, app_commands.CheckFailure):
        return _("You can't use this command here.")
    return None


def vote_line(up: bool) -> str:
    """The private thank-you for a vote."""
    return _("Thanks: noted your {vote} (vote again to change it).").format(vote="👍" if up else "👎")
