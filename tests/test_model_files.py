"""Model files people actually bring: how they are made today, what must run, and the one line when it cannot.

Every model is tiny and built here (tmp_path), nothing is downloaded: an IR converted from a torch module (unnamed
outputs), an ONNX ``If`` on a scalar input, Paddle-style dim names, an ONNX OpenVINO converts only with fixed
shapes, TorchScript named ``.jit``, a Hugging Face checkpoint directory, ONNX with external data, pickled state
dicts under any name. The engines' own exception texts are produced for real where they can be and explained.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import cli_helpers
import numpy as np
import pytest

from workbench.errors import ModelError
from workbench.models import resolve as models
from workbench_engines import formats
from workbench_engines.base import Engine, ModelArtifact, TensorSpec

SOURCE_PATH = re.compile(r"src/\S+\.(?:cpp|cc|h|hpp):\d+")
QUICK = ("--duration", "0.2", "--iterations", "3", "--warmup", "2it", "--no-save", "--quiet")


wb = partial(cli_helpers.wb, timeout=300)


def run_json(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    """``workbench run ... --json FILE``: the process and its record (empty when none was written)."""
    out = tmp_path / f"run-{len(list(tmp_path.glob('run-*.json')))}.json"
    proc = wb("run", *args, *QUICK, "--json", str(out))
    return proc, json.loads(out.read_text()) if out.is_file() else {}


def results(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["engine"]: r for r in record["results"]}


def has_input_flag() -> bool:
    return "--input" in wb("run", "--help").stdout


# ---------------------------------------------------------------------------------------------------------------
# ONNX builders
# ---------------------------------------------------------------------------------------------------------------


def save_onnx(path: Path, nodes: list, inputs: list, outputs: list, inits: list | None = None, opset: int = 17) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, inits or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def if_model(path: Path) -> Path:
    """``y = x if n == 1 else reshape(x, [n, -1])``: runs only when ``n`` divides 4 — a generated value fails."""
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    then = h.make_graph([h.make_node("Identity", ["x"], ["t_out"], name="keep")], "then", [], [
        h.make_tensor_value_info("t_out", T.FLOAT, None)])  # fmt: skip
    other = h.make_graph(
        [
            h.make_node("Unsqueeze", ["n", "axis0"], ["n1"], name="n1"),
            h.make_node("Concat", ["n1", "minus1"], ["target"], axis=0, name="target"),
            h.make_node("Reshape", ["x", "target"], ["e_out"], name="r"),
        ],
        "else",
        [],
        [h.make_tensor_value_info("e_out", T.FLOAT, None)],
        [nh.from_array(np.array([-1], "int64"), "minus1"), nh.from_array(np.array([0], "int64"), "axis0")],
    )
    nodes = [
        h.make_node("Equal", ["n", "one"], ["cond"], name="cond"),
        h.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other, name="If_0"),
    ]
    inputs = [h.make_tensor_value_info("x", T.FLOAT, [1, 4]), h.make_tensor_value_info("n", T.INT64, [])]
    outs = [h.make_tensor_value_info("y", T.FLOAT, None)]
    return save_onnx(path, nodes, inputs, outs, [nh.from_array(np.array(1, "int64"), "one")])


def dynamic_rank_model(path: Path) -> Path:
    """An input without any shape into Conv -> ReduceMean: OpenVINO cannot read it until the rank is known."""
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    weights = nh.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype("float32"), "W")
    axes = nh.from_array(np.array([2, 3], "int64"), "axes")
    nodes = [
        h.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        h.make_node("ReduceMean", ["c", "axes"], ["y"], keepdims=0, name="mean"),
    ]
    x = h.make_value_info("x", h.make_tensor_type_proto(T.FLOAT, None))
    return save_onnx(path, nodes, [x], [h.make_tensor_value_info("y", T.FLOAT, None)], [weights, axes], opset=18)


def paddle_model(path: Path) -> Path:
    """Dims named the way paddle2onnx names them: ``x`` [D0, 3, D1, D2], ``scale`` [D0, D3]."""
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    d = "p2o.DynamicDimension."
    nodes = [
        h.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0, name="mean"),
        h.make_node("Mul", ["m", "scale"], ["y"], name="mul"),
    ]
    inputs = [
        h.make_tensor_value_info("x", T.FLOAT, [d + "0", 3, d + "1", d + "2"]),
        h.make_tensor_value_info("scale", T.FLOAT, [d + "0", d + "3"]),
    ]
    axes = nh.from_array(np.array([2, 3], "int64"), "axes")
    return save_onnx(path, nodes, inputs, [h.make_tensor_value_info("y", T.FLOAT, None)], [axes], opset=18)


def matmul_model(path: Path, *, external: bool) -> Path:
    """``y = x @ W`` with ``W`` (16x8) inline or in the external data file ``<name>.data``."""
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh

    weights = nh.from_array(np.random.default_rng(1).standard_normal((16, 8)).astype("float32"), "W")
    graph = h.make_graph(
        [h.make_node("MatMul", ["x", "W"], ["y"], name="mm")],
        "g",
        [h.make_tensor_value_info("x", T.FLOAT, ["N", 16])],
        [h.make_tensor_value_info("y", T.FLOAT, ["N", 8])],
        [weights],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, location=path.name + ".data", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


class TwoOutputs:
    """Built lazily (torch is imported only by the tests that need it)."""

    @staticmethod
    def module() -> Any:
        import torch

        class Two(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return torch.relu(x) + 1.0, x * 2.0

        return Two().eval()


def ir_from_torch(tmp_path: Path) -> Path:
    """The most common way IRs are made today: ``ov.convert_model(module, example_input=...)`` + ``save_model``."""
    ov = pytest.importorskip("openvino")
    torch = pytest.importorskip("torch")
    model = ov.convert_model(TwoOutputs.module(), example_input=torch.randn(1, 4))
    assert all(not o.get_names() for o in model.outputs)  # the point: these outputs have no tensor names
    xml = tmp_path / "m.xml"
    ov.save_model(model, str(xml))
    return xml


# ---------------------------------------------------------------------------------------------------------------
# OpenVINO reads what OpenVINO can read
# ---------------------------------------------------------------------------------------------------------------


def test_ir_converted_from_torch_has_unnamed_outputs_and_runs(tmp_path: Path) -> None:
    xml = ir_from_torch(tmp_path)
    specs, outputs = models.read_ir_specs(xml)
    assert [s.name for s in specs] == ["x"] and outputs == ["output_0", "output_1"]
    from workbench_engines.openvino_engine import OpenVinoEngine

    art = models.resolve(str(xml), shapes={"x": (2, 4)})
    loaded = OpenVinoEngine.load(art)
    x = np.arange(8, dtype="float32").reshape(2, 4) - 4
    loaded.set_inputs({"x": x})
    loaded.infer()
    out = loaded.outputs()
    assert list(out) == ["output_0", "output_1"] == list(art.outputs)
    np.testing.assert_allclose(out["output_0"], np.maximum(x, 0) + 1, rtol=1e-6)
    np.testing.assert_allclose(out["output_1"], x * 2, rtol=1e-6)
    proc, record = run_json(tmp_path, "--model", str(xml), "-e", "openvino", "--shape", "x=2x4")
    assert proc.returncode == 0, proc.stderr
    assert results(record)["openvino"]["status"] == "ok"


def test_onnx_that_openvino_converts_only_with_fixed_shapes(tmp_path: Path) -> None:
    ov = pytest.importorskip("openvino")
    onnx_path = dynamic_rank_model(tmp_path / "dynrank.onnx")
    with pytest.raises(RuntimeError, match="Conversion is failed for"):
        ov.Core().read_model(str(onnx_path))  # the direct read really fails
    proc, record = run_json(tmp_path, "-m", str(onnx_path), "-e", "openvino,onnxruntime", "--shape", "x=1x3x8x8")
    assert proc.returncode == 0, proc.stderr
    got = results(record)
    assert got["openvino"]["status"] == "ok" and got["openvino"]["parity"]["status"] == "pass"
    converted = got["openvino"]["effective"]["extra"]["converted_ir"]
    assert Path(converted).is_file() and Path(converted).with_suffix(".bin").is_file()
    # the second load reads the cached IR (same key: same content, shapes and OpenVINO)
    from workbench_engines.openvino_engine import OpenVinoEngine

    art = models.resolve(str(onnx_path), shapes={"x": (1, 3, 8, 8)})
    assert OpenVinoEngine.load(art).converted_ir == converted
    # shapes that cannot work say which ops failed, in one line without engine source paths
    bad = models.resolve(str(onnx_path), shapes={"x": (1, 5, 8, 8)})
    with pytest.raises(ModelError) as err:
        OpenVinoEngine.load(bad)
    line = str(err.value)
    assert "Conversion is failed for: Conv-18" in line and "\n" not in line and not SOURCE_PATH.search(line)


# ---------------------------------------------------------------------------------------------------------------
# errors people can act on
# ---------------------------------------------------------------------------------------------------------------


def test_if_on_a_scalar_input_fails_in_one_line_then_runs_with_a_value(tmp_path: Path) -> None:
    onnx_path = if_model(tmp_path / "branchy.onnx")
    proc, record = run_json(tmp_path, "-m", str(onnx_path), "-e", "onnxruntime,openvino")
    assert proc.returncode == 1, proc.stderr
    for engine, result in results(record).items():
        line = result["error"]
        assert result["status"] == "failed" and "\n" not in line, (engine, line)
        assert not SOURCE_PATH.search(line) and "reshape" in line.lower(), (engine, line)
        assert "Traceback" in (result.get("error_detail") or "")  # the full text is kept
    assert "Reshape node 'r' inside If node 'If_0' failed" in results(record)["onnxruntime"]["error"]
    verbose = wb("run", "-m", str(onnx_path), "-e", "onnxruntime", *QUICK, "--verbose")
    assert "full error text" in verbose.stderr and "[ONNXRuntimeError]" in verbose.stderr
    if has_input_flag():
        proc, record = run_json(tmp_path, "-m", str(onnx_path), "-e", "onnxruntime,openvino", "--input", "n=2")
        assert proc.returncode == 0, proc.stderr
        assert all(r["status"] == "ok" for r in record["results"])


def test_explain_error_on_real_engine_exceptions(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    ov = pytest.importorskip("openvino")
    from workbench_engines.onnxruntime_engine import OnnxRuntimeEngine
    from workbench_engines.openvino_engine import OpenVinoEngine

    branchy = if_model(tmp_path / "branchy.onnx")
    feeds = {"x": np.ones((1, 4), "float32"), "n": np.array(30, "int64")}
    with pytest.raises(Exception) as ort_err:
        ort.InferenceSession(str(branchy), providers=["CPUExecutionProvider"]).run(None, feeds)
    assert "reshape_helper.h" in str(ort_err.value)  # the real text carries the source path ...
    assert OnnxRuntimeEngine.explain_error(ort_err.value) == (  # ... the explanation does not
        "Reshape node 'r' inside If node 'If_0' failed: The input tensor cannot be reshaped to the requested "
        "shape. Input shape:{1,4}, requested shape:{30,-1}"
    )
    core = ov.Core()
    request = core.compile_model(core.read_model(str(branchy)), "CPU").create_infer_request()
    with pytest.raises(RuntimeError) as ov_run:
        request.infer({0: feeds["x"], 1: feeds["n"]})
    line = OpenVinoEngine.explain_error(ov_run.value)
    assert "conflicts with the reshape pattern" in line and "If" in line and not SOURCE_PATH.search(line)
    with pytest.raises(RuntimeError) as ov_read:
        core.read_model(str(dynamic_rank_model(tmp_path / "dynrank.onnx")))
    line = OpenVinoEngine.explain_error(ov_read.value)
    assert line.startswith("Conversion is failed for: Conv-18, ReduceMean-18")
    assert "Conv-18 (node 'c'): The input data tensor's rank has to be known (static)" in line
    assert not SOURCE_PATH.search(line) and "\n" not in line
    compiled = core.compile_model(ir_from_torch(tmp_path), "CPU")
    with pytest.raises(RuntimeError) as unnamed:
        compiled.outputs[0].get_any_name()
    assert OpenVinoEngine.explain_error(unnamed.value) == "Attempt to get a name for a Tensor without names"
    text = "Exception from src/inference/src/cpp/core.cpp:84:\nCheck 'false' failed at src/x.cpp:1:\n"
    assert OpenVinoEngine.explain_error(RuntimeError(text + "Conversion is failed for: If-16")) == (
        "Conversion is failed for: If-16"
    )
    assert OpenVinoEngine.explain_error(RuntimeError(text)) == "check 'false' failed"
    with pytest.raises(Exception) as ort_load:
        ort.InferenceSession(str(save_onnx(tmp_path / "unk.onnx", [_node("Foo")], *_io())))
    assert "No Op registered for Foo" in OnnxRuntimeEngine.explain_error(ort_load.value)
    assert Engine.explain_error(ValueError("first\nsecond")) == "first"


def _node(op: str) -> Any:
    from onnx import helper

    return helper.make_node(op, ["x"], ["y"], name="n0")


def _io() -> tuple[list, list]:
    from onnx import TensorProto, helper

    return [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    ]


class Reshaper:
    @staticmethod
    def scripted(path: Path) -> Path:
        import torch

        class Reshape(torch.nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x.reshape(3, -1)

        torch.jit.save(torch.jit.script(Reshape()), str(path))
        return path


def test_torch_explains_torchscript_interpreter_errors(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from workbench_engines.torch_engine import TorchEngine

    module = torch.jit.load(str(Reshaper.scripted(tmp_path / "r.jit")))
    with pytest.raises(RuntimeError) as err:
        module(torch.ones(1, 4))
    assert "The following operation failed in the TorchScript interpreter" in str(err.value)
    assert TorchEngine.explain_error(err.value) == "shape '[3, -1]' is invalid for input of size 4"
    assert TorchEngine.explain_error(ValueError("plain\nmore")) == "plain"


# ---------------------------------------------------------------------------------------------------------------
# formats by content; symbolic dims
# ---------------------------------------------------------------------------------------------------------------


def test_formats_are_recognised_by_content_whatever_the_name(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    onnx_bytes = matmul_model(tmp_path / "mm.onnx", external=False).read_bytes()
    for name in ("model", "model.bin2", "weights.model"):
        (tmp_path / name).write_bytes(onnx_bytes)
        assert formats.detect_format(tmp_path / name) == "onnx"
    ir = tmp_path / "ir.model"
    ir.write_text('<?xml version="1.0"?>\n<!-- made by hand -->\n<net name="x" version="11"><layers/></net>\n')
    assert formats.detect_format(ir) == "openvino"
    script = tmp_path / "traced.jit"
    torch.jit.save(torch.jit.trace(torch.nn.Linear(4, 2).eval(), torch.ones(1, 4)), str(script))
    assert formats.detect_format(script) == "torchscript"
    (tmp_path / "traced").write_bytes(script.read_bytes())
    assert formats.detect_format(tmp_path / "traced") == "torchscript"
    assert not formats.looks_like_onnx(np.random.default_rng(0).bytes(4096), 4096)
    assert not formats.looks_like_onnx(b"<net>", 5)


def test_pickled_state_dicts_are_refused_whatever_the_name(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    state = torch.nn.Linear(4, 2).state_dict()
    files = []
    for name in ("pytorch_model.bin", "model.onnx", "ckpt", "m.xml", "weights.jit"):
        torch.save(state, str(tmp_path / name))
        files.append(tmp_path / name)
    torch.save(state, str(tmp_path / "legacy.model"), _use_new_zipfile_serialization=False)
    files.append(tmp_path / "legacy.model")
    for path in files:
        with pytest.raises(ModelError) as err:
            models.resolve(str(path))
        line = str(err.value)
        assert "looks like a pickled checkpoint (torch.save), which the workbench does not unpickle" in line, path
        assert "export it with torch.jit.save or torch.export.save" in line and "\n" not in line
    proc = wb("run", "-m", str(tmp_path / "ckpt"), "-e", "torch", *QUICK)
    assert proc.returncode == 2 and "looks like a pickled checkpoint" in proc.stderr


def test_exporter_dim_names_are_unbound_and_one_error_lists_them(tmp_path: Path) -> None:
    onnx_path = paddle_model(tmp_path / "det.onnx")
    with pytest.raises(ModelError) as err:
        models.resolve(str(onnx_path))
    line = str(err.value)
    assert line.startswith("det.onnx has unknown dims: 'x' dim 2 ('p2o.DynamicDimension.1'), dim 3")
    assert "'scale' dim 1 ('p2o.DynamicDimension.3')" in line and "\n" not in line
    assert "pass --shape x=1x3x224x224 --shape scale=1x1" in line
    flags = shlex.split(re.search(r"pass ((?:--shape \S+ ?)+)", line).group(1))  # type: ignore[union-attr]
    proc, record = run_json(tmp_path, "-m", str(onnx_path), "-e", "onnxruntime,openvino", *flags)
    assert proc.returncode == 0, proc.stderr
    assert [tuple(i["shape"]) for i in record["model"]["inputs"]] == [(1, 3, 224, 224), (1, 1)]
    one = models.resolve(str(onnx_path), shapes={"x": (2, 3, 64, 64), "scale": (2, 3)})
    assert [s.shape for s in one.inputs] == [(2, 3, 64, 64), (2, 3)]


def test_every_spelling_of_a_free_dim_is_unbound(tmp_path: Path) -> None:
    from onnx import TensorProto as T
    from onnx import helper as h

    value = h.make_tensor_value_info("img", T.FLOAT, ["N", 3, "unk__12", 640])
    dims = value.type.tensor_type.shape.dim
    mask = h.make_tensor_value_info("ids", T.INT64, [1, 7])
    mask.type.tensor_type.shape.dim[1].dim_value = -1  # negative, as some exporters write
    other = h.make_tensor_value_info("extra", T.FLOAT, [1, 5])
    other.type.tensor_type.shape.dim[1].dim_param = ""  # empty name
    outs = [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("o1", "o2", "o3")]
    nodes = [h.make_node("Identity", [i], [o]) for i, o in (("img", "o1"), ("ids", "o2"), ("extra", "o3"))]
    path = save_onnx(tmp_path / "free.onnx", nodes, [value, mask, other], outs)
    assert dims[2].dim_param == "unk__12"
    with pytest.raises(ModelError) as err:
        models.resolve(str(path))
    line = str(err.value)
    assert "'img' dim 2 ('unk__12')" in line and "'ids' dim 1 ('?')" in line and "'extra' dim 1 ('?')" in line
    assert "--shape img=1x3x640x640 --shape ids=1x128 --shape extra=1x1" in line  # the fixed side is kept
    assert models._ir_dim("0") == "?" and models._ir_dim("-1") == "?" and models._ir_dim("7") == 7
    assert models.suggest_shape(TensorSpec("x", (1, "h", "w", 3), "float32")) == (1, 224, 224, 3)
    assert models.suggest_shape(TensorSpec("x", (1, 3, "1..8", "?"), "float32")) == (1, 3, 8, 8)


# ---------------------------------------------------------------------------------------------------------------
# TorchScript named .jit; ONNX with external data
# ---------------------------------------------------------------------------------------------------------------


def test_torchscript_named_jit_runs_on_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    script = tmp_path / "classifier.jit"
    torch.manual_seed(0)
    torch.jit.save(torch.jit.trace(torch.nn.Linear(4, 2).eval(), torch.ones(1, 4)), str(script))
    proc, record = run_json(tmp_path, "-m", str(script), "-e", "torch", "--shape", "input=1x4")
    assert proc.returncode == 0, proc.stderr
    assert results(record)["torch"]["status"] == "ok"


def test_onnx_with_external_data_runs_and_a_missing_data_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    onnx_path = matmul_model(folder / "big.onnx", external=True)
    data = folder / "big.onnx.data"
    assert data.is_file() and data.stat().st_size == 16 * 8 * 4
    proc, record = run_json(tmp_path, "-m", str(onnx_path), "-e", "onnxruntime,openvino")
    assert proc.returncode == 0, proc.stderr
    assert results(record)["openvino"]["parity"]["status"] == "pass"
    data.rename(folder / "elsewhere")
    proc = wb("run", "-m", str(onnx_path), "-e", "onnxruntime,openvino", *QUICK)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: big.onnx keeps its weights in the external data file 'big.onnx.data', which is missing: "
        f"put it beside big.onnx (expected {data})"
    )
    with pytest.raises(ModelError, match="looks like ONNX external data .*: pass the .onnx file beside it"):
        models.resolve(str((folder / "elsewhere").rename(folder / "x.onnx.data")))


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face checkpoint directories
# ---------------------------------------------------------------------------------------------------------------


def save_tiny_checkpoint(folder: Path, kind: str = "bert-classifier") -> Path:
    pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)
    import transformers as tf

    torch.manual_seed(0)
    if kind == "bert-classifier":
        config = tf.BertConfig(  # type: ignore[call-arg]
            vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, num_labels=3,
        )  # fmt: skip
        model = tf.BertForSequenceClassification(config)
    elif kind == "bert-base":
        config = tf.BertConfig(  # type: ignore[call-arg]
            vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64,
        )  # fmt: skip
        model = tf.BertModel(config)
    else:
        config = tf.DistilBertConfig(  # type: ignore[call-arg]
            vocab_size=99, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64
        )
        model = tf.DistilBertForMaskedLM(config)
    model.eval().save_pretrained(str(folder))
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    return folder


def test_hf_checkpoint_dir_runs_on_every_engine_with_parity(tmp_path: Path) -> None:
    folder = save_tiny_checkpoint(tmp_path / "tiny-bert")
    proc, record = run_json(tmp_path, "-m", str(folder), "-e", "torch,onnxruntime,openvino", "--shape",
                            "input_ids=2x16")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = results(record)
    assert all(r["status"] == "ok" for r in got.values()), {e: r["error"] for e, r in got.items()}
    assert got["torch"]["parity"]["status"] == "reference"
    assert got["onnxruntime"]["parity"]["status"] == "pass" and got["openvino"]["parity"]["status"] == "pass"
    names = [(i["name"], tuple(i["shape"])) for i in record["model"]["inputs"]]
    assert names == [("input_ids", (2, 16)), ("attention_mask", (2, 16)), ("token_type_ids", (2, 16))]
    assert record["model"]["task"] == "text-classification"


def test_hf_checkpoint_dirs_resolve_offline_and_cache_by_content(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = save_tiny_checkpoint(tmp_path / "distil", kind="distilbert-mlm")
    art = models.resolve(str(folder), formats={"torch-builtin", "onnx"})
    assert [s.name for s in art.inputs] == ["input_ids", "attention_mask"]  # DistilBERT takes no token types
    assert [s.shape for s in art.inputs] == [(1, 64), (1, 64)]  # 128 by default, capped at the position table
    assert art.inputs[0].vocab_size == 99 and art.outputs == ("logits",)
    assert art.files["torch-builtin"] == str(folder.resolve()) and Path(art.files["onnx"]).is_file()
    again = models.resolve(str(folder), formats={"torch-builtin", "onnx"})
    assert again.files == art.files  # cached: same content, same files
    from workbench_engines.torch_engine import TorchEngine

    loaded = TorchEngine.load(models.resolve(str(folder), shapes={"input_ids": (1, 8)}, formats={"torch-builtin"}))
    from workbench.models.inputs import make_inputs

    loaded.set_inputs(make_inputs(loaded.inputs))
    loaded.infer()
    assert loaded.outputs()["logits"].shape == (1, 8, 99)
    with pytest.raises(Exception, match="takes at most 64 tokens"):
        models.resolve(str(folder), shapes={"input_ids": (1, 65)})
    base = save_tiny_checkpoint(tmp_path / "base", kind="bert-base")
    assert models.resolve(str(base), formats={"torch-builtin"}).outputs == ("last_hidden_state", "pooler_output")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="pytorch_model.bin, a pickle the workbench does not unpickle"):
        models.resolve(str(folder))
    with pytest.raises(ModelError, match="is a directory: pass a model file"):
        models.resolve(str(tmp_path))


def test_artifact_round_trip_keeps_a_checkpoint_dir(tmp_path: Path) -> None:
    art = ModelArtifact("d", "file", {"torch-builtin": str(tmp_path)}, (TensorSpec("input_ids", (1, 4), "int64"),))
    assert ModelArtifact.from_dict(art.to_dict()).files == {"torch-builtin": str(tmp_path)}


def test_default_engines_adapt_to_the_model_file(tmp_path):
    """Without -e, a file only some engines read runs on those (an IR: OpenVINO alone) and says what it skipped;
    with -e naming an engine that cannot read it, the run is refused in one line."""
    import openvino as ov
    import torch

    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    ir = tmp_path / "m.xml"
    ov.save_model(ov.convert_model(module, example_input=torch.zeros(1, 4)), str(ir))
    out = wb(
        "run",
        "-m",
        str(ir),
        "--shape",
        "input=1x4",
        "--duration",
        "0.2",
        "--warmup",
        "0",
        "--no-save",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [r["engine"] for r in doc["results"]] == ["openvino"]
    skipped = {w["message"].split()[0] for w in doc["warnings"] if w["code"] == "engine-skipped"}
    assert skipped == {"torch", "onnxruntime"}
    assert "skipped (not asked for by name)" in out.stdout
    named = wb("run", "-m", str(ir), "--shape", "input=1x4", "-e", "torch,openvino", "--duration", "0.2", "--no-save")
    assert named.returncode == 2 and "torch cannot run" in named.stderr
    parity = wb("parity", "-m", str(ir), "--shape", "input=1x4", "--json")
    assert parity.returncode == 0, parity.stderr
    report = json.loads(parity.stdout)
    assert [e["engine"] for e in report["engines"]] == ["openvino"] and len(report["skipped"]) == 2
