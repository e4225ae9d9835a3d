"""The bot's own words in the member's language: a gettext catalogue per language, the language of the
current command held in a context variable, and the translator that gives Discord the slash commands'
names and descriptions in each language.

The catalogue's sources are ``bot/locales/<language>/LC_MESSAGES/matchbot.po`` (English is the source
language: its words are the msgids), compiled to ``.mo`` by Babel (``make catalogue``). Every string the
bot shows goes through ``_()`` where it is shown, with named placeholders; a string defined ahead of
time is marked with ``N_()`` and translated with ``_()`` where it is shown.

Which language a reply speaks (``reply_language``): the interaction's locale, when the catalogue has its
language (Discord's ``fr``, ``es-ES``, ``es-419``, ``pt-BR``, ``de``, ``en-US``, ``en-GB``); the
question's language where Discord has no locale for it (Arabic), or where the locale's language is not
in the catalogue; for a mention, which has no locale, the question's language. English otherwise.
Like Red-DiscordBot, the language is set once per command (``speak``), for the rest of the task that
handles it (its error handler included), never passed from call to call. Quotations from articles are
never translated: they are quotes.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

import discord
from babel.numbers import format_decimal, get_decimal_symbol
from discord import app_commands

from index.language import LanguageDetector

log = logging.getLogger(__name__)

DOMAIN = "matchbot"
LOCALE_DIR = Path(__file__).resolve().parent / "locales"
SOURCE = "en"  # the language the msgids are written in
LANGUAGES = ("en", "fr", "es", "pt", "de", "ar")  # the catalogue's languages
RIGHT_TO_LEFT = frozenset({"ar"})
# Discord's locales (discord.Locale values) whose language the catalogue has.
DISCORD_LOCALES = {
    "en-US": "en",
    "en-GB": "en",
    "fr": "fr",
    "es-ES": "es",
    "es-419": "es",
    "pt-BR": "pt",
    "de": "de",
}
# Languages a member's Discord client cannot be set to: only the question tells them.
WITHOUT_DISCORD_LOCALE = frozenset(LANGUAGES) - set(DISCORD_LOCALES.values())

_speaking: ContextVar[str] = ContextVar("matchbot_language", default=SOURCE)


def _(message: str) -> str:
    """``message`` in the language of the current command."""
    return catalogue(_speaking.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message that fits ``count``, in the language of the current command."""
    return catalogue(_speaking.get()).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue without translating it: ``_()`` translates it where shown."""
    return message


def language() -> str:
    """The language of the current command (English outside any)."""
    return _speaking.get()


def speak(language: str) -> None:
    """Speak ``language`` for the rest of the current task: the command, its reply and its errors."""
    _speaking.set(language if language in LANGUAGES else SOURCE)


@contextlib.contextmanager
def speaking(language: str) -> Iterator[None]:
    """Speak ``language`` inside the ``with`` block only."""
    token = _speaking.set(language if language in LANGUAGES else SOURCE)
    try:
        yield
    finally:
        _speaking.reset(token)


def language_of(locale: discord.Locale | str | None) -> str | None:
    """The catalogue's language for a Discord locale, or None when the catalogue has none for it."""
    if locale is None:
        return None
    return DISCORD_LOCALES.get(str(locale.value if isinstance(locale, discord.Locale) else locale))


def reply_language(locale: discord.Locale | str | None, asked: str | None) -> str:
    """The language to reply in, given the member's Discord locale (None for a message) and the
    language the question is written in (None without a question)."""
    by_locale = language_of(locale)
    if asked in WITHOUT_DISCORD_LOCALE or (by_locale is None and asked in LANGUAGES):
        return asked  # type: ignore[return-value]
    return by_locale or SOURCE


def decimal(number: float, digits: int = 2) -> str:
    """``number`` with ``digits`` decimals, written with the decimal sign of the current language."""
    text = f"{number:.{digits}f}"
    current = _speaking.get()
    if current == SOURCE:
        return text
    return text.replace(".", get_decimal_symbol(current, numbering_system="latn"))


def number(value: int) -> str:
    """A whole number with the current language's digit grouping: 1,000 / 1 000 / 1.000."""
    return format_decimal(value, locale=_speaking.get(), numbering_system="latn")


@functools.cache
def catalogue(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the msgids themselves), loaded once."""
    if language == SOURCE:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
    except OSError:
        log.warning(
            "The %s catalogue is not compiled (%s/%s/LC_MESSAGES/%s.mo): replies in English instead; "
            "run `make catalogue`.",
            language,
            LOCALE_DIR,
            language,
            DOMAIN,
        )
        return gettext.NullTranslations()


class CommandTranslator(app_commands.Translator):
    """Slash command names, descriptions, option names and descriptions and choices, from the same
    catalogue, for the Discord locales whose language it has (English is the commands' own)."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = language_of(locale)
        if language is None or language == SOURCE:
            return None  # Discord shows the English
        return catalogue(language).gettext(string.message)


@functools.cache
def shared_detector() -> LanguageDetector:
    """The process's language detector: every bot of the process shares its models (loaded once)."""
    return LanguageDetector()


def warm(detector: LanguageDetector) -> None:
    """Load the detector's models now (about 2 s, holding the GIL: the bot does it as it starts, before
    members can ask)."""
    detector.warm()
