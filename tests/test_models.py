"""workbench.models.zoo and workbench.models.resolve: the built-in registry, the export cache, model files and their specs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ModelError, UsageError
from workbench.models import resolve as models
from workbench.models import zoo
from workbench.models.inputs import make_inputs
from workbench_engines.base import ModelArtifact, TensorSpec

ALL_BUILTINS = {
    "resnet18", "resnet50", "vgg19", "inception_v3", "mobilenet_v1", "mobilenet_v3_small", "mobilenet_v3_large",
    "efficientnet_b0", "efficientnet_b2", "mobilevit_xs", "distilbert", "bert_base", "ocr_crnn", "tiny_cnn",
}  # fmt: skip


@pytest.fixture(autouse=True)
def hermetic_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own WORKBENCH_HOME, so the model cache starts empty."""
    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.delenv("WORKBENCH_CACHE", raising=False)  # would point the cache elsewhere
    return home


def one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    text = str(excinfo.value)
    assert text and "\n" not in text, text
    return text


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return float(np.linalg.norm(a64 - b64) / max(np.linalg.norm(b64), 1e-30))


# ---------------------------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------------------------


def test_registry_lists_every_builtin_without_heavy_imports() -> None:
    code = (
        "import json, sys\n"
        "import workbench.models.zoo as zoo, workbench.models.resolve\n"
        "rows = [(m.name, m.task, m.params_human, m.description) for m in zoo.BUILTINS.values()]\n"
        "heavy = [m for m in ('torch', 'torchvision', 'transformers', 'onnx', 'onnxruntime', 'openvino')"
        " if m in sys.modules]\n"
        "print(json.dumps({'names': list(zoo.names()), 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert set(result["names"]) == ALL_BUILTINS
    assert result["heavy"] == []


def test_builtin_metadata_is_complete() -> None:
    for info in zoo.BUILTINS.values():
        assert info.task in zoo.TASKS
        assert info.description and "\n" not in info.description
        assert info.params > 0 and info.params_human
        specs = info.input_specs(batch=3)
        assert all(s.is_static and s.shape[0] == 3 for s in specs)
        roles = {s.role for s in specs}
        if info.task == "text-classification":
            assert roles == {"tokens", "mask"}
            assert all(s.dtype == "int64" for s in specs)
            assert specs[0].vocab_size == 30522 and specs[0].shape == (3, 128)
        else:
            assert roles == {"image"}
    assert zoo.get("inception_v3").input_specs()[0].shape == (1, 3, 299, 299)
    assert zoo.get("efficientnet_b2").input_specs()[0].shape == (1, 3, 260, 260)
    assert zoo.get("mobilevit_xs").input_specs()[0].shape == (1, 3, 256, 256)
    assert zoo.get("ocr_crnn").input_specs()[0].shape == (1, 1, 224, 224)
    assert "smoke" in zoo.get("tiny_cnn").description


def test_tiny_cnn_and_ocr_crnn_match_their_metadata() -> None:
    torch = pytest.importorskip("torch")
    tiny = zoo.build_module("tiny_cnn", seed=0)
    assert sum(p.numel() for p in tiny.parameters()) == zoo.get("tiny_cnn").params
    again = zoo.build_module("tiny_cnn", seed=0)
    other = zoo.build_module("tiny_cnn", seed=1)
    first = next(iter(tiny.state_dict().values()))
    assert torch.equal(first, next(iter(again.state_dict().values())))
    assert not torch.equal(first, next(iter(other.state_dict().values())))
    ocr = zoo.build_module("ocr_crnn")
    with torch.no_grad():
        out = ocr(torch.zeros(2, 1, 224, 224))
    assert tuple(out.shape) == (2, 56, len(zoo.OCR_ALPHABET))


def test_unknown_builtin_name_suggests_the_closest() -> None:
    with pytest.raises(ModelError) as excinfo:
        models.resolve("resnet5")
    assert one_line_error(excinfo) == "unknown model 'resnet5'; did you mean 'resnet50'? (workbench models lists them)"
    with pytest.raises(ModelError, match="unknown model 'zzzz'; \\(workbench models"):
        zoo.build_module("zzzz")


# ---------------------------------------------------------------------------------------------------------------
# built-in export and cache
# ---------------------------------------------------------------------------------------------------------------


def test_tiny_cnn_resolves_to_loadable_state_dict_onnx_and_ir(hermetic_home: Path) -> None:
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    ov = pytest.importorskip("openvino")
    art = models.resolve("tiny_cnn", batch=2)
    assert art.source == "builtin" and art.builtin == "tiny_cnn" and art.reference_engine == "torch"
    assert list(art.files) == ["torch-builtin", "onnx", "openvino"]
    assert art.inputs == (TensorSpec("pixel_values", (2, 3, 32, 32), "float32", "image"),)
    assert art.outputs == ("logits",) and art.batch == 2 and art.task == "image-classification"
    for path in art.files.values():
        assert Path(path).is_relative_to(hermetic_home)
    assert ModelArtifact.from_dict(json.loads(json.dumps(art.to_dict()))) == art

    feeds = make_inputs(art.inputs, seed=5)
    module = models.load_torch_builtin(art)
    with torch.no_grad():
        ref = module(torch.from_numpy(feeds["pixel_values"])).numpy()
    assert ref.shape == (2, 10)
    session = ort.InferenceSession(art.files["onnx"], providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixel_values"]
    assert rel_l2(session.run(["logits"], feeds)[0], ref) < 1e-4
    compiled = ov.Core().compile_model(art.files["openvino"], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    assert rel_l2(compiled(feeds)[compiled.output(0)], ref) < 1e-4
    xml = Path(art.files["openvino"]).read_text()
    assert 'element_type="f16"' not in xml  # weights kept in fp32 (save_model compresses by default)
    specs, outputs = models.read_ir_specs(Path(art.files["openvino"]))
    assert specs == [TensorSpec("pixel_values", (2, 3, 32, 32), "float32", "image")] and outputs == ["logits"]


def test_second_resolve_is_a_cache_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    first = models.resolve("tiny_cnn")
    mtimes = {k: os.stat(p).st_mtime_ns for k, p in first.files.items()}

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("cache miss: rebuilt a cached model")

    monkeypatch.setattr(models, "export_onnx", boom)
    monkeypatch.setattr(models, "convert_openvino", boom)
    monkeypatch.setattr(zoo, "build_module", boom)
    second = models.resolve("tiny_cnn")
    assert second == first
    assert {k: os.stat(p).st_mtime_ns for k, p in second.files.items()} == mtimes
    # a different batch, shape or seed is a different cache entry
    with pytest.raises(ModelError, match="could not build tiny_cnn: cache miss"):
        models.resolve("tiny_cnn", batch=2)
    with pytest.raises(ModelError, match="could not build tiny_cnn: cache miss"):
        models.resolve("tiny_cnn", seed=1)


def test_formats_subset_and_ir_reuses_the_cached_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    only_onnx = models.resolve("tiny_cnn", formats={"onnx"})
    assert list(only_onnx.files) == ["onnx"]
    onnx_mtime = os.stat(only_onnx.files["onnx"]).st_mtime_ns

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("re-exported a cached ONNX file")

    monkeypatch.setattr(models, "export_onnx", no_export)
    with_ir = models.resolve("tiny_cnn", formats={"openvino", "torchscript"})
    assert list(with_ir.files) == ["openvino"]  # torchscript cannot be made from a built-in: left out
    assert Path(with_ir.files["openvino"]).with_suffix(".bin").is_file()
    assert os.stat(only_onnx.files["onnx"]).st_mtime_ns == onnx_mtime
    with pytest.raises(UsageError, match="unknown format 'coreml'"):
        models.resolve("tiny_cnn", formats={"coreml"})


def test_concurrent_builds_export_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two resolvers racing on the same model: the file lock lets one build while the other waits."""
    calls: list[int] = []
    real_export = models.export_onnx
    barrier = threading.Barrier(2)

    def counting_export(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        real_export(*args, **kwargs)

    monkeypatch.setattr(models, "export_onnx", counting_export)
    results: list[ModelArtifact] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(models.resolve("tiny_cnn", formats={"onnx"}))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(calls) == 1 and results[0] == results[1]
    folder = Path(results[0].files["onnx"]).parent
    assert not list(folder.glob(".tmp-*"))  # the temp dir is gone after the rename
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["name"] == "tiny_cnn" and meta["precision"] == "fp32" and meta["seed"] == 0


def test_builtin_shape_overrides_and_batch() -> None:
    info = zoo.get("distilbert")
    specs = models.bind_shapes(info.inputs, batch=1, shapes={"input_ids": (4, 64)}, defaults=info.dims)
    assert [s.shape for s in specs] == [(4, 64), (4, 64)]  # the mask shares (batch, seq)
    specs = models.bind_shapes(info.inputs, batch=2, defaults=info.dims)
    assert [s.shape for s in specs] == [(2, 128), (2, 128)]
    with pytest.raises(UsageError, match="--batch 2 contradicts --shape input_ids=4x64"):
        models.bind_shapes(info.inputs, batch=2, shapes={"input_ids": (4, 64)}, defaults=info.dims)
    with pytest.raises(UsageError, match="two sizes"):
        models.bind_shapes(info.inputs, batch=1, shapes={"input_ids": (1, 64), "attention_mask": (1, 32)})
    image = zoo.get("tiny_cnn")
    specs = models.bind_shapes(image.inputs, batch=1, shapes={"*": (1, 3, 64, 48)}, defaults=image.dims)
    assert specs[0].shape == (1, 3, 64, 48)
    with pytest.raises(UsageError, match="fixed shape"):
        models.bind_shapes(image.inputs, batch=1, shapes={"pixel_values": (1, 1, 32, 32)}, defaults=image.dims)
    with pytest.raises(UsageError, match="has 3 dims but input .pixel_values. has 4"):
        models.bind_shapes(image.inputs, batch=1, shapes={"pixel_values": (1, 3, 32)}, defaults=image.dims)
    with pytest.raises(UsageError, match="--batch must be at least 1"):
        models.resolve("tiny_cnn", batch=0)


# ---------------------------------------------------------------------------------------------------------------
# how transformers built-ins are exported (docs/engines.md, "What each engine is given")
# ---------------------------------------------------------------------------------------------------------------


def tiny_text_builder(attention: str | None = zoo.EXPORT_ATTENTION):  # type: ignore[no-untyped-def]
    """distilbert's architecture at a tiny size, built like the real one (the full model exports in tens of s)."""
    zoo.ensure_torchvision(required=False)
    import transformers as tf

    config = tf.DistilBertConfig(  # type: ignore[call-arg]
        vocab_size=30522, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64, num_labels=2
    )
    model = tf.DistilBertForSequenceClassification._from_config(config, attn_implementation=attention)
    return zoo._logits_only(model, text=True)


@pytest.fixture
def tiny_distilbert(monkeypatch: pytest.MonkeyPatch) -> ModelArtifact:
    """Built-in ``distilbert`` resolved through the real export path, its builder swapped for a tiny one."""
    pytest.importorskip("transformers")
    monkeypatch.setitem(zoo._BUILDERS, "distilbert", tiny_text_builder)
    return models.resolve("distilbert", shapes={"input_ids": (1, 16)})


def test_export_recipes_dynamic_for_text_transformers_static_elsewhere() -> None:
    text = zoo.export_recipe("bert_base")
    assert text.opset == zoo.DYNAMIC_OPSET == 18 and text.attention == "eager"
    assert text.to_dict()["dynamic_dims"] == ["batch", "seq"]
    assert text.dynamic_axes == {
        "input_ids": {0: "batch", 1: "seq"},
        "attention_mask": {0: "batch", 1: "seq"},
        "logits": {0: "batch"},
    }
    for name in ("tiny_cnn", "resnet18", "mobilevit_xs"):
        recipe = zoo.export_recipe(name)
        assert recipe.opset == models.ONNX_OPSET == 17 and not recipe.dynamic_axes, name
    assert zoo.export_recipe("mobilevit_xs").attention == "eager" and zoo.export_recipe("tiny_cnn").attention is None
    # the recipe is part of the cache key: exports made before it (static, opset 17) are never reused
    specs = zoo.get("distilbert").input_specs()
    fields = models.cache_fields("distilbert", specs, 1, 0)
    assert fields["onnx_export"] == zoo.export_recipe("distilbert").to_dict() and fields["onnx_opset"] == 18
    old = {k: v for k, v in fields.items() if k not in ("onnx_export", "openvino_convert")} | {"onnx_opset": 17}
    assert models.cache_key(fields) != models.cache_key(old)


def test_transformer_builtin_exports_dynamic_axes_and_a_static_ir(tiny_distilbert: ModelArtifact) -> None:
    import onnx

    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    art = tiny_distilbert
    assert [s.shape for s in art.inputs] == [(1, 16), (1, 16)]  # the run's shapes stay static in the artifact
    proto = onnx.load(art.files["onnx"], load_external_data=False)
    assert {o.domain: o.version for o in proto.opset_import}[""] == 18
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in proto.graph.input}
    assert dims == {"input_ids": ["batch", "seq"], "attention_mask": ["batch", "seq"]}
    assert [d.dim_param for d in proto.graph.output[0].type.tensor_type.shape.dim][0] == "batch"
    ir_specs, _ = models.read_ir_specs(Path(art.files["openvino"]))  # converted with the bound shapes
    assert [s.shape for s in ir_specs] == [(1, 16), (1, 16)]
    # the artifact (and so the record) says how each file was made; it survives the trip to the child
    assert art.export["onnx"]["dynamic_dims"] == ["batch", "seq"] and art.export["onnx"]["opset"] == 18
    assert art.export["onnx"]["attention"] == "eager" and art.export["openvino"]["static_shapes"] is True
    assert art.export["torch-builtin"] == {"attention": "transformers default"}
    assert ModelArtifact.from_dict(json.loads(json.dumps(art.to_dict()))) == art
    meta = json.loads((Path(art.files["onnx"]).parent / "meta.json").read_text())
    assert meta["onnx_export"]["dynamic_dims"] == ["batch", "seq"]
    # torch runs transformers' default attention (SDPA) and still computes the function of the eager export
    module = models.load_torch_builtin(art)
    assert module.model.config._attn_implementation == "sdpa"
    feeds = make_inputs(art.inputs, seed=3)
    with torch.no_grad():
        ref = module(*(torch.from_numpy(feeds[s.name]) for s in art.inputs)).numpy()
    got = ort.InferenceSession(art.files["onnx"], providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    assert got.shape == ref.shape == (1, 2) and rel_l2(got, ref) < 1e-4


# ---------------------------------------------------------------------------------------------------------------
# ONNX files
# ---------------------------------------------------------------------------------------------------------------


def write_onnx(path: Path, inputs: list[tuple[str, int, list | None]], weight_as_input: bool = False) -> Path:
    """A tiny ONNX graph: one Identity per input. ``dims`` entries: int, symbol name, or None for an unnamed
    dynamic dim; ``dims=None`` leaves the input without shape information."""
    from onnx import TensorProto, helper, numpy_helper

    def value(name: str, elem: int, dims: list | None) -> object:
        if dims is None:  # no shape information at all (unknown rank)
            return helper.make_tensor_value_info(name, elem, None)
        vi = helper.make_tensor_value_info(name, elem, dims)
        if any(d is None for d in dims):  # make_tensor_value_info writes None as an empty dim (no value, no param)
            for dim, d in zip(vi.type.tensor_type.shape.dim, dims, strict=True):
                if d is None:
                    dim.Clear()
        return vi

    graph_inputs = [value(n, e, d) for n, e, d in inputs]
    nodes = [helper.make_node("Identity", [n], [f"out_{n}"]) for n, _, _ in inputs]
    outputs = [value(f"out_{n}", e, d) for n, e, d in inputs]
    initializers = []
    if weight_as_input:  # old-style graphs also list initializers among the inputs
        initializers = [numpy_helper.from_array(np.ones((2,), np.float32), "w")]
        graph_inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [2]))
        nodes.append(helper.make_node("Identity", ["w"], ["out_w"]))
        outputs.append(helper.make_tensor_value_info("out_w", TensorProto.FLOAT, [2]))
    graph = helper.make_graph(nodes, "g", graph_inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture()
def text_onnx(tmp_path: Path) -> Path:
    from onnx import TensorProto

    return write_onnx(
        tmp_path / "text.onnx",
        [
            ("input_ids", TensorProto.INT64, ["batch", "seq"]),
            ("attention_mask", TensorProto.INT64, ["batch", "seq"]),
            ("token_type_ids", TensorProto.INT64, ["batch", "seq"]),
            ("scale", TensorProto.FLOAT16, [None]),
        ],
        weight_as_input=True,
    )


def test_onnx_specs_roles_and_dtypes(text_onnx: Path) -> None:
    specs, outputs = models.read_onnx_specs(text_onnx)
    assert [(s.name, s.shape, s.dtype, s.role) for s in specs] == [
        ("input_ids", ("batch", "seq"), "int64", "tokens"),
        ("attention_mask", ("batch", "seq"), "int64", "mask"),
        ("token_type_ids", ("batch", "seq"), "int64", "data"),
        ("scale", ("?",), "float16", "data"),
    ]  # the initializer "w" is not an input
    assert outputs == ["out_input_ids", "out_attention_mask", "out_token_type_ids", "out_scale", "out_w"]


def test_onnx_symbolic_dims_need_shape(text_onnx: Path) -> None:
    with pytest.raises(ModelError) as excinfo:
        models.resolve(str(text_onnx))
    message = one_line_error(excinfo)
    assert "unknown dims" in message and "--shape input_ids=1x128" in message
    art = models.resolve(str(text_onnx), batch=1, shapes={"input_ids": (3, 16)})
    assert [s.shape for s in art.inputs] == [(3, 16), (3, 16), (3, 16), (1,)]  # unnamed "?" takes --batch
    assert art.batch == 3 and art.files == {"onnx": str(text_onnx.resolve())}
    assert art.source == "file" and art.reference_engine == "onnxruntime" and art.builtin is None
    with pytest.raises(UsageError, match="has inputs: input_ids, attention_mask"):
        models.resolve(str(text_onnx), shapes={"pixel_values": (1, 3)})


def test_onnx_static_and_single_input_shapes(tmp_path: Path) -> None:
    from onnx import TensorProto

    static = write_onnx(tmp_path / "static.onnx", [("x", TensorProto.FLOAT, [1, 3, 8, 8])])
    art = models.resolve(str(static))
    assert art.inputs == (TensorSpec("x", (1, 3, 8, 8), "float32", "image"),) and art.batch == 1
    with pytest.raises(UsageError, match="fixed batch of 1 .*use --batch 1"):
        models.resolve(str(static), batch=4)
    dynamic = write_onnx(tmp_path / "dyn.onnx", [("x", TensorProto.FLOAT, ["N", 3, "H", "W"])])
    assert models.resolve(str(dynamic), shapes={"*": (2, 3, 16, 16)}).inputs[0].shape == (2, 3, 16, 16)
    with pytest.raises(ModelError, match=r"unknown dims: dim 2 \('H'\), dim 3 \('W'\); pass --shape x=4x3x224x224"):
        models.resolve(str(dynamic), batch=4)
    no_shape = write_onnx(tmp_path / "noshape.onnx", [("x", TensorProto.FLOAT, None)])
    with pytest.raises(ModelError, match="input 'x' has no shape information: pass --shape x="):
        models.resolve(str(no_shape))
    assert models.resolve(str(no_shape), shapes={"*": (2, 5)}).inputs == (TensorSpec("x", (2, 5), "float32", "data"),)


# ---------------------------------------------------------------------------------------------------------------
# OpenVINO IR files
# ---------------------------------------------------------------------------------------------------------------

IR_XML = """<?xml version="1.0"?>
<net name="hand" version="11">
  <layers>
    <layer id="0" name="images" type="Parameter" version="opset1">
      <data shape="?,3,32,32" element_type="f32"/>
      <output>
        <port id="0" precision="FP32" names="images"><dim>-1</dim><dim>3</dim><dim>32</dim><dim>32</dim></port>
      </output>
    </layer>
    <layer id="1" name="ids_layer" type="Parameter" version="opset1">
      <data shape="1..8,-1" element_type="i64"/>
      <output><port id="0" precision="I64" names="input_ids,ids_alias"><dim>-1</dim><dim>-1</dim></port></output>
    </layer>
    <layer id="2" name="out/sink_port_0" type="Result" version="opset1">
      <input><port id="0"><dim>-1</dim><dim>3</dim><dim>32</dim><dim>32</dim></port></input>
    </layer>
  </layers>
  <edges><edge from-layer="0" from-port="0" to-layer="2" to-port="0"/></edges>
</net>
"""


def test_ir_specs_dynamic_dims_and_shapes(tmp_path: Path) -> None:
    xml = tmp_path / "model.xml"
    xml.write_text(IR_XML)
    (tmp_path / "model.bin").write_bytes(b"\0" * 16)
    specs, outputs = models.read_ir_specs(xml)
    assert [(s.name, s.shape, s.dtype, s.role) for s in specs] == [
        ("images", ("?", 3, 32, 32), "float32", "image"),
        ("input_ids", ("1..8", "?"), "int64", "tokens"),
    ]
    assert outputs == ["images"]
    with pytest.raises(ModelError, match="input 'input_ids' has unknown dims"):
        models.resolve(str(xml))
    art = models.resolve(str(xml), batch=2, shapes={"input_ids": (2, 16)})
    assert [s.shape for s in art.inputs] == [(2, 3, 32, 32), (2, 16)]
    assert art.files == {"openvino": str(xml.resolve())} and art.reference_engine == "openvino"


def test_ir_without_bin_and_damaged_xml(tmp_path: Path) -> None:
    xml = tmp_path / "model.xml"
    xml.write_text(IR_XML)
    with pytest.raises(ModelError) as excinfo:
        models.resolve(str(xml))
    assert "model.xml needs model.bin beside it" in one_line_error(excinfo)
    (tmp_path / "model.bin").write_bytes(b"\0")
    xml.write_text("<net><layers><layer")
    with pytest.raises(ModelError, match="not a valid OpenVINO IR"):
        models.resolve(str(xml))
    xml.write_text("<html><body/></html>")
    with pytest.raises(ModelError, match="not an OpenVINO IR"):
        models.resolve(str(xml))


# ---------------------------------------------------------------------------------------------------------------
# torch files (TorchScript, torch.export, pickled checkpoints)
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny TorchScript and torch.export files, plus pickled checkpoints the workbench must refuse."""
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("torch_files")

    class Text(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(100, 4)  # ids without a known vocab are drawn from [0, 100)
            self.lin = torch.nn.Linear(4, 2)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.lin(self.emb(input_ids) * attention_mask.unsqueeze(-1).float()).sum(1)

    class Image(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x).mean((2, 3))

    text, image = Text().eval(), Image().eval()
    ids, mask = torch.zeros(2, 5, dtype=torch.long), torch.ones(2, 5, dtype=torch.long)
    files = {
        "ts_text": folder / "text.pt",
        "ts_image": folder / "image.ts",
        "pt2": folder / "text.pt2",
        "pt2_as_pt": folder / "exported.pt",
        "state_dict": folder / "checkpoint.pth",
        "legacy_pickle": folder / "legacy.pt",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.* is deprecated, still widely used
        torch.jit.save(torch.jit.trace(text, (ids, mask)), str(files["ts_text"]))
        torch.jit.save(torch.jit.trace(image, (torch.zeros(1, 3, 8, 8),)), str(files["ts_image"]))
    batch, seq = torch.export.Dim("batch", max=64), torch.export.Dim("seq", max=512)
    dynamic = {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}}
    exported = torch.export.export(text, (ids, mask), dynamic_shapes=dynamic)
    torch.export.save(exported, str(files["pt2"]))
    files["pt2_as_pt"].write_bytes(files["pt2"].read_bytes())
    torch.save(text.state_dict(), files["state_dict"])
    torch.save(text.state_dict(), files["legacy_pickle"], _use_new_zipfile_serialization=False)
    return files


def test_torch_file_detection_by_content(torch_files: dict[str, Path]) -> None:
    assert models.detect_torch_format(torch_files["ts_text"]) == "torchscript"
    assert models.detect_torch_format(torch_files["ts_image"]) == "torchscript"
    assert models.detect_torch_format(torch_files["pt2"]) == "pt2"
    assert models.detect_torch_format(torch_files["pt2_as_pt"]) == "pt2"  # the extension does not decide
    for key in ("state_dict", "legacy_pickle"):
        with pytest.raises(ModelError) as excinfo:
            models.resolve(str(torch_files[key]))
        message = one_line_error(excinfo)
        assert "looks like a pickled checkpoint" in message
        assert "export it with torch.jit.save or torch.export.save" in message


def test_torchscript_needs_shapes(torch_files: dict[str, Path]) -> None:
    with pytest.raises(ModelError) as excinfo:
        models.resolve(str(torch_files["ts_text"]))
    message = one_line_error(excinfo)
    assert "records no input shapes" in message and "input_ids, attention_mask" in message
    art = models.resolve(str(torch_files["ts_text"]), shapes={"input_ids": (2, 7), "attention_mask": (2, 7)})
    assert [(s.name, s.shape, s.dtype, s.role) for s in art.inputs] == [
        ("input_ids", (2, 7), "int64", "tokens"),
        ("attention_mask", (2, 7), "int64", "mask"),
    ]
    assert art.files == {"torchscript": str(torch_files["ts_text"].resolve())}
    assert art.reference_engine == "torch" and art.batch == 2
    image = models.resolve(str(torch_files["ts_image"]), shapes={"*": (1, 3, 16, 16)})
    assert image.inputs == (TensorSpec("x", (1, 3, 16, 16), "float32", "image"),)


def test_pt2_specs_from_the_exported_program(torch_files: dict[str, Path]) -> None:
    torch = pytest.importorskip("torch")
    from torch._export.serde.schema import ScalarType

    for code, name in models._PT2_DTYPES.items():  # our table matches torch's serialized dtype codes
        assert ScalarType(code).name in {
            "uint8": "BYTE", "int8": "CHAR", "int16": "SHORT", "int32": "INT", "int64": "LONG", "float16": "HALF",
            "float32": "FLOAT", "float64": "DOUBLE", "bool": "BOOL", "bfloat16": "BFLOAT16", "uint16": "UINT16",
            "uint32": "UINT32", "uint64": "UINT64",
        }[name]  # fmt: skip
    specs, outputs = models.read_pt2_specs(torch_files["pt2"])
    assert [s.name for s in specs] == ["input_ids", "attention_mask"] and len(outputs) == 1
    assert specs[0].shape == specs[1].shape and all(isinstance(d, str) for d in specs[0].shape)
    with pytest.raises(ModelError, match="unknown dims"):
        models.resolve(str(torch_files["pt2"]))
    art = models.resolve(str(torch_files["pt2"]), shapes={"input_ids": (3, 9)})
    assert [(s.shape, s.dtype, s.role) for s in art.inputs] == [((3, 9), "int64", "tokens"), ((3, 9), "int64", "mask")]
    assert art.files == {"pt2": str(torch_files["pt2"].resolve())} and art.reference_engine == "torch"
    assert models.resolve(str(torch_files["pt2_as_pt"]), shapes={"input_ids": (1, 4)}).files.keys() == {"pt2"}
    # the artifact's shapes really run the exported program
    program = torch.export.load(str(torch_files["pt2"]))
    feeds = make_inputs(art.inputs)
    out = program.module()(*(torch.from_numpy(feeds[s.name]) for s in art.inputs))
    assert tuple(out.shape) == (3, 2)


# ---------------------------------------------------------------------------------------------------------------
# file errors
# ---------------------------------------------------------------------------------------------------------------


def test_file_errors_are_one_line(tmp_path: Path) -> None:
    cases: list[tuple[str, str]] = []
    cases.append((str(tmp_path / "missing" / "model.onnx"), "model file not found"))
    (tmp_path / "empty.onnx").write_bytes(b"")
    cases.append((str(tmp_path / "empty.onnx"), "model file empty.onnx is empty"))
    (tmp_path / "corrupt.onnx").write_bytes(np.random.default_rng(0).bytes(256))
    cases.append((str(tmp_path / "corrupt.onnx"), "corrupt.onnx is not a valid ONNX model"))
    (tmp_path / "model.h5").write_bytes(b"\x89HDF")
    cases.append((str(tmp_path / "model.h5"), "unsupported model file 'model.h5': the workbench reads .onnx"))
    (tmp_path / "weights.bin").write_bytes(b"\0")
    cases.append((str(tmp_path / "weights.bin"), "pass the .xml file beside it"))
    (tmp_path / "notzip.pt").write_bytes(b"hello world")
    cases.append((str(tmp_path / "notzip.pt"), "not a TorchScript or torch.export file"))
    (tmp_path / "adir.onnx").mkdir()
    cases.append((str(tmp_path / "adir.onnx"), "is a directory"))
    cases.append(("no_such_model.onnx", "model file not found"))
    for model, expected in cases:
        with pytest.raises(ModelError) as excinfo:
            models.resolve(model)
        assert expected in one_line_error(excinfo), (model, str(excinfo.value))


# ---------------------------------------------------------------------------------------------------------------
# one real model end to end
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_mobilenet_v3_small_end_to_end() -> None:
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    ov = pytest.importorskip("openvino")
    art = models.resolve("mobilenet_v3_small")
    feeds = make_inputs(art.inputs, seed=1)
    with torch.no_grad():
        ref = models.load_torch_builtin(art)(torch.from_numpy(feeds["pixel_values"])).numpy()
    assert ref.shape == (1, 1000)
    onnx_out = ort.InferenceSession(art.files["onnx"], providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    assert rel_l2(onnx_out, ref) < 1e-4
    compiled = ov.Core().compile_model(art.files["openvino"], "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    assert rel_l2(compiled(feeds)[compiled.output(0)], ref) < 1e-4
