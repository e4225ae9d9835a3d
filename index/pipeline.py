"""The answer path's models and fusion, loaded in one place from the settings.

``load_pipeline`` is what the command line, the bot, the benchmarks and ``matchbot eval`` call: it
loads the encoder (the ONNX export when there is one, else sentence-transformers), the later stages the
settings turn on (``index.rerank``), and the fusion (``index.fusion``), with the settings' depth and
threshold applied. A ``Pipeline`` is handed to the ``Library`` that answers with it.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from index.encoder import Encoder
from index.fusion import Fusion
from index.language import LanguageDetector
from index.rerank import WARM_QUESTION, Stage


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """What the settings say of the models (``MATCHBOT_MODEL``, ``MATCHBOT_RERANK``, …)."""

    model: str | None = None  # a local sentence-transformers folder; None: the bundled MiniLM
    rerank: str = "on"  # the cross-encoder: on, off, or a model folder
    late_interaction: str = "on"  # late interaction, likewise
    rerank_passages: int | None = None  # passages the cross-encoder reads; None: the fusion's
    threshold: float | None = None  # None: the fusion's calibrated threshold for the stages in use
    multilingual: str = "on"  # the multilingual encoder: on, off, or a model folder
    word_lookup: bool = True  # BM25 and coverage also read the articles' words nearest a question's


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The encoder, the later stages in cascade order, the fusion, and the threshold to answer."""

    encoder: Encoder  # the primary one: it finds the candidates
    stages: tuple[Stage, ...] = ()
    fusion: Fusion = field(default_factory=Fusion.load)
    threshold_setting: float | None = None  # the server's own bar, when a self-hoster set one
    other_encoders: tuple[Encoder, ...] = ()  # whose vectors the index holds as well, for more scores
    languages: LanguageDetector | None = None  # tells a question's language; None: every one is English
    look_up_words: bool = True  # look a question's words up among the articles' (index.word_lookup)
    glossary: bool = True  # … in the glossary first (index.glossary); off only to measure what it brings

    @property
    def encoders(self) -> tuple[Encoder, ...]:
        """Every encoder the index is built with, the primary one first."""
        return (self.encoder, *self.other_encoders)

    @property
    def threshold(self) -> float:
        """The confidence below which answers are declined: as set, else the fusion's calibrated one
        for the stages in use (a same-language pair's)."""
        return self.threshold_for()

    def threshold_for(self, other: bool = False) -> float:
        """The threshold as set, else the fusion's for the stages in use and the kind of pair an
        answer's best candidate is (``other``: one the English-only readers did not read)."""
        if self.threshold_setting is not None:
            return self.threshold_setting
        return self.fusion.threshold(self.stage_names, other=other)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The later stages in use, by name."""
        return tuple(stage.name for stage in self.stages)

    def warm(self) -> dict[str, float]:
        """Make every model's first call now, on made-up text, so that the first question does not pay
        for it: each encoder encodes a question, each later stage reads a pair (``Stage.warm``). The
        language detector is warmed apart (``LanguageDetector.warm``). Blocking; changes no answer.
        Returns the seconds each took, by name."""
        took = {}
        for encoder in self.encoders:
            started = time.perf_counter()
            encoder.encode([WARM_QUESTION])
            took[encoder.name] = time.perf_counter() - started
        for stage in self.stages:
            warm = getattr(stage, "warm", None)  # a stage made elsewhere (a test's) may have none
            if warm is not None:
                started = time.perf_counter()
                warm()
                took[stage.name] = time.perf_counter() - started
        return took

    def first_stage_only(self) -> Pipeline:
        return replace(self, stages=())

    def with_fusion(self, fusion: Fusion) -> Pipeline:
        return replace(self, fusion=fusion)


def load_pipeline(
    settings: ModelSettings,
    *,
    encoder: Encoder | None = None,
    stages: tuple[Stage, ...] | None = None,
    languages: LanguageDetector | None = None,
) -> Pipeline:
    """Load every model the settings name (but ``encoder``, ``stages`` or the language detector when
    the caller already has them). Blocking (seconds); problems are ModelErrors naming the setting to
    fix."""
    from index.onnx_embedder import load_embedder
    from index.rerank import load_second_stage
    from index.use_encoder import load_multilingual

    fusion = Fusion.load()
    if settings.rerank_passages is not None:
        passages = settings.rerank_passages
        fusion = fusion.with_depth("cross", passages).with_depth("late", max(fusion.depth("late"), passages))
    # The models open side by side: onnxruntime builds its sessions without holding the GIL, so they
    # open while the multilingual encoder is read (about 0.4 s instead of 0.7 s on two cores, README
    # "Speed").
    with ThreadPoolExecutor(3, thread_name_prefix="load") as pool:
        loading_stages = (
            None
            if stages is not None
            else pool.submit(load_second_stage, settings.rerank, settings.late_interaction)
        )
        loading_multilingual = pool.submit(load_multilingual, settings.multilingual)
        if encoder is None:
            encoder = load_embedder(settings.model)
        # in a fixed order (the encoder, the later stages, the multilingual encoder), so that of two
        # broken settings the same one is named each time
        if loading_stages is not None:
            stages = loading_stages.result()
        multilingual = loading_multilingual.result()
    return Pipeline(
        encoder=encoder,
        stages=stages,
        fusion=fusion,
        threshold_setting=settings.threshold,
        other_encoders=(multilingual,) if multilingual is not None else (),
        languages=(languages or LanguageDetector()) if multilingual is not None else None,
        look_up_words=settings.word_lookup,
    )
