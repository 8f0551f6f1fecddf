"""Built-in model zoo: real architectures with seeded random weights, built locally.

No weights are downloaded: every built-in is constructed from its architecture definition (torchvision,
transformers, or a small definition in this file) after ``torch.manual_seed(seed)``, so the same seed gives the
same weights. That is all a latency benchmark needs — the arithmetic does not depend on the weight values — and
it keeps the workbench usable on machines without internet access. Accuracy is meaningless for these weights.

Importing this module is cheap: the registry (:data:`BUILTINS`, :func:`get`, :func:`names`) is plain data, and
torch / torchvision / transformers are imported only inside :func:`build_module`. The CLI lists models without
importing torch.

Input templates use symbolic dims: ``"batch"`` always comes from ``--batch``; the other symbols (``height``,
``width``, ``seq``) take their defaults from :attr:`BuiltinModel.dims` unless ``--shape`` overrides them.

How a built-in reaches each engine is part of the measurement, so it is stated here, once (:func:`export_recipe`):
transformers text models are exported the way their users get them from optimum (opset 18, batch and sequence
axes dynamic, so ONNX Runtime keeps plain MatMuls instead of rewriting them into Gemm calls wrapped in Reshapes)
and torch runs them with transformers' default attention (SDPA), not the eager attention the export traces.
docs/engines.md (*What each engine is given*) has the measurements behind these choices.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from workbench.errors import ModelError, closest, first_line
from workbench_engines.base import TensorSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

TASKS: tuple[str, ...] = ("image-classification", "text-classification", "ocr")

#: OCR alphabet of ``ocr_crnn``: CTC blank first, then digits and lower-case letters (37 classes).
OCR_ALPHABET = "-0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class BuiltinModel:
    """Metadata of one built-in model (no torch needed to read it).

    ``inputs`` is a template whose shapes may hold symbolic dims: ``"batch"`` plus the keys of ``dims``
    (their default sizes). :meth:`input_specs` binds them to concrete sizes.
    """

    name: str
    description: str
    task: str
    inputs: tuple[TensorSpec, ...]
    dims: Mapping[str, int] = field(default_factory=dict)
    params: int = 0  # approximate parameter count
    source: str = "torchvision"  # "torchvision" | "transformers" | "workbench"
    outputs: tuple[str, ...] = ("logits",)
    #: symbolic dims of ``inputs`` left dynamic in the ONNX export (the engines bind them when they load the file);
    #: empty: the export has the static shapes of the run
    dynamic: tuple[str, ...] = ()

    def input_specs(self, batch: int = 1) -> tuple[TensorSpec, ...]:
        """Static input specs for ``batch`` with the default sizes of the other symbolic dims.

        Raises ValueError when ``batch`` < 1.
        """
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        values = {**self.dims, "batch": batch}
        return tuple(
            TensorSpec(
                name=t.name,
                shape=tuple(values[d] if isinstance(d, str) else d for d in t.shape),
                dtype=t.dtype,
                role=t.role,
                vocab_size=t.vocab_size,
            )
            for t in self.inputs
        )

    @property
    def params_human(self) -> str:
        """The parameter count for people, e.g. ``"11.7M"``."""
        return human_count(self.params)


def human_count(n: int) -> str:
    """``11689512`` -> ``"11.7M"``; ``9754`` -> ``"9.8k"`` (:func:`workbench.units.count`)."""
    from workbench.units import count

    return count(n)


def _image(channels: int = 3) -> tuple[TensorSpec, ...]:
    return (TensorSpec("pixel_values", ("batch", channels, "height", "width"), "float32", "image"),)


def _text(vocab: int) -> tuple[TensorSpec, ...]:
    return (
        TensorSpec("input_ids", ("batch", "seq"), "int64", "tokens", vocab),
        TensorSpec("attention_mask", ("batch", "seq"), "int64", "mask"),
    )


def _hw(size: int) -> dict[str, int]:
    return {"height": size, "width": size}


#: The dims optimum's ONNX export leaves dynamic for text encoders (``batch_size``, ``sequence_length``).
TEXT_DYNAMIC: tuple[str, ...] = ("batch", "seq")
#: ONNX opset of static exports (the torchvision and workbench built-ins).
STATIC_OPSET = 17
#: ONNX opset of dynamic (transformers) exports: optimum's default (``OnnxConfig.DEFAULT_ONNX_OPSET``).
DYNAMIC_OPSET = 18
#: Attention implementation the ONNX export of a transformers model traces. Measured on bert_base (docs/engines.md):
#: ONNX Runtime ran the eager-traced graph 6 % faster than the SDPA-traced one (which optimum exports).
EXPORT_ATTENTION = "eager"
#: Attention implementation torch runs transformers built-ins with: None is transformers' own default, what
#: ``from_pretrained`` gives its users (SDPA where the architecture supports it, else eager).
TORCH_ATTENTION: str | None = None


@dataclass(frozen=True)
class ExportRecipe:
    """How a model is exported to ONNX (the ONNX Runtime file, and the source of the OpenVINO IR)."""

    exporter: str  # the torch exporter: "torchscript" (torch.onnx.export(dynamo=False))
    opset: int
    #: input name -> {axis: symbolic dim} left dynamic in the graph; empty for a fully static export
    dynamic_axes: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    #: the transformers attention implementation traced (None: not a transformers model)
    attention: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain data (the cache key and the result record carry it)."""
        dims = sorted({d for axes in self.dynamic_axes.values() for d in axes.values()})
        return {
            "exporter": self.exporter,
            "opset": self.opset,
            "dynamic_dims": dims,
            "dynamic_axes": {n: {str(i): d for i, d in sorted(a.items())} for n, a in self.dynamic_axes.items()},
            "attention": self.attention,
        }


def dynamic_axes(inputs: tuple[TensorSpec, ...], dynamic: tuple[str, ...]) -> dict[str, dict[int, str]]:
    """``{input: {axis: dim}}`` for the symbolic dims of ``inputs`` (templates) named in ``dynamic``."""
    out: dict[str, dict[int, str]] = {}
    for spec in inputs:
        axes = {i: d for i, d in enumerate(spec.shape) if isinstance(d, str) and d in dynamic}
        if axes:
            out[spec.name] = axes
    return out


def recipe_for(
    inputs: tuple[TensorSpec, ...], dynamic: tuple[str, ...], *, transformers: bool, outputs: tuple[str, ...] = ()
) -> ExportRecipe:
    """The export recipe of a model with input templates ``inputs``: dynamic (opset :data:`DYNAMIC_OPSET`) over the
    dims in ``dynamic`` when any input has one, else static (opset :data:`STATIC_OPSET`). A dynamic batch is
    dynamic in the outputs too (their leading dim), as optimum exports it."""
    axes = dynamic_axes(inputs, dynamic)
    if axes and "batch" in dynamic:
        axes.update({name: {0: "batch"} for name in outputs if name not in axes})
    return ExportRecipe(
        exporter="torchscript",
        opset=DYNAMIC_OPSET if axes else STATIC_OPSET,
        dynamic_axes=axes,
        attention=EXPORT_ATTENTION if transformers else None,
    )


def export_recipe(name: str) -> ExportRecipe:
    """How built-in ``name`` is exported to ONNX. Raises ModelError for unknown names."""
    info = get(name)
    return recipe_for(info.inputs, info.dynamic, transformers=info.source == "transformers", outputs=info.outputs)


# fmt: off
_BUILTIN_LIST: tuple[BuiltinModel, ...] = (
    BuiltinModel("resnet18", "ResNet-18 image classifier (torchvision), 224x224", "image-classification",
                 _image(), _hw(224), 11_689_512),
    BuiltinModel("resnet50", "ResNet-50 image classifier (torchvision), 224x224", "image-classification",
                 _image(), _hw(224), 25_557_032),
    BuiltinModel("vgg19", "VGG-19 image classifier (torchvision), 224x224; large and memory-bound",
                 "image-classification", _image(), _hw(224), 143_667_240),
    BuiltinModel("inception_v3", "Inception v3 image classifier (torchvision, no aux head), 299x299",
                 "image-classification", _image(), _hw(299), 23_834_568),
    BuiltinModel("mobilenet_v1", "MobileNet v1 (depthwise-separable convs, width 1.0), 224x224",
                 "image-classification", _image(), _hw(224), 4_231_976, "workbench"),
    BuiltinModel("mobilenet_v3_small", "MobileNet v3 small image classifier (torchvision), 224x224",
                 "image-classification", _image(), _hw(224), 2_542_856),
    BuiltinModel("mobilenet_v3_large", "MobileNet v3 large image classifier (torchvision), 224x224",
                 "image-classification", _image(), _hw(224), 5_483_032),
    BuiltinModel("efficientnet_b0", "EfficientNet-B0 image classifier (torchvision), 224x224",
                 "image-classification", _image(), _hw(224), 5_288_548),
    BuiltinModel("efficientnet_b2", "EfficientNet-B2 image classifier (torchvision), 260x260",
                 "image-classification", _image(), _hw(260), 9_109_994),
    BuiltinModel("mobilevit_xs", "MobileViT-XS hybrid CNN/transformer classifier (transformers), 256x256",
                 "image-classification", _image(), _hw(256), 2_317_848, "transformers"),
    BuiltinModel("distilbert", "DistilBERT-base sequence classifier (transformers, 2 labels), seq 128",
                 "text-classification", _text(30522), {"seq": 128}, 66_955_010, "transformers",
                 dynamic=TEXT_DYNAMIC),
    BuiltinModel("bert_base", "BERT-base sequence classifier (transformers, 2 labels), seq 128",
                 "text-classification", _text(30522), {"seq": 128}, 109_483_778, "transformers",
                 dynamic=TEXT_DYNAMIC),
    BuiltinModel("ocr_crnn", "CRNN-style text-line recogniser (CNN + BiLSTM), 1x224x224 grayscale -> 56x37",
                 "ocr", _image(1), _hw(224), 1_531_141, "workbench"),
    BuiltinModel("tiny_cnn", "Tiny 3-layer CNN, 3x32x32 -> 10 classes: a smoke-test model, not a benchmark",
                 "image-classification", _image(), _hw(32), 9_946, "workbench"),
)
# fmt: on

#: All built-ins by name, in display order.
BUILTINS: dict[str, BuiltinModel] = {m.name: m for m in _BUILTIN_LIST}


def names() -> tuple[str, ...]:
    """Names of all built-in models, in display order."""
    return tuple(BUILTINS)


def is_builtin(name: str) -> bool:
    return name in BUILTINS


def get(name: str) -> BuiltinModel:
    """The metadata of built-in ``name``. Raises ModelError (with a 'did you mean') for unknown names."""
    try:
        return BUILTINS[name]
    except KeyError:
        raise ModelError(unknown_model_message(name)) from None


def unknown_model_message(name: str) -> str:
    """One line for an unknown model name, with the closest built-in when there is one (a causal LM's name says
    which mode runs it)."""
    from workbench.models.generative import is_generative

    if is_generative(name):
        return f"{name} is a causal language model: it runs with workbench run --mode generate"
    guess = closest(name, names())
    hint = f"did you mean {guess!r}? " if guess else ""
    return f"unknown model {name!r}; {hint}(workbench models lists them)"


# ---------------------------------------------------------------------------------------------------------------
# torchvision import guard
# ---------------------------------------------------------------------------------------------------------------

#: Keeps the stand-in ``torchvision::nms``/``qnms`` schemas registered for the life of the process (see below).
_TORCHVISION_SHIM: Any = None


def ensure_torchvision(required: bool = True) -> None:
    """Make ``import torchvision`` (and ``import transformers``, which imports it) work with CPU torch.

    The PyPI torchvision wheel is a CUDA build: its C extension cannot load against CPU-only torch, and then
    ``import torchvision`` dies in ``torchvision/_meta_registrations.py`` with "operator torchvision::nms does
    not exist", because it registers fake kernels for ops whose schemas the extension would have defined.
    When (and only when) that happens, we define the two missing schemas ourselves and import again. The
    built-in models never call detection ops, so the schemas need no kernels. A working torchvision (CPU
    wheel) imports on the first try and is left untouched — defining the schemas up front would clash with
    its own ``TORCH_LIBRARY(torchvision)`` registration.

    Call this before importing torchvision or transformers. Raises ModelError if torchvision still fails, or
    is not installed and ``required`` (transformers works without it: pass False there).
    """
    global _TORCHVISION_SHIM
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "models"):
        return
    try:
        import torchvision  # noqa: F401

        return
    except ImportError:
        if required:
            raise ModelError("torchvision is not installed: pip install torchvision") from None
        return
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise ModelError(f"cannot import torchvision: {first_line(exc)}") from exc
    for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[mod]
    import torch

    if _TORCHVISION_SHIM is None:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _TORCHVISION_SHIM = lib  # the schemas live as long as this object
    try:
        import torchvision  # noqa: F401,F811
    except Exception as exc:  # still broken: say so in one line
        raise ModelError(f"cannot import torchvision: {first_line(exc)}") from exc


# ---------------------------------------------------------------------------------------------------------------
# builders (torch imported lazily)
# ---------------------------------------------------------------------------------------------------------------


def build_module(
    name: str, seed: int = 0, *, calibrate: bool = True, attention: str | None = EXPORT_ATTENTION
) -> torch.nn.Module:
    """Build built-in ``name`` with weights drawn after ``torch.manual_seed(seed)``; returned in eval mode.

    With ``calibrate`` (the default) BatchNorm layers are set up as in a trained network (see
    :func:`calibrate_batchnorm`); pass False when a saved state dict will replace the weights anyway.
    ``attention`` is the attention implementation of a transformers built-in (``"eager"``, the one the ONNX
    export traces, by default; ``"sdpa"``; None for transformers' own default, :data:`TORCH_ATTENTION`); the
    weights do not depend on it, and other built-ins ignore it (the torch adapter reads back the one in force).
    The module's ``forward`` takes the inputs of :meth:`BuiltinModel.input_specs` positionally, in order, and
    returns one tensor of logits. Raises ModelError for unknown names.
    """
    info = get(name)  # raises for unknown names
    import torch

    builder = _BUILDERS[name]
    torch.manual_seed(seed)
    module = (builder(attention) if info.source == "transformers" else builder()).eval()
    if calibrate:
        calibrate_batchnorm(module, info, seed)
    return module


def calibrate_batchnorm(module: torch.nn.Module, info: BuiltinModel, seed: int = 0) -> None:
    """Give every BatchNorm layer gamma=1, beta=0 and the statistics of one seeded N(0, 1) batch (4 inputs).

    Random weights with identity BatchNorm statistics let activations drift layer by layer: untouched, the
    logits of inception_v3 reach ~1e13 and those of mobilenet_v1 ~1e-17, and MobileViT (whose BN gammas
    are drawn from N(0, 0.02)) underflows through denormals to exact zeros. Denormal arithmetic is many times
    slower on CPUs and extreme magnitudes overflow or flush in fp16/bf16, so either would distort the very
    latencies and precision comparisons we measure. Normalised like this, activations stay O(1) as in a
    trained network. Models without BatchNorm are left as they are. Leaves the module in eval mode.
    """
    import torch
    from torch import nn

    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [bn.momentum for bn in norms]
    with torch.no_grad():
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: exactly the statistics of the calibration batch
            if bn.affine:
                bn.weight.fill_(1.0)
                bn.bias.zero_()
            bn.train()
        generator = torch.Generator().manual_seed(seed)
        shapes = [tuple(int(d) for d in spec.shape) for spec in info.input_specs(batch=4)]
        args = [
            torch.randn(shape, generator=generator)
            if spec.dtype.startswith("float")
            else torch.ones(shape, dtype=torch.int64)
            for spec, shape in zip(info.input_specs(batch=4), shapes)
        ]
        module(*args)
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum
    module.eval()


def _torchvision(fn: str, **kwargs: Any) -> Callable[[], torch.nn.Module]:
    def build() -> torch.nn.Module:
        ensure_torchvision()
        import torchvision

        return getattr(torchvision.models, fn)(weights=None, **kwargs)

    return build


def _conv_bn_relu(cin: int, cout: int, stride: int = 1, groups: int = 1, kernel: int = 3) -> torch.nn.Module:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _init_convnet(module: torch.nn.Module) -> None:
    """Kaiming-normal convs, unit BatchNorm, N(0, 0.01) linear layers (the torchvision convention)."""
    from torch import nn

    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def _mobilenet_v1() -> torch.nn.Module:
    """MobileNet v1 (Howard et al., 2017), width multiplier 1.0: a 3x3 stem then 13 depthwise-separable blocks."""
    from torch import nn

    # (output channels, stride) of each depthwise-separable block
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    blocks += [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers: list[nn.Module] = [_conv_bn_relu(3, 32, stride=2)]
    cin = 32
    for cout, stride in blocks:
        layers.append(_conv_bn_relu(cin, cin, stride=stride, groups=cin))  # depthwise 3x3
        layers.append(_conv_bn_relu(cin, cout, kernel=1))  # pointwise 1x1
        cin = cout
    model = nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(1024, 1000),
    )
    _init_convnet(model)
    return model


def _tiny_cnn() -> torch.nn.Module:
    """~10k parameters, 3x32x32 -> 10 logits. For smoke tests: exports and converts in well under a second."""
    from torch import nn

    model = nn.Sequential(
        _conv_bn_relu(3, 16),
        nn.MaxPool2d(2),
        _conv_bn_relu(16, 32),
        nn.MaxPool2d(2),
        _conv_bn_relu(32, 16),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(16, 10),
    )
    _init_convnet(model)
    return model


def _ocr_crnn() -> torch.nn.Module:
    """CRNN-style recogniser: conv stack -> mean over height -> BiLSTM -> per-timestep class logits.

    Input (B, 1, H, W) grayscale; output (B, W // 4, 37) logits over :data:`OCR_ALPHABET` (index 0 = CTC blank).
    For the default 224x224 input that is 56 timesteps. Height is pooled 16x and then averaged away, width 4x.
    Exports to ONNX (opset 17: Conv, MaxPool, ReduceMean, LSTM, MatMul) and converts to OpenVINO IR.
    """
    import torch  # noqa: F401 - named by the annotations of forward()
    from torch import nn

    class CRNN(nn.Module):
        def __init__(self, classes: int = len(OCR_ALPHABET), hidden: int = 128) -> None:
            super().__init__()
            self.features = nn.Sequential(
                _conv_bn_relu(1, 32),
                nn.MaxPool2d(2, 2),  # H/2,  W/2
                _conv_bn_relu(32, 64),
                nn.MaxPool2d(2, 2),  # H/4,  W/4
                _conv_bn_relu(64, 128),
                _conv_bn_relu(128, 128),
                nn.MaxPool2d((2, 1), (2, 1)),  # H/8,  W/4
                _conv_bn_relu(128, 256),
                _conv_bn_relu(256, 256),
                nn.MaxPool2d((2, 1), (2, 1)),  # H/16, W/4
            )
            self.rnn = nn.LSTM(256, hidden, num_layers=1, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * hidden, classes)

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            f = self.features(pixel_values)  # (B, C, H', T)
            seq = f.mean(dim=2).permute(0, 2, 1)  # (B, T, C)
            out, _ = self.rnn(seq)  # (B, T, 2*hidden)
            return self.head(out)  # (B, T, classes)

    model = CRNN()
    _init_convnet(model)
    return model


def _logits_only(model: torch.nn.Module, *, text: bool) -> torch.nn.Module:
    """Wrap a transformers model so ``forward`` takes positional tensors and returns plain ``.logits``."""
    import torch  # noqa: F401 - named by the annotations of forward()
    from torch import nn

    class TextLogits(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.model = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).logits

    class ImageLogits(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.model = inner

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.model(pixel_values=pixel_values, return_dict=True).logits

    return TextLogits(model) if text else ImageLogits(model)


def _transformers(kind: str) -> Callable[..., torch.nn.Module]:
    def build(attention: str | None = EXPORT_ATTENTION) -> torch.nn.Module:
        ensure_torchvision(required=False)  # transformers imports torchvision when it is installed
        try:
            import transformers as tf
        except ImportError:
            raise ModelError(f"{kind} needs transformers: pip install transformers") from None

        config: Any
        cls: Any
        if kind == "distilbert":
            config = tf.DistilBertConfig(num_labels=2)  # type: ignore[call-arg]  # PretrainedConfig kwargs
            cls = tf.DistilBertForSequenceClassification
        elif kind == "bert_base":
            config = tf.BertConfig(num_labels=2)  # type: ignore[call-arg]  # PretrainedConfig kwargs
            cls = tf.BertForSequenceClassification
        else:  # mobilevit_xs: the apple/mobilevit-x-small sizes
            config = tf.MobileViTConfig(  # type: ignore[call-arg]  # PretrainedConfig kwargs
                hidden_sizes=[96, 120, 144],
                neck_hidden_sizes=[16, 32, 48, 64, 80, 96, 384],
                image_size=256,
                num_labels=1000,
            )
            cls = tf.MobileViTForImageClassification
        # the attention does not change the weights: eager for the export (EXPORT_ATTENTION), None for torch
        # (transformers' default, SDPA where the architecture has it)
        model = cls._from_config(config, attn_implementation=attention)
        return _logits_only(model, text=kind != "mobilevit_xs")

    return build


_BUILDERS: dict[str, Callable[..., torch.nn.Module]] = {
    "resnet18": _torchvision("resnet18"),
    "resnet50": _torchvision("resnet50"),
    "vgg19": _torchvision("vgg19"),
    "inception_v3": _torchvision("inception_v3", aux_logits=False, init_weights=True),
    "mobilenet_v1": _mobilenet_v1,
    "mobilenet_v3_small": _torchvision("mobilenet_v3_small"),
    "mobilenet_v3_large": _torchvision("mobilenet_v3_large"),
    "efficientnet_b0": _torchvision("efficientnet_b0"),
    "efficientnet_b2": _torchvision("efficientnet_b2"),
    "mobilevit_xs": _transformers("mobilevit_xs"),
    "distilbert": _transformers("distilbert"),
    "bert_base": _transformers("bert_base"),
    "ocr_crnn": _ocr_crnn,
    "tiny_cnn": _tiny_cnn,
}

assert set(_BUILDERS) == set(BUILTINS), "every built-in needs a builder"
