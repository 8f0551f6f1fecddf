"""Real files, round 3 (issue 20): string tensors, non-tensor outputs, pre-quantized models' real precision,
TensorFlow Lite through OpenVINO, a scalar TorchScript argument, ``--help | head``.

Every model is tiny and built here (tmp_path): ONNX with the helper API (StringConcat, LinearClassifier + ZipMap),
ONNX Runtime's own quantizers, a TFLite flatbuffer written with the ``flatbuffers`` builder (OpenVINO's TFLite
frontend reads it), TorchScript scripted from a source file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path
from typing import Any

import cli_helpers
import numpy as np
import pytest

from workbench_engines import formats

QUICK = ("--duration", "0.2", "--iterations", "3", "--warmup", "2it", "--no-save", "--quiet")
wb = partial(cli_helpers.wb, timeout=300)


def run_json(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    out = tmp_path / f"run-{len(list(tmp_path.glob('run-*.json')))}.json"
    proc = wb("run", *args, *QUICK, "--json", str(out))
    return proc, json.loads(out.read_text()) if out.is_file() else {}


def results(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["engine"]: r for r in record["results"]}


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


# ---------------------------------------------------------------------------------------------------------------
# TensorFlow Lite: a flatbuffer written by hand (schema.fbs field ids), y = x + 1
# ---------------------------------------------------------------------------------------------------------------


def tflite_add(path: Path, shape: tuple[int, ...] = (1, 4), const: float = 1.0) -> Path:
    """A TensorFlow Lite model ``y = x + c`` (one ADD, ``c`` a constant buffer), float32."""
    flatbuffers = pytest.importorskip("flatbuffers")
    b = flatbuffers.Builder(1024)

    def ints(values: list[int]) -> int:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    def tables(offsets: list[int]) -> int:
        b.StartVector(4, len(offsets), 4)
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    data = np.full(shape, const, dtype=np.float32).tobytes()
    b.StartVector(1, len(data), 16)
    for byte in reversed(data):
        b.PrependUint8(byte)
    data_vec = b.EndVector()
    b.StartObject(3)
    empty = b.EndObject()  # buffer 0: the empty buffer every TFLite file starts with
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(0, data_vec, 0)
    weights = b.EndObject()
    tensors = []
    for name, buffer in (("x", 0), ("c", 1), ("y", 0)):
        text, dims = b.CreateString(name), ints(list(shape))
        b.StartObject(10)
        b.PrependUOffsetTRelativeSlot(0, dims, 0)  # shape
        b.PrependInt8Slot(1, 0, 0)  # type FLOAT32
        b.PrependUint32Slot(2, buffer, 0)  # buffer
        b.PrependUOffsetTRelativeSlot(3, text, 0)  # name
        tensors.append(b.EndObject())
    b.StartObject(2)
    add_options = b.EndObject()
    op_in, op_out = ints([0, 1]), ints([2])
    b.StartObject(9)
    b.PrependUint32Slot(0, 0, 0)  # opcode_index
    b.PrependUOffsetTRelativeSlot(1, op_in, 0)
    b.PrependUOffsetTRelativeSlot(2, op_out, 0)
    b.PrependUint8Slot(3, 11, 0)  # builtin_options_type AddOptions
    b.PrependUOffsetTRelativeSlot(4, add_options, 0)
    op = b.EndObject()
    t_vec, sg_in, sg_out, ops, sg_name = tables(tensors), ints([0]), ints([2]), tables([op]), b.CreateString("main")
    b.StartObject(5)
    for slot, value in enumerate((t_vec, sg_in, sg_out, ops, sg_name)):
        b.PrependUOffsetTRelativeSlot(slot, value, 0)
    subgraph = b.EndObject()
    b.StartObject(4)
    b.PrependInt8Slot(0, 0, 0)  # deprecated_builtin_code ADD
    b.PrependInt32Slot(2, 1, 1)  # version
    b.PrependInt32Slot(3, 0, 0)  # builtin_code ADD
    opcode = b.EndObject()
    codes, subgraphs, buffers = tables([opcode]), tables([subgraph]), tables([empty, weights])
    b.StartObject(8)
    b.PrependUint32Slot(0, 3, 0)  # version
    b.PrependUOffsetTRelativeSlot(1, codes, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers, 0)
    b.Finish(b.EndObject(), file_identifier=formats.TFLITE_IDENTIFIER)
    path.write_bytes(bytes(b.Output()))
    return path


def test_tflite_is_recognised_by_content_whatever_the_name(tmp_path: Path) -> None:
    model = tflite_add(tmp_path / "add.tflite")
    assert model.read_bytes()[4:8] == b"TFL3"
    assert formats.detect_format(model) == "tflite"
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(model.read_bytes())
    assert formats.sniff_format(renamed) == "tflite"
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(Exception, match="not a TensorFlow Lite model"):
        formats.detect_format(fake)
    assert formats.engines_for("tflite") == ("openvino",)


def test_tflite_runs_on_openvino_and_other_engines_refuse_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    model = tflite_add(tmp_path / "model.bin")  # recognised by content: OpenVINO itself wants the .tflite suffix
    x = tmp_path / "x.npy"
    np.save(x, np.arange(4, dtype=np.float32).reshape(1, 4))
    proc, record = run_json(tmp_path, "-m", str(model), "-e", "openvino", "--input", f"x={x}")
    assert proc.returncode == 0, proc.stderr
    ov = results(record)["openvino"]
    assert ov["status"] == "ok" and ov["precision_effective"] == "fp32"
    out = wb("parity", "-m", str(model), "-e", "openvino", "--input", f"x={x}")
    assert out.returncode == 0, out.stderr
    refused = wb("run", "-m", str(model), "-e", "onnxruntime", *QUICK)
    assert refused.returncode != 0
    line = one_line_error(refused)
    assert "TensorFlow Lite" in line and "-e openvino" in line


# ---------------------------------------------------------------------------------------------------------------
# small things a user meets first
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["run"], ["sweep"], ["parity"]])
def test_help_into_a_closed_pipe_prints_no_traceback(command: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", *command, "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head -0`: the reader is gone before the help is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def torchscript_with_sample_rate(tmp_path: Path) -> Path:
    source = tmp_path / "srmodel.py"
    source.write_text(
        textwrap.dedent(
            """
            import torch

            class Resample(torch.nn.Module):
                def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
                    if sr != 16000:
                        raise ValueError("expected a 16 kHz sample rate")
                    return x * 2.0

            torch.jit.save(torch.jit.script(Resample()), __import__("sys").argv[1])
            """
        )
    )
    out = tmp_path / "resample.pt"
    subprocess.run([sys.executable, str(source), str(out)], check=True, timeout=120)
    return out


def test_torchscript_scalar_argument_takes_input_value_and_a_failure_suggests_it(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model = torchscript_with_sample_rate(tmp_path)
    proc, record = run_json(tmp_path, "-m", str(model), "-e", "torch", "--shape", "x=1x8")
    assert proc.returncode == 1
    error = results(record)["torch"]["error"]
    assert "expected a 16 kHz sample rate" in error and "--input sr=16000" in error
    proc, record = run_json(tmp_path, "-m", str(model), "-e", "torch", "--shape", "x=1x8", "--input", "sr=16000")
    assert proc.returncode == 0, proc.stderr
    assert results(record)["torch"]["status"] == "ok"


# ---------------------------------------------------------------------------------------------------------------
# pre-quantized files: the precision that ran, read from what the engine executes
# ---------------------------------------------------------------------------------------------------------------


def float_mlp_conv(path: Path) -> Path:
    """x (1x16) -> MatMul -> Relu -> MatMul -> y; img (1x3x8x8) -> Conv -> z. Seeded weights."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
        for name, shape in (("w1", (16, 32)), ("w2", (32, 8)), ("wc", (4, 3, 3, 3)))
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["y"]),
        helper.make_node("Conv", ["img", "wc"], ["z"], pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16]),
            helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 3, 8, 8]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 8, 8]),
        ],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def quantized_files(tmp_path: Path) -> dict[str, Path]:
    """The float model quantized three ways with ONNX Runtime's own tools: dynamic (DynamicQuantizeLinear,
    MatMulInteger, ConvInteger), static QOperator (QLinearMatMul, QLinearConv) and static QDQ."""
    quant = pytest.importorskip("onnxruntime.quantization")
    source = float_mlp_conv(tmp_path / "float.onnx")
    rng = np.random.default_rng(1)

    class Calibration(quant.CalibrationDataReader):
        def __init__(self) -> None:
            self.left = 4

        def get_next(self) -> dict[str, np.ndarray] | None:
            self.left -= 1
            if self.left < 0:
                return None
            return {
                "x": rng.standard_normal((1, 16)).astype(np.float32),
                "img": rng.standard_normal((1, 3, 8, 8)).astype(np.float32),
            }

    out = {"dynamic": tmp_path / "dynamic.onnx", "qoperator": tmp_path / "qop.onnx", "qdq": tmp_path / "qdq.onnx"}
    quant.quantize_dynamic(str(source), str(out["dynamic"]), weight_type=quant.QuantType.QInt8,
                           op_types_to_quantize=["MatMul", "Conv"])  # fmt: skip
    quant.quantize_static(str(source), str(out["qoperator"]), Calibration(), quant_format=quant.QuantFormat.QOperator)
    quant.quantize_static(str(source), str(out["qdq"]), Calibration(), quant_format=quant.QuantFormat.QDQ)
    return out


def test_prequantized_files_report_the_precision_that_ran(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    files = quantized_files(tmp_path)
    for kind, model in files.items():
        proc, record = run_json(tmp_path, "-m", str(model), "-e", "onnxruntime")
        assert proc.returncode == 0, (kind, proc.stderr)
        ort = results(record)["onnxruntime"]
        assert ort["precision_effective"] == "int8", kind  # never fp32 for an int8 graph ORT runs int8
        extra = ort["effective"]["extra"]
        assert extra["int8_share"] == 1.0 and extra["quantized_file"]["ops"], kind
        warning = next(w["message"] for w in ort["warnings"] if w["code"] == "quantized-file")
        assert "already quantized" in warning and "onnxruntime ran int8" in warning
    plain, record = run_json(tmp_path, "-m", str(tmp_path / "float.onnx"), "-e", "onnxruntime")
    assert results(record)["onnxruntime"]["precision_effective"] == "fp32"
    assert "quantized_file" not in results(record)["onnxruntime"]["effective"]["extra"]


def test_openvino_says_what_it_executed_for_a_prequantized_file(tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    files = quantized_files(tmp_path)
    proc, record = run_json(tmp_path, "-m", str(files["qdq"]), "-e", "openvino")
    assert proc.returncode == 0, proc.stderr
    assert results(record)["openvino"]["precision_effective"] == "int8"
    proc, record = run_json(tmp_path, "-m", str(files["dynamic"]), "-e", "onnxruntime,openvino")
    assert proc.returncode == 0, proc.stderr
    ov = results(record)["openvino"]
    # OpenVINO turns MatMulInteger/ConvInteger into f32 FullyConnected/Convolution (runtime precisions say so):
    # the column says what ran, and the warning says that the file was int8 and no int8 kernels ran
    layers = ov["effective"]["extra"]["compute_layers"]
    assert ov["precision_effective"] == ("int8" if set(layers) == {"int8"} else "mixed" if "int8" in layers else "fp32")
    if ov["precision_effective"] == "fp32":
        warning = next(w["message"] for w in ov["warnings"] if w["code"] == "quantized-file")
        assert "no int8 kernels ran" in warning and "MatMulInteger" in warning


# ---------------------------------------------------------------------------------------------------------------
# string tensors
# ---------------------------------------------------------------------------------------------------------------


def string_concat(path: Path) -> Path:
    """y = StringConcat(a, b): two ``tensor(string)`` inputs of one dynamic dim, a string output (opset 20)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("StringConcat", ["a", "b"], ["y"])],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.STRING, ["N"]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.STRING, ["N"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def test_string_inputs_are_read_as_specs_and_generated_seeded() -> None:
    from workbench.models.inputs import make_inputs
    from workbench_engines.base import TensorSpec

    specs = [TensorSpec("text", (2, 3), "string", "text")]
    one, two = make_inputs(specs, seed=3), make_inputs(specs, seed=3)
    assert one["text"].shape == (2, 3) and one["text"].dtype == object
    assert all(isinstance(v, str) and v for v in one["text"].flat)
    assert (one["text"] == two["text"]).all()
    assert not (make_inputs(specs, seed=4)["text"] == one["text"]).all()


def test_string_inputs_from_npy_text_and_txt_files(tmp_path: Path) -> None:
    from workbench.errors import UsageError
    from workbench.models.inputs import InputRequest, feeds_for_job, resolve_inputs, write_job_inputs
    from workbench_engines.base import TensorSpec

    specs = [TensorSpec("a", (2,), "string", "text"), TensorSpec("b", (2,), "string", "text")]
    np.save(tmp_path / "u.npy", np.array(["ab", "cd"]))
    np.save(tmp_path / "b.npy", np.array(["é".encode(), b"x"]))
    np.save(tmp_path / "o.npy", np.array(["ab", "cd"], dtype=object), allow_pickle=True)
    (tmp_path / "lines.txt").write_text("first line\nsecond\n", encoding="utf-8")
    (tmp_path / "three.txt").write_text("1\n2\n3\n")
    for a, b, want in (
        ("u.npy", "b.npy", (["ab", "cd"], ["é", "x"])),
        ("lines.txt", "42", (["first line", "second"], ["42", "42"])),
        ("hello world", "lines.txt", (["hello world"] * 2, ["first line", "second"])),
    ):
        given = tuple((n, str(tmp_path / v) if v.endswith((".npy", ".txt")) else v) for n, v in (("a", a), ("b", b)))
        resolved = resolve_inputs(InputRequest(given=given), specs)
        feeds = feeds_for_job(specs, write_job_inputs(resolved, tmp_path / "job"), seed=0)
        for name, values in zip("ab", want):
            assert feeds[name].dtype == object and feeds[name].tolist() == values
    refusals = {
        "o.npy": "does not unpickle",
        "three.txt": "--shape a=3",
    }
    for file, words in refusals.items():
        with pytest.raises(UsageError, match=words):
            resolve_inputs(InputRequest(given=(("a", str(tmp_path / file)),)), specs)
    with pytest.raises(UsageError, match="is not a number"):
        resolve_inputs(InputRequest(given=(("x", "hello"),)), [TensorSpec("x", (1,), "float32")])
    with pytest.raises(UsageError, match="text file"):
        resolve_inputs(InputRequest(given=(("x", str(tmp_path / "lines.txt")),)), [TensorSpec("x", (2,), "float32")])


def test_string_model_runs_on_onnxruntime_and_openvino_names_it(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = string_concat(tmp_path / "concat.onnx")
    (tmp_path / "a.txt").write_text("hello\nworld\n")
    np.save(tmp_path / "b.npy", np.array([b" there", b"!"]))
    args = ("-m", str(model), "--shape", "a=2", "--shape", "b=2")
    proc, record = run_json(tmp_path, *args, "-e", "onnxruntime", "--input", f"a={tmp_path / 'a.txt'}",
                            "--input", f"b={tmp_path / 'b.npy'}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert results(record)["onnxruntime"]["status"] == "ok"
    assert [i["dtype"] for i in record["model"]["inputs"]] == ["string", "string"]
    proc, record = run_json(tmp_path, "-m", str(model), "-e", "onnxruntime")  # generated strings
    assert proc.returncode == 0, proc.stderr
    if pytest.importorskip("openvino"):
        proc, record = run_json(tmp_path, "-m", str(model), "-e", "openvino")
        assert proc.returncode == 1
        error = results(record)["openvino"]["error"]
        assert "StringConcat" in error and "-e onnxruntime" in error and "\n" not in error


def test_string_outputs_are_compared_exactly() -> None:
    from workbench.stats.parity import compare

    ref = {"y": np.array(["ab", "cd"]), "n": np.array([1.0, 2.0], dtype=np.float32)}
    same = compare(ref, {"y": np.array(["ab", "cd"], dtype=object), "n": ref["n"]}, precision="fp32",
                   task="generic", reference="onnxruntime fp32")  # fmt: skip
    assert same.status == "pass" and same.outputs[0]["compared"] == "exact (strings)"
    other = compare(ref, {"y": np.array(["ab", "XX"]), "n": ref["n"]}, precision="fp32", task="generic",
                    reference="onnxruntime fp32")  # fmt: skip
    assert other.status == "fail" and "1 of 2 strings differ" in other.message


# ---------------------------------------------------------------------------------------------------------------
# non-tensor outputs: ONNX-ML LinearClassifier + ZipMap (what scikit-learn converters emit)
# ---------------------------------------------------------------------------------------------------------------


def zipmap_classifier(path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node(
            "LinearClassifier",
            ["X"],
            ["label", "scores"],
            domain="ai.onnx.ml",
            coefficients=[0.5, -1.0, 0.25, 1.0, 0.5, -0.5],
            intercepts=[0.1, -0.1],
            classlabels_ints=[0, 1],
            post_transform="LOGISTIC",
        ),  # fmt: skip
        helper.make_node("ZipMap", ["scores"], ["probabilities"], domain="ai.onnx.ml", classlabels_int64s=[0, 1]),
    ]
    maps = helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    )
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_value_info("probabilities", maps),
        ],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_sequence_of_maps_output_is_timed_on_onnxruntime(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = zipmap_classifier(tmp_path / "classifier.onnx")
    proc, record = run_json(tmp_path, "-m", str(model), "-e", "onnxruntime", "--batch", "4")
    assert proc.returncode == 0, proc.stderr
    ort = results(record)["onnxruntime"]
    assert ort["status"] == "ok" and ort["iterations"] >= 3 and ort["latency_ms"]["p50"] > 0
    if pytest.importorskip("openvino"):
        proc, record = run_json(tmp_path, "-m", str(model), "-e", "openvino")
        assert proc.returncode == 1
        error = results(record)["openvino"]["error"]
        assert "'probabilities' is not a tensor" in error and "-e onnxruntime" in error


def test_non_tensor_outputs_become_comparable_arrays_and_parity_says_what_it_skipped() -> None:
    from workbench.stats.parity import compare
    from workbench_engines.base import comparable_outputs

    maps = [{0: 0.25, 1: 0.75}, {1: 0.5, 0: 0.5}]
    out = comparable_outputs({"label": np.array([1, 0]), "probabilities": maps, "ragged": [{0: 1.0}, {1: 2.0}]})
    assert out["probabilities"].tolist() == [[0.25, 0.75], [0.5, 0.5]]
    engine = dict(out, probabilities=out["probabilities"] + np.float32(1e-6))
    parity = compare(out, engine, precision="fp32", task="generic", reference="onnxruntime fp32")
    assert parity.status == "pass"
    by_name = {e["name"]: e for e in parity.outputs}
    assert "sequence of 2 maps" in by_name["probabilities"]["compared"]
    assert by_name["ragged"]["status"] == "skipped" and "different keys" in by_name["ragged"]["message"]
    assert "not compared: output 'ragged'" in parity.message
    wrong = dict(engine, probabilities=out["probabilities"][:, ::-1].copy())
    assert compare(out, wrong, precision="fp32", task="generic", reference="onnxruntime fp32").status == "fail"
