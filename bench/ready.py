"""From start to READY, and from READY to the first answer: ``matchbot run`` as a process, against the
local Discord stand-in.

    python -m bench.ready [--rounds 3] [--no-warm] [--question TEXT] [--timeout 120]

Builds the seed index once (``matchbot index`` in a temporary folder), then, each round, starts the real
``matchbot run`` in a fresh process on a copy of that index, pointed at a fresh stand-in of Discord's
REST API and gateway (``tests/e2e/standin.py``, serving on 127.0.0.1 only: this benchmark needs the
repository's checkout, not only the installed package). As soon as the stand-in has dispatched READY, a
member asks ``/ask`` the sample question; the clock stops when the bot sends the message that carries
the answer (the follow-up after "thinking…"). Prints the median (and the range) over the rounds of:
process start to READY, and READY to that first answer.

``--no-warm`` adds, interleaved round by round, the same bot with its start-up warm-up turned off (no
model's first call made in the background, the language detector's included), so the two are measured
side by side; the answers of both must be the same. Every round is bounded by ``--timeout`` seconds;
the bot is stopped (SIGTERM, then SIGKILL) and the stand-in closed whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import SAMPLE_QUESTION

REPO = Path(__file__).resolve().parents[1]
TOKEN = "MTI5MDAwMDAwMDAwMDAwMDAwMQ.Gbench." + secrets.token_urlsafe(27)  # shaped like a real one
# `matchbot run` with the warm-up left out: the bot as it is, but for the two functions that warm
WITHOUT_WARM_UP = (
    "import sys; import bot.client, bot.i18n; bot.client.warm_up = bot.i18n.warm = lambda *args: None; "
    "from bot.cli import main; sys.exit(main(['run']))"
)


@dataclass(frozen=True, slots=True)
class Round:
    variant: str
    to_ready: float  # seconds from the process's start to READY
    to_answer: float  # seconds from READY to the message carrying the answer
    answer: str  # what the answer shows, to compare variants
    log: str  # the bot's log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ready", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each variant (default 3)")
    parser.add_argument("--no-warm", action="store_true", help="also measure the bot without its warm-up")
    parser.add_argument("--question", default=SAMPLE_QUESTION, help="what the member asks")
    parser.add_argument("--seeds", type=Path, default=REPO / "seeds", help="the articles (default: seeds/)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a round may take (default 120)")
    args = parser.parse_args(argv)
    variants = ["warm-up", "no warm-up"] if args.no_warm else ["warm-up"]
    print(f"load average at start: {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="matchbot-ready-") as folder:
        template = Path(folder) / "template"
        _build_index(args.seeds.resolve(), template, args.timeout)
        rounds = []
        for number in range(args.rounds):
            for variant in variants:
                place = Path(folder) / f"round-{number}-{variant.replace(' ', '-')}"
                shutil.copytree(template, place / "data")
                found = asyncio.run(_round(variant, place, args, warm=variant == "warm-up"))
                print(
                    f"  round {number + 1} {variant}: start → READY {found.to_ready:.2f} s, "
                    f"READY → first answer {found.to_answer:.2f} s",
                    flush=True,
                )
                for line in found.log.splitlines():
                    if "warmed up" in line or "Warming" in line:
                        print(f"    {line.split('] ', 1)[-1]}")
                rounds.append(found)
    print(f"load average at end: {_load()}")
    print(f"\nmedian (min–max) of {args.rounds} round(s), question {args.question!r}:")
    for variant in variants:
        mine = [found for found in rounds if found.variant == variant]
        print(
            f"  {variant:<11} start → READY {_summary([r.to_ready for r in mine])}   "
            f"READY → first answer {_summary([r.to_answer for r in mine])}"
        )
    if len({found.answer for found in rounds}) != 1:
        print("the answers differ between rounds:", *sorted({found.answer for found in rounds}), sep="\n  ")
        return 1
    return 0


def _build_index(seeds: Path, data: Path, timeout: float) -> None:
    environment = _environment(seeds, data)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "index"],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=max(timeout, 600),
    )
    if result.returncode != 0:
        raise SystemExit(f"matchbot index failed: {result.stderr.strip()[-2000:]}")


async def _round(variant: str, place: Path, args: argparse.Namespace, *, warm: bool) -> Round:
    sys.path.insert(0, str(REPO))  # the stand-in lives in the repository's tests
    from tests.e2e.standin import DiscordStandIn

    standin = DiscordStandIn(bot_token=TOKEN)
    await standin.start()
    environment = _environment(args.seeds.resolve(), place / "data") | {
        "DISCORD_TOKEN": TOKEN,
        "DISCORD_API_BASE": standin.api_base,
        "DISCORD_GATEWAY_URL": standin.gateway_url,
        "DEV_GUILD_ID": str(standin.guild_id),
    }
    command = ["-m", "bot", "run"] if warm else ["-c", WITHOUT_WARM_UP]
    log = place / "bot.log"
    process = None
    try:
        async with asyncio.timeout(args.timeout):
            with log.open("wb") as out:
                started = time.perf_counter()
                process = await asyncio.create_subprocess_exec(
                    sys.executable, *command, cwd=REPO, env=environment, stdout=out, stderr=out
                )
            exited = asyncio.ensure_future(process.wait())
            ready = asyncio.ensure_future(standin.wait_ready(args.timeout))
            await asyncio.wait({exited, ready}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                ready.cancel()
                raise SystemExit(f"the bot exited before READY: {log.read_text(errors='replace')[-2000:]}")
            at_ready = time.perf_counter()
            interaction = await standin.slash("ask", [{"name": "question", "value": args.question}])
            reply = await standin.wait_for_reply(interaction, timeout=args.timeout)
            answered = time.perf_counter()
            exited.cancel()
    except TimeoutError:
        raise SystemExit(
            f"{variant}: no answer within {args.timeout:g} s: {log.read_text(errors='replace')[-2000:]}"
        ) from None
    finally:
        await _stop(process)
        await standin.stop()
    embeds = reply.message_data.get("embeds") or []
    if not embeds:
        raise SystemExit(f"{variant}: the first reply carries no answer: {reply.message_data}")
    shown = "\n".join(str(embed.get("description", "")) for embed in embeds)
    return Round(variant, at_ready - started, answered - at_ready, shown, log.read_text(errors="replace"))


async def _stop(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


def _environment(seeds: Path, data: Path) -> dict[str, str]:
    kept = {key: value for key, value in os.environ.items() if not key.startswith(("MATCHBOT_", "DISCORD_"))}
    return kept | {"MATCHBOT_DATA": str(data), "MATCHBOT_SEEDS": str(seeds)}


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
