"""``/matchbot``: what moderators (Manage Server) use to curate articles and feeds, reindex, set and
watch the bot.

Every reply is private. Changes to articles go through ``bot.registry``: the Library, which writes the
seeds folder and updates the index while questions keep being answered from the current one, and the
registry that carries the change to the other processes. Pages are fetched by ``index.web`` and feeds
followed by ``bot.feeds``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot import i18n, render
from bot.config import MAX_K
from bot.i18n import _
from bot.settings import MAX_COOLDOWN, GuildSettings
from index.articles import TEXT_SUFFIXES, decode_text, parse_text_article
from index.errors import ArticleError, MatchbotError
from index.feeds import parse_keywords

if TYPE_CHECKING:
    from bot.client import MatchBot

T = TypeVar("T")
MAX_UPLOAD_BYTES = 1_000_000
PROGRESS_EVERY = 2.0  # seconds between two edits of the reindex progress message


def is_moderator(interaction: discord.Interaction) -> bool:
    """Whether the member may manage the server (the runtime twin of default_permissions)."""
    permissions = interaction.permissions
    return interaction.guild_id is not None and (permissions.manage_guild or permissions.administrator)


def guild_of(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


# Command and option names and descriptions are locale_str: the tree's translator (bot.i18n) gives Discord
# their translations, from the catalogue.
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Moderation(
    commands.GroupCog,
    group_name=locale_str("matchbot"),
    group_description=locale_str("Moderate matchbot (Manage Server)."),
):
    """Articles, reindexing, settings and stats."""

    articles = app_commands.Group(
        name=locale_str("articles"), description=locale_str("The articles matchbot quotes.")
    )
    feeds = app_commands.Group(
        name=locale_str("feeds"), description=locale_str("News feeds whose matching entries become articles.")
    )

    def __init__(self, bot: MatchBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # default_permissions is only a default: server admins can override it, so check again.
        guild_of(interaction)
        if not is_moderator(interaction):
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    @articles.command(name=locale_str("list"), description=locale_str("List the indexed articles."))
    async def articles_list(self, interaction: discord.Interaction) -> None:
        found = await asyncio.to_thread(self.bot.library.articles)
        await interaction.response.send_message(embed=render.articles_embed(found), ephemeral=True)

    @articles.command(
        name=locale_str("add"),
        description=locale_str("Add an article: a .txt/.md file, pasted text, or a link."),
    )
    @app_commands.rename(
        title=locale_str("title"),
        file=locale_str("file"),
        text=locale_str("text"),
        date=locale_str("date"),
        url=locale_str("url"),
    )
    @app_commands.describe(
        title=locale_str(
            "The article's title (a file's 'title' line or name, or the page's title, if left out)."
        ),
        file=locale_str("A UTF-8 .txt or .md file."),
        text=locale_str("The article's text, pasted."),
        date=locale_str("Publication date, YYYY-MM-DD."),
        url=locale_str(
            "Alone: a page to fetch the article from. With a file or text: where it was published."
        ),
    )
    async def articles_add(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 200] | None = None,
        file: discord.Attachment | None = None,
        text: app_commands.Range[str, 1, 6000] | None = None,
        date: app_commands.Range[str, 10, 10] | None = None,
        url: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        if file is None and text is None and url is not None:
            await self.add_from_link(interaction, url, title=title, date=date)
            return
        if (file is None) == (text is None):
            raise ArticleError(_("Give the article as a file, as pasted text, or as a link alone (url:)."))
        async with self.bot.answering():
            await interaction.response.defer(ephemeral=True, thinking=True)
            if file is not None:
                title, text, date, url = await read_upload(file, title=title, date=date, url=url)
            if not title:
                raise ArticleError(_("Give the article a title."))
            info, report = await self.bot.registry.add(
                title=title, text=text or "", date=date, url=url, by=interaction.user.id
            )
            added = _("Added **{title}** (`{id}`, {passages}). Index").format(
                title=render.fit(info.title, 200), id=info.id, passages=render.passages(info.chunks)
            )
            await interaction.edit_original_response(content=render.report_line(added, report))

    async def add_from_link(
        self, interaction: discord.Interaction, url: str, *, title: str | None, date: str | None
    ) -> None:
        """Fetch the page, extract its article and add it; a slow fetch shows its progress."""

        def stage(name: str) -> None:  # called from a worker thread, or from the event loop
            progress.say(render.web_stage_line(name))

        async with self.bot.answering():
            await interaction.response.defer(ephemeral=True, thinking=True)
            progress = Progress(render.web_stage_line("fetching"))
            work = self.bot.registry.add_page(
                self.bot.fetcher, url, title=title, date=date, by=interaction.user.id, progress=stage
            )
            added = await progress.follow(work, lambda line: interaction.edit_original_response(content=line))
            await interaction.edit_original_response(content=render.page_added(added))

    @articles.command(
        name=locale_str("remove"), description=locale_str("Remove an article and its passages.")
    )
    @app_commands.rename(article=locale_str("article"))
    @app_commands.describe(article=locale_str("The article to remove."))
    async def articles_remove(self, interaction: discord.Interaction, article: str) -> None:
        async with self.bot.answering():
            await interaction.response.defer(ephemeral=True, thinking=True)
            article_id = await asyncio.to_thread(self.article_id, article)
            report = await self.bot.registry.remove(article_id, by=interaction.user.id)
            await interaction.edit_original_response(content=render.report_line(_("Removed. Index"), report))

    @articles_remove.autocomplete("article")
    async def article_names(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        if not is_moderator(interaction):
            return []
        return render.article_choices(await asyncio.to_thread(self.bot.library.articles), typed)

    def article_id(self, typed: str) -> str:
        """The id of the article picked or typed: an id, the start of one (ids are cut at 100), a title."""
        infos = self.bot.library.articles()
        for match in (
            lambda a: a.id == typed,
            lambda a: a.title.casefold() == typed.casefold(),
            lambda a: a.id.startswith(typed),
        ):
            found = [info for info in infos if match(info)]
            if len(found) == 1:
                return found[0].id
        return typed  # unknown: the Library says so

    @feeds.command(
        name=locale_str("add"),
        description=locale_str("Follow an RSS or Atom feed: entries matching keywords are added."),
    )
    @app_commands.rename(url=locale_str("url"), keywords=locale_str("keywords"))
    @app_commands.describe(
        url=locale_str("The feed's link (RSS or Atom)."),
        keywords=locale_str(
            "Words an entry's title or summary must hold, separated by commas: Morocco, Mbappe"
        ),
    )
    async def feeds_add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 500],
        keywords: app_commands.Range[str, 1, 500],
    ) -> None:
        words = parse_keywords(keywords)
        async with self.bot.answering():
            await interaction.response.defer(ephemeral=True, thinking=True)
            progress = Progress(_(render.FEED_READING))
            work = self.bot.feeds.follow(
                guild_of(interaction),
                url,
                words,
                added_by=interaction.user.id,
                progress=lambda done, total, title: progress.say(
                    render.feed_progress_line(done, total, title)
                ),
            )
            poll = await progress.follow(work, lambda line: interaction.edit_original_response(content=line))
            reply = render.feed_followed(poll, interval=self.bot.config.feed_interval)
            await interaction.edit_original_response(content=reply)

    @feeds.command(
        name=locale_str("list"),
        description=locale_str("The feeds followed here, and what they added and when."),
    )
    async def feeds_list(self, interaction: discord.Interaction) -> None:
        guild_id = guild_of(interaction)
        followed = await self.bot.settings.feeds(guild_id)
        entries = await self.bot.settings.feed_entries(guild_id, limit=50)
        embed = render.feeds_embed(followed, entries, interval=self.bot.config.feed_interval)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @feeds.command(
        name=locale_str("remove"),
        description=locale_str("Stop following a feed (and, if asked, remove what it added)."),
    )
    @app_commands.rename(feed=locale_str("feed"), articles=locale_str("articles"))
    @app_commands.describe(
        feed=locale_str("The feed to stop following."),
        articles=locale_str("Also remove the articles it added."),
    )
    async def feeds_remove(self, interaction: discord.Interaction, feed: str, articles: bool = False) -> None:
        async with self.bot.answering():
            await interaction.response.defer(ephemeral=True, thinking=True)
            unfollowed, removed = await self.bot.feeds.unfollow(
                guild_of(interaction), feed, remove_articles=articles, by=interaction.user.id
            )
            await interaction.edit_original_response(content=render.feed_removed(unfollowed, removed))

    @feeds_remove.autocomplete("feed")
    async def feed_names(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        if not is_moderator(interaction):
            return []
        return render.feed_choices(await self.bot.settings.feeds(guild_of(interaction)), typed)

    @app_commands.command(
        name=locale_str("reindex"),
        description=locale_str("Re-read the articles folder and update the index."),
    )
    @app_commands.rename(rebuild=locale_str("rebuild"))
    @app_commands.describe(rebuild=locale_str("Re-embed every article, not only the changed ones."))
    async def reindex(self, interaction: discord.Interaction, rebuild: bool = False) -> None:
        if self.bot.library.busy:
            raise MatchbotError(_("The index is already being updated: try again in a minute."))
        async with self.bot.answering():
            await interaction.response.defer(ephemeral=True, thinking=True)
            progress = Progress()
            work = asyncio.to_thread(self.bot.library.reindex, rebuild=rebuild, progress=progress.update)
            report = await progress.follow(
                work, lambda line: interaction.edit_original_response(content=line)
            )
            await interaction.edit_original_response(content=render.report_line(_("Reindexed"), report))

    @app_commands.command(
        name=locale_str("settings"), description=locale_str("Show or change how matchbot answers here.")
    )
    @app_commands.rename(
        allow_channel=locale_str("allow_channel"),
        disallow_channel=locale_str("disallow_channel"),
        all_channels=locale_str("all_channels"),
        mentions=locale_str("mentions"),
        min_confidence=locale_str("min_confidence"),
        default_confidence=locale_str("default_confidence"),
        cooldown=locale_str("cooldown"),
        passages=locale_str("passages"),
    )
    @app_commands.describe(
        allow_channel=locale_str("Add a channel matchbot answers in (none listed = everywhere)."),
        disallow_channel=locale_str("Remove a channel from the answer channels."),
        all_channels=locale_str("Answer in every channel again (clears the list)."),
        mentions=locale_str("Answer @matchbot mentions and replies."),
        min_confidence=locale_str("Decline below this confidence (0 to 1)."),
        default_confidence=locale_str("Go back to the calibrated minimum confidence."),
        cooldown=locale_str("Seconds a member waits between two questions."),
        passages=locale_str("Passages per answer."),
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        allow_channel: discord.TextChannel | None = None,
        disallow_channel: discord.TextChannel | None = None,
        all_channels: bool = False,
        mentions: bool | None = None,
        min_confidence: app_commands.Range[float, 0.0, 1.0] | None = None,
        default_confidence: bool = False,
        cooldown: app_commands.Range[int, 0, MAX_COOLDOWN] | None = None,
        passages: app_commands.Range[int, 1, MAX_K] | None = None,
    ) -> None:
        guild_id = guild_of(interaction)
        current = await self.bot.settings.get(guild_id)
        changes = settings_changes(
            current,
            allow=allow_channel.id if allow_channel else None,
            disallow=disallow_channel.id if disallow_channel else None,
            all_channels=all_channels,
            mentions=mentions,
            threshold=DEFAULT if default_confidence else min_confidence,
            cooldown=cooldown,
            k=passages,
        )
        updated = await self.bot.settings.update(guild_id, **changes) if changes else current
        embed = render.settings_embed(updated, default_threshold=self.bot.library.retriever.threshold)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(
        name=locale_str("stats"), description=locale_str("Questions asked, answered, declined, and feedback.")
    )
    async def stats(self, interaction: discord.Interaction) -> None:
        counts = await self.bot.settings.stats(guild_of(interaction))
        await interaction.response.send_message(embed=render.stats_embed(counts), ephemeral=True)


DEFAULT: Any = object()  # "go back to the default" for a setting whose default is None


def settings_changes(
    current: GuildSettings,
    *,
    allow: int | None = None,
    disallow: int | None = None,
    all_channels: bool = False,
    mentions: bool | None = None,
    threshold: float | None = None,
    cooldown: int | None = None,
    k: int | None = None,
) -> dict[str, Any]:
    """The settings to store for the options a moderator gave (None = not given)."""
    changes: dict[str, Any] = {}
    if allow is not None or disallow is not None or all_channels:
        channels = set() if all_channels else set(current.channels)
        channels |= {allow} if allow is not None else set()
        channels -= {disallow} if disallow is not None else set()
        changes["channels"] = frozenset(channels)
    if threshold is not None:
        changes["threshold"] = None if threshold is DEFAULT else threshold
    given = {"mentions": mentions, "cooldown": cooldown, "k": k}
    changes.update({name: value for name, value in given.items() if value is not None})
    return changes


class Progress:
    """The latest progress of slow work (a reindex, a fetch), written from its worker thread, shown
    from the event loop."""

    def __init__(self, line: str | None = None) -> None:
        self.language = i18n.language()  # the worker thread may not share the command's context
        self.line = line or render.progress_line(0, 0)

    def update(self, done: int, total: int) -> None:
        with i18n.speaking(self.language):
            self.line = render.progress_line(done, total)  # one assignment: atomic under the GIL

    def say(self, line: str) -> None:
        self.line = line

    async def follow(self, work: Coroutine[Any, Any, T], show: Callable[[str], Awaitable[object]]) -> T:
        """Run ``work``, showing the progress line at most every PROGRESS_EVERY seconds, when it changed."""
        job = asyncio.ensure_future(work)
        shown = None
        while not job.done():
            await asyncio.wait({job}, timeout=PROGRESS_EVERY)
            if not job.done() and self.line != shown:
                shown = self.line
                await show(shown)
        return job.result()


async def read_upload(
    file: discord.Attachment, *, title: str | None, date: str | None, url: str | None
) -> tuple[str | None, str, str | None, str | None]:
    """An uploaded article's title, text, date and url; header lines in the file fill what was left out."""
    path = PurePath(file.filename)
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise ArticleError(_("{file} is not a .txt or .md file.").format(file=file.filename))
    if file.size > MAX_UPLOAD_BYTES:
        raise ArticleError(
            _("{file} is over {size} MB.").format(file=file.filename, size=MAX_UPLOAD_BYTES // 1_000_000)
        )
    try:
        data = await file.read()
    except discord.HTTPException as exc:
        message = _("Could not download {file} ({status}): try again.")
        raise ArticleError(message.format(file=file.filename, status=exc.status)) from exc
    article = parse_text_article(path.stem, decode_text(data, file.filename), source=file.filename)
    return title or article.title, article.text, date or article.date, url or article.url


async def setup(bot: MatchBot) -> None:
    await bot.add_cog(Moderation(bot))
