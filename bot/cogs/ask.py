"""Answering questions: ``/ask``, ``@matchbot …`` mentions, the "Ask matchbot" message menu, and
the buttons under an answer (More passages, 👍 / 👎), which keep working after a restart.

In DMs only ``/ask`` and the message menu answer, with the default settings; mentions are for servers.
Each reply speaks the member's language (``bot.i18n``): their Discord locale, or their question's
language where Discord has no locale for it (Arabic), or for a mention.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot import render
from bot.batcher import Batcher
from bot.i18n import _
from bot.settings import GuildSettings
from index import quotes
from index.errors import NoArticles
from index.retriever import MAX_QUESTION_CHARS, Answer, Query

if TYPE_CHECKING:
    from bot.client import MatchBot

MAX_OFFSET = 30  # "More passages" stops after this many passages: past it they are noise
NO_MENTIONS = discord.AllowedMentions.none()


class Ask(commands.Cog):
    """Questions in, quoted passages out."""

    def __init__(self, bot: MatchBot) -> None:
        self.bot = bot
        # Questions asked at about the same moment are encoded together (bot/batcher.py).
        self.batcher = Batcher(
            lambda queries: self.bot.library.retriever.answer_many(queries),
            wait=bot.config.batch_ms / 1000,
            executor=bot.search_pool,
        )
        self.menu = app_commands.ContextMenu(
            name=locale_str("Ask matchbot"),
            callback=self.ask_about_message,
            allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self.bot.add_dynamic_items(MoreButton, VoteButton)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        self.bot.remove_dynamic_items(MoreButton, VoteButton)
        await self.batcher.close()

    @app_commands.command(
        name=locale_str("ask"),
        description=locale_str("Ask about the match; I answer by quoting the articles."),
    )
    @app_commands.rename(question=locale_str("question"), private=locale_str("private"))
    @app_commands.describe(
        question=locale_str("What do you want to know?"), private=locale_str("Only you see the answer.")
    )
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
        private: bool = False,
    ) -> None:
        await self.respond(interaction, question, private=private)

    async def ask_about_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        if not message.content.strip():
            await interaction.response.send_message(_(render.EMPTY_MESSAGE), ephemeral=True)
            return
        await self.respond(interaction, message.content, private=False, source="menu")

    async def respond(
        self, interaction: discord.Interaction, question: str, *, private: bool, source: str = "slash"
    ) -> None:
        """Check there is something to quote and the cooldown, defer, search off the loop, reply; outside
        answer channels, privately."""
        await self.bot.speak_to(interaction.locale, question)
        async with self.bot.answering():
            if self.bot.library.empty:  # told privately, before a defer that could make it public
                raise NoArticles(_(render.NO_ARTICLES))
            settings = await self.admit(interaction)
            ephemeral = private or not settings.allows(
                interaction.channel_id, _parent_id(interaction.channel)
            )
            await interaction.response.defer(ephemeral=ephemeral, thinking=True)
            where = (interaction.guild_id, interaction.channel_id, interaction.user.id)
            reply = await self.answer(question, settings, where, source=source)
            await interaction.edit_original_response(**reply, allowed_mentions=NO_MENTIONS)

    async def admit(self, interaction: discord.Interaction) -> GuildSettings:
        """This server's settings, or CommandOnCooldown when the member asked too recently."""
        settings = await self.bot.settings.get(interaction.guild_id)
        key = (interaction.guild_id, interaction.user.id)
        retry_at = self.bot.cooldowns.retry_at(key, settings.cooldown)
        if retry_at is not None:
            cooldown = app_commands.Cooldown(1, settings.cooldown)
            raise app_commands.CommandOnCooldown(cooldown, retry_at - time.time())
        return settings

    async def answer(
        self,
        question: str,
        settings: GuildSettings,
        where: tuple[int | None, int | None, int],
        *,
        source: str,
    ) -> dict[str, Any]:
        """Search, log the question, and build the reply (embed and buttons)."""
        started = time.perf_counter()
        found = await self.search(question, settings.k, settings.threshold, offset=0)
        guild_id, channel_id, user_id = where
        answer_id = await self.bot.settings.log_answer(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            question=found.question,
            answered=found.answered,
            k=settings.k,
            threshold=settings.threshold,
        )
        seconds = time.perf_counter() - started
        self.bot.metrics.observe(source=source, answered=found.answered, seconds=seconds)
        return _reply(found, answer_id, settings.k, offset=0)

    async def search(self, question: str, k: int, threshold: float | None, *, offset: int) -> Answer:
        """The answer with as many ranked passages as laying out the page at ``offset`` needs."""
        return await self.batcher.ask(Query(question, quotes.depth(_page_number(offset, k), k), threshold))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """``@matchbot <question>``, or a reply to one of its messages, in a channel it answers in."""
        if self.bot.user is None or message.guild is None:
            return
        question = mention_question(message, self.bot.user)
        if question is None:
            return
        settings = await self.bot.settings.get(message.guild.id)
        if not settings.mentions or not settings.allows(message.channel.id, _parent_id(message.channel)):
            return
        if self.bot.draining:  # shutting down: a mention is simply not answered
            return
        async with self.bot.answering():
            await self.reply_to_mention(message, question, settings)

    async def reply_to_mention(
        self, message: discord.Message, question: str, settings: GuildSettings
    ) -> None:
        """In the question's language (a message has no locale; the server's serves for an empty one)."""
        await self.bot.speak_to(
            None, question, fallback=message.guild.preferred_locale if message.guild else None
        )
        if not question:
            await message.reply(_(render.MENTION_HINT), mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        if self.bot.library.empty:
            await message.reply(_(render.NO_ARTICLES), mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        guild_id = message.guild.id if message.guild else None
        retry_at = self.bot.cooldowns.retry_at((guild_id, message.author.id), settings.cooldown)
        if retry_at is not None:
            await message.reply(
                render.retry_line(retry_at),
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
                delete_after=max(retry_at - time.time(), 1.0),
            )
            return
        where = (guild_id, message.channel.id, message.author.id)
        try:
            reply = await self.answer(question, settings, where, source="mention")
        except Exception as exc:  # a listener has no error handler: say something kind, log the rest
            reply = {"content": self.bot.error_text(exc)}
        await message.reply(**reply, mention_author=False, allowed_mentions=NO_MENTIONS)

    async def more_passages(self, interaction: discord.Interaction, answer_id: int, offset: int) -> None:
        """The next passages for a logged question, shown only to whoever clicked."""
        record = await self.bot.settings.answer(answer_id)
        if record is None:
            await interaction.response.send_message(_(render.EXPIRED), ephemeral=True)
            return
        await self.bot.speak_to(interaction.locale, record.question)
        async with self.bot.answering():
            await interaction.response.defer(ephemeral=True, thinking=True)
            found = await self.search(record.question, record.k, record.threshold, offset=offset)
            reply = _reply(found, answer_id, record.k, offset=offset)
            await interaction.edit_original_response(**reply, allowed_mentions=NO_MENTIONS)

    async def vote(self, interaction: discord.Interaction, answer_id: int, up: bool) -> None:
        """One vote per member per answer; voting again replaces it. Thanked in the answer's language."""
        record = await self.bot.settings.answer(answer_id)
        if record is not None:
            await self.bot.speak_to(interaction.locale, record.question)
        known = record is not None and await self.bot.settings.vote(answer_id, interaction.user.id, up)
        text = render.vote_line(up) if known else _(render.EXPIRED)
        await interaction.response.send_message(text, ephemeral=True)


def mention_question(message: discord.Message, me: discord.abc.User) -> str | None:
    """The question in a message addressed to the bot (mention or reply), else None."""
    if message.author.bot:
        return None
    replied = message.reference.resolved if message.reference else None
    replying = isinstance(replied, discord.Message) and replied.author.id == me.id
    if not replying and not any(user.id == me.id for user in message.mentions):
        return None
    return " ".join(re.sub(rf"<@!?{me.id}>", " ", message.content).split())


def _parent_id(channel: object) -> int | None:
    return getattr(channel, "parent_id", None)


def _page_number(offset: int, k: int) -> int:
    """The page (from 1) that starts after ``offset`` passages: a "More passages" button carries the
    offset of the page it opens."""
    return offset // k + 1


def _reply(answer: Answer, answer_id: int, k: int, *, offset: int) -> dict[str, Any]:
    """The embed of the answer's page at ``offset`` and its buttons: "More passages" while a next page
    has passages (none of them shown on this page or an earlier one) and is within MAX_OFFSET."""
    number = _page_number(offset, k)
    page = quotes.page(answer.passages, k, number)
    embed = render.answer_embed(answer, page.quotes, answer_id=answer_id, offset=offset)
    more_at = number * k if page.more and number * k <= MAX_OFFSET else None
    return {"embed": embed, "view": answer_view(answer_id, more_at)}


def answer_view(answer_id: int, more_at: int | None) -> discord.ui.View:
    """The buttons under an answer; their custom_ids carry the answer's id, so they outlive restarts."""
    view = discord.ui.View(timeout=None)
    if more_at is not None:
        view.add_item(MoreButton(answer_id, more_at))
    view.add_item(VoteButton(answer_id, up=True))
    view.add_item(VoteButton(answer_id, up=False))
    return view


class MoreButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"matchbot:more:(?P<answer>\d+):(?P<offset>\d+)",
):
    """ "More passages": the answer's next page, k passages none of which an earlier page showed."""

    def __init__(self, answer_id: int, offset: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=_(render.MORE_PASSAGES),
                style=discord.ButtonStyle.secondary,
                custom_id=f"matchbot:more:{answer_id}:{offset}",
            )
        )
        self.answer_id = answer_id
        self.offset = offset

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> MoreButton:
        return cls(int(match["answer"]), int(match["offset"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _run(interaction, lambda cog: cog.more_passages(interaction, self.answer_id, self.offset))


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"matchbot:vote:(?P<answer>\d+):(?P<vote>up|down)",
):
    """👍 / 👎 on an answer."""

    def __init__(self, answer_id: int, *, up: bool) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if up else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"matchbot:vote:{answer_id}:{'up' if up else 'down'}",
            )
        )
        self.answer_id = answer_id
        self.up = up

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> VoteButton:
        return cls(int(match["answer"]), up=match["vote"] == "up")

    async def callback(self, interaction: discord.Interaction) -> None:
        await _run(interaction, lambda cog: cog.vote(interaction, self.answer_id, self.up))


async def _run(interaction: discord.Interaction, action: Any) -> None:
    """Run a button's action on the Ask cog; button errors go to the same kind reply as commands."""
    bot: MatchBot = interaction.client  # type: ignore[assignment]
    cog = bot.get_cog(Ask.__cog_name__)
    try:
        await bot.speak_to(interaction.locale, None)  # the action may know better (the answer's question)
        if not isinstance(cog, Ask):
            raise RuntimeError("the Ask cog is not loaded")
        await action(cog)
    except Exception as exc:
        await bot.report_error(interaction, exc)


async def setup(bot: MatchBot) -> None:
    await bot.add_cog(Ask(bot))
