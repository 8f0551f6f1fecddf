"""Resolve a model name or a model file into a :class:`~workbench_engines.base.ModelArtifact`.

Two sources:

* **Built-ins** (:mod:`workbench.models.zoo`): the architecture is built with seeded random weights, and its state dict,
  ONNX export (legacy TorchScript-based exporter, by the model's :func:`~workbench.models.zoo.export_recipe`: opset
  17 with static shapes, or for transformers text models opset 18 with dynamic batch/sequence axes, as optimum
  exports them) and OpenVINO IR (fp32 weights, converted with the run's static shapes) are
  cached under ``cache_dir()/models/<name>/<key>/``. The key hashes everything that changes the files (see
  :func:`cache_fields`). Builds are serialised with a file lock and land by atomic rename, so concurrent
  processes never see half-written files; a second use is a few ``stat`` calls.
* **Files**: ONNX, OpenVINO IR (``.xml`` + ``.bin``), TorchScript and ``torch.export`` archives, recognised by
  their content whatever their name (:func:`workbench_engines.formats.detect_format`; the suffix decides only
  when the content says nothing). Torch files are identified by the member names of their zip archive, never by
  unpickling; a pickled ``torch.save`` checkpoint is refused, whatever its name. ONNX weights kept in external
  data files must be beside the ``.onnx`` (a missing one is named).
* **Hugging Face checkpoint directories** (``config.json`` + ``model.safetensors``, :mod:`workbench.models.hf`):
  loaded offline; torch runs the directory itself, ONNX and IR are exported through the built-ins' cache, keyed
  by the directory's content.

Input shapes end static: symbolic dims are bound from ``shapes`` (``--shape``), a dynamic leading dim defaults to
``batch``, built-ins fill the rest from their defaults, and whatever is left is one ModelError listing every
unknown dim by input and position, with a ``--shape`` line to paste.
Every error is a :mod:`workbench.errors` exception with one readable line.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence, TypeGuard, TypeVar

from workbench import paths
from workbench.errors import ModelError, UsageError, WorkbenchError
from workbench.models import zoo
from workbench_engines import formats as model_formats
from workbench_engines.base import FORMATS, SCALAR_ROLE, ModelArtifact, TensorSpec
from workbench_engines.formats import detect_torch_format  # noqa: F401 - public here too (tests, callers)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

#: Bump when the layout or content of cached built-in files changes: old cache entries are then ignored.
CACHE_FORMAT = 1
#: ONNX opset of static built-in exports (transformers text models: :data:`workbench.models.zoo.DYNAMIC_OPSET`).
ONNX_OPSET = zoo.STATIC_OPSET
#: Formats a built-in can be resolved to (from the format table, :mod:`workbench_engines.formats`).
BUILTIN_FORMATS: tuple[str, ...] = model_formats.builtin_formats()
#: Packages whose versions change the cached files (architectures, exporter, converter).
CACHE_PACKAGES: tuple[str, ...] = ("torch", "torchvision", "transformers", "onnx", "openvino")
#: Extensions of model files, with what they hold (from the format table).
FILE_TYPES: dict[str, str] = model_formats.file_types()
#: Keys of ``shapes`` that mean "the only input".
WILDCARD_KEYS = ("*", "")

_CACHE_FILES = {"torch-builtin": "weights.pt", "onnx": "model.onnx", "openvino": "model.xml"}
T = TypeVar("T")


# ---------------------------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------------------------


def resolve(
    model: str,
    *,
    batch: int = 1,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    formats: set[str] | None = None,
    seed: int = 0,
    sparsity: float = 0.0,
) -> ModelArtifact:
    """Resolve a built-in name or a model file path to an artifact with static input shapes.

    ``shapes`` maps input names to full shapes (``--shape``); key ``"*"`` (or ``""``) applies to a model's only
    input. ``formats`` limits which files a built-in is built for (None: all of :data:`BUILTIN_FORMATS`); a
    file is returned in its own format whatever ``formats`` says. ``seed`` seeds built-in weights.
    ``sparsity`` above 0 prunes a built-in's conv/linear weights (global magnitude, :mod:`workbench.models.prune`)
    before anything is exported: every file is the pruned model, cached under its own key, and the artifact's
    ``sparsity`` says what was achieved. Files and checkpoint directories are refused (UsageError): pruning needs
    the built-in torch module.

    Built-ins are exported on first use (seconds) and cached. Raises ModelError (unknown name, missing,
    empty, corrupt or unsupported file, unknown dims, failed export) or UsageError (bad batch/shape/format).
    """
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    clean_shapes = _check_shapes(shapes)
    if formats is not None:
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise UsageError(f"unknown format {unknown[0]!r}: choose from {', '.join(FORMATS)}")
    from workbench.models.prune import check_sparsity

    sparsity = check_sparsity(sparsity)
    if zoo.is_builtin(model):
        return _resolve_builtin(model, batch, clean_shapes, formats, seed, sparsity)
    path = Path(model).expanduser()
    if sparsity and path.exists():  # a missing file gets its own error below
        raise UsageError(
            f"--sparsity prunes a built-in model's torch weights before export; {path.name!r} is a file or "
            "checkpoint, not a built-in: prune it before exporting, or use a built-in (workbench models)"
        )
    from workbench.models import hf

    if hf.is_checkpoint_dir(path):
        return _resolve_hf(path, batch, clean_shapes, formats)
    if path.exists() or _looks_like_path(model):
        return resolve_file(path, batch=batch, shapes=clean_shapes)
    raise ModelError(zoo.unknown_model_message(model))


def load_torch_builtin(artifact: ModelArtifact) -> torch.nn.Module:
    """The eager module of a built-in artifact: its architecture with the cached state dict loaded.

    The state dict is read with ``torch.load(weights_only=True)``. A Hugging Face checkpoint directory (the
    ``torch-builtin`` file of an artifact resolved from one) is loaded offline by :func:`workbench.models.hf.
    load_module`, taking the artifact's inputs positionally. Transformers models get transformers' default
    attention (:data:`workbench.models.zoo.TORCH_ATTENTION`: SDPA where the architecture has it), not the eager
    attention the ONNX export traces. Returns the module in eval mode. Raises
    ModelError when the artifact is not a built-in with ``torch-builtin`` weights or the weights do not load.
    """
    weights = artifact.files.get("torch-builtin")
    if weights and Path(weights).is_dir():
        from workbench.models import hf

        return hf.load_module(Path(weights), [s.name for s in artifact.inputs], attention=zoo.TORCH_ATTENTION)
    if not artifact.builtin or not weights:
        raise ModelError(f"{artifact.name!r} has no built-in torch weights; resolve it with format torch-builtin")
    import torch

    # the state dict brings the BN statistics; transformers models run the attention their users get by default
    module = zoo.build_module(artifact.builtin, calibrate=False, attention=zoo.TORCH_ATTENTION)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        module.load_state_dict(state, strict=True)
    except Exception as exc:
        raise ModelError(
            f"cannot load cached weights {weights}: {_first_line(exc)}; delete the file to rebuild it"
        ) from exc
    return module.eval()


def cache_fields(name: str, inputs: Sequence[TensorSpec], batch: int, seed: int) -> dict[str, object]:
    """Everything the cached files of a built-in depend on (its export recipe among them); :func:`cache_key`
    hashes it."""
    recipe = zoo.export_recipe(name)
    return {
        "cache_format": CACHE_FORMAT,
        "name": name,
        "inputs": [[t.name, list(t.shape), t.dtype] for t in inputs],
        "batch": batch,
        "precision": "fp32",
        "seed": seed,
        "onnx_opset": recipe.opset,
        "onnx_export": recipe.to_dict(),
        "openvino_convert": OPENVINO_CONVERT,
        "versions": {pkg: _version(pkg) for pkg in CACHE_PACKAGES},
    }


#: How the IR is converted from the ONNX export (recorded with the artifact, part of the cache key).
OPENVINO_CONVERT = "ov.convert_model(onnx, input=static shapes), fp32 weights"


def export_record(recipe: zoo.ExportRecipe, *, torch_attention: str | None = None) -> dict[str, dict[str, Any]]:
    """``ModelArtifact.export`` of files made by this module: per format, how it was made (docs/schema.md)."""
    out: dict[str, dict[str, Any]] = {
        "onnx": recipe.to_dict(),
        "openvino": {"from": "onnx", "converter": OPENVINO_CONVERT, "static_shapes": True},
    }
    if recipe.attention is not None:
        out["torch-builtin"] = {"attention": torch_attention or "transformers default"}
    return out


def cache_key(fields: Mapping[str, object]) -> str:
    """A short stable hash of :func:`cache_fields`."""
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def builtin_cache_dir(name: str, key: str) -> Path:
    """Where the files of built-in ``name`` with cache key ``key`` live."""
    return paths.cache_dir() / "models" / name / key


def export_onnx(
    module: torch.nn.Module,
    inputs: Sequence[TensorSpec],
    path: Path,
    outputs: Sequence[str],
    recipe: zoo.ExportRecipe | None = None,
) -> None:
    """Export ``module`` to ONNX at ``path`` with the legacy (TorchScript) exporter and constant folding, by
    ``recipe`` (default: opset :data:`ONNX_OPSET`, static shapes). The example inputs have the run's static
    shapes; the recipe's dynamic axes stay symbolic in the graph.

    Example inputs come from :func:`workbench.models.inputs.make_inputs` (valid token ids, ones for masks).
    Raises whatever torch raises; the caller turns it into a ModelError.
    """
    import torch

    from workbench.models.inputs import make_inputs

    feeds = make_inputs(inputs, seed=0)
    args = tuple(torch.from_numpy(feeds[t.name]) for t in inputs)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=recipe.opset if recipe is not None else ONNX_OPSET,
            input_names=[t.name for t in inputs],
            output_names=list(outputs),
            dynamic_axes={n: dict(a) for n, a in recipe.dynamic_axes.items()}
            if recipe and recipe.dynamic_axes
            else None,
            do_constant_folding=True,
        )


def convert_openvino(onnx_path: Path, xml_path: Path, inputs: Sequence[TensorSpec] = ()) -> None:
    """Convert an ONNX file to OpenVINO IR at ``xml_path`` (``.bin`` beside it) keeping fp32 weights.

    ``inputs`` (static specs) fix the input shapes in the conversion, so an ONNX export with dynamic axes gives
    the same static IR as a static export (OpenVINO compiles static shapes into faster kernels; the IR is cached
    per shape anyway). ``openvino.save_model`` compresses weights to fp16 by default; we pass
    ``compress_to_fp16=False`` so the IR computes the same fp32 function as the other engines. Raises whatever
    OpenVINO raises.
    """
    import openvino as ov

    static = (
        [(t.name, [int(d) for d in t.shape]) for t in inputs] if inputs and all(t.is_static for t in inputs) else []
    )
    model = ov.convert_model(str(onnx_path), input=static) if static else ov.convert_model(str(onnx_path))
    ov.save_model(model, str(xml_path), compress_to_fp16=False)


# ---------------------------------------------------------------------------------------------------------------
# built-ins
# ---------------------------------------------------------------------------------------------------------------


def _resolve_builtin(
    name: str,
    batch: int,
    shapes: dict[str, tuple[int, ...]],
    formats: set[str] | None,
    seed: int,
    sparsity: float = 0.0,
) -> ModelArtifact:
    info = zoo.get(name)
    specs = bind_shapes(info.inputs, batch=batch, shapes=shapes, defaults=info.dims, label=name)
    real_batch = _leading_dim(specs, batch)
    wanted = [f for f in BUILTIN_FORMATS if formats is None or f in formats]
    fields = cache_fields(name, specs, real_batch, seed)
    module_fn: Callable[[Path, Path], torch.nn.Module] | None = None
    if sparsity:
        from workbench.models import prune

        dense_fields = fields
        fields = {**fields, "sparsity": prune.cache_fields(sparsity)}  # a pruned model never shares a dense file

        def module_fn(folder: Path, tmp: Path) -> torch.nn.Module:
            return _pruned_module(name, specs, info.outputs, seed, sparsity, dense_fields, folder, tmp)

    folder = builtin_cache_dir(name, cache_key(fields))
    files = {f: folder / _CACHE_FILES[f] for f in wanted}
    # a pruned folder always keeps its pruned weights: the report is measured from them, exports made from them
    build = wanted + (["torch-builtin"] if sparsity and "torch-builtin" not in wanted else [])
    recipe = zoo.export_recipe(name)
    if not all(_complete(folder / _CACHE_FILES[f]) for f in build):
        folder.mkdir(parents=True, exist_ok=True)
        with _file_lock(folder / ".lock"):
            _build_missing(name, specs, info.outputs, seed, folder, build, fields, module_fn=module_fn, recipe=recipe)
    report = _sparsity_report(name, seed, folder, sparsity) if sparsity else None
    return ModelArtifact(
        name=name,
        source="builtin",
        files={f: str(p) for f, p in files.items()},
        inputs=specs,
        outputs=info.outputs,
        task=info.task,
        builtin=name,
        reference_engine=model_formats.builtin_reference_engine(),
        batch=real_batch,
        sparsity=report,
        export={f: v for f, v in export_record(recipe).items() if f in files},
    )


def _pruned_module(
    name: str,
    specs: tuple[TensorSpec, ...],
    outputs: tuple[str, ...],
    seed: int,
    sparsity: float,
    dense_fields: Mapping[str, object],
    folder: Path,
    tmp: Path,
) -> torch.nn.Module:
    """The pruned built-in for the files of ``folder`` (call with its lock held): its cached pruned weights, or
    the dense built-in's cached weights (built first when missing, under the dense folder's lock) pruned to
    ``sparsity`` and saved — the report first, then the weights (a present weights file means complete)."""
    import torch

    from workbench.models import prune

    weights = folder / _CACHE_FILES["torch-builtin"]
    module = _step(f"build {name}", zoo.build_module, name, seed, calibrate=False)
    if weights.is_file():
        module.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return module
    dense_folder = builtin_cache_dir(name, cache_key(dense_fields))
    dense_weights = dense_folder / _CACHE_FILES["torch-builtin"]
    if not dense_weights.is_file():
        dense_folder.mkdir(parents=True, exist_ok=True)
        with _file_lock(dense_folder / ".lock"):  # always pruned lock, then dense lock: never the other order
            _build_missing(name, specs, outputs, seed, dense_folder, ["torch-builtin"], dense_fields)
    module.load_state_dict(torch.load(dense_weights, map_location="cpu", weights_only=True))
    report = _step(f"prune {name}", prune.prune_global, module, sparsity)
    prune.write_report(folder, report)
    torch.save(module.state_dict(), tmp / weights.name)
    os.replace(tmp / weights.name, weights)
    return module


def _sparsity_report(name: str, seed: int, folder: Path, sparsity: float) -> dict[str, Any]:
    """The pruned folder's report (measured when it was pruned; measured again from the weights if the report
    file is gone), with the folder it describes."""
    from workbench.models import prune

    report = prune.read_report(folder)
    if report is None:
        import torch

        module = _step(f"build {name}", zoo.build_module, name, seed, calibrate=False)
        module.load_state_dict(
            torch.load(folder / _CACHE_FILES["torch-builtin"], map_location="cpu", weights_only=True)
        )
        report = prune.measure(module, sparsity)
        prune.write_report(folder, report)
    out = {k: v for k, v in report.items() if k != "size_cache"}
    out["folder"] = str(folder)
    return out


def _resolve_hf(path: Path, batch: int, shapes: dict[str, tuple[int, ...]], formats: set[str] | None) -> ModelArtifact:
    """A Hugging Face checkpoint directory (:mod:`workbench.models.hf`) as an artifact.

    torch runs the directory itself (``torch-builtin``: architecture from ``config.json``, weights from the
    safetensors); ONNX and IR are exported/converted like a built-in's, cached under
    ``cache_dir()/models/hf-<dir name>/<content hash>/<key>/``. The model's inputs and output names are found
    once per content hash (one forward pass) and kept in ``signature.json`` beside the exports. Text models are
    exported like the built-in ones (eager attention, dynamic batch/sequence axes, opset 18) and torch runs them
    with transformers' default attention; vision models are exported with static shapes.
    """
    from workbench.models import hf

    config = hf.read_config(path)
    label = path.resolve().name
    digest = hf.content_hash(path)
    base = builtin_cache_dir(f"hf-{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}", digest[:16])
    sig = _hf_signature(path, base, config)
    template = hf.input_specs(config, sig["inputs"])
    specs = bind_shapes(template, batch=batch, shapes=shapes, defaults=hf.default_dims(config), label=label)
    hf.check_dims(specs, config, label)
    real_batch = _leading_dim(specs, batch)
    outputs = tuple(sig["outputs"])
    text = any("seq" in t.shape for t in template)
    recipe = zoo.recipe_for(template, zoo.TEXT_DYNAMIC if text else (), transformers=True, outputs=outputs)
    wanted = [f for f in BUILTIN_FORMATS if f != "torch-builtin" and (formats is None or f in formats)]
    fields = {
        "cache_format": CACHE_FORMAT,
        "hf_content": digest,
        "inputs": [[t.name, list(t.shape), t.dtype] for t in specs],
        "batch": real_batch,
        "precision": "fp32",
        "onnx_opset": recipe.opset,
        "onnx_export": recipe.to_dict(),
        "openvino_convert": OPENVINO_CONVERT,
        "versions": {pkg: _version(pkg) for pkg in CACHE_PACKAGES},
    }
    folder = base / cache_key(fields)
    files = {f: folder / _CACHE_FILES[f] for f in wanted}
    if not all(_complete(p) for p in files.values()):
        folder.mkdir(parents=True, exist_ok=True)
        with _file_lock(folder / ".lock"):
            _build_missing(
                label,
                specs,
                outputs,
                0,
                folder,
                wanted,
                fields,
                module_fn=lambda _folder, _tmp: _step(f"load {label}", hf.load_module, path, sig["inputs"]),
                recipe=recipe,
            )
    out: dict[str, str] = {}
    if formats is None or "torch-builtin" in formats:
        out["torch-builtin"] = str(path.resolve())
    out.update({f: str(p) for f, p in files.items()})
    return ModelArtifact(
        name=label,
        source="file",
        files=out,
        inputs=specs,
        outputs=outputs,
        task=hf.task(config),
        builtin=None,
        reference_engine=model_formats.builtin_reference_engine(),
        batch=real_batch,
        export={f: v for f, v in export_record(recipe).items() if f in out},
    )


def _hf_signature(path: Path, base: Path, config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The checkpoint's input and output names, from ``base/signature.json`` or one forward pass (then saved
    there by atomic rename). Raises ModelError when the model cannot be loaded or the cache cannot be written."""
    from workbench.models import hf

    cached = base / "signature.json"
    try:
        found = json.loads(cached.read_text())
    except (OSError, ValueError):
        found = None  # not cached yet (or damaged): found below
    if isinstance(found, dict) and found.get("inputs") and isinstance(found.get("outputs"), list):
        return {"inputs": list(found["inputs"]), "outputs": list(found["outputs"])}
    sig = _step(f"load {path.name}", hf.signature, path, config)
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".signature-{os.getpid()}.json"
        tmp.write_text(json.dumps(sig, indent=2))
        os.replace(tmp, cached)
    except OSError as exc:
        raise ModelError(
            f"cannot write the model cache in {base}: {exc.strerror or exc}; check free space and permissions"
        ) from exc
    return sig


def _complete(path: Path) -> bool:
    """A cached file is complete once it exists (files only appear by atomic rename; .bin lands before .xml)."""
    return path.is_file() and (path.suffix != ".xml" or path.with_suffix(".bin").is_file())


def _build_missing(
    name: str,
    specs: tuple[TensorSpec, ...],
    outputs: tuple[str, ...],
    seed: int,
    folder: Path,
    wanted: list[str],
    fields: Mapping[str, object],
    module_fn: Callable[[Path, Path], torch.nn.Module] | None = None,
    recipe: zoo.ExportRecipe | None = None,
) -> None:
    """Build the files in ``wanted`` that ``folder`` lacks. Call with the folder's lock held.

    Files are written into a temp dir inside ``folder`` and moved into place with ``os.replace``. The ONNX file
    is built (and kept) whenever the IR is needed, since the IR is converted from it. ``module_fn(folder, tmp)``
    gives the module to export (default: built-in ``name`` with the folder's cached weights); ``recipe`` says how
    (:func:`export_onnx`; default static, opset :data:`ONNX_OPSET`). Raises ModelError
    when the build, export or conversion fails or the cache cannot be written.
    """
    need = {f for f in wanted if not _complete(folder / _CACHE_FILES[f])}
    if "openvino" in need and not _complete(folder / _CACHE_FILES["onnx"]):
        need.add("onnx")
    if not need:
        return
    for stale in folder.glob(".tmp-*"):  # left by a killed build; we hold the lock, so nobody else is writing
        shutil.rmtree(stale, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp-") as tmp_name:
            tmp = Path(tmp_name)
            if module_fn is not None:
                module = module_fn(folder, tmp)
            else:
                module = _module_with_cached_weights(name, seed, folder, tmp)
            if "onnx" in need:
                _step(f"export {name} to ONNX", export_onnx, module, specs, tmp / "model.onnx", outputs, recipe)
                os.replace(tmp / "model.onnx", folder / "model.onnx")
            if "openvino" in need:
                _step(
                    f"convert {name} to OpenVINO IR", convert_openvino, folder / "model.onnx", tmp / "model.xml", specs
                )
                os.replace(tmp / "model.bin", folder / "model.bin")  # .bin first: a present .xml means complete
                os.replace(tmp / "model.xml", folder / "model.xml")
            (tmp / "meta.json").write_text(json.dumps(fields, indent=2, sort_keys=True))
            os.replace(tmp / "meta.json", folder / "meta.json")
    except OSError as exc:
        raise ModelError(
            f"cannot write the model cache in {folder}: {exc.strerror or exc}; check free space and permissions"
        ) from exc


def _module_with_cached_weights(name: str, seed: int, folder: Path, tmp: Path) -> torch.nn.Module:
    """Build ``name``; load the folder's cached state dict, or save a new one (via ``tmp``) if there is none.

    Every format in a cache folder thus comes from the same weights. Raises ModelError when building fails.
    """
    import torch

    weights = folder / _CACHE_FILES["torch-builtin"]
    cached = weights.is_file()
    module = _step(f"build {name}", zoo.build_module, name, seed, calibrate=not cached)
    if cached:
        module.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    else:
        torch.save(module.state_dict(), tmp / weights.name)
        os.replace(tmp / weights.name, weights)
    return module


def _step(what: str, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run one build step; anything but a WorkbenchError or OSError becomes ModelError("could not <what>")."""
    try:
        return fn(*args, **kwargs)
    except (WorkbenchError, OSError):
        raise
    except Exception as exc:
        raise ModelError(f"could not {what}: {_first_line(exc)}") from exc


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed); a no-op where fcntl does not exist."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ---------------------------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------------------------


def resolve_file(path: Path, *, batch: int = 1, shapes: Mapping[str, tuple[int, ...]] | None = None) -> ModelArtifact:
    """Resolve a model file (see :data:`FILE_TYPES`). Raises ModelError / UsageError as :func:`resolve`."""
    shapes = _check_shapes(shapes)
    _check_file(path)
    fmt = model_formats.detect_format(path)  # suffix, then content where a suffix is shared; refuses pickles
    reader = _SPEC_READERS.get(fmt)
    if reader is None:
        raise ModelError(f"{path.name}: reading {model_formats.get_format(fmt).label} files is not supported yet")
    raw, outputs = reader(path, shapes)
    reference = model_formats.reference_engine(fmt)
    specs = bind_shapes(raw, batch=batch, shapes=shapes, label=path.name)
    return ModelArtifact(
        name=path.name,
        source="file",
        files={fmt: str(path.resolve())},
        inputs=specs,
        outputs=tuple(outputs),
        task="generic",
        builtin=None,
        reference_engine=reference,
        batch=_leading_dim(specs, batch),
    )


def _check_file(path: Path) -> None:
    """Raise ModelError when ``path`` is missing, a directory or empty."""
    if not path.exists():
        raise ModelError(f"model file not found: {path} (check the path; 'workbench models' lists the built-in names)")
    if path.is_dir():
        raise ModelError(
            f"{path} is a directory: pass a model file ({', '.join(FILE_TYPES)}) or a Hugging Face checkpoint "
            "directory (config.json + model.safetensors)"
        )
    if path.stat().st_size == 0:
        raise ModelError(f"model file {path.name} is empty")


def _looks_like_path(model: str) -> bool:
    """True when ``model`` is clearly meant as a file (has a separator or a model-file extension)."""
    suffixes = (*FILE_TYPES, *model_formats.companion_suffixes())
    return os.sep in model or "/" in model or Path(model).suffix.lower() in suffixes


def read_onnx_specs(
    path: Path, shapes: Mapping[str, tuple[int, ...]] | None = None
) -> tuple[list[TensorSpec], list[str]]:
    """Input specs (graph inputs that are not initializers) and output names of an ONNX file.

    Dims are ints, ``dim_param`` names, or ``"?"`` when unnamed. An input without any shape information takes
    its rank from ``shapes`` (its sizes are bound later). Weights in external files are not read, but each
    external-data file the model names must exist beside it. Raises ModelError when the file is not a valid
    ONNX model, names an external-data file that is missing, has a non-tensor input or an input of unknown rank
    that ``shapes`` does not cover.
    """
    import onnx
    from onnx import helper

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{path.name} is not a valid ONNX model ({_first_line(exc)})") from exc
    graph = proto.graph
    if not graph.node and not graph.input:
        raise ModelError(f"{path.name} is not a valid ONNX model (empty graph)")
    _check_external_data(path, proto)
    weights = {init.name for init in graph.initializer}
    values = [v for v in graph.input if v.name not in weights]
    given = _apply_wildcard(shapes or {}, [v.name for v in values], path.name)
    specs: list[TensorSpec] = []
    for value in values:
        if not value.type.HasField("tensor_type"):
            raise ModelError(f"{path.name}: input {value.name!r} is not a tensor; only tensor inputs are supported")
        tensor = value.type.tensor_type
        try:
            string = tensor.elem_type == onnx.TensorProto.STRING
            dtype = "string" if string else helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
        except Exception:
            raise ModelError(f"{path.name}: input {value.name!r} has an unsupported element type") from None
        if tensor.HasField("shape"):
            shape = tuple(_onnx_dim(d) for d in tensor.shape.dim)
        elif value.name in given:
            shape = ("?",) * len(given[value.name])
        else:
            raise ModelError(
                f"{path.name}: input {value.name!r} has no shape information: pass --shape {value.name}=... "
                "with all its sizes"
            )
        specs.append(_file_spec(value.name, shape, dtype))
    return specs, [o.name for o in graph.output]


def _check_external_data(path: Path, proto: Any) -> None:
    """Raise ModelError naming the first external-data file ``proto`` needs that is not beside ``path``."""
    for location in model_formats.onnx_external_data(proto):
        expected = path.parent / location
        if not expected.is_file():
            raise ModelError(
                f"{path.name} keeps its weights in the external data file {location!r}, which is missing: "
                f"put it beside {path.name} (expected {expected})"
            )


def _onnx_dim(dim: Any) -> int | str:
    """An ONNX ``TensorShapeProto.Dimension`` as an int, its ``dim_param`` name, or ``"?"``."""
    if dim.HasField("dim_value") and dim.dim_value > 0:
        return int(dim.dim_value)
    if dim.HasField("dim_param") and dim.dim_param:
        return str(dim.dim_param)
    return "?"


_IR_TYPES = {
    "f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64",
    "i64": "int64", "i32": "int32", "i16": "int16", "i8": "int8",
    "u64": "uint64", "u32": "uint32", "u16": "uint16", "u8": "uint8", "boolean": "bool", "string": "string",
}  # fmt: skip


def read_ir_specs(xml_path: Path) -> tuple[list[TensorSpec], list[str]]:
    """Input specs and output names of an OpenVINO IR, read from the ``.xml`` alone (no openvino import).

    Inputs are the ``Parameter`` layers; a dim written ``?``, ``-1`` (or any size below 1) or as a range
    (``1..8``) is dynamic. Outputs without a tensor name (IRs made with ``ov.convert_model(torch_module)``) are
    named ``output_<index>``, as the OpenVINO adapter names them. Raises ModelError when the ``.bin`` is missing
    or the XML is not an IR.
    """
    import xml.etree.ElementTree as ET

    bin_path = xml_path.with_suffix(".bin")
    if not bin_path.is_file():
        raise ModelError(f"{xml_path.name} needs {bin_path.name} beside it (OpenVINO keeps the weights there)")
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise ModelError(f"{xml_path.name} is not a valid OpenVINO IR (XML error: {exc})") from exc
    layers = root.find("layers")
    if root.tag != "net" or layers is None:
        raise ModelError(f"{xml_path.name} is not an OpenVINO IR (expected a <net> with <layers>)")
    specs: list[TensorSpec] = []
    port_names: dict[tuple[str, str], str] = {}
    results: list[tuple[str, str | None, str]] = []  # (layer id, output_names attr, layer name)
    for layer in layers.findall("layer"):
        for port in layer.findall("output/port"):
            names = port.get("names")
            if names:
                port_names[(layer.get("id", ""), port.get("id", ""))] = names.split(",")[0].strip()
        kind = layer.get("type")
        if kind == "Parameter":
            specs.append(_ir_parameter(xml_path, layer))
        elif kind == "Result":
            results.append((layer.get("id", ""), layer.get("output_names"), layer.get("name", "")))
    feeds = {
        (e.get("to-layer", ""), e.get("to-port", "")): (e.get("from-layer", ""), e.get("from-port", ""))
        for e in root.findall("edges/edge")
    }
    outputs = []
    for index, (layer_id, attr, _layer_name) in enumerate(results):
        source = feeds.get((layer_id, "0"))
        name = attr.split(",")[0].strip() if attr else port_names.get(source or ("", ""), f"output_{index}")
        outputs.append(name if name not in outputs else f"{name}_{index}")
    return specs, outputs


def _ir_parameter(xml_path: Path, layer: Any) -> TensorSpec:
    """The spec of one ``<layer type="Parameter">`` element. Raises ModelError for damaged or exotic ones."""
    data = layer.find("data")
    port = layer.find("output/port")
    layer_name = layer.get("name", "")
    names = port.get("names") if port is not None else None
    name = names.split(",")[0].strip() if names else layer_name
    if data is None:
        raise ModelError(f"{xml_path.name}: Parameter {name!r} has no <data> element; the IR looks damaged")
    element = data.get("element_type", "f32")
    dtype = _IR_TYPES.get(element)
    if dtype is None:
        raise ModelError(f"{xml_path.name}: input {name!r} has element type {element!r}, which is not supported")
    text = data.get("shape", "").strip()
    shape = tuple(_ir_dim(tok.strip()) for tok in text.split(",")) if text else ()
    return _file_spec(name, shape, dtype)


def _ir_dim(token: str) -> int | str:
    if re.fullmatch(r"-?\d+", token):
        return int(token) if int(token) > 0 else "?"
    return "?" if token in ("", "?") else token  # ranges such as "1..8" stay as written (dynamic)


# ---- torch files -----------------------------------------------------------------------------------------------


#: torch.export serialized ScalarType codes (torch._export.serde.schema.ScalarType) -> numpy dtype names.
_PT2_DTYPES = {
    1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "float16", 7: "float32", 8: "float64",
    12: "bool", 13: "bfloat16", 28: "uint16", 34: "uint32", 35: "uint64",
}  # fmt: skip


def read_pt2_specs(path: Path) -> tuple[list[TensorSpec], list[str]]:
    """Input specs and output names of a ``torch.export`` archive, from the serialized graph (JSON).

    Reads the user inputs' tensor metadata (the placeholders' shapes and dtypes) without loading weights or
    unpickling anything. Symbolic dims keep their names (``s0``...), shared across inputs. Raises ModelError
    when the archive holds no readable exported program or a user input is not a tensor.
    """
    program = _pt2_program(path)
    try:
        graph_module = program["graph_module"]
        signature = graph_module["signature"]
        values = graph_module["graph"]["tensor_values"]
        specs = []
        for entry in signature["input_specs"]:
            if "user_input" not in entry:
                continue
            arg = entry["user_input"]["arg"]
            if "as_tensor" not in arg:
                kind = next(iter(arg), "?")
                raise ModelError(f"{path.name} takes a non-tensor input ({kind}); only tensor inputs are supported")
            name = arg["as_tensor"]["name"]
            meta = values[name]
            dtype = _PT2_DTYPES.get(int(meta["dtype"]))
            if dtype is None:
                raise ModelError(f"{path.name}: input {name!r} has an unsupported dtype code {meta['dtype']}")
            specs.append(_file_spec(name, tuple(_pt2_dim(s) for s in meta["sizes"]), dtype))
        outputs = [
            e["user_output"]["arg"].get("as_tensor", {}).get("name", f"output_{i}")
            for i, e in enumerate(signature["output_specs"])
            if "user_output" in e
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path.name}: cannot read the exported program's inputs (missing {exc})") from exc
    return specs, outputs


def _pt2_program(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        members = archive.namelist()
        candidates = [m for m in members if re.search(r"(^|/)models/[^/]+\.json$", m)]
        candidates.sort(key=lambda m: (not m.endswith("/model.json"), m))
        candidates += [m for m in members if m.endswith("serialized_exported_program.json")]
        if not candidates:
            raise ModelError(
                f"{path.name} holds no exported program (AOTInductor packages are not supported): "
                "save one with torch.export.save"
            )
        try:
            return json.loads(archive.read(candidates[0]))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path.name}: the exported program is not readable JSON ({exc})") from exc


def _pt2_dim(size: Mapping[str, Any]) -> int | str:
    if "as_int" in size:
        return int(size["as_int"])
    expr = size.get("as_expr", {})
    text = str(expr.get("expr_str", "?")) if isinstance(expr, Mapping) else "?"
    match = re.fullmatch(r"Symbol\('([^']+)'.*\)", text)
    return match.group(1) if match else f"({text})"  # compound expressions stay unresolved, never bound


#: TorchScript scalar argument types -> the dtype of the 0-d spec that carries them (the torch adapter passes the
#: value as a Python number, :data:`workbench_engines.base.SCALAR_ROLE`).
_TS_SCALARS = {"int": "int64", "float": "float32", "bool": "bool"}


def torchscript_arguments(path: Path) -> list[tuple[str, str]]:
    """``(name, kind)`` of the arguments of a TorchScript module's ``forward`` (``self`` excluded) the workbench
    feeds: ``kind`` is ``"tensor"`` or a scalar type (``int``, ``float``, ``bool``) without a default value — a
    scalar with a default keeps it, like any argument of another type.

    Loads the module with ``torch.jit.load`` (TorchScript's own restricted loader). Raises ModelError.
    """
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.* warns on every call since 2.x
            module = torch.jit.load(str(path), map_location="cpu")
        schema = module.forward.schema
    except Exception as exc:
        raise ModelError(f"cannot load TorchScript file {path.name}: {_first_line(exc)}") from exc
    out: list[tuple[str, str]] = []
    for arg in schema.arguments[1:]:
        kind = str(arg.type)
        if "Tensor" in kind:
            out.append((arg.name, "tensor"))
        elif kind in _TS_SCALARS and not arg.has_default_value():
            out.append((arg.name, kind))
    return out


def torchscript_input_names(path: Path) -> list[str]:
    """Names of the tensor arguments of a TorchScript module's ``forward`` (``self`` excluded). Raises
    ModelError."""
    return [name for name, kind in torchscript_arguments(path) if kind == "tensor"]


def torchscript_specs(path: Path, shapes: Mapping[str, tuple[int, ...]]) -> list[TensorSpec]:
    """Specs of a TorchScript module: names from ``forward``, shapes from ``shapes`` (TorchScript records none).

    Dtypes are guessed from names: ``*mask*`` -> int64 mask, ``*ids``/``*token*`` -> int64 tokens, else float32.
    A scalar argument without a default (``sr: int``) is a 0-d spec of role ``scalar`` that takes its value from
    ``--input sr=16000`` (a generated one otherwise, and a failing run then suggests that line).
    Raises ModelError naming every tensor input without a shape.
    """
    arguments = torchscript_arguments(path)
    names = [n for n, kind in arguments if kind == "tensor"]
    given = _apply_wildcard(shapes, names, path.name)
    missing = [n for n in names if n not in given]
    if missing:
        example = " ".join(f"--shape {n}=1x3x224x224" for n in missing[:2])
        raise ModelError(
            f"{path.name} is TorchScript, which records no input shapes: pass --shape for every input "
            f"({', '.join(missing)}), e.g. {example}"
        )
    specs = []
    for name, kind in arguments:
        if kind != "tensor":
            specs.append(TensorSpec(name=name, shape=(), dtype=_TS_SCALARS[kind], role=SCALAR_ROLE))
            continue
        low = name.lower()
        is_int = "mask" in low or low.endswith("ids") or "token" in low
        specs.append(_file_spec(name, tuple(given[name]), "int64" if is_int else "float32"))
    return specs


# ---------------------------------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------------------------------


def _file_spec(name: str, shape: tuple[int | str, ...], dtype: str) -> TensorSpec:
    return TensorSpec(name=name, shape=shape, dtype=dtype, role=guess_role(name, dtype, len(shape)))


def guess_role(name: str, dtype: str, rank: int) -> str:
    """Role of a file input: float 4-D -> image, float -> data; int/bool ``*mask*`` -> mask; ``*type*``,
    ``*segment*`` or ``*position*`` ids -> data (zeros); other ints -> tokens (small safe id range)."""
    low = name.lower()
    if dtype == "string":
        return "text"
    if dtype.startswith(("float", "bfloat")):
        return "image" if rank == 4 else "data"
    if "mask" in low:
        return "mask"
    if dtype == "bool" or any(k in low for k in ("type", "segment", "position")):
        return "data"
    return "tokens"


def _is_symbol(dim: int | str) -> TypeGuard[str]:
    """Named symbolic dims bind across inputs; ``?``, ranges and expressions never do."""
    return isinstance(dim, str) and dim != "?" and ".." not in dim and not dim.startswith("(")


def _fmt(shape: Sequence[int | str]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def _check_shapes(shapes: Mapping[str, tuple[int, ...]] | None) -> dict[str, tuple[int, ...]]:
    """Validate ``--shape`` values: tuples of positive ints. Raises UsageError."""
    out: dict[str, tuple[int, ...]] = {}
    for name, shape in (shapes or {}).items():
        key = "*" if name in (None, *WILDCARD_KEYS) else str(name)
        try:
            dims = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise UsageError(f"--shape {name}: sizes must be integers, e.g. {name or 'x'}=1x3x224x224") from None
        if not dims or any(d < 1 for d in dims):
            raise UsageError(f"--shape {name}={_fmt(dims)}: every size must be a positive integer")
        out[key] = dims
    return out


def _apply_wildcard(
    shapes: Mapping[str, tuple[int, ...]], names: Sequence[str], label: str
) -> dict[str, tuple[int, ...]]:
    """Map a wildcard shape onto the only input; reject names the model does not have. Raises UsageError."""
    given = dict(shapes)
    if "*" in given:
        if len(names) != 1:
            raise UsageError(
                f"{label} has {len(names)} inputs ({', '.join(names)}): name each one, e.g. --shape {names[0]}=..."
                if names
                else f"{label} has no inputs to shape"
            )
        if names[0] in given:
            raise UsageError(f"--shape given twice for input {names[0]!r}")
        given[names[0]] = given.pop("*")
    unknown = [n for n in given if n not in names]
    if unknown:
        raise UsageError(f"--shape names {unknown[0]!r}, but {label} has inputs: {', '.join(names)}")
    return given


def bind_shapes(
    specs: Sequence[TensorSpec],
    *,
    batch: int,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    defaults: Mapping[str, int] | None = None,
    label: str = "the model",
) -> tuple[TensorSpec, ...]:
    """Make every dim static.

    Order: ``shapes`` (full shapes by input name) first — their sizes also bind the named symbols they cover,
    for other inputs sharing them; then a dynamic leading dim becomes ``batch``; then ``defaults`` fill named
    symbols. A ``batch`` above 1 must agree with the first input's leading dim (a fixed or ``--shape`` size).
    Raises UsageError for shapes that contradict the model, ModelError listing dims still unknown.
    """
    given = _apply_wildcard(shapes or {}, [s.name for s in specs], label)
    bound: dict[str, int] = {}
    for spec in specs:
        if spec.name in given:
            _bind_given(spec, given[spec.name], bound)
    resolved = []
    for spec in specs:
        dims = list(given.get(spec.name, spec.shape))
        if dims and not isinstance(dims[0], int):
            if _is_symbol(dims[0]):
                bound.setdefault(dims[0], batch)
            else:
                dims[0] = batch
        dims = [bound.get(d, (defaults or {}).get(d, d)) if isinstance(d, str) else d for d in dims]
        resolved.append(TensorSpec(spec.name, tuple(dims), spec.dtype, spec.role, spec.vocab_size))
    _check_unknown(specs, resolved, label)
    _check_batch(resolved, batch, given, label)
    return tuple(resolved)


def _bind_given(spec: TensorSpec, shape: tuple[int, ...], bound: dict[str, int]) -> None:
    """Check a ``--shape`` against the model's dims and record the symbols it binds. Raises UsageError."""
    if len(shape) != len(spec.shape):
        raise UsageError(
            f"--shape {spec.name}={_fmt(shape)} has {len(shape)} dims but input {spec.name!r} "
            f"has {len(spec.shape)} ({_fmt(spec.shape)})"
        )
    for want, got in zip(spec.shape, shape, strict=True):
        if isinstance(want, int) and want != got:
            raise UsageError(
                f"--shape {spec.name}={_fmt(shape)} does not fit input {spec.name!r}, "
                f"whose fixed shape is {_fmt(spec.shape)}"
            )
        if _is_symbol(want):
            if bound.get(want, got) != got:
                raise UsageError(
                    f"--shape gives dim {want!r} two sizes ({bound[want]} and {got}); inputs sharing it must agree"
                )
            bound[want] = got


def _check_unknown(original: Sequence[TensorSpec], resolved: Sequence[TensorSpec], label: str) -> None:
    """Raise one ModelError listing every dim still unbound, by input and position, with a ``--shape`` line to
    paste (:func:`suggest_shape` picks the sizes).

    Whatever an exporter calls a free dim (``batch``, ``p2o.DynamicDimension.0``, ``unk__12``, ``?``, a range,
    0 or -1) it is unbound until ``--shape`` binds it. An input whose unbound dims are all named dims an earlier
    suggestion covers gets no flag of its own: one ``--shape`` binds a shared name (e.g. ``seq``) everywhere.
    """
    sizes: dict[str, int] = {}
    covered: set[str] = set()
    listed: list[tuple[str, str]] = []  # (input, its unbound dims by position)
    flags: list[str] = []
    for orig, res in zip(original, resolved, strict=True):
        unknown = [(i, d) for i, d in enumerate(res.shape) if not isinstance(d, int)]
        if not unknown:
            continue
        listed.append((orig.name, ", ".join(f"dim {i} ({d!r})" for i, d in unknown)))
        suggestion = suggest_shape(res, sizes)
        if all(_is_symbol(d) and d in covered for _, d in unknown):
            continue
        covered.update(d for _, d in unknown if _is_symbol(d))
        flags.append(f"--shape {orig.name}={_fmt(suggestion)}")
    if not listed:
        return
    paste = f"pass {' '.join(flags)} (suggested sizes: use your model's)"
    if len(listed) == 1:
        raise ModelError(f"input {listed[0][0]!r} has unknown dims: {listed[0][1]}; {paste}")
    dims = "; ".join(f"{name!r} {where}" for name, where in listed)
    raise ModelError(f"{label} has unknown dims: {dims}; {paste}")


#: Sizes :func:`suggest_shape` proposes: image sides, channels, token sequences, anything else.
SUGGESTED_SIDE, SUGGESTED_CHANNELS, SUGGESTED_SEQ, SUGGESTED_OTHER = 224, 3, 128, 1


def suggest_shape(spec: TensorSpec, sizes: dict[str, int] | None = None) -> tuple[int, ...]:
    """A full shape for ``spec`` with a sensible size for every unbound dim, for the ``--shape`` hint.

    Batch (dim 0) 1; an image-like input (float, 4-D) gets 3 channels and square sides, the fixed (or first
    suggested) side when there is one, else 224; the second dim of an integer 2-D input (tokens, masks) 128; anything else 1. A range
    (``1..8``) keeps the size inside it. ``sizes`` (named dim -> size) is read and filled so a name shared by
    several inputs gets one size.
    """
    sizes = {} if sizes is None else sizes
    shape = spec.shape
    image = len(shape) == 4 and spec.dtype.startswith(("float", "bfloat"))
    last_is_channels = image and shape[3] in (1, 3, 4) and shape[1] not in (1, 3, 4)
    spatial = (1, 2) if last_is_channels else (2, 3)
    sides = [shape[i] for i in spatial if isinstance(shape[i], int)] if image else []
    out: list[int] = []
    for i, dim in enumerate(shape):
        if isinstance(dim, int):
            out.append(dim)
            continue
        if _is_symbol(dim) and dim in sizes:
            out.append(sizes[dim])
            continue
        if i == 0:
            size = 1
        elif image and i in spatial:
            size = int(sides[0]) if sides else SUGGESTED_SIDE
        elif image:
            size = SUGGESTED_CHANNELS
        elif len(shape) == 2 and i == 1 and not spec.dtype.startswith(("float", "bfloat")):
            size = SUGGESTED_SEQ
        else:
            size = SUGGESTED_OTHER
        size = _within_range(dim, size)
        if image and i in spatial:
            sides.append(size)  # the other side follows: square
        if _is_symbol(dim):
            sizes[dim] = size
        out.append(size)
    return tuple(out)


def _within_range(dim: str, size: int) -> int:
    """``size`` moved inside a range dim such as ``1..8`` (an open end is ``-1`` or empty)."""
    match = re.fullmatch(r"(-?\d*)\.\.(-?\d*)", dim)
    if not match:
        return size
    low = int(match.group(1)) if match.group(1) not in ("", "-1") else 1
    high = int(match.group(2)) if match.group(2) not in ("", "-1") else None
    size = max(size, low, 1)
    return min(size, high) if high is not None and high >= 1 else size


def _check_batch(resolved: Sequence[TensorSpec], batch: int, given: Mapping[str, tuple[int, ...]], label: str) -> None:
    """A ``batch`` above 1 must match the first input's leading dim. Raises UsageError."""
    if batch <= 1 or not resolved or not resolved[0].shape:
        return
    first = resolved[0]
    lead = first.shape[0]
    if lead == batch:
        return
    if first.name in given:
        raise UsageError(f"--batch {batch} contradicts --shape {first.name}={_fmt(first.shape)}; drop one of them")
    raise UsageError(
        f"{label} has a fixed batch of {lead} (input {first.name!r} is {_fmt(first.shape)}): "
        f"use --batch {lead}, or re-export the model with a dynamic batch dim"
    )


def _leading_dim(specs: Sequence[TensorSpec], batch: int) -> int:
    """The batch the artifact really runs: the first input's leading dim (``batch`` for scalar inputs)."""
    if specs and specs[0].shape and isinstance(specs[0].shape[0], int):
        return int(specs[0].shape[0])
    return batch


def read_tflite_specs(path: Path) -> tuple[list[TensorSpec], list[str]]:
    """Input specs and output names of a TensorFlow Lite file, as OpenVINO's TFLite frontend reads it (the one
    engine here that runs TFLite; a dynamic dim, ``-1`` in the file's shape signature, is ``"?"``). Raises
    ModelError when OpenVINO is not installed or cannot read the file."""
    try:
        import openvino as ov
    except ImportError:
        raise ModelError(f"{path.name} is TensorFlow Lite, which runs on OpenVINO only: pip install openvino") from None
    from workbench_engines.openvino_engine import OpenVinoEngine, read_any_model

    try:
        model = read_any_model(ov.Core(), str(path))
    except Exception as exc:
        raise ModelError(
            f"openvino could not read the TensorFlow Lite file {path.name}: {OpenVinoEngine.explain_error(exc)}"
        ) from exc
    specs = []
    for i, port in enumerate(model.inputs):
        name = str(port.get_any_name()) if port.get_names() else f"input_{i}"
        shape = tuple(int(d.get_length()) if d.is_static else "?" for d in port.get_partial_shape())
        dtype = _IR_TYPES.get(port.get_element_type().get_type_name(), None)
        if dtype is None:
            raise ModelError(f"{path.name}: input {name!r} has the unsupported element type {port.get_element_type()}")
        specs.append(_file_spec(name, shape, dtype))
    outputs = [str(p.get_any_name()) if p.get_names() else f"output_{i}" for i, p in enumerate(model.outputs)]
    return specs, outputs


SpecReader = Callable[[Path, Mapping[str, tuple[int, ...]]], tuple[list[TensorSpec], list[str]]]
#: format -> how to read a file's input specs and output names (the format itself is recognised by the format
#: table, :func:`workbench_engines.formats.detect_format`).
_SPEC_READERS: dict[str, SpecReader] = {
    "onnx": read_onnx_specs,
    "openvino": lambda path, shapes: read_ir_specs(path),
    "torchscript": lambda path, shapes: (torchscript_specs(path, shapes), []),
    "pt2": lambda path, shapes: read_pt2_specs(path),
    "tflite": lambda path, shapes: read_tflite_specs(path),
}


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
