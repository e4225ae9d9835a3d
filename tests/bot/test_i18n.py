"""The bot's words in every language: the catalogue is complete and up to date with the code, every
translation keeps its placeholders and markdown, the compiled catalogues are those of the sources, the
reply's language is chosen as documented, and the slash commands' localised names pass discord.py's
checks and Discord's rules."""

from __future__ import annotations

import asyncio
import gc
import gettext
import re
import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from discord.app_commands.commands import validate_context_menu_name, validate_name

from bot import i18n
from bot.client import MatchBot, build
from bot.config import Config
from index.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]
LOCALES = REPO / "bot" / "locales"
TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.SOURCE]
# The Discord locales the catalogue has a language for, but English (the commands' own words).
TRANSLATED_LOCALES = [locale for locale, language in i18n.DISCORD_LOCALES.items() if language != "en"]
MAKE_CATALOGUE = "run `make catalogue` and translate what it adds"


def read_catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale)


def source_messages() -> dict[str, tuple[str, ...]]:
    """msgid -> (singular, plural) as the .pot holds them."""
    return {
        _key(message): message.id if isinstance(message.id, tuple) else (message.id,)
        for message in read_catalogue(LOCALES / "matchbot.pot")
        if message.id
    }


def _key(message: object) -> str:
    id_ = message.id  # type: ignore[attr-defined]
    return id_[0] if isinstance(id_, tuple) else id_


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def markup(text: str) -> tuple[int, int, int]:
    """How many bold, italic and code marks ``text`` has: a translation keeps the same."""
    bold = text.count("**")
    return bold, text.replace("**", "").count("*"), text.count("`")


# -- the catalogue -------------------------------------------------------------------------------


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_keeping_its_placeholders_and_markdown(language: str) -> None:
    catalogue = read_catalogue(LOCALES / language / "LC_MESSAGES" / "matchbot.po", language)
    problems = []
    for key, source in source_messages().items():
        message = catalogue.get(source[0])
        if message is None:
            problems.append(f"missing: {key!r}")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy (to check, then unmark): {key!r}")
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(placeholders(text) for text in source))
        for form in forms:
            if not form or not form.strip():
                problems.append(f"untranslated: {key!r}")
                continue
            # A plural form may say its number in words (Arabic's مقطعان, two passages), never lose
            # another placeholder or invent one.
            allowed_missing = {"count"} if len(source) == 2 else set()
            if not wanted - allowed_missing <= placeholders(form) <= wanted:
                problems.append(f"placeholders {placeholders(form)} for {wanted}: {key!r} -> {form!r}")
            if markup(form) != markup(source[-1]):
                problems.append(f"markdown changed: {key!r} -> {form!r}")
            try:
                form.format(**dict.fromkeys(wanted, "x"))
            except (ValueError, IndexError, KeyError) as exc:
                problems.append(f"cannot be filled ({exc}): {form!r}")
        if isinstance(message.string, tuple) and len(forms) != catalogue.num_plurals:
            problems.append(f"{len(forms)} plural forms of {catalogue.num_plurals}: {key!r}")
    assert problems == [], MAKE_CATALOGUE


def test_the_catalogue_holds_exactly_the_strings_the_code_marks() -> None:
    """Extracting again, as `make catalogue` does, finds no message the .pot lacks, and the .pot keeps
    none the code dropped."""
    with (LOCALES / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = DEFAULT_KEYWORDS | {"locale_str": None}
    found = {
        messages if isinstance(messages, str) else messages[0]
        for _, _, messages, _, _ in extract_from_dir(
            str(REPO), method_map, options_map, keywords=keywords, comment_tags=("TRANSLATORS:",)
        )
    }
    in_pot = set(source_messages())
    assert sorted(found - in_pot) == [], MAKE_CATALOGUE
    assert sorted(in_pot - found) == [], MAKE_CATALOGUE


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_is_the_source_compiled(language: str) -> None:
    """The .mo the bot reads says what the .po says (a stale .mo would not)."""
    folder = LOCALES / language / "LC_MESSAGES"
    assert (folder / "matchbot.mo").is_file(), f"bot/locales/{language}: {MAKE_CATALOGUE}"
    with (folder / "matchbot.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    source = read_catalogue(folder / "matchbot.po", language)
    plural = gettext.c2py(source.plural_expr)
    stale = []
    for message in source:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for number in (0, 1, 2, 5, 11, 100, 1_000_000):
                if compiled.ngettext(*message.id, number) != message.string[plural(number)]:
                    stale.append(f"{message.id[0]} ({number})")
        elif compiled.gettext(message.id) != message.string:
            stale.append(message.id)
    assert stale == [], "make compiles the .mo from the .po: run `make catalogue` (or `make setup`)"


def test_a_missing_translation_falls_back_to_english_and_an_unknown_language_is_english() -> None:
    with i18n.speaking("fr"):
        assert i18n._("A sentence no catalogue has.") == "A sentence no catalogue has."
        assert i18n._("More passages") == "Plus de passages"
    with i18n.speaking("xx"):
        assert i18n.language() == "en"


@pytest.mark.parametrize(
    ("locale", "asked", "expected"),
    [
        ("fr", "fr", "fr"),
        ("fr", "en", "fr"),  # the member's client language first
        ("en-US", "fr", "en"),
        ("en-GB", None, "en"),
        ("es-ES", None, "es"),
        ("es-419", "en", "es"),
        ("pt-BR", "pt", "pt"),
        ("de", None, "de"),
        ("en-US", "ar", "ar"),  # Discord has no Arabic: the question tells
        ("fr", "ar", "ar"),
        ("ja", "es", "es"),  # a locale the catalogue lacks: the question's language
        ("ja", "ja", "en"),  # neither in the catalogue: English
        (None, "de", "de"),  # a mention: the question's language
        (None, None, "en"),
    ],
)
def test_the_reply_language(locale: str | None, asked: str | None, expected: str) -> None:
    assert i18n.reply_language(locale, asked) == expected
    if locale is not None:
        assert i18n.reply_language(discord.Locale(locale), asked) == expected


def test_the_language_lasts_for_the_block() -> None:
    assert i18n.language() == "en"
    with i18n.speaking("de"):
        assert i18n._("Answered") == "Beantwortet"
        with i18n.speaking("ar"):
            assert i18n._("Answered") == "المُجاب عنها"
        assert i18n.decimal(0.625) == "0,62"
    assert i18n._("Answered") == "Answered" and i18n.decimal(0.625) == "0.62"


async def test_a_commands_language_lasts_for_the_rest_of_its_task_only() -> None:
    """As a command's task sets it (its error handler, run in the same task, speaks it too)."""

    async def command() -> list[str]:
        i18n.speak("fr")
        said = [i18n._("Answered")]
        await asyncio.sleep(0)
        return [*said, await asyncio.to_thread(i18n._, "Answered")]  # a worker thread speaks it too

    assert await asyncio.create_task(command()) == ["Avec réponse", "Avec réponse"]
    assert i18n.language() == "en"


# -- the slash commands in each language ---------------------------------------------------------


@pytest.fixture
async def bot(tmp_path: Path, fake_embedder: object) -> AsyncIterator[MatchBot]:
    """matchbot's commands, loaded as ``matchbot run`` loads them (not logged in)."""
    config = Config(data_dir=tmp_path / "data", seeds_dir=tmp_path / "seeds", model=None, k=3, threshold=None)
    matchbot = await build(config, Pipeline(fake_embedder))  # type: ignore[arg-type]
    await matchbot.add_commands()
    try:
        yield matchbot
    finally:
        await matchbot.close()
        await matchbot.settings.close()
        gc.collect()  # its finalizers run now, not inside a later import (Python 3.11 trips on that)


CHAT_INPUT, SUBCOMMAND, GROUP = 1, 1, 2


def walk(items: list[dict], path: str = "") -> Iterator[tuple[str, dict, list[dict]]]:
    """(path, item, its siblings) for every command (slash or context menu), group, subcommand and
    option; a context menu's path starts with "menu:"."""
    for item in items:
        top = not path
        menu = top and item.get("type", CHAT_INPUT) != CHAT_INPUT
        here = f"menu:{item['name']}" if menu else f"{path} {item['name']}".strip()
        yield here, item, items
        if (top and not menu) or item.get("type") in (SUBCOMMAND, GROUP):
            yield from walk(item.get("options") or [], here)


async def test_every_command_name_and_description_is_localised_and_passes_discords_checks(
    bot: MatchBot,
) -> None:
    payload = await bot.command_payload()
    commands = {command["name"] for command in payload}
    assert {"ask", "matchbot", "Ask matchbot"} <= commands
    problems = []
    for locale in TRANSLATED_LOCALES:
        for path, item, siblings in walk(payload):
            context_menu = path.startswith("menu:")
            name = (item.get("name_localizations") or {}).get(locale)
            if name is None:
                problems.append(f"{locale}: no name for {path}")
                continue
            try:
                (validate_context_menu_name if context_menu else validate_name)(name)
            except ValueError as exc:
                problems.append(f"{locale}: {path} -> {name!r}: {exc}")
            if not context_menu:
                description = (item.get("description_localizations") or {}).get(locale)
                if not description or len(description) > 100 or description == item["description"]:
                    problems.append(f"{locale}: description of {path}: {description!r}")
            shown = [(s.get("name_localizations") or {}).get(locale, s["name"]) for s in siblings]
            if shown.count(name) > 1:
                problems.append(f"{locale}: {name!r} twice beside {path}")
    for locale in ("en-US", "en-GB", "ja", "ko"):  # English, or no catalogue: Discord shows the defaults
        for path, item, _ in walk(payload):
            if locale in (item.get("name_localizations") or {}):
                problems.append(f"{locale}: {path} localised")
    assert problems == []


async def test_messages_name_the_commands_as_the_member_sees_them(bot: MatchBot) -> None:
    """A translated line that names a command (`/matchbot articles add`) names it in that language,
    as the member's Discord shows it (Arabic speakers see the English names)."""
    payload = await bot.command_payload()
    paths: dict[str, dict[str, str]] = {}  # English path -> {locale: localised path}

    for path, item, _ in walk(payload):
        if path.startswith("menu:") or (path.count(" ") and item.get("type") not in (SUBCOMMAND, GROUP)):
            continue  # a context menu, or an option
        parent = path.rpartition(" ")[0]
        names = item.get("name_localizations") or {}
        paths[path] = {
            locale: f"{paths[parent][locale]} {names.get(locale, item['name'])}" if parent else names[locale]
            for locale in TRANSLATED_LOCALES
        }
    assert "matchbot articles add" in paths
    sources = source_messages()
    problems = []
    for language in TRANSLATED:
        locale = next((loc for loc, lang in i18n.DISCORD_LOCALES.items() if lang == language), None)
        catalogue = read_catalogue(LOCALES / language / "LC_MESSAGES" / "matchbot.po", language)
        for key, source in sources.items():
            named = [path for path in paths if re.search(rf"/{re.escape(path)}(?![\w-])", source[0])]
            longest = [path for path in named if not any(other.startswith(path + " ") for other in named)]
            translated = catalogue.get(source[0]).string
            for form in translated if isinstance(translated, tuple) else (translated,):
                for path in longest:
                    wanted = "/" + (paths[path][locale] if locale else path)
                    if wanted not in form:
                        problems.append(f"{language}: {key!r} should name {wanted}: {form!r}")
    assert problems == []
