"""Engine knowledge lives with the engines: the model-format registry (workbench_engines.formats) and the
distribution names / fingerprint keys sysinfo gets from the adapters."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.errors import ModelError
from workbench_engines import formats
from workbench_engines.base import FORMATS
from workbench_engines.registry import get_engine_class

PLUGINS = Path(__file__).parent / "plugins"


# ---- the format table --------------------------------------------------------------------------------------------
def test_one_table_holds_every_format():
    every = {"torch-builtin", "torchscript", "pt2", "onnx", "openvino", "tflite"}
    every |= {"hf-causal-lm", "openvino-genai", "onnxruntime-genai"}
    assert set(formats.format_names()) == set(FORMATS) == every
    assert formats.builtin_formats() == ("torch-builtin", "onnx", "openvino")
    assert formats.file_types() == {
        ".onnx": "ONNX",
        ".xml": "OpenVINO IR (with its .bin)",
        ".pt": "TorchScript",
        ".pth": "TorchScript",
        ".ts": "TorchScript",
        ".pt2": "torch.export",
        ".tflite": "TensorFlow Lite",
    }
    with pytest.raises(KeyError):
        formats.get_format("savedmodel")


def test_reference_engine_per_format():
    assert formats.builtin_reference_engine() == "torch"
    assert formats.reference_engine("onnx") == "onnxruntime"
    assert formats.reference_engine("openvino") == "openvino"
    assert formats.reference_engine("torchscript") == formats.reference_engine("pt2") == "torch"
    assert formats.reference_engine("tflite") == "openvino"


def test_engines_for_a_format_come_from_the_adapters():
    assert formats.engines_for("onnx") == ("onnxruntime", "openvino")
    assert formats.engines_for("openvino") == ("openvino",)
    assert formats.engines_for("torch-builtin") == ("torch",)
    assert "noop" in formats.engines_for("pt2", include_hidden=True)
    for fmt in formats.format_names():  # every format is read by some engine, and each reference reads it
        assert formats.engines_for(fmt)
        assert fmt in get_engine_class(formats.reference_engine(fmt)).formats


def _zip(path: Path, members: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in members:
            archive.writestr(name, b"{}")
    return path


def test_detection_by_suffix(tmp_path):
    assert formats.detect_format(tmp_path / "m.onnx") == "onnx"
    assert formats.detect_format(tmp_path / "M.ONNX") == "onnx"
    assert formats.detect_format(tmp_path / "m.xml") == "openvino"
    with pytest.raises(ModelError, match="looks like OpenVINO weights: pass the .xml file beside it"):
        formats.detect_format(tmp_path / "m.bin")
    with pytest.raises(ModelError, match=r"unsupported model file 'm.h5': the workbench reads \.onnx \(ONNX\)"):
        formats.detect_format(tmp_path / "m.h5")


def test_detection_by_content_for_shared_suffixes(tmp_path):
    script = _zip(tmp_path / "script.pt2", ["m/code/__torch__.py", "m/constants.pkl", "m/data.pkl"])
    exported = _zip(tmp_path / "exported.pt", ["m/archive_format", "m/models/model.json"])
    legacy_export = _zip(tmp_path / "old.pth", ["serialized_exported_program.json"])
    assert formats.detect_format(script) == "torchscript"  # the content decides, not the suffix
    assert formats.detect_format(exported) == "pt2"
    assert formats.detect_format(legacy_export) == "pt2"
    assert formats.detect_torch_format(exported) == "pt2"


def test_pickled_checkpoints_are_refused_with_the_same_message(tmp_path):
    zipped = _zip(tmp_path / "state.pt", ["archive/data.pkl", "archive/data/0"])
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(b"\x80\x02}q\x00.")
    for path in (zipped, legacy):
        with pytest.raises(ModelError) as err:
            formats.detect_format(path)
        text = str(err.value)
        assert "looks like a pickled checkpoint (torch.save), which the workbench does not unpickle" in text
        assert "export it with torch.jit.save or torch.export.save" in text and "\n" not in text
    other = tmp_path / "notes.ts"
    other.write_bytes(b"hello")
    with pytest.raises(ModelError, match="not a TorchScript or torch.export file"):
        formats.detect_format(other)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(_zip(tmp_path / "x.zip", ["a/constants.pkl"]).read_bytes()[:-10])
    with pytest.raises(ModelError):
        formats.detect_format(damaged)


def test_resolve_and_the_runner_use_the_table():
    from workbench.measure.runner import formats_for
    from workbench.models import resolve

    assert resolve.FILE_TYPES == formats.file_types()
    assert resolve.BUILTIN_FORMATS == formats.builtin_formats()
    assert resolve.detect_torch_format is formats.detect_torch_format
    assert formats_for(("torch", "onnxruntime", "openvino")) == {"torch-builtin", "onnx", "openvino"}
    assert formats_for(("noop",)) == {"torch-builtin"}  # the cheapest: no export


# ---- sysinfo from the adapters -------------------------------------------------------------------------------------
def test_sysinfo_takes_distributions_and_fingerprint_keys_from_the_adapters(monkeypatch):
    from workbench.machine import sysinfo

    assert sysinfo.ENGINE_DISTRIBUTIONS["onnxruntime"] == get_engine_class("onnxruntime").distributions()
    assert list(sysinfo.ENGINE_DISTRIBUTIONS) == ["numpy", "torch", "onnxruntime", "openvino", "textual", "workbench"]
    assert sysinfo.FINGERPRINT_KEYS[-3:] == ("torch", "onnxruntime", "openvino")
    # a new engine brings its own distribution and fingerprint fields, with no change to sysinfo
    monkeypatch.setenv("WORKBENCH_ENGINE_PLUGINS", "wb_test_engines:KnobEngine")
    monkeypatch.syspath_prepend(str(PLUGINS))
    try:
        info = sysinfo.collect(refresh=True)
        assert info["versions"]["knob"] == info["versions"]["workbench"]  # its distribution is the workbench's
        assert info["fingerprint_fields"]["knob_build"] == "test-build"
        assert {"knob", "knob_build"} <= set(sysinfo.FINGERPRINT_KEYS)
        assert set(info["fingerprint_fields"]) == set(sysinfo.FINGERPRINT_KEYS)
        assert "noop" not in info["versions"]  # hidden engines are not part of the machine
    finally:
        monkeypatch.delenv("WORKBENCH_ENGINE_PLUGINS")
        sysinfo.collect(refresh=True)


def test_sysinfo_degrades_when_a_plugin_is_broken(monkeypatch):
    from workbench.machine import sysinfo

    monkeypatch.setenv("WORKBENCH_ENGINE_PLUGINS", "no_such_module_xyz:Engine")
    try:
        info = sysinfo.collect(refresh=True)
        assert info["fingerprint"] and "numpy" in info["versions"]
        assert set(sysinfo.MACHINE_FINGERPRINT_KEYS) < set(info["fingerprint_fields"])
        assert {"torch", "onnxruntime", "openvino"} <= set(info["versions"])  # the built-ins still count
    finally:
        monkeypatch.delenv("WORKBENCH_ENGINE_PLUGINS")
        sysinfo.collect(refresh=True)


def test_sysinfo_still_imports_no_engine():
    code = (
        "import sys; from workbench.machine import sysinfo; sysinfo.collect(); sysinfo.FINGERPRINT_KEYS; "
        "print([m for m in ('torch', 'onnxruntime', 'openvino', 'textual') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
