"""matchbot speaks its member's language, end to end through the Discord stand-in with the real
discord.py client: a French client reads French, an Arabic question is answered in Arabic though
Discord has no Arabic locale, mentions take the question's language, moderators read their own, the
commands are synced with their names in each language, and quotations stay as the article wrote them.

The library here is the seed article with the model-free embedder: what is measured is the bot's own
words around the quotes, whichever passages come back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot import i18n, render
from bot.config import Config

from .standin import DiscordStandIn, RecordedCall
from .test_bot import Runner, bold_sentences, shown_text
from .wiring import SecondStages, bot_config, copy_seeds

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("within_discords_limits")]

FRENCH_QUESTION = "Qu'a dit Mbappé à Hakimi après le match ?"
# Right to left, with Latin names, digits and a would-be ping inside.
ARABIC_QUESTION = "ماذا قال Mbappé لـ Hakimi بعد الفوز 2-0 على المغرب؟ @everyone"
ARABIC_WORDS = "ماذا قال Mbappé لـ Hakimi بعد الفوز 2-0 على المغرب؟"
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def config(standin: DiscordStandIn, tmp_path: Path) -> Config:
    return bot_config(standin, tmp_path, copy_seeds(tmp_path), rerank="off", late_interaction="off")


@pytest_asyncio.fixture
async def matchbot(
    standin: DiscordStandIn, config: Config, fake_embedder, second_stages: SecondStages
) -> AsyncIterator[Runner]:
    async with Runner(standin, config, fake_embedder, second_stages) as runner:
        yield runner


def article_text(config: Config) -> str:
    return " ".join(
        " ".join(path.read_text(encoding="utf-8").split()) for path in sorted(config.seeds_dir.iterdir())
    )


def unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "").strip("…")


def assert_quoted_as_written(reply: RecordedCall, config: Config) -> None:
    """Every bold sentence is the article's own, in the article's language (English here)."""
    quoted = bold_sentences(reply)
    assert quoted, shown_text(reply)
    text = article_text(config)
    for sentence in quoted:
        assert unescaped(sentence) in text, sentence


def in_language(language: str, *messages: str) -> set[str]:
    with i18n.speaking(language):
        return {i18n._(message) for message in messages}


DECLINED = "No confident answer: {reason} The nearest passages, in case they help:"
HEADERS = (
    "More passages:",
    "More passages (none of them a confident answer):",
    "No more passages for this question.",
)


def assert_answer_speaks(language: str, reply: RecordedCall, config: Config) -> dict:
    """The answer's own words are in ``language``: its footer, its header when it has one, its
    button; its quotes are the article's."""
    (embed,) = reply.message_data["embeds"]
    footer = embed["footer"]["text"]
    with i18n.speaking(language):
        answer_word = i18n._("Answer #{number} · {confidence} · quoted as written · rate it with 👍 / 👎")
        confidence = i18n._("Confidence {meter} (answered; the bar is {bar})")
        declined = i18n._("Confidence {meter} (declined; the bar is {bar})")
    assert footer.startswith(answer_word.split("{number}")[0]), footer
    assert footer.split(" · ")[1].startswith((confidence.split("{meter}")[0], declined.split("{meter}")[0]))
    first = embed["description"].split("\n\n")[0]
    if not first.startswith(">"):  # declined: a header before the nearest passages
        (declined_header,) = in_language(language, DECLINED)
        before, after = declined_header.split("{reason}")
        assert first in in_language(language, *HEADERS) or (
            first.startswith(before) and first.endswith(after)
        ), first
    assert_quoted_as_written(reply, config)
    labels = [c.get("label") for row in reply.message_data["components"] for c in row["components"]]
    assert in_language(language, render.MORE_PASSAGES) & set(labels) or len(labels) == 2
    assert not BIDI_CONTROLS.search(shown_text(reply))
    return embed


def button(reply: RecordedCall, prefix: str) -> str:
    rows = reply.message_data["components"]
    return next(
        c["custom_id"] for row in rows for c in row["components"] if c["custom_id"].startswith(prefix)
    )


async def ask(
    standin: DiscordStandIn, question: str, locale: str, user: dict | None = None
) -> tuple[RecordedCall, dict]:
    """``/ask`` from a client in ``locale``: the reply, and the message to click buttons on."""
    given = [{"name": "question", "value": question}]
    interaction = await standin.slash("ask", given, locale=locale, user=user)
    reply = await standin.wait_for_reply(interaction, timeout=30)
    return reply, interaction.original_message


async def test_a_french_client_reads_french_around_quotes_as_written(
    standin: DiscordStandIn, matchbot: Runner, config: Config
) -> None:
    reply, message = await ask(standin, FRENCH_QUESTION, "fr")
    embed = assert_answer_speaks("fr", reply, config)
    assert "citations telles qu'écrites" in embed["footer"]["text"]
    assert re.search(r"\d,\d\d", embed["footer"]["text"])  # a French decimal comma
    assert embed["title"] == "❓ " + FRENCH_QUESTION  # the member's own words, untouched

    more = await standin.click(message, button(reply, "matchbot:more:"), locale="fr")
    extra = await standin.wait_for_reply(more, timeout=30)
    assert_answer_speaks("fr", extra, config)
    assert extra.message_data["embeds"][0]["description"].startswith(
        ("Plus de passages", "Plus aucun passage")
    )

    vote = await standin.click(message, button(reply, "matchbot:vote:"), locale="fr")
    thanks = await standin.wait_for_reply(vote, timeout=10)
    assert thanks.content == "Merci : votre 👍 est noté (votez à nouveau pour le changer)."

    again, _ = await ask(standin, FRENCH_QUESTION, "fr")  # within the cooldown
    assert again.content.startswith("Vous posez vos questions un peu vite : réessayez <t:")


async def test_an_arabic_question_is_answered_in_arabic_right_to_left_intact(
    standin: DiscordStandIn, matchbot: Runner, config: Config
) -> None:
    """Discord has no Arabic locale: the member's client says en-US, the question says Arabic."""
    reply, message = await ask(standin, ARABIC_QUESTION, "en-US")
    embed = assert_answer_speaks("ar", reply, config)
    assert "الاقتباسات كما كُتبت" in embed["footer"]["text"]
    # The question comes back as asked: the same code points, names and digits in place, in order,
    # nothing added to reorder it; the ping is broken.
    assert embed["title"].startswith("❓ " + ARABIC_WORDS)
    assert unicodedata.is_normalized("NFC", embed["title"])
    assert "@\u200beveryone" in embed["title"] and "@everyone" not in embed["title"]

    vote = await standin.click(message, button(reply, "matchbot:vote:"), locale="en-US")
    thanks = await standin.wait_for_reply(vote, timeout=10)
    assert thanks.content == "شكرًا: سُجّل تقييمك 👍 (قيّم من جديد لتغييره)."

    # An English question from an English client is answered in English.
    english, _ = await ask(standin, "What did Mbappe say to Hakimi?", "en-GB", standin.moderator)
    assert_answer_speaks("en", english, config)


async def test_mentions_are_answered_in_the_questions_language(
    standin: DiscordStandIn, matchbot: Runner, config: Config
) -> None:
    bot_id = standin.bot_user["id"]
    french = await standin.send_message(f"<@{bot_id}> Qui a marqué le premier but de la demi-finale ?")
    reply = await standin.wait_for_call(lambda call: _replies_to(call, french), timeout=30)
    assert_answer_speaks("fr", reply, config)

    arabic = await standin.send_message(f"<@{bot_id}> {ARABIC_QUESTION}", author=standin.moderator)
    reply = await standin.wait_for_call(lambda call: _replies_to(call, arabic), timeout=30)
    assert_answer_speaks("ar", reply, config)


def _replies_to(call: RecordedCall, message: dict) -> bool:
    data = call.json if isinstance(call.json, dict) else {}
    reference = data.get("message_reference") or {}
    return call.method == "POST" and str(reference.get("message_id")) == str(message["id"])


async def test_moderators_read_their_own_language(standin: DiscordStandIn, matchbot: Runner) -> None:
    settings = await standin.slash(
        "matchbot", [{"name": "settings", "type": 1, "options": []}], user=standin.moderator, locale="fr"
    )
    shown = shown_text(await standin.wait_for_reply(settings, timeout=30))
    assert shown.startswith("\nRéglages de matchbot pour ce serveur")
    assert "Salons de réponse\npartout" in shown and "Réponses aux mentions\nactivées" in shown
    assert "/demander fonctionne quand même" in shown  # the command as a French client shows it

    listed = await standin.slash(
        "matchbot",
        [{"name": "articles", "type": 2, "options": [{"name": "list", "type": 1}]}],
        user=standin.moderator,
        locale="de",
    )
    shown = shown_text(await standin.wait_for_reply(listed, timeout=30))
    assert shown.startswith("\n1 Artikel indexiert") and " Textstellen" in shown

    refused = await standin.slash(
        "matchbot", [{"name": "stats", "type": 1, "options": []}], user=standin.member, locale="pt-BR"
    )
    reply = await standin.wait_for_reply(refused, timeout=30)
    assert reply.content == "Só membros com a permissão Gerenciar servidor podem usar `/matchbot`."


async def test_the_commands_are_synced_with_their_names_in_each_language(
    standin: DiscordStandIn, matchbot: Runner
) -> None:
    """The stand-in checks every localisation as Discord does (a bad one would refuse the sync)."""
    assert standin.syncs == 1
    commands = {command["name"]: command for command in standin.synced[None]}
    ask_command = commands["ask"]
    assert ask_command["name_localizations"] == {
        "fr": "demander",
        "es-ES": "preguntar",
        "es-419": "preguntar",
        "pt-BR": "perguntar",
        "de": "fragen",
    }
    assert ask_command["description_localizations"]["fr"].startswith("Posez une question sur le match")
    question = ask_command["options"][0]
    assert question["name_localizations"]["es-ES"] == "pregunta"
    assert question["description_localizations"]["de"] == "Was möchtest du wissen?"
    assert commands["Ask matchbot"]["name_localizations"]["fr"] == "Demander à matchbot"
    articles = next(option for option in commands["matchbot"]["options"] if option["name"] == "articles")
    add = next(option for option in articles["options"] if option["name"] == "add")
    assert add["name_localizations"]["de"] == "hinzufügen"
    assert {option["name_localizations"]["fr"] for option in add["options"]} == {
        "titre",
        "fichier",
        "texte",
        "date",
        "url",
    }
