"""matchbot end to end: the real MatchBot, Library and models (both stages, as ``matchbot run`` answers
by default; the first stage alone too), against the local Discord stand-in.

Each test plays members and moderators (slash commands, mentions, buttons) and checks what they would
see, on the REST calls the bot made. After every test, every recorded payload is checked against
Discord's limits and for pings (``allowed_mentions`` must be ``{"parse": []}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot import render
from bot.client import MatchBot, run, serve
from bot.config import SAMPLE_QUESTION, Config, ConfigError
from index.embedding import Embedder
from index.pipeline import Pipeline

from .standin import FLAG_EPHEMERAL, DiscordStandIn, Interaction, RecordedCall
from .wiring import SecondStages, bot_config, copy_seeds, open_bot

pytestmark = [pytest.mark.model, pytest.mark.timeout(120), pytest.mark.usefixtures("within_discords_limits")]

SEMI_TITLE = "World Cup 2022 Semi-final France 2-0 Morocco"
NO_PINGS = {"parse": []}
DEFERRED = 5
MESSAGE = 4
AUTOCOMPLETE = 8
REPLY = 19  # message type of a reply


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    return copy_seeds(tmp_path)


@pytest.fixture
def config(standin: DiscordStandIn, tmp_path: Path, seeds: Path) -> Config:
    return bot_config(standin, tmp_path, seeds)


class Runner:
    """Runs MatchBot in this process, as ``matchbot run`` would; ``restart`` keeps the data folder."""

    def __init__(
        self, standin: DiscordStandIn, config: Config, embedder: Embedder, second_stages: SecondStages
    ) -> None:
        self.standin = standin
        self.config = config
        self.embedder = embedder
        self.second_stages = second_stages
        self.bot: MatchBot | None = None
        self._running: contextlib.AsyncExitStack | None = None

    async def start(self) -> MatchBot:
        bot = await open_bot(self.config, self.embedder, self.second_stages)
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(self.standin.running(bot, timeout=30))
        self.bot, self._running = bot, stack
        return bot

    async def stop(self) -> None:
        if self._running is not None:
            stack, self._running = self._running, None
            await asyncio.wait_for(stack.aclose(), 30)

    async def restart(self) -> MatchBot:
        await self.stop()
        return await self.start()

    async def __aenter__(self) -> Runner:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


@pytest_asyncio.fixture
async def matchbot(
    standin: DiscordStandIn, config: Config, embedder: Embedder, second_stages: SecondStages
) -> AsyncIterator[Runner]:
    async with Runner(standin, config, embedder, second_stages) as runner:
        yield runner


# -- what a user sees ------------------------------------------------------------------------------


def payload_problems(calls: list[RecordedCall]) -> list[str]:
    """Every Discord limit broken, every possible ping, and every refused call, in ``calls``."""
    problems = []
    for call in calls:
        if call.status >= 400 and not (call.status == 401 and call.path == "/users/@me"):
            problems.append(f"{call}: {call.response}")
        if call.callback_type == AUTOCOMPLETE:
            choices = (call.json.get("data") or {}).get("choices") or []
            if len(choices) > 25 or any(not 1 <= len(c["name"]) <= 100 for c in choices):
                problems.append(f"{call}: autocomplete choices over the limits")
            continue
        data = call.message_data
        if not isinstance(data, dict) or not ("content" in data or "embeds" in data):
            continue
        allowed = data.get("allowed_mentions") or {}
        if (
            allowed.get("parse") != []
            or set(allowed) - {"parse", "replied_user"}
            or allowed.get("replied_user")
        ):
            problems.append(f"{call}: allowed_mentions {data.get('allowed_mentions')}")
        if len(data.get("content") or "") > 2000:
            problems.append(f"{call}: content over 2000")
        embeds = data.get("embeds") or []
        if len(embeds) > 10:
            problems.append(f"{call}: {len(embeds)} embeds")
        total = 0
        for embed in embeds:
            parts = {
                "title": (embed.get("title") or "", 256),
                "description": (embed.get("description") or "", 4096),
                "footer": ((embed.get("footer") or {}).get("text") or "", 2048),
                "author": ((embed.get("author") or {}).get("name") or "", 256),
            }
            fields = embed.get("fields") or []
            if len(fields) > 25:
                problems.append(f"{call}: {len(fields)} fields")
            for number, field in enumerate(fields):
                parts[f"field {number} name"] = (field["name"], 256)
                parts[f"field {number} value"] = (field["value"], 1024)
            for name, (text, limit) in parts.items():
                total += len(text)
                if len(text) > limit:
                    problems.append(f"{call}: embed {name} is {len(text)} > {limit}")
        if total > 6000:
            problems.append(f"{call}: embeds total {total} > 6000")
        for row in data.get("components") or []:
            for component in row.get("components") or []:
                if len(component.get("label") or "") > 80 or len(component.get("custom_id") or "") > 100:
                    problems.append(f"{call}: component {component} over the limits")
    return problems


def shown_text(call: RecordedCall) -> str:
    """Everything a user reads in a message: content, embed titles, descriptions, fields, footers."""
    data = call.message_data
    parts = [data.get("content") or ""]
    for embed in data.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{field['name']}\n{field['value']}" for field in embed.get("fields") or []]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def custom_ids(call: RecordedCall) -> list[str]:
    rows = call.message_data.get("components") or []
    return [component["custom_id"] for row in rows for component in row.get("components", [])]


def bold_sentences(call: RecordedCall) -> list[str]:
    return re.findall(r"\*\*(.+?)\*\*", shown_text(call))


async def ask(
    standin: DiscordStandIn, question: str, *, user: dict | None = None, **options: Any
) -> Interaction:
    given = [{"name": "question", "value": question}]
    given += [{"name": name, "value": value} for name, value in options.items()]
    return await standin.slash("ask", given, user=user)


async def answer_to(standin: DiscordStandIn, interaction: Interaction) -> RecordedCall:
    """The visible reply to an interaction (for a deferred one, the edit of the original)."""
    return await standin.wait_for_reply(interaction, timeout=30)


def moderation(group: str | None, command: str, **options: Any) -> list[dict]:
    """The options of ``/matchbot [group] command ...``, as Discord sends them."""
    leaf = {"name": command, "type": 1, "options": [{"name": n, "value": v} for n, v in options.items()]}
    return [{"name": group, "type": 2, "options": [leaf]}] if group else [leaf]


async def moderate(
    standin: DiscordStandIn, group: str | None, command: str, *, user: dict | None = None, **options: Any
) -> RecordedCall:
    interaction = await standin.slash(
        "matchbot", moderation(group, command, **options), user=user or standin.moderator
    )
    return await answer_to(standin, interaction)


async def configure(standin: DiscordStandIn, **options: Any) -> str:
    """``/matchbot settings ...`` as the moderator; returns what the settings embed shows."""
    return shown_text(await moderate(standin, None, "settings", **options))


def ephemeral(call: RecordedCall) -> bool:
    """Whether the message the call sent or edited is visible to its user only."""
    response = call.response if isinstance(call.response, dict) else {}
    flags = (call.message_data.get("flags") or 0) | (response.get("flags") or 0)
    return bool(flags & FLAG_EPHEMERAL)


async def mention_reply(standin: DiscordStandIn, message: dict, since: int) -> RecordedCall:
    """The bot's reply (message_reference to ``message``) posted after call number ``since``."""

    def is_reply(call: RecordedCall) -> bool:
        reference = (call.json or {}).get("message_reference") or {}
        return call.method == "POST" and str(reference.get("message_id")) == message["id"]

    return await standin.wait_for_call(is_reply, timeout=30, since=since)


async def no_reply(standin: DiscordStandIn, since: int, wait: float = 1.5) -> None:
    await asyncio.sleep(wait)
    posted = [c for c in standin.calls[since:] if c.method == "POST" and "/messages" in c.path]
    assert posted == []


# -- the tests -------------------------------------------------------------------------------------


async def test_ask_defers_then_quotes_the_sentence_in_bold_with_its_source(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    interaction = await ask(standin, "what was the final score")
    response = await standin.wait_for_response(interaction)
    assert response.callback_type == DEFERRED
    reply = await answer_to(standin, interaction)
    assert reply.method == "PATCH" and reply.path.endswith("/messages/@original")
    assert any("2-0 loss" in sentence for sentence in bold_sentences(reply))
    text = shown_text(reply)
    assert SEMI_TITLE in text and "2022-12-15" in text and "Confidence" in text
    assert reply.message_data["allowed_mentions"] == NO_PINGS
    assert not ephemeral(response)
    assert matchbot.bot is not None and matchbot.bot.metrics.registry is not None
    asked = matchbot.bot.metrics.registry.get_sample_value("matchbot_questions_total", {"source": "slash"})
    assert asked == 1


@pytest.mark.parametrize(
    "switches",
    [{}, {"MATCHBOT_RERANK": "off", "MATCHBOT_LATE_INTERACTION": "off"}],
    ids=["both-stages-by-default", "first-stage-only"],
)
async def test_the_bot_answers_with_the_stages_its_settings_name(
    standin: DiscordStandIn,
    tmp_path: Path,
    seeds: Path,
    embedder: Embedder,
    second_stages: SecondStages,
    seed_library: Any,
    served: Pipeline,
    switches: dict[str, str],
) -> None:
    settings = Config.from_env(switches, read_dotenv=False)
    stages = {"rerank": settings.rerank, "late_interaction": settings.late_interaction}
    runner = Runner(standin, bot_config(standin, tmp_path, seeds, **stages), embedder, second_stages)
    await runner.start()
    try:
        reply = await answer_to(standin, await ask(standin, SAMPLE_QUESTION))
    finally:
        await runner.stop()
    both = served  # what `matchbot run` answers with by default
    in_use, other_one = (both.first_stage_only(), both) if switches else (both, both.first_stage_only())
    expected = seed_library.retriever.with_pipeline(in_use).search(SAMPLE_QUESTION, 3)
    other = seed_library.retriever.with_pipeline(other_one).search(SAMPLE_QUESTION, 3)
    assert render.confidence_line(expected) != render.confidence_line(other)  # the two tell apart
    assert render.confidence_line(expected) in shown_text(reply)  # its confidence and its bar
    assert expected.passages[0].text in shown_text(reply).replace("**", "")


async def test_a_private_ask_is_ephemeral_and_a_blank_question_gets_one_kind_line(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    await configure(standin, cooldown=0)
    private = await ask(standin, "how did the semi end", private=True)
    assert ephemeral(await standin.wait_for_response(private))
    assert "2-0 loss" in shown_text(await answer_to(standin, private))

    blank = await ask(standin, "   ")  # Discord would refuse it; the bot must still answer kindly
    reply = await answer_to(standin, blank)
    assert reply.content.startswith("The question is empty")
    assert "\n" not in reply.content


async def test_mentions_in_questions_and_articles_never_ping(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    await configure(standin, cooldown=0)
    role, fan = standin.role_moderator_id, standin.member["user"]["id"]
    interaction = await ask(standin, f"@everyone <@&{role}> <@{fan}> how did the semi end")
    text = shown_text(await answer_to(standin, interaction))
    assert "@everyone" not in text and not re.search(r"<[@#]&?\d", text)

    assert matchbot.bot is not None
    await asyncio.to_thread(
        matchbot.bot.library.add_article,
        title="Pitch invader @everyone",
        text=(
            f"A pitch invader shouted @everyone and @here and waved at <@{fan}> and <@&{role}> "
            "during the trophy ceremony at the stadium. Stewards led the pitch invader away."
        ),
        date="2022-12-16",
    )
    interaction = await ask(standin, "what did the pitch invader shout at the trophy ceremony")
    reply = await answer_to(standin, interaction)
    text = shown_text(reply)
    assert "pitch invader" in text
    assert "@everyone" not in text and "@here" not in text and not re.search(r"<[@#]&?\d", text)
    assert reply.message_data["allowed_mentions"] == NO_PINGS


async def test_mentions_and_replies_are_answered_where_allowed(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    await configure(standin, cooldown=0)
    bot_id = standin.bot_user["id"]
    since = len(standin.calls)
    question = await standin.send_message(f"<@{bot_id}> was hakimi upset?")
    reply = await mention_reply(standin, question, since)
    assert reply.path == f"/channels/{standin.channel_general}/messages"
    assert reply.response["type"] == REPLY
    assert "Hakimi" in shown_text(reply) and bold_sentences(reply)
    assert reply.json["allowed_mentions"] == {"parse": [], "replied_user": False}

    answer_message = next(m for m in standin.messages_sent if m["id"] == reply.response["id"])
    since = len(standin.calls)
    follow_up = await standin.send_message(
        "what did Regragui say about his players?", referenced_message=answer_message
    )
    second = await mention_reply(standin, follow_up, since)
    assert "Regragui" in shown_text(second)

    await configure(standin, mentions=False)
    since = len(standin.calls)
    await standin.send_message(f"<@{bot_id}> was hakimi upset?")
    await no_reply(standin, since)

    await configure(standin, mentions=True, allow_channel={"id": str(standin.channel_general)})
    since = len(standin.calls)
    await standin.send_message(f"<@{bot_id}> was hakimi upset?", channel_id=standin.channel_offtopic)
    await no_reply(standin, since)
    since = len(standin.calls)
    allowed = await standin.send_message(f"<@{bot_id}> was hakimi upset?")
    await mention_reply(standin, allowed, since)


async def test_the_message_menu_asks_a_message_as_a_question(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    message = await standin.send_message("what was the final score", author=standin.moderator)
    interaction = await standin.context_menu("Ask matchbot", message)
    reply = await answer_to(standin, interaction)
    assert any("2-0 loss" in sentence for sentence in bold_sentences(reply))


async def test_buttons_more_passages_and_votes_work_after_a_restart(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    interaction = await ask(standin, "how did the semi end")
    first = await answer_to(standin, interaction)
    more, up, down = custom_ids(first)
    assert more.startswith("matchbot:more:") and up.endswith(":up") and down.endswith(":down")
    answer_message = interaction.original_message
    assert answer_message is not None

    click = await standin.click(answer_message, more)
    extra = await answer_to(standin, click)
    assert ephemeral(await standin.wait_for_response(click))
    assert "More passages" in shown_text(extra)
    assert bold_sentences(extra) and not set(bold_sentences(extra)) & set(bold_sentences(first))

    for user, vote in ((standin.member, up), (standin.member, up), (standin.moderator, up)):
        reply = await answer_to(standin, await standin.click(answer_message, vote, user=user))
        assert "👍" in reply.content and ephemeral(reply)
    changed = await answer_to(standin, await standin.click(answer_message, down, user=standin.moderator))
    assert "👎" in changed.content
    stats = shown_text(await moderate(standin, None, "stats"))
    assert "👍 1 · 👎 1" in stats and "Questions asked\n1" in stats

    syncs = standin.syncs
    await matchbot.restart()
    assert standin.syncs == syncs  # the command tree did not change: no sync on this start
    click = await standin.click(answer_message, more, user=standin.moderator)
    again = await answer_to(standin, click)
    assert set(bold_sentences(again)) == set(bold_sentences(extra))
    reply = await answer_to(standin, await standin.click(answer_message, up, user=standin.moderator))
    assert "👍" in reply.content
    stats = shown_text(await moderate(standin, None, "stats"))
    assert "👍 2 · 👎 0" in stats


async def test_the_tunnel_answer_and_its_next_page_never_show_a_sentence_twice(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    interaction = await ask(standin, "what happened in the tunnel?")
    first = await answer_to(standin, interaction)
    assert interaction.original_message is not None
    more = custom_ids(first)[0]
    assert more.startswith("matchbot:more:")
    extra = await answer_to(standin, await standin.click(interaction.original_message, more))

    assert (
        "He was seen sitting on the floor of the tunnel greeting other players from the Moroccan team."
        in (bold_sentences(first))
    )
    assert bold_sentences(extra)  # the next page has passages of its own
    assert matchbot.bot is not None
    sentences = [chunk.text for chunk in matchbot.bot.library.retriever.store.chunks]
    answer, page = shown_text(first), shown_text(extra)
    tweet = next(
        text for text in sentences if text.startswith("Love that after reaching the World Cup Final")
    )
    assert answer.count(render.escape(tweet)) == 1  # the tweet after the tunnel sentence: shown once
    twice = [text for text in sentences if (answer + page).count(render.escape(text)) > 1]
    assert twice == []


async def test_articles_are_moderated_by_moderators_only(
    standin: DiscordStandIn, matchbot: Runner, seeds: Path
) -> None:
    before = sorted(path.name for path in seeds.iterdir())
    assert not standin.can_use("matchbot", standin.member)  # hidden from members by default…
    refused = await moderate(  # …and refused if a server shows it to them anyway
        standin, "articles", "add", user=standin.member, title="Nope", text="Members cannot add articles."
    )
    assert refused.callback_type == MESSAGE and ephemeral(refused)
    assert refused.content == render.NOT_MODERATOR
    assert sorted(path.name for path in seeds.iterdir()) == before

    upload = standin.add_attachment(
        "var_review.txt",
        b"title VAR review of the offside goal\ndate 2022-12-16\n\n"
        b"The referee used a lengthy VAR review to disallow a late offside goal by Youssef En-Nesyri. "
        b"Replays showed the striker's shoulder was beyond the last defender.",
    )
    added = await moderate(standin, "articles", "add", file=upload)
    assert added.content.startswith("Added **VAR review of the offside goal**") and ephemeral(added)
    pasted = await moderate(
        standin,
        "articles",
        "add",
        title="Fans in Doha",
        text="Thousands of Moroccan fans sang in the Doha metro for hours after the final whistle.",
        date="2022-12-15",
    )
    assert pasted.content.startswith("Added **Fans in Doha**")

    await configure(standin, cooldown=0)
    for question, title in (
        ("why was the late offside goal disallowed by VAR", "VAR review of the offside goal"),
        ("where did the Moroccan fans sing after the match", "Fans in Doha"),
    ):
        reply = await answer_to(standin, await ask(standin, question))
        assert title in shown_text(reply)

    completion = await standin.autocomplete(
        "matchbot",
        [
            {
                "name": "articles",
                "type": 2,
                "options": [
                    {
                        "name": "remove",
                        "type": 1,
                        "options": [{"name": "article", "value": "var", "focused": True}],
                    }
                ],
            }
        ],
        user=standin.moderator,
    )
    response = await standin.wait_for_response(completion)
    choices = response.json["data"]["choices"]
    assert [choice["name"] for choice in choices] == ["VAR review of the offside goal (2022-12-16)"]
    removed = await moderate(standin, "articles", "remove", article=choices[0]["value"])
    assert removed.content.startswith("Removed. Index: 0 added, 0 changed, 1 removed")
    reply = await answer_to(standin, await ask(standin, "why was the late offside goal disallowed by VAR"))
    assert "VAR review of the offside goal" not in shown_text(reply)
    listing = shown_text(await moderate(standin, "articles", "list"))
    assert "Fans in Doha" in listing and "VAR review" not in listing
    assert sorted(path.name for path in seeds.iterdir()) == sorted([*before, "fans_in_doha.txt"])


async def test_a_second_question_inside_the_cooldown_says_when_to_retry(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    await configure(standin, cooldown=60)
    await answer_to(standin, await ask(standin, "how did the semi end"))
    second = await ask(standin, "was hakimi upset?")
    refused = await standin.wait_for_response(second)
    assert refused.callback_type == MESSAGE and ephemeral(refused)
    assert re.fullmatch(r"You're asking a little fast: try again <t:\d+:R>\.", refused.content)
    other = await ask(standin, "was hakimi upset?", user=standin.moderator)  # another member
    assert "Hakimi" in shown_text(await answer_to(standin, other))


async def test_settings_survive_a_restart(standin: DiscordStandIn, matchbot: Runner) -> None:
    shown = await configure(
        standin,
        passages=2,
        mentions=False,
        cooldown=5,
        min_confidence=0.5,
        allow_channel={"id": str(standin.channel_general)},
    )
    await matchbot.restart()
    assert await configure(standin) == shown
    for expected in (
        "Passages per answer\n2",
        "Mention answers\noff",
        "5 s",
        "0.50",
        f"<#{standin.channel_general}>",
    ):
        assert expected in shown
    reply = await answer_to(standin, await ask(standin, "how did the semi end"))
    assert len(bold_sentences(reply)) == 2


async def test_a_4000_character_sentence_stays_within_discords_limits(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    await configure(standin, cooldown=0, passages=10)
    words = "the floodlights of the Al Bayt stadium glowed over the Moroccan drummers and the French fans"
    sentence = " ".join([words] * 45)[:4000]
    assert matchbot.bot is not None
    await asyncio.to_thread(
        matchbot.bot.library.add_article,
        title="Floodlights " + "very long title " * 30,
        text=f"{sentence}. The drummers kept playing.",
        url="https://example.com/" + "long/" * 100,
    )
    interaction = await ask(standin, "floodlights of the Al Bayt stadium over the Moroccan drummers")
    reply = await answer_to(standin, interaction)
    assert any(sentence.startswith(bold.removesuffix("…")[:200]) for bold in bold_sentences(reply))
    assert "…" in shown_text(reply)


async def test_questions_are_answered_while_a_reindex_runs(
    standin: DiscordStandIn, matchbot: Runner, seeds: Path
) -> None:
    for number in range(6):  # enough text that a rebuild takes a few seconds
        sentences = " ".join(
            f"In report {number}, observation {line} says the midfield pressed high in minute {line * 3}."
            for line in range(25)
        )
        (seeds / f"extra_{number}.txt").write_text(f"title Extra report {number}\n\n{sentences}\n")
    reindex = await standin.slash(
        "matchbot", moderation(None, "reindex", rebuild=True), user=standin.moderator
    )
    assert (await standin.wait_for_response(reindex)).callback_type == DEFERRED
    question = await ask(standin, "how did the semi end")
    answered = await answer_to(standin, question)
    assert "2-0 loss" in shown_text(answered)
    final = await standin.wait_for_call(
        lambda call: reindex.token in call.path and call.content.startswith("Reindexed"), timeout=90
    )
    assert standin.calls.index(answered) < standin.calls.index(final)
    assert re.match(r"Reindexed: \d+ added", final.content)
    edits = [c for c in standin.calls_for(reindex) if c.method == "PATCH"]
    assert all(c.content.startswith(("Reindexing…", "Reindexed")) for c in edits)


async def test_an_off_topic_question_is_declined_with_the_nearest_passages(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    reply = await answer_to(standin, await ask(standin, "how do I bake sourdough bread"))
    text = shown_text(reply)
    assert "No confident answer" in text and "nearest passages" in text
    assert bold_sentences(reply)
    stats = shown_text(await moderate(standin, None, "stats"))
    assert "1× how do I bake sourdough bread" in stats


async def test_a_question_asking_for_what_no_passage_gives_says_what_is_missing(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    reply = await answer_to(standin, await ask(standin, "how old is regragui"))
    text = shown_text(reply)
    assert "No confident answer: none of the passages I found gives an age." in text
    assert "nearest passages" in text and bold_sentences(reply)


async def test_ask_in_a_dm_uses_the_default_settings(standin: DiscordStandIn, matchbot: Runner) -> None:
    interaction = await standin.slash(
        "ask", [{"name": "question", "value": "how did the semi end"}], guild=False
    )
    assert "2-0 loss" in shown_text(await answer_to(standin, interaction))
    refused = await standin.wait_for_response(
        await standin.slash("matchbot", moderation(None, "stats"), user=standin.moderator, guild=False)
    )
    assert refused.content == render.SERVER_ONLY


async def test_a_wrong_or_missing_token_is_one_clear_line(
    standin: DiscordStandIn, config: Config, embedder: Embedder
) -> None:
    with pytest.raises(ConfigError) as wrong:
        await asyncio.wait_for(serve(replace(config, token="wrong-token"), pipeline=Pipeline(embedder)), 60)
    assert "DISCORD_TOKEN" in str(wrong.value) and "\n" not in str(wrong.value)
    with pytest.raises(ConfigError) as missing:
        run(replace(config, token=None))
    assert "DISCORD_TOKEN is not set" in str(missing.value) and "\n" not in str(missing.value)
