"""The Discord stand-in drives a real ``commands.Bot``: login, gateway, app commands, messages, views."""

from __future__ import annotations

import asyncio
import io
import json
import zlib

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from .standin import DiscordStandIn, point_discord_at

pytestmark = pytest.mark.timeout(60)

TEAMS = ["Arsenal", "Aston Villa", "Brentford", "Chelsea", "Liverpool"]


class Confirm(discord.ui.View):
    """A one-button view that records the click and edits its message."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.clicked_by: discord.abc.User | None = None

    @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.green)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]) -> None:
        self.clicked_by = interaction.user
        await interaction.response.edit_message(content="Confirmed.", view=None)
        self.stop()


class ProbeBot(commands.Bot):
    """A small bot with one command of each kind the stand-in has to support.

    It records what reaches it, so tests can check both sides: the events the bot saw and the
    REST calls it made.
    """

    def __init__(self, guild_id: int, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
        self.seen_messages: list[discord.Message] = []
        self.views: list[Confirm] = []
        self.autocomplete_inputs: list[str] = []
        guild = discord.Object(guild_id)
        for command in self._commands():
            self.tree.add_command(command, guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        self.seen_messages.append(message)
        if self.user in message.mentions and message.author != self.user:
            await message.reply(f"you said: {message.content}")

    def _commands(self) -> list[app_commands.Command | app_commands.ContextMenu]:
        @app_commands.command(description="Repeat some text")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(f"echo: {text}")

        @app_commands.command(description="Think, then answer")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("done thinking")

        @app_commands.command(description="Answer only the caller")
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("for your eyes only", ephemeral=True)

        @app_commands.command(description="Try to say too much")
        async def ramble(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_message("blah " * 401)
            except discord.HTTPException as error:
                await interaction.response.send_message(f"refused: {error.code}", ephemeral=True)

        @app_commands.command(description="Ask for a confirmation")
        async def confirm(interaction: discord.Interaction) -> None:
            view = Confirm()
            self.views.append(view)
            await interaction.response.send_message("Are you sure?", view=view)

        @app_commands.command(description="Pick a team")
        async def team(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(f"team: {name}")

        @team.autocomplete("name")
        async def team_names(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            self.autocomplete_inputs.append(current)
            return [app_commands.Choice(name=t, value=t) for t in TEAMS if current.lower() in t.lower()]

        @app_commands.command(description="Count the lines of a text file")
        async def lines(interaction: discord.Interaction, file: discord.Attachment) -> None:
            await interaction.response.defer()
            text = (await file.read()).decode()
            report = discord.File(fp=io.BytesIO(text.upper().encode()), filename="upper.txt")
            await interaction.edit_original_response(
                content=f"{file.filename}: {len(text.splitlines())} lines"
            )
            await interaction.followup.send("here it is, shouted", file=report)

        @app_commands.context_menu(name="Quote")
        async def quote(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(f"> {message.content}")

        return [echo, slow, secret, ramble, confirm, team, lines, quote]


def make_bot(standin: DiscordStandIn, *, message_content: bool = True) -> ProbeBot:
    return ProbeBot(standin.guild_id, message_content=message_content)


async def sync(bot: ProbeBot, standin: DiscordStandIn) -> None:
    await bot.tree.sync(guild=discord.Object(standin.guild_id))


async def test_login_ready_and_guild(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await standin.wait_ready(timeout=5)
        assert bot.user is not None and bot.user.id == standin.application_id
        assert bot.application_id == standin.application_id
        guild = bot.get_guild(standin.guild_id)
        assert guild is not None and not guild.unavailable
        assert {channel.id for channel in guild.text_channels} == {
            standin.channel_general,
            standin.channel_offtopic,
        }
        assert guild.me is not None and guild.me.id == standin.application_id
        assert guild.get_channel(standin.channel_general).permissions_for(guild.me).send_messages
        moderator_role = guild.get_role(standin.role_moderator_id)
        assert moderator_role is not None and moderator_role.permissions.manage_guild
        assert not guild.default_role.permissions.manage_guild
        assert bot.latency < 5  # a heartbeat was acknowledged
    assert standin.gateway_queries[0] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    paths = [call.path for call in standin.calls]
    assert paths[:2] == ["/users/@me", "/oauth2/applications/@me"]
    assert bot.is_closed()


async def test_slash_commands_sync_and_respond(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await sync(bot, standin)
        assert standin.syncs == 1 and standin.commands_scope == standin.guild_id
        assert {command["name"] for command in standin.commands} >= {"echo", "slow", "secret", "Quote"}

        echo = await standin.slash("echo", [{"name": "text", "value": "Saka scored"}])
        response = await standin.wait_for_response(echo, timeout=5)
        assert response.callback_type == 4
        assert response.content == "echo: Saka scored"
        assert response.response["interaction"]["response_message_id"] == echo.original_message["id"]

        slow = await standin.slash("slow")
        reply = await standin.wait_for_reply(slow, timeout=5)
        assert reply.method == "POST" and reply.path.startswith(f"/webhooks/{standin.application_id}/")
        assert reply.content == "done thinking"
        assert [call.callback_type for call in standin.calls_for(slow)] == [5, None]
        assert reply.response["id"] == slow.original_message["id"]  # it resolved "thinking..."

        secret = await standin.slash("secret", user=standin.moderator)
        response = await standin.wait_for_response(secret, timeout=5)
        assert response.content == "for your eyes only"
        assert response.message_data["flags"] & 64
        assert response.response["interaction"]["response_message_ephemeral"] is True


async def test_discords_limits_and_rules_are_enforced(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await sync(bot, standin)
        interaction = await standin.slash("ramble")
        reply = await standin.wait_for_reply(interaction, timeout=5)
        assert reply.content == "refused: 50035"
        assert [call.status for call in standin.calls_for(interaction)] == [400, 200]

        async with aiohttp.ClientSession() as session:
            again = f"{standin.api_base}{interaction.callback_path}?with_response=1"
            async with session.post(again, json={"type": 4, "data": {"content": "twice"}}) as answer:
                assert answer.status == 400
                assert answer.headers["Content-Type"] == "application/json"
                assert (await answer.json())["code"] == 40060


async def test_attachment_option_download_and_file_upload(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await sync(bot, standin)
        upload = standin.add_attachment("report.txt", b"first line\nsecond line\n")
        interaction = await standin.slash("lines", [{"name": "file", "value": upload}])
        edit = await standin.wait_for_reply(interaction, timeout=5)
        assert edit.method == "PATCH" and edit.path.endswith("/messages/@original")
        assert edit.content == "report.txt: 2 lines"
        followup = await standin.wait_for_call(lambda call: call.files != [], timeout=5)
        assert followup.json["content"] == "here it is, shouted"
        assert followup.files == [("upper.txt", b"FIRST LINE\nSECOND LINE\n")]
        assert followup.response["attachments"][0]["filename"] == "upper.txt"


async def test_wrong_token_is_a_login_failure(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    point_discord_at(standin.api_base, standin.gateway_url)
    try:
        with pytest.raises(discord.LoginFailure):
            await asyncio.wait_for(bot.start("not-the-token"), timeout=10)
    finally:
        await bot.close()
    assert [(call.path, call.status) for call in standin.calls] == [("/users/@me", 401)]


async def test_gateway_rejects_a_wrong_token_with_4004(standin: DiscordStandIn) -> None:
    inflator = zlib.decompressobj()
    async with aiohttp.ClientSession() as session:
        url = f"{standin.gateway_url}?v=10&encoding=json&compress=zlib-stream"
        async with session.ws_connect(url) as ws:
            frame = await ws.receive(timeout=5)
            assert frame.data.endswith(b"\x00\x00\xff\xff")
            hello = json.loads(inflator.decompress(frame.data))
            assert hello == {"op": 10, "d": {"heartbeat_interval": 45000}}
            await ws.send_json({"op": 1, "d": None})
            ack = json.loads(inflator.decompress((await ws.receive(timeout=5)).data))
            assert ack["op"] == 11
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 513, "properties": {}}})
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4004


async def test_mention_reaches_on_message_and_reply_is_recorded(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        mark = len(standin.calls)
        # Client.wait_for registers its listener at once, before the first await.
        echoed = bot.wait_for("message", check=lambda message: message.author == bot.user, timeout=5)
        sent = await standin.send_message(f"<@{standin.application_id}> who won?")
        reply = await standin.wait_for_call(
            lambda call: (
                call.method == "POST" and call.path == f"/channels/{standin.channel_general}/messages"
            ),
            timeout=5,
            since=mark,
        )
        assert reply.json["content"] == f"you said: <@{standin.application_id}> who won?"
        assert str(reply.json["message_reference"]["message_id"]) == sent["id"]
        assert reply.response["referenced_message"]["id"] == sent["id"]
        assert standin.messages_sent == [reply.response]
        await echoed  # the reply comes back as MESSAGE_CREATE too, as on Discord
        assert [message.author.id for message in bot.seen_messages] == [
            int(standin.member["user"]["id"]),
            standin.application_id,
        ]


async def test_message_content_needs_the_intent(standin: DiscordStandIn) -> None:
    bot = make_bot(standin, message_content=False)
    async with standin.running(bot):
        await standin.send_message("plain chatter")
        await standin.send_message(f"<@{standin.application_id}> hello")
        await standin.wait_for_call(lambda call: call.path.endswith("/messages"), timeout=5)
        contents = [message.content for message in bot.seen_messages]
        assert contents[:2] == ["", f"<@{standin.application_id}> hello"]


async def test_button_click_reaches_the_view(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await sync(bot, standin)
        command = await standin.slash("confirm")
        response = await standin.wait_for_response(command, timeout=5)
        assert response.message_data["components"][0]["components"][0]["custom_id"] == "confirm"

        click = await standin.click(command.original_message, "confirm", user=standin.moderator)
        update = await standin.wait_for_response(click, timeout=5)
        assert update.callback_type == 7 and update.content == "Confirmed."
        view = bot.views[0]
        assert await asyncio.wait_for(view.wait(), timeout=5) is False
        assert view.clicked_by.id == int(standin.moderator["user"]["id"])
        message = standin.messages[int(command.original_message["id"])]
        assert message["content"] == "Confirmed." and message["components"] == []


async def test_autocomplete_choices_are_recorded(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await sync(bot, standin)
        interaction = await standin.autocomplete("team", [{"name": "name", "value": "ar", "focused": True}])
        response = await standin.wait_for_response(interaction, timeout=5)
        assert bot.autocomplete_inputs == ["ar"]
        assert response.callback_type == 8
        assert response.json["data"]["choices"] == [{"name": "Arsenal", "value": "Arsenal"}]
        assert "resource" not in response.response


async def test_context_menu_quotes_the_message(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        await sync(bot, standin)
        target = await standin.send_message("What a goal", author=standin.moderator)
        interaction = await standin.context_menu("Quote", target)
        response = await standin.wait_for_response(interaction, timeout=5)
        assert response.content == "> What a goal"
        assert response.message_data and interaction.response_type == 4
        assert len(standin.calls_for(interaction)) == 1


async def test_reconnect_resumes_the_session(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        resumed = bot.wait_for("resumed", timeout=5)
        await standin.request_reconnect()
        await resumed
        assert len(standin.gateway_queries) == 2
        await standin.send_message(f"<@{standin.application_id}> still there?")
        reply = await standin.wait_for_call(lambda call: call.path.endswith("/messages"), timeout=5)
        assert reply.json["content"].endswith("still there?")


class FrenchNames(app_commands.Translator):
    """Gives French clients the names and descriptions it is handed (none for other locales)."""

    def __init__(self, french: dict[str, str]) -> None:
        self.french = french

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: object
    ) -> str | None:
        return self.french.get(string.message) if locale is discord.Locale.french else None


async def test_localised_commands_are_checked_as_discord_checks_them(standin: DiscordStandIn) -> None:
    bot = make_bot(standin)
    async with standin.running(bot):
        french = {"echo": "répète", "Repeat some text": "Répète du texte", "text": "texte"}
        await bot.tree.set_translator(FrenchNames(french))
        await sync(bot, standin)
        (echo,) = [command for command in standin.commands if command["name"] == "echo"]
        assert echo["name_localizations"] == {"fr": "répète"}
        assert echo["description_localizations"] == {"fr": "Répète du texte"}
        assert echo["options"][0]["name_localizations"] == {"fr": "texte"}
        # A French client still sends the default names, and says its locale.
        interaction = await standin.slash("echo", [{"name": "text", "value": "Saka"}], locale="fr")
        assert (await standin.wait_for_response(interaction, timeout=5)).content == "echo: Saka"
        assert interaction.payload["locale"] == "fr"

        refused = [
            {"echo": "Répète"},  # not lowercase
            {"echo": "répète tout"},  # a space
            {"echo": "slow"},  # the name of another command, for French clients
            {"Repeat some text": "x" * 101},  # a description over 100 characters
        ]
        for names in refused:
            await bot.tree.set_translator(FrenchNames(names))
            with pytest.raises(app_commands.CommandSyncFailure):
                await sync(bot, standin)
        with pytest.raises(ValueError, match="no locale"):
            await standin.slash("echo", [{"name": "text", "value": "Saka"}], locale="ar")
