"""fp32 copies of dynamically quantised ONNX models: the same weights, read without integer kernels.

The second stage's models ship quantised dynamically: each ``MatMul`` became ``DynamicQuantizeLinear`` on
its input (scale and zero point taken from the whole call's input), ``MatMulInteger`` with int8 weights,
then a ``Cast`` and a ``Mul`` by the two scales. Integer kernels differ by processor (AVX-512 VNNI, AVX2,
SSE, ARM), and the activation's scale depends on every text in the call, so a score depends on the
machine and on what else was read with it.

``dequantize`` rewrites each such group back into one fp32 ``MatMul`` whose weight is the int8 weight
dequantised (``(q - zero_point) * scale``): the model's own numbers, multiplied in floating point. Its
scores no longer depend on the call's other inputs, and differ between processors only by rounding.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np


def dequantize(source: Path, target: Path) -> int:
    """Write ``source`` (an ONNX model) to ``target`` with every dynamically quantised MatMul made fp32
    again; returns how many were rewritten. Other nodes are kept as they are."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    dropped: set[int] = set()  # ids of nodes replaced
    added: dict[int, onnx.NodeProto] = {}  # the MatMul standing in for the Mul that ended a group
    new_weights: list[onnx.TensorProto] = []
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        quantized_input, weight, _input_zero, weight_zero = node.input
        quantizer = producer[quantized_input]
        (cast,) = consumers[node.output[0]]
        (scaling,) = consumers[cast.output[0]]
        scales = producer[next(name for name in scaling.input if name != cast.output[0])]
        weight_scale = next(name for name in scales.input if name in weights)
        if quantizer.op_type != "DynamicQuantizeLinear" or cast.op_type != "Cast" or scaling.op_type != "Mul":
            raise ValueError(f"{source}: {node.name} is not a dynamically quantised MatMul")
        real = (
            numpy_helper.to_array(weights[weight]).astype(np.float32)
            - numpy_helper.to_array(weights[weight_zero]).astype(np.float32)
        ) * numpy_helper.to_array(weights[weight_scale]).astype(np.float32)
        name = f"{weight}_fp32"
        new_weights.append(numpy_helper.from_array(real.astype(np.float32), name))
        added[id(scaling)] = helper.make_node(
            "MatMul", [quantizer.input[0], name], [scaling.output[0]], name=f"{node.name}_fp32"
        )
        dropped.update({id(node), id(cast), id(scaling)})

    nodes = [added.get(id(node), node) for node in graph.node if id(node) not in dropped or id(node) in added]
    used = {name for node in nodes for name in node.input}
    nodes = _without_unused(nodes, used, {output.name for output in graph.output})
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [
        tensor for tensor in graph.initializer if tensor.name in {n for node in nodes for n in node.input}
    ]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_weights)
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return len(added)


def _without_unused(nodes: list, used: set[str], outputs: set[str]) -> list:
    """``nodes`` less those none of whose outputs is read (repeatedly: the quantisers and scale
    products that fed only the rewritten groups)."""
    while True:
        kept = [node for node in nodes if any(name in used or name in outputs for name in node.output)]
        if len(kept) == len(nodes):
            return kept
        nodes = kept
        used = {name for node in nodes for name in node.input}


def dequantize_folder(source: Path, target: Path) -> Path:
    """``target`` made a model folder holding the fp32 copy of the model in the folder ``source`` and its
    tokenizer, as a model setting can name it; a folder that already holds one is kept as it is."""
    from index.onnx import MODEL_FILE, TOKENIZER_FILE

    if not (target / MODEL_FILE).is_file():
        target.mkdir(parents=True, exist_ok=True)
        dequantize(source / MODEL_FILE, target / MODEL_FILE)
        shutil.copy(source / TOKENIZER_FILE, target / TOKENIZER_FILE)
    return target
