"""workbench.models.inputs: seeded synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import UsageError
from workbench.models.inputs import DEFAULT_VOCAB, make_inputs
from workbench_engines.base import TensorSpec

SPECS = (
    TensorSpec("pixel_values", (2, 3, 8, 8), "float32", "image"),
    TensorSpec("half", (4, 5), "float16", "data"),
    TensorSpec("input_ids", (2, 64), "int64", "tokens", vocab_size=7),
    TensorSpec("free_ids", (2, 500), "int32", "tokens"),
    TensorSpec("attention_mask", (2, 64), "int64", "mask"),
    TensorSpec("token_type_ids", (2, 64), "int64", "data"),
    TensorSpec("flags", (3,), "bool", "data"),
    TensorSpec("bool_mask", (3,), "bool", "mask"),
)


def test_same_seed_same_arrays_and_other_seed_differs() -> None:
    a, b, c = make_inputs(SPECS, seed=3), make_inputs(SPECS, seed=3), make_inputs(SPECS, seed=4)
    assert list(a) == [s.name for s in SPECS]
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["pixel_values"], c["pixel_values"])
    assert not np.array_equal(a["input_ids"], c["input_ids"])


def test_dtypes_shapes_and_ranges() -> None:
    feeds = make_inputs(SPECS)
    for spec in SPECS:
        assert feeds[spec.name].shape == spec.shape
        assert feeds[spec.name].dtype == np.dtype(spec.dtype)
    image = feeds["pixel_values"]
    assert abs(float(image.mean())) < 0.5 and 0.5 < float(image.std()) < 1.5  # ~N(0, 1)
    assert np.isfinite(feeds["half"]).all()
    ids = feeds["input_ids"]
    assert ids.min() >= 0 and ids.max() < 7 and len(np.unique(ids)) > 1
    free = feeds["free_ids"]
    assert free.min() >= 0 and free.max() < DEFAULT_VOCAB
    assert (feeds["attention_mask"] == 1).all()
    assert (feeds["token_type_ids"] == 0).all()
    assert not feeds["flags"].any() and feeds["bool_mask"].all()


def test_symbolic_shape_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--shape x="):
        make_inputs([TensorSpec("x", ("batch", 3), "float32")])


def test_unknown_dtype_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="dtype"):
        make_inputs([TensorSpec("x", (1, 3), "complex64")])


# ---------------------------------------------------------------------------------------------- given values
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from workbench.models.inputs import (  # noqa: E402
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImagePrep,
    InputRequest,
    check_request,
    feeds_for_job,
    generated_input_hint,
    parse_inputs_text,
    parse_value,
    record_inputs,
    resolve_inputs,
    sha256_file,
    split_input_arg,
    with_input_hint,
    write_job_inputs,
)

MODEL = (
    TensorSpec("x", (1, 3, 4, 6), "float32", "image"),
    TensorSpec("sr", (), "int64", "tokens"),
    TensorSpec("ids", (1, 5), "int32", "tokens", vocab_size=50),
    TensorSpec("flag", (1,), "bool", "data"),
    TensorSpec("scale", (2,), "float16", "data"),
)


def req(*given: tuple[str, str], file: str | None = None, **image) -> InputRequest:
    return InputRequest(given=tuple(given), file=file, image=ImagePrep(**image))


def one_error(request: InputRequest, specs=MODEL) -> str:
    with pytest.raises(UsageError) as info:
        resolve_inputs(request, specs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_syntax_of_input_args_and_the_ui_field() -> None:
    assert split_input_arg("sr=16000") == ("sr", "16000")
    assert split_input_arg(" x = a=b.npy ") == ("x", "a=b.npy")  # the first = splits
    assert split_input_arg("photo.jpg") == ("*", "photo.jpg")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        split_input_arg("sr=")
    assert parse_inputs_text("sr=16000, x=a.npy  feeds.npz") == ((("sr", "16000"), ("x", "a.npy")), "feeds.npz")
    assert parse_inputs_text("  ") == ((), None)
    with pytest.raises(ValueError, match="'oops' is not NAME=VALUE"):
        parse_inputs_text("sr=1 oops")
    assert parse_value("16000") == 16000 and parse_value("-2.5") == -2.5 and parse_value("True") is True
    with pytest.raises(ValueError):
        parse_value("nan")


def test_scalar_and_fill_values_are_cast_and_broadcast() -> None:
    r = resolve_inputs(req(("sr", "16000"), ("ids", "7"), ("flag", "true"), ("scale", "2")), MODEL)
    assert r.fills == {"sr": 16000, "ids": 7, "flag": True, "scale": 2.0}
    assert isinstance(r.fills["scale"], float) and not r.arrays
    assert r.sources["sr"] == {"source": "value", "value": 16000, "dtype": "int64", "shape": []}
    feeds = feeds_for_job(MODEL, write_job_inputs(r, Path("/nonexistent")), seed=0)
    assert feeds["sr"].shape == () and feeds["sr"].dtype == np.int64 and int(feeds["sr"]) == 16000
    assert feeds["ids"].dtype == np.int32 and (feeds["ids"] == 7).all() and feeds["ids"].shape == (1, 5)
    assert feeds["flag"].dtype == np.bool_ and feeds["flag"].all()
    assert feeds["scale"].dtype == np.float16 and (feeds["scale"] == 2).all()
    assert resolve_inputs(req(("sr", "16000.0")), MODEL).fills["sr"] == 16000  # a whole float is fine


@pytest.mark.parametrize(
    "given,needle",
    [
        (("sr", "1.5"), "--input sr: 1.5 is not a whole number, and input 'sr' is int64"),
        (("ids", "3000000000"), "--input ids: 3000000000 does not fit input 'ids' is int32"),
        (("flag", "2"), "--input flag: 2 is not true/false/1/0, and input 'flag' is bool"),
        (("scale", "1e6"), "--input scale: 1e+06 does not fit input 'scale' is float16"),
        (("nope", "1"), "--input nope: the model has no input 'nope'; its inputs: x, sr, ids, flag, scale"),
        (("*", "1"), "--input 1: the model has 5 inputs (x, sr, ids, flag, scale); name one"),
        (("sr", "fast"), "--input sr: 'fast' is not a number, true/false, a .npy file or an image"),
    ],
)
def test_bad_values_are_one_line_naming_the_input(given, needle) -> None:
    assert needle in one_error(req(given))


def test_a_bare_value_goes_to_the_only_input() -> None:
    r = resolve_inputs(req(("*", "3")), (TensorSpec("n", (), "int64"),))
    assert r.fills == {"n": 3}


def test_npy_files_cast_float64_and_refuse_wrong_shapes_and_kinds(tmp_path) -> None:
    good = tmp_path / "good.npy"
    np.save(good, np.full((1, 3, 4, 6), 0.25, dtype=np.float64))
    r = resolve_inputs(req(("x", str(good))), MODEL)
    assert r.arrays["x"].dtype == np.float32 and (r.arrays["x"] == 0.25).all()  # cast, nothing said
    src = r.sources["x"]
    assert src["source"] == "file" and src["path"] == str(good.resolve()) and src["sha256"] == sha256_file(good)
    assert src["shape"] == [1, 3, 4, 6] and src["dtype"] == "float64"

    small = tmp_path / "small.npy"
    np.save(small, np.zeros((1, 3, 2, 2)))
    assert one_error(req(("x", str(small)))).startswith(
        "--input x: small.npy has shape 1x3x2x2 float64; the model wants 1x3x4x6 float32"
    )
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((1, 5), dtype=np.float32))
    assert one_error(req(("ids", str(floats)))) == (
        "--input ids: floats.npy has shape 1x5 float32; the model wants 1x5 int32"
    )
    big = tmp_path / "big.npy"
    np.save(big, np.array([[0, 1, 2, 3, 2**40]], dtype=np.int64))
    assert "do not fit int32" in one_error(req(("ids", str(big))))
    ints = tmp_path / "ints.npy"
    np.save(ints, np.array([[1, 2, 3, 4, 5]], dtype=np.int64))  # fits: cast
    assert resolve_inputs(req(("ids", str(ints))), MODEL).arrays["ids"].dtype == np.int32
    zero_d = tmp_path / "rate.npy"
    np.save(zero_d, np.array(8000))
    assert resolve_inputs(req(("sr", str(zero_d))), MODEL).arrays["sr"].shape == ()
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "cannot read obj.npy" in one_error(req(("x", str(pickled))))
    assert one_error(req(("x", str(tmp_path / "missing.npy")))) == f"--input x: no such file: {tmp_path}/missing.npy"


def test_npz_gives_several_inputs_and_input_overrides_it(tmp_path) -> None:
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, x=np.ones((1, 3, 4, 6), np.float32), sr=np.array(22050))
    r = resolve_inputs(req(("sr", "16000"), file=str(feeds)), MODEL)
    assert set(r.arrays) == {"x"} and r.fills == {"sr": 16000}
    assert r.sources["x"]["key"] == "x" and r.sources["x"]["sha256"] == sha256_file(feeds)
    assert r.sources["sr"]["source"] == "value"
    extra = tmp_path / "extra.npz"
    np.savez(extra, x=np.ones((1, 3, 4, 6), np.float32), mel=np.ones(3))
    assert one_error(req(file=str(extra))) == (
        "--inputs extra.npz: array 'mel' names no input of the model; its inputs: x, sr, ids, flag, scale"
    )
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.ones((3, 4, 6), np.float32))
    assert one_error(req(file=str(wrong))).startswith(
        "--inputs wrong.npz: array 'x' has shape 3x4x6 float32; the model wants 1x3x4x6 float32"
    )


def _png(path: Path, color, mode: str = "RGB", size=(12, 8)) -> Path:
    from PIL import Image

    Image.new(mode, size, color).save(path)
    return path


def test_images_are_resized_scaled_and_normalised(tmp_path) -> None:
    photo = _png(tmp_path / "red.png", (255, 0, 0))
    r = resolve_inputs(req(("x", str(photo))), MODEL)
    x = r.arrays["x"]
    assert x.shape == (1, 3, 4, 6) and x.dtype == np.float32 and x.flags.c_contiguous
    want = [(v - m) / s for v, m, s in zip((1.0, 0.0, 0.0), IMAGENET_MEAN, IMAGENET_STD)]
    np.testing.assert_allclose(x[0, :, 0, 0], want, rtol=1e-5)
    src = r.sources["x"]
    assert src["source"] == "image" and src["sha256"] == sha256_file(photo)
    prep = src["preprocessing"]
    assert prep["mode"] == "RGB" and prep["resize"] == [4, 6] and prep["original_size"] == [12, 8]
    assert prep["mean"] == list(IMAGENET_MEAN) and prep["std"] == list(IMAGENET_STD) and prep["scale"] == 255.0

    # raw pixels, NHWC, no normalisation
    nhwc = (TensorSpec("img", (2, 5, 7, 3), "float32", "image"),)
    r = resolve_inputs(req(("img", str(photo)), layout="nhwc", mean=(0.0,), std=(1.0,), scale=1.0), nhwc)
    assert r.arrays["img"].shape == (2, 5, 7, 3)
    np.testing.assert_allclose(r.arrays["img"][1, 0, 0], [255.0, 0.0, 0.0])

    # a 1-channel input gets a grayscale image (the average of the three means/stds)
    gray = (TensorSpec("g", (1, 1, 4, 4), "float32", "image"),)
    white = _png(tmp_path / "white.png", 255, mode="L")
    g = resolve_inputs(req(("g", str(white))), gray)
    assert g.sources["g"]["preprocessing"]["mode"] == "L"
    np.testing.assert_allclose(g.arrays["g"], (1.0 - np.mean(IMAGENET_MEAN)) / np.mean(IMAGENET_STD), rtol=1e-5)

    # uint8 image inputs take the raw resized pixels
    u8 = (TensorSpec("u", (1, 4, 4, 3), "uint8", "image"),)
    u = resolve_inputs(req(("u", str(photo)), layout="nhwc"), u8)
    assert u.arrays["u"].dtype == np.uint8 and u.arrays["u"][0, 0, 0].tolist() == [255, 0, 0]


def test_image_mismatches_are_one_line(tmp_path) -> None:
    photo = _png(tmp_path / "p.png", (1, 2, 3))
    nhwc = (TensorSpec("img", (1, 224, 224, 3), "float32", "image"),)
    assert one_error(req(("img", str(photo))), nhwc) == (
        "--input img: input 'img' has shape 1x224x224x3: as NCHW that is 224 channels, not 1 (grayscale) or 3 "
        "(RGB); pass --image-layout nhwc"
    )
    assert "p.png is an image, but input 'sr' has shape scalar int64" in one_error(req(("sr", str(photo))))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert "cannot read broken.jpg as an image" in one_error(req(("x", str(broken))))
    with pytest.raises(UsageError, match="--image-std must be > 0"):
        check_request(req(("x", str(photo)), std=(0.2, 0.0, 0.2)))
    with pytest.raises(UsageError, match="--image-layout must be one of nchw, nhwc"):
        check_request(req(layout="chw"))


def test_request_checks_before_the_model_is_known(tmp_path) -> None:
    with pytest.raises(UsageError, match="--input sr is given twice"):
        check_request(req(("sr", "1"), ("sr", "2")))
    with pytest.raises(UsageError, match="pass it as --inputs"):
        check_request(req(("x", "feeds.npz")))
    with pytest.raises(UsageError, match="--inputs: no such file"):
        check_request(req(file=str(tmp_path / "none.npz")))
    with pytest.raises(UsageError, match="--inputs takes an .npz"):
        check_request(req(file=str(_png(tmp_path / "a.png", (0, 0, 0)))))


def test_job_inputs_reach_the_feeds_and_generated_ones_do_not_change(tmp_path) -> None:
    np.save(tmp_path / "x.npy", np.full((1, 3, 4, 6), 3.0, np.float32))
    r = resolve_inputs(req(("x", str(tmp_path / "x.npy")), ("sr", "16000")), MODEL)
    job_inputs = write_job_inputs(r, tmp_path / "run")
    assert json.loads(json.dumps(job_inputs)) == job_inputs  # JSON-able: it travels in the job line
    assert job_inputs["fill"] == {"sr": 16000} and Path(job_inputs["npz"]).parent == tmp_path / "run"
    feeds = feeds_for_job(MODEL, job_inputs, seed=4)
    plain = make_inputs(MODEL, seed=4)
    assert (feeds["x"] == 3.0).all() and int(feeds["sr"]) == 16000
    for name in ("ids", "flag", "scale"):  # not given: the same seeded values as without --input
        np.testing.assert_array_equal(feeds[name], plain[name])
    empty = feeds_for_job(MODEL, {}, seed=4)
    for name in plain:
        np.testing.assert_array_equal(empty[name], plain[name])
    assert write_job_inputs(resolve_inputs(req(("sr", "1")), MODEL), tmp_path / "unused") == {"fill": {"sr": 1}}
    assert not (tmp_path / "unused").exists()  # no arrays, no folder


def test_an_input_named_file_survives_the_npz(tmp_path) -> None:
    specs = (TensorSpec("file", (2,), "float32"), TensorSpec("allow_pickle", (1,), "float32"))
    np.save(tmp_path / "a.npy", np.ones(2, np.float32))
    np.save(tmp_path / "b.npy", np.ones(1, np.float32))
    r = resolve_inputs(req(("file", str(tmp_path / "a.npy")), ("allow_pickle", str(tmp_path / "b.npy"))), specs)
    feeds = feeds_for_job(specs, write_job_inputs(r, tmp_path / "j"), seed=0)
    assert feeds["file"].tolist() == [1.0, 1.0] and feeds["allow_pickle"].tolist() == [1.0]


def test_recorded_inputs_name_each_source() -> None:
    request = req(("sr", "16000"))
    d = record_inputs(request, resolve_inputs(request, MODEL))
    assert d["given"] == {"sr": "16000"} and d["file"] is None and d["image"]["layout"] == "nchw"
    assert d["sources"] == {"sr": {"source": "value", "value": 16000, "dtype": "int64", "shape": []}}
    assert InputRequest.from_dict(json.loads(json.dumps(request.to_dict()))) == request
    assert record_inputs(InputRequest(), None)["sources"] == {}


def test_generated_value_hint_names_scalar_and_integer_inputs() -> None:
    specs = (
        TensorSpec("audio", (1, 512), "float32"),
        TensorSpec("sr", (), "int64", "tokens"),
        TensorSpec("input_ids", (1, 8), "int64", "tokens"),
        TensorSpec("attention_mask", (1, 8), "int64", "mask"),
    )
    hint = generated_input_hint(specs)
    assert hint == "input 'sr' is a scalar int64 and got a generated value — try --input sr=16000"
    assert with_input_hint("onnxruntime: Add failed", specs) == f"onnxruntime: Add failed; {hint}"
    assert generated_input_hint(specs, given=("sr",)) is None  # a real value was given
    assert with_input_hint("boom", specs[2:]) == "boom"  # token ids and masks are generated well
    two = (TensorSpec("branch", (), "int64"), TensorSpec("position_ids", (1, 4), "int64", "data"))
    hint2 = generated_input_hint(two)
    assert hint2 is not None and "--input branch=1 --input position_ids=1" in hint2
