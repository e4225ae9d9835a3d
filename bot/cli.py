"""The ``matchbot`` command: build the index, ask questions, evaluate, add pages and follow feeds,
run the Discord bot.

Every failure a user can fix is printed as one line on stderr with exit status 1; no traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import textwrap
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.config import MAX_K, SAMPLE_QUESTION, Config
from bot.logs import libraries_at_debug
from index.errors import MatchbotError, NoArticles, QuestionError
from index.quotes import Quote, merge

if TYPE_CHECKING:  # the modules that load torch are imported only by the commands that need them
    from bot.feeds import FeedPoll, FeedPoller
    from bot.registry import ArticleRegistry
    from bot.settings import SettingsStore
    from index.evaluation import EvalQuestion, Scores, Tuned
    from index.fusion import Fusion
    from index.library import Library
    from index.retriever import Answer, Retriever
    from index.store import IndexReport

WIDTH = 80
LISTED_CHANGES = 10  # articles named per kind of change; the rest are counted
PROGRESS_FROM = 200  # chunks: below this, building is quick enough to need no progress bar

Progress = Callable[[int, int], None]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    libraries_at_debug()  # trafilatura's "Document is empty" must not show above matchbot's line
    try:
        config = Config.from_env(data_dir=args.data, seeds_dir=args.seeds)
        return args.handler(args, config)
    except MatchbotError as exc:
        print(f"matchbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("matchbot: interrupted; the saved index is unchanged.", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data", metavar="DIR", help="index and state folder (MATCHBOT_DATA, default ./data)"
    )
    common.add_argument(
        "--seeds", metavar="DIR", help="articles folder or file (MATCHBOT_SEEDS, default ./seeds)"
    )
    parser = argparse.ArgumentParser(
        prog="matchbot", description="Answer questions about a match by quoting the articles about it."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="build or update the index")
    index.add_argument("--rebuild", action="store_true", help="re-embed every article")
    index.set_defaults(handler=_index)

    ask = commands.add_parser("ask", parents=[common], help="answer questions in the terminal")
    ask.add_argument("question", nargs="?", help=f"the question (default: {SAMPLE_QUESTION!r})")
    ask.add_argument("--file", type=Path, help="a file of questions, one per line")
    ask.add_argument("--k", type=_k, help="passages per answer (default MATCHBOT_K, 3)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.set_defaults(handler=_ask)

    evaluate = commands.add_parser("eval", parents=[common], help="measure retrieval on a question file")
    evaluate.add_argument(
        "file", type=Path, help="JSON lines: {question, expect: [...]} or {question, decline}"
    )
    evaluate.add_argument(
        "--k", type=_depth, default=10, metavar="N", help="rank depth of MRR@N (default 10)"
    )
    evaluate.add_argument("--baselines", action="store_true", help="also run BM25-only and dense-only")
    evaluate.add_argument("--split", help="only the questions of this split (e.g. dev or test)")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument(
        "--tune", action="store_true", help="grid-search the fusion weights on these questions instead"
    )
    evaluate.add_argument(
        "--calibrate",
        action="store_true",
        help="find the confidence threshold that declines the most off-topic questions instead",
    )
    evaluate.add_argument(
        "--max-wrong",
        type=float,
        default=3.0,
        metavar="PERCENT",
        help="with --calibrate: answerable questions it may decline (default 3; -1 for Youden's J)",
    )
    evaluate.set_defaults(handler=_eval)

    learn = commands.add_parser(
        "learn-fusion", parents=[common], help="learn the fusion and the declines from the tuning questions"
    )
    learn.add_argument(
        "--sets",
        type=Path,
        default=Path("tests/data/fusion_sets.json"),
        help="which question files are asked of which articles (default: tests/data/fusion_sets.json)",
    )
    learn.add_argument("--write", action="store_true", help="write index/fusion.json (else only show it)")
    learn.set_defaults(handler=_learn)

    add = commands.add_parser("add", parents=[common], help="add articles from web pages")
    add.add_argument("urls", nargs="+", metavar="URL", help="a page holding an article")
    add.set_defaults(handler=_add)

    feeds = commands.add_parser("feeds", help="follow RSS and Atom feeds").add_subparsers(
        dest="feeds_command", required=True, metavar="COMMAND"
    )
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--server", type=_server, metavar="ID", help="a Discord server's ID (default: 0, the command line)"
    )
    follow = feeds.add_parser("add", parents=[common, server], help="follow a feed and add what matches now")
    follow.add_argument("url", metavar="URL", help="the feed's link (RSS or Atom)")
    follow.add_argument("--keywords", required=True, help='comma-separated, e.g. "Morocco, Mbappe"')
    follow.set_defaults(handler=_feeds_add)
    unfollow = feeds.add_parser("remove", parents=[common, server], help="stop following a feed")
    unfollow.add_argument("url", metavar="URL", help="the feed's link")
    unfollow.add_argument("--articles", action="store_true", help="also remove the articles it added")
    unfollow.set_defaults(handler=_feeds_remove)
    listing = feeds.add_parser("list", parents=[common, server], help="the feeds and what they added")
    listing.set_defaults(handler=_feeds_list)
    poll = feeds.add_parser("poll", parents=[common, server], help="poll the feeds now")
    poll.set_defaults(handler=_feeds_poll)

    export = commands.add_parser(
        "export-model",
        parents=[common],
        help="export the model to ONNX, so questions are answered without loading torch",
    )
    export.set_defaults(handler=_export_model)

    bench = commands.add_parser(
        "bench", parents=[common], help="measure speed beside the naive path, ratios first"
    )
    bench.add_argument(
        "--only",
        default="abcde",
        type=_sections,
        metavar="a,b,…",
        help="sections: a latency, b throughput, c indexing, d scale, e cold start (default all)",
    )
    bench.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        metavar="N",
        help="section d's synthetic corpus sizes (default 10000 100000; add 1000000 for a season's scale)",
    )
    bench.add_argument("--questions", type=Path, help="questions (JSON lines or text); default: the seed's")
    bench.add_argument("--count", type=int, default=256, help="questions per measurement (default 256)")
    bench.set_defaults(handler=_bench)

    run = commands.add_parser("run", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    run.set_defaults(handler=_run)
    return parser


def _k(text: str, most: int = MAX_K) -> int:
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= most:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {most}")
    return value


def _server(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("must be a server ID (digits only)")
    return int(text)


def _depth(text: str) -> int:
    from index.evaluation import MAX_DEPTH

    return _k(text, MAX_DEPTH)


# -- commands ---------------------------------------------------------------------------------------


def _index(args: argparse.Namespace, config: Config) -> int:
    library, report = _open_library(config, rebuild=args.rebuild)
    if not library.empty:
        _print_report(report, config)
        return 0
    for name in report.removed[:LISTED_CHANGES]:
        print(f"  - {name}")
    skipped = f" ({len(report.skipped)} skipped, see the warnings above)" if report.skipped else ""
    print(f"Nothing to index in {config.seeds_dir}{skipped}: {_ways_to_add(config)}.")
    return 0


def _ask(args: argparse.Namespace, config: Config) -> int:
    questions = _questions(args)
    library, report = _open_library(config)
    if library.empty:
        raise NoArticles(f"No articles have been added yet: {_ways_to_add(config)}.")
    if report.modified:
        _print_report(report, config, stream=sys.stderr)
    answers = library.retriever.search_many(questions, k=args.k or config.k)
    for answer in answers:
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else _human(answer))
    return 0


def _eval(args: argparse.Namespace, config: Config) -> int:
    from index.evaluation import BASELINES, answer_all, baseline, by_language, read_questions, score

    questions = read_questions(args.file, args.split)
    library, _ = _open_library(config)
    retriever = library.retriever
    if args.tune:
        return _tune(retriever, questions)
    if args.calibrate:
        return _calibrate(retriever, questions, max_wrong=args.max_wrong, as_json=args.json)
    systems = [("matchbot", retriever, True)]
    if retriever.pipeline.stages:
        systems.append(("first stage", retriever.first_stage_only(), True))
    if args.baselines:
        systems += [(name, baseline(retriever, name), False) for name in BASELINES]
    results, languages = [], []
    for name, system, declines in systems:
        with _progress_bar(f"eval {name}", minimum=500) as progress:
            answers = answer_all(system, questions, k=max(args.k, 3), progress=progress)
        results.append(score(name, questions, answers, k=args.k, declines=declines))
        groups = by_language(questions, answers, retriever.store.chunks)
        pairs = sum("→" in group for group in groups)
        if (len(groups) - pairs > 1 or pairs > 1) and name in {"matchbot", "first stage"}:
            for group, numbers in groups.items():
                asked = [questions[n] for n in numbers]
                found = score(
                    f"{name} {group}", asked, [answers[n] for n in numbers], k=args.k, declines=declines
                )
                languages.append(found)
    if args.json:
        print(json.dumps([result.to_json() for result in results + languages], indent=2))
    else:
        print(_table(results, args.file, args.split))
        if languages:
            print("\nBy the question's language, and by language pair (question→articles answering it):")
            print("\n".join(_table(languages, args.file, args.split).splitlines()[1:]))
    return 0


def _tune(retriever: Retriever, questions: list[EvalQuestion]) -> int:
    from index.evaluation import first_stage_grid, second_stage_grid, tune
    from index.first_stage import COLUMNS

    first = retriever.first_stage_only()
    with _progress_bar("first stage", minimum=50) as progress:
        found = tune(first, questions, first_stage_grid(first.fusion), progress=progress)
    print(f"First stage: {len(found):,} weightings; the best by MRR@10 (then hit@1), and the one in use:")
    _print_best(found, first.fusion, lambda fusion: _weights(fusion, COLUMNS))
    if retriever.pipeline.stages:
        with _progress_bar("second stage", minimum=50) as progress:
            found = tune(retriever, questions, second_stage_grid(retriever.fusion), progress=progress)
        print(f"Second stage: {len(found):,} settings; the best by MRR@10 (then hit@1), and the one in use:")
        later = [stage.name for stage in retriever.pipeline.stages]
        _print_best(found, retriever.fusion, lambda fusion: _weights(fusion, later, depths=True))
    return 0


def _print_best(results: list[Tuned], in_use: Fusion, describe: Callable[[Fusion], str]) -> None:
    for result in results[:5]:
        print(f"  MRR@10 {result.mrr:.3f}  hit@1 {100 * result.hit_at_1:5.1f}%  {describe(result.fusion)}")
    place, current = next((n, r) for n, r in enumerate(results, 1) if r.fusion == in_use)
    print(
        f"  MRR@10 {current.mrr:.3f}  hit@1 {100 * current.hit_at_1:5.1f}%  in use, {_ordinal(place)} of "
        f"{len(results):,}: {describe(current.fusion)}"
    )


def _weights(fusion: Fusion, names: Sequence[str], *, depths: bool = False) -> str:
    """``sentence=0.2 context=0.25 …``, with each later stage's depth when asked; a learned fusion by
    name."""
    if fusion.kind != "mean":
        return "the fusion learned by matchbot learn-fusion (index/fusion.json)"
    parts = [f"{name}={fusion.weights.get(name, 0.0):g}" for name in names]
    if depths:
        parts += [f"{name} depth={fusion.depth(name)}" for name in names]
    return " ".join(parts)


def _calibrate(
    retriever: Retriever, questions: list[EvalQuestion], *, max_wrong: float, as_json: bool
) -> int:
    from dataclasses import asdict

    from index.evaluation import answer_all, calibrate

    with _progress_bar("answers", minimum=500) as progress:
        answers = answer_all(retriever, questions, k=1, progress=progress)
    found = calibrate(questions, answers, max_wrong=max_wrong / 100 if max_wrong >= 0 else None)
    if as_json:
        print(json.dumps(asdict(found) | {"j": found.j}, indent=2))
        return 0
    print(
        f"threshold {found.threshold:.3f}: declines {_percent(found.declined_off_topic)} of off-topic and "
        f"{_percent(found.declined_answerable)} of answerable questions (Youden's J {found.j:.2f});\n"
        f"  the confidence separates answerable from off-topic questions with an area under the ROC curve "
        f"of {found.separation:.3f};\n"
        + (
            f"  it lies between {found.below!r} and {found.above!r}"
            if found.below
            else f"  it lies below every question's confidence, the lowest {found.above!r}'s"
        )
    )
    return 0


def _learn(args: argparse.Namespace, config: Config) -> int:
    from index.fusion import FUSION_FILE
    from index.learning import learn, read_sets
    from index.library import Library
    from index.pipeline import load_pipeline

    sets = read_sets(args.sets)
    pipeline = load_pipeline(config.models)

    def open_retriever(question_set) -> Retriever:  # type: ignore[no-untyped-def]
        folder = config.data_dir / "learning" / "".join(c if c.isalnum() else "_" for c in question_set.name)
        library = Library(question_set.seeds, folder, pipeline, search=config.ann)
        with _progress_bar(f"embedding {question_set.name}") as progress:
            library.reindex(progress=progress)
        return library.retriever

    command = "matchbot learn-fusion --sets " + str(args.sets) + " --write"
    fusion, report = learn(
        sets, open_retriever, command=command, progress=lambda line: print(line, file=sys.stderr)
    )
    for name, figures in report.items():
        shown = (
            f"{label} {pair[0]:.3f} / {pair[1]:.3f}" if isinstance(pair, tuple) else f"C={label:g} {pair:.3f}"
            for label, pair in figures.items()  # type: ignore[union-attr]
        )
        print(f"{name}: " + ", ".join(shown))
    print(json.dumps(fusion.to_json(), indent=2))
    if args.write:
        fusion.save(FUSION_FILE)
        print(f"written to {FUSION_FILE}", file=sys.stderr)
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _add(args: argparse.Namespace, config: Config) -> int:
    from index.web import Fetcher

    async def add(registry: ArticleRegistry) -> int:
        fetcher = Fetcher(config.fetch)
        failed = 0
        for url in args.urls:
            try:
                added = await registry.add_page(fetcher, url)
            except MatchbotError as exc:
                print(f"matchbot: {url}: {exc}", file=sys.stderr)
                failed += 1
                continue
            info = added.info
            facts = ", ".join([*([info.date] if info.date else []), f"{info.chunks} passages"])
            print(f"added {info.title!r} ({facts}) as {info.id}, from {info.url}")
            print(textwrap.fill(added.excerpt, WIDTH, initial_indent="  ", subsequent_indent="  "))
        return 1 if failed else 0

    return _with_registry(config, add)


def _feeds_add(args: argparse.Namespace, config: Config) -> int:
    from index.feeds import parse_keywords

    keywords = parse_keywords(args.keywords)  # before the model loads: fail fast
    server = args.server or 0

    async def follow(poller: FeedPoller) -> FeedPoll:
        return await poller.follow(server, args.url, keywords)

    poll = _with_feeds(config, follow)
    print(f"following {poll.feed.title or poll.feed.url} ({poll.feed.url}) for {', '.join(keywords)}")
    _print_poll(poll)
    return 0


def _feeds_remove(args: argparse.Namespace, config: Config) -> int:
    server = args.server or 0
    if args.articles:

        async def unfollow(poller: FeedPoller) -> list[str]:
            return (await poller.unfollow(server, args.url, remove_articles=True))[1]

        removed = _with_feeds(config, unfollow)
    else:  # the index is not needed: no model to load

        async def forget(store: SettingsStore) -> list[str]:
            from bot.feeds import pick_feed

            await store.unfollow_feed(server, pick_feed(await store.feeds(server), args.url).url)
            return []

        removed = _run_async(_with_store(config, forget))
    kept = "" if args.articles else "; the articles it added are kept"
    print(f"no longer following {args.url}{kept}")
    for article_id in removed:
        print(f"  - {article_id}")
    return 0


def _feeds_list(args: argparse.Namespace, config: Config) -> int:
    async def listing(store: SettingsStore) -> list[str]:
        lines = []
        for feed in await store.feeds(args.server):
            checked = _when(feed.polled_at) if feed.polled_at else "not yet"
            lines += [
                f"{feed.url} — {feed.title or 'untitled'} (server {feed.guild_id})",
                f"  keywords: {', '.join(feed.keywords)}; last checked {checked}",
            ]
            if feed.poll_error:
                lines.append(f"  last error: {feed.poll_error}")
            for entry in await store.feed_entries(feed.guild_id, feed.url, limit=1000):
                what = f"{entry.status:<9} {_when(entry.settled_at or entry.claimed_at)}"
                detail = entry.article_id or entry.message or ""
                lines.append(f"  {what}  {entry.title}" + (f" → {detail}" if detail else ""))
        return lines or ["No feeds are followed: add one with `matchbot feeds add URL --keywords …`."]

    print("\n".join(_run_async(_with_store(config, listing))))
    return 0


def _feeds_poll(args: argparse.Namespace, config: Config) -> int:
    async def poll(poller: FeedPoller) -> list[FeedPoll]:
        return await poller.poll_now(args.server)

    polls = _with_feeds(config, poll)
    for done in polls:
        print(f"{done.feed.url}:")
        _print_poll(done)
    if not polls:
        print("No feeds are followed: add one with `matchbot feeds add URL --keywords …`.")
    return 1 if any(done.error for done in polls) else 0


def _sections(text: str) -> str:
    from bench.speed import SECTIONS

    letters = "".join(part.strip() for part in text.split(","))
    unknown = sorted(set(letters) - set(SECTIONS))
    if unknown or not letters:
        raise argparse.ArgumentTypeError(f"sections are {', '.join(SECTIONS)}; not {text!r}")
    return letters


def _bench(args: argparse.Namespace, config: Config) -> int:
    from bench.speed import run_bench

    print(run_bench(config, args.only, args.questions, args.count, tuple(args.sizes)))
    return 0


def _export_model(args: argparse.Namespace, config: Config) -> int:
    from index.export import export_model
    from index.onnx_embedder import export_folder
    from index.pipeline import load_pipeline

    folder = export_folder(config.model)
    difference = export_model(config.model, folder)
    print(f"Exported the model to {folder} (largest difference from sentence-transformers: {difference:.1g})")
    # every model opened once, so that later starts read the multilingual encoder from its cache and
    # open each ONNX model from its saved optimised graph
    load_pipeline(config.models)
    return 0


def _run(args: argparse.Namespace, config: Config) -> int:
    from bot.client import run  # imports discord only for the bot itself

    run(config)
    return 0


# -- helpers ----------------------------------------------------------------------------------------


def _open_library(config: Config, *, rebuild: bool = False) -> tuple[Library, IndexReport]:
    """Load the models and bring the index in line with the articles, with a progress bar."""
    from index.pipeline import load_pipeline

    library = config.library(load_pipeline(config.models))
    with _progress_bar("embedding") as progress:
        report = library.reindex(rebuild=rebuild, progress=progress)
    return library, report


def _run_async(work: Coroutine[Any, Any, Any]) -> Any:
    import asyncio  # only the commands that use the settings database need it

    return asyncio.run(work)


async def _with_store(config: Config, work: Callable[[SettingsStore], Any]) -> Any:
    """Run ``work`` with the settings store (PostgreSQL at DATABASE_URL, else SQLite), closed after."""
    from bot.settings import open_settings

    store = await open_settings(config)
    try:
        return await work(store)
    finally:
        await store.close()


def _with_registry(config: Config, work: Callable[[ArticleRegistry], Any]) -> Any:
    """Run ``work`` with the article registry over the settings store and the library, so that what
    it adds or removes reaches the bot processes sharing the database, as their own changes do."""
    import asyncio

    from bot.registry import ArticleRegistry

    async def run(store: SettingsStore) -> Any:
        # the store first: a wrong DATABASE_URL fails before the model loads
        library, _ = await asyncio.to_thread(_open_library, config)
        registry = ArticleRegistry(library, store)
        if registry.follows:
            await registry.catch_up()
        return await work(registry)

    return _run_async(_with_store(config, run))


def _with_feeds(config: Config, work: Callable[[FeedPoller], Any]) -> Any:
    """Run ``work`` with a FeedPoller over the settings store and the article registry."""
    from bot.feeds import FeedPoller
    from index.web import Fetcher

    async def run(registry: ArticleRegistry) -> Any:
        poller = FeedPoller(registry.store, registry, Fetcher(config.fetch), interval=config.feed_interval)
        return await work(poller)

    return _with_registry(config, run)


def _print_poll(poll: FeedPoll) -> None:
    if poll.error:
        print(f"  not read: {poll.error}")
    for added in poll.added:
        print(f"  + {added.info.id}: {added.info.title}")
    for item, article_id in poll.duplicates:
        print(f"  = {item.title}: already the article {article_id}")
    for item, message in poll.failed:
        print(f"  ! {item.title}: {message}")
    if poll.waiting:
        print(f"  … {poll.waiting} more matching entries wait for the next poll")
    if not (poll.error or poll.added or poll.duplicates or poll.failed):
        print("  nothing new" if poll.matching or poll.not_modified else "  no entry matches the keywords")


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _questions(args: argparse.Namespace) -> list[str]:
    from index.retriever import check_question

    if args.file is not None:
        if args.question:
            raise QuestionError("Give a question or --file, not both.")
        try:
            lines = args.file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise QuestionError(f"Cannot read the question file {args.file}: {exc}") from None
        questions = [line for line in lines if line.strip()]
        if not questions:
            raise QuestionError(f"The question file {args.file} has no questions in it.")
    else:
        questions = [SAMPLE_QUESTION if args.question is None else args.question]
    return [check_question(question) for question in questions]  # before the model loads: fail fast


@contextmanager
def _progress_bar(label: str, *, minimum: int = PROGRESS_FROM) -> Iterator[Progress]:
    """A progress callback that shows a tqdm bar once there is at least ``minimum`` work; a new total is
    a new phase of the work (the late-interaction vectors after the sentence vectors), with a new bar."""
    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is not None and total != bar.total:
            bar.close()
            bar = None
        if bar is None and total >= minimum:
            from tqdm import tqdm  # imported only when there is a bar to show

            bar = tqdm(total=total, desc=label, unit="item", file=sys.stderr, leave=False)
        if bar is not None:
            bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def _ways_to_add(config: Config) -> str:
    """How to add the first article, as the end of a line (a seeds setting naming a file takes none
    but its own)."""
    if not config.seeds_dir.is_dir():
        return f"add articles to {config.seeds_dir}"
    return (
        f"add one with `matchbot add URL`, put .txt, .md or .jsonl files in {config.seeds_dir}, "
        "or use /matchbot articles add on Discord"
    )


def _print_report(report: IndexReport, config: Config, *, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout  # the skipped files are logged as warnings by the Library already
    for sign, names in (("+", report.added), ("~", report.changed), ("-", report.removed)):
        for name in names[:LISTED_CHANGES]:
            print(f"  {sign} {name}", file=stream)
        if len(names) > LISTED_CHANGES:
            print(f"  {sign} … and {len(names) - LISTED_CHANGES} more", file=stream)
    print(f"Index {config.data_dir / 'index'}: {report.summary()}", file=stream)


# What a declined question asked for that no passage gives (``Answer.missing``), as the terminal says it:
# "None of the passages found <this>."
KINDS = {
    "age": "gives an age",
    "time": "gives a time or a minute of the game",
    "money": "gives a sum of money",
    "count": "gives that number",
    "post": "is a post on social media",
    "scorer": "says who scored",
    "referee": "names the referee",
    "card": "mentions a card",
    "penalty": "mentions a penalty",
    "stadium": "names the stadium",
    "stats": "gives the match's statistics",
    "birth": "says where or when they were born",
    "contract": "mentions a contract",
    "rating": "gives a player's rating",
    "woodwork": "mentions a shot off the post or the bar",
    "extra_time": "mentions extra time or added time",
    "substitution": "mentions a substitution",
    "injury": "mentions an injury",
    "best": "names the man of the match",
    "lineup": "gives a line-up or a formation",
    "broadcast": "says where the match was shown",
    "weather": "mentions the weather",
    "var": "mentions VAR or an offside",
    "assist": "says who set up a goal",
    "next": "names the next match or its opponent",
    "former": "says who held the role before",
    "captain": "names a captain",
    "shirt_number": "gives a shirt number",
    "height": "gives a height or a weight",
    "family": "mentions their family",
    "goalkeeper": "mentions a goalkeeper or a save",
    "fouls": "mentions a foul or a free kick",
    "halftime": "tells of the half-time or of either half",
    "attendance": "gives the attendance",
    "history": "mentions the sides' earlier meetings",
    "trouble": "mentions trouble or the police",
    "betting": "mentions the odds or betting",
    "score": "gives a score",
    "role": "says who they are or what they play as",
    "date": "gives a date",
    "place": "gives a place",
    "club": "gives a club",
    "coach": "gives a coach",
    "number": "gives a number",
}


def _human(answer: Answer) -> str:
    """An answer for the terminal: its passages' sentences quoted, without their context, and those
    next to each other in one article joined into one numbered quote (``index.quotes``) with one
    source."""
    lines = [f"Q: {answer.question}"]
    if not answer.answered:
        kind = KINDS.get(answer.missing or "")
        lines.append(
            f"No confident answer (confidence {answer.confidence:.2f}, below {answer.threshold:.2f})."
            + (f" None of the passages found {kind}." if kind else "")
            + " The nearest passages:"
        )
    for number, quote in enumerate(merge(answer.passages, context=False), start=1):
        lines += [
            textwrap.fill(_quoted(quote), WIDTH, initial_indent=f"{number:>2}. ", subsequent_indent="    "),
            textwrap.fill(f"— {_source(quote)}", WIDTH, initial_indent="    ", subsequent_indent="      "),
        ]
    return "\n".join(lines) + "\n"


def _quoted(quote: Quote) -> str:
    """``“First.” “Next.”``: the quote's sentences in article order, each in quotation marks."""
    return " ".join(f"“{sentence.text}”" for sentence in quote.sentences)


def _source(quote: Quote) -> str:
    """The article's title and date, and the author and date of each tweet quoted."""
    article = ", ".join(part for part in (quote.source.title, quote.source.date) if part)
    tweets = [f"tweet by {t.author}" + (f" on {t.posted}" if t.posted else "") for t in quote.tweets]
    if not tweets:
        return article
    if len(tweets) == len(quote.passages):
        return f"{' and a '.join(tweets)}, quoted in {article}"
    return f"{article}, with a {' and a '.join(tweets)}"


def _table(results: list[Scores], file: Path, split: str | None) -> str:
    first = results[0]
    scope = f" (split {split})" if split else ""
    width = max(12, *(len(r.system) for r in results))
    lines = [
        f"{file}{scope}: {first.answerable} answerable, {first.off_topic} off-topic questions",
        f"{'system':<{width}} {'hit@1':>7} {'hit@3':>7} {f'MRR@{first.k}':>7} {'off-topic declined':>19} "
        f"{'answerable declined':>20}",
    ]
    for r in results:
        declined = _percent(r.declined_off_topic) if r.off_topic else "—"
        wrong = _percent(r.declined_answerable)
        answerable = _percent(r.hit_at_1) if r.answerable else "—"
        lines.append(
            f"{r.system:<{width}} {answerable:>7} {_percent(r.hit_at_3) if r.answerable else '—':>7} "
            f"{r.mrr_at_k:>7.3f} {declined:>19} {wrong if r.answerable else '—':>20}"
        )
    return "\n".join(lines)


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number:,}{suffix}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


if __name__ == "__main__":
    sys.exit(main())
