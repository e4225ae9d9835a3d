"""Exports the sentence-transformers model to ONNX for the lean encoder (``index.onnx_embedder``).

Needs torch (the building path); answering never imports this module. The export uses torch's dynamo
exporter, which reproduces MiniLM exactly (the legacy exporter gave wrong outputs), and is checked
against the reference model on sample sentences before it replaces any previous export.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from index.embedding import Embedder
from index.errors import ModelError
from index.onnx import MODEL_FILE, TOKENIZER_FILE
from index.onnx_embedder import SOURCE_FILE, OnnxEmbedder, fingerprint, model_source

log = logging.getLogger(__name__)

TOLERANCE = 1e-4  # largest difference allowed between an exported vector and the reference's
CHECK_TEXTS = [
    "What did Mbappe say to Hakimi after the match?",
    "mbape hakimy",
    "Morocco won the hearts of the global football fanbase with their run to the semi-final, the first "
    "African side to get that far, and Walid Regragui said he was proud of every one of his players.",
    "Tweet by ESPN FC (@ESPNFC) on December 14, 2022: Kylian Mbappe went straight over to console his "
    "good friend and teammate Achraf Hakimi. " * 12,  # longer than the 256 tokens the model reads
]


def export_model(model: str | os.PathLike[str] | None, folder: Path) -> float:
    """Export ``model`` (None: the bundled MiniLM) to ``folder``; returns the largest difference from
    the reference over the check sentences. A failed check leaves any previous export in place."""
    name, source = model_source(model)
    if not (source / TOKENIZER_FILE).is_file():
        raise ModelError(f"{source} has no {TOKENIZER_FILE}, which the lean encoder needs to read text.")
    reference = Embedder.load(model)
    staging = folder.with_name(f".{folder.name}.writing")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _export_transformer(reference, staging / MODEL_FILE)
        shutil.copyfile(source / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        lean = OnnxEmbedder.load(staging, name)
        difference = float(np.abs(lean.encode(CHECK_TEXTS) - reference.encode(CHECK_TEXTS)).max())
        if difference > TOLERANCE:
            raise ModelError(
                f"The ONNX export of {name} differs from the model by {difference:.2g} (more than "
                f"{TOLERANCE:g}): matchbot keeps using the model through sentence-transformers."
            )
        record = {"model": name, "source": str(source.resolve()), "fingerprint": fingerprint(source)}
        (staging / SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    log.info("Exported %s to %s (largest difference %.1g)", name, folder, difference)
    return difference


def _export_transformer(reference: Embedder, path: Path) -> None:
    """The transformer alone (token vectors); pooling and normalisation run in NumPy, as in the
    reference's own Pooling and Normalize modules."""
    import torch

    transformer = reference._model[0].auto_model.eval()  # type: ignore[attr-defined]

    class TokenVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # Three distinct tensors: the exporter merges inputs that are one and the same tensor.
    ids = torch.randint(1000, 20000, (2, 16), dtype=torch.int64)
    sample = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=512)
    shapes = {name: {0: batch, 1: tokens} for name in ("input_ids", "attention_mask", "token_type_ids")}
    quiet = contextlib.redirect_stdout(io.StringIO())  # the exporter narrates each step and warns
    with torch.no_grad(), quiet, warnings.catch_warnings():  # about axis names: not the user's business
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            TokenVectors(),
            sample,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_shapes=shapes,
            dynamo=True,
            external_data=False,
        )
    program.save(str(path))
