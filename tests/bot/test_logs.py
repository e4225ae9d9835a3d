"""The token is hidden from every log line: messages, arguments, tracebacks."""

from __future__ import annotations

import io
import logging

import discord

from bot.logs import HIDDEN, HideSecret, hide_token

SECRET = "MTI5.Gabc.secret-token-value"


def test_the_secret_is_replaced_in_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(HideSecret(SECRET))
    logger = logging.getLogger("test-hide-secret")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("identify with %s", SECRET)
        logger.info(f"token={SECRET}")
        try:
            raise RuntimeError(f"login failed for {SECRET}")
        except RuntimeError:
            logger.exception("while logging in")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert SECRET not in written
    assert written.count(HIDDEN) == 3 and "while logging in" in written and "RuntimeError" in written


def test_the_token_quoted_back_in_a_message_is_hidden_in_the_gateways_debug_lines() -> None:
    """A member asks "what is <token>?"; the bot quotes the question with Discord's markdown escaped
    ("_" → "\\_"), and Discord sends the bot its own message back, which the gateway logs at DEBUG as a
    dict: the backslash written twice."""
    token = "MTI5.Gsecret.ab_cd*ef"
    stream = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        hide_token(token)
        event = {"content": discord.utils.escape_markdown(f"what is {token}?")}
        logging.getLogger("test-hide-token").warning("WebSocket Event: %s", event)
        logging.getLogger("test-hide-token").warning("sent %s", event["content"])
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    assert written == f"WebSocket Event: {{'content': 'what is {HIDDEN}?'}}\nsent what is {HIDDEN}?\n"


def test_the_configuration_never_shows_the_token() -> None:
    from bot.config import Config

    config = Config.from_env({"DISCORD_TOKEN": SECRET}, read_dotenv=False)
    assert config.token == SECRET and SECRET not in repr(config) and SECRET not in str(config)


def test_the_database_password_is_hidden_as_in_matchbot_own_messages() -> None:
    from bot.logs import hide_database_password

    url = "postgresql://matchbot:p%40ss-w0rd@db.internal:5432/matchbot"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    logger = logging.getLogger("test-hide-password")
    logger.setLevel(logging.DEBUG)
    try:
        hide_database_password(url)
        logger.debug("connecting to %s", url)
        logger.info("conninfo: password=p@ss-w0rd host=db.internal")
        try:
            raise RuntimeError("authentication failed for p%40ss-w0rd")
        except RuntimeError:
            logger.exception("while connecting")
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    assert "p%40ss-w0rd" not in written and "p@ss-w0rd" not in written
    assert "postgresql://matchbot:***@db.internal:5432/matchbot" in written
    assert "password=*** host" in written and "authentication failed for ***" in written


def test_what_a_library_logs_reaches_the_log_only_at_debug_and_as_debug() -> None:
    from bot.logs import libraries_at_debug

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    parser = logging.getLogger("test-library.parser")  # a module of the library, as trafilatura.utils
    try:
        libraries_at_debug(("test-library",))
        root.setLevel(logging.WARNING)  # matchbot's command line
        parser.error("lxml parsing failed: Document is empty")
        assert stream.getvalue() == ""
        root.setLevel(logging.DEBUG)
        parser.error("lxml parsing failed: Document is empty")
        assert stream.getvalue() == "DEBUG test-library.parser: lxml parsing failed: Document is empty\n"
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
