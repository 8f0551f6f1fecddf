"""The parent <-> child protocol (workbench.measure.wire): the job, commands, frames, payloads, errors, and the one
kill-process-group helper, on real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from array import array

import numpy as np
import pytest

from workbench.errors import ModelError, UsageError, WorkbenchError
from workbench.measure import wire


# ---- the job -----------------------------------------------------------------------------------------------------
def test_job_round_trips_through_json():
    job = wire.Job(
        engine="openvino",
        artifact={"name": "m", "files": {"onnx": "/x.onnx"}},
        device="cpu",
        precision="bf16",
        threads=3,
        cores=(1, 2, 3),
        mode="throughput",
        requests=4,
        seed=7,
        outputs=True,
        options={"streams": 2},
    )
    line = job.to_json()
    assert "\n" not in line
    assert wire.Job.from_json(line) == job
    assert wire.Job.from_json(line.encode()) == job


def test_job_defaults_live_in_one_place():
    job = wire.Job.from_json(json.dumps({"engine": "noop", "artifact": {}}))
    assert job == wire.Job("noop", {})
    assert (job.device, job.precision, job.mode, job.threads, job.cores, job.requests) == (
        "cpu",
        "fp32",
        "latency",
        None,
        None,
        None,
    )
    assert job.seed == 0 and job.outputs is False and dict(job.options) == {}


def test_job_refuses_unknown_or_missing_fields():
    with pytest.raises(wire.ProtocolError, match="streams"):
        wire.Job.from_json(json.dumps({"engine": "openvino", "artifact": {}, "streams": 2}))
    with pytest.raises(wire.ProtocolError, match="engine"):
        wire.Job.from_json(json.dumps({"artifact": {}}))


def test_commands_round_trip():
    cmd = wire.MeasureCommand(duration_s=0.5, round=2, warmup_s=0.1, warmup_iterations=3, min_iterations=20)
    assert wire.parse_command(cmd.to_json()) == cmd
    assert wire.parse_command(wire.EXIT_COMMAND) is None
    with pytest.raises(wire.ProtocolError):
        wire.parse_command('{"cmd": "dance"}')


def test_prepare_job_round_trips():
    job = wire.PrepareJob(model="tiny_cnn", batch=2, shapes={"x": (2, 3)}, formats=("onnx", "openvino"), seed=1)
    assert wire.PrepareJob.from_json(job.to_json()) == job
    assert wire.PrepareJob.from_json('{"model": "m"}') == wire.PrepareJob("m")


# ---- frames ------------------------------------------------------------------------------------------------------
def _stream() -> tuple[bytes, list[wire.Frame]]:
    frames = [
        wire.Frame(wire.JSON, json.dumps({"type": "loaded", "load_ms": 1.5}).encode()),
        wire.Frame(wire.SAMPLES, wire.encode_samples(array("q", range(1000)).tobytes(), 12345)),
        wire.Frame(wire.OUTPUTS, b"\x00" * 70_000),
        wire.Frame(wire.JSON, b"{}"),
        wire.Frame(wire.SAMPLES, wire.encode_samples(b"", 0)),
    ]
    return b"".join(wire.encode_frame(f.kind, f.payload) for f in frames), frames


@pytest.mark.parametrize("chunk", [1, 3, 7, 4096, 1 << 20])
def test_frames_parse_across_any_split(chunk):
    data, frames = _stream()
    reader = wire.FrameReader()
    got: list[wire.Frame] = []
    for i in range(0, len(data), chunk):
        reader.feed(data[i : i + chunk])
        got += reader.frames()
    assert got == frames and reader.pending == 0


def test_partial_frame_waits_for_the_rest():
    reader = wire.FrameReader()
    frame = wire.encode_frame(wire.JSON, b'{"type": "round_done"}')
    reader.feed(frame[: wire.HEADER.size - 1])
    assert reader.next() is None
    reader.feed(frame[wire.HEADER.size - 1 : -1])
    assert reader.next() is None and reader.pending == len(frame) - 1
    reader.feed(frame[-1:])
    assert reader.next().message() == {"type": "round_done"}


def test_a_corrupted_stream_is_a_protocol_error():
    reader = wire.FrameReader()
    reader.feed(b"X\x00\x00\x00\x00")
    with pytest.raises(wire.ProtocolError, match="unknown frame kind"):
        reader.next()
    with pytest.raises(wire.ProtocolError):
        wire.encode_frame(b"Q", b"")


def test_writer_and_reader_over_a_real_pipe():
    r, w = os.pipe()
    try:
        writer = wire.FrameWriter(w)
        writer.json(type="loaded", pid=1)
        writer.samples(array("q", [5, 6, 7]).tobytes(), 99)
        writer.samples(b"", 100)  # an empty batch is not sent
        writer.outputs({"logits": np.arange(6, dtype=np.float32).reshape(2, 3)})
        os.close(w)
        w = -1
        reader = wire.FrameReader()
        first = wire.read_frame(r, reader, 1.0)
        assert first.message() == {"type": "loaded", "pid": 1}
        second = wire.read_frame(r, reader, 1.0)
        elapsed, samples = wire.decode_samples(second.payload)
        assert second.kind == wire.SAMPLES and elapsed == 99 and samples.tolist() == [5, 6, 7]
        third = wire.read_frame(r, reader, 1.0)
        assert third.kind == wire.OUTPUTS
        np.testing.assert_array_equal(wire.decode_outputs(third.payload)["logits"], np.arange(6).reshape(2, 3))
        with pytest.raises(EOFError):
            wire.read_frame(r, reader, 1.0)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_read_frame_times_out_without_spinning():
    r, w = os.pipe()
    try:
        t0, c0 = time.monotonic(), time.process_time()
        assert wire.read_frame(r, wire.FrameReader(), 0.3) is None
        assert time.monotonic() - t0 >= 0.29
        assert time.process_time() - c0 < 0.1  # waited in select, not in a loop
    finally:
        os.close(r)
        os.close(w)


# ---- payloads ----------------------------------------------------------------------------------------------------
def test_sample_batch_round_trip():
    raw = array("q", [1, 2**40, 3, 0, 123456789]).tobytes()
    elapsed, samples = wire.decode_samples(wire.encode_samples(raw, 2**33))
    assert elapsed == 2**33
    assert samples.dtype == np.int64 and samples.tolist() == [1, 2**40, 3, 0, 123456789]
    empty_elapsed, empty = wire.decode_samples(wire.encode_samples(b"", 5))
    assert empty_elapsed == 5 and empty.size == 0
    with pytest.raises(wire.ProtocolError):
        wire.decode_samples(b"\x00" * 11)
    with pytest.raises(wire.ProtocolError):
        wire.encode_samples(b"\x00" * 3, 0)


def test_outputs_round_trip_in_order_and_never_unpickle():
    outs = {"b": np.ones((2, 2), np.float32), "a": np.arange(3, dtype=np.int64)}
    back = wire.decode_outputs(wire.encode_outputs(outs))
    assert list(back) == ["b", "a"]
    for k in outs:
        np.testing.assert_array_equal(back[k], outs[k])
    with pytest.raises(ValueError):  # object arrays would need pickle
        wire.decode_outputs(wire.encode_outputs({"o": np.array([{"x": 1}], dtype=object)}))


# ---- errors ------------------------------------------------------------------------------------------------------
def test_errors_cross_the_pipe_as_the_same_one_line_error():
    msg = wire.error_message(ModelError("model file not found: x.onnx"))
    assert msg == {"type": "error", "kind": "user", "error": "ModelError", "message": "model file not found: x.onnx"}
    with pytest.raises(ModelError, match="x.onnx"):
        wire.raise_error(json.loads(json.dumps(msg)))
    bug = wire.error_message(RuntimeError("native library exploded\nat frame 3"))
    assert bug["kind"] == "RuntimeError" and bug["message"] == "native library exploded"
    with pytest.raises(ModelError, match="exploded"):
        wire.raise_error(bug, default=ModelError)
    with pytest.raises(WorkbenchError):
        wire.raise_error({"type": "error", "kind": "user", "error": "NotAnError", "message": "m"})
    with pytest.raises(UsageError):
        wire.raise_error(wire.error_message(UsageError("bad")))


# ---- import hygiene ------------------------------------------------------------------------------------------------
def test_wire_and_child_import_nothing_heavy():
    """The benchmark process reads its job with wire before pinning itself: nothing may start threads or load
    numpy/engines by then."""
    code = (
        "import sys, threading; import workbench.measure.wire, workbench.measure.child\n"
        "print([m for m in ('numpy', 'torch', 'onnxruntime', 'openvino', 'workbench_engines') if m in sys.modules],"
        " threading.active_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[] 1"


# ---- kill_process_group, on real processes -------------------------------------------------------------------------
_FAMILY = textwrap.dedent(
    """
    import subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(grandchild.pid, flush=True)
    if sys.argv[1] == "stay":
        time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return not _alive(pid)


@pytest.mark.parametrize("child", ["stay", "leave"])
def test_kill_process_group_kills_the_grandchildren(child):
    """A child that started a process of its own, whether it is still running or has already exited (not yet
    reaped): killing its group ends the grandchild too."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _FAMILY, child], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    grandchild = int(proc.stdout.readline())
    try:
        assert _alive(grandchild)
        if child == "leave":
            deadline = time.monotonic() + 10
            while _alive(proc.pid) and time.monotonic() < deadline:  # exited (a zombie: nobody polled it)
                time.sleep(0.02)
            assert proc.returncode is None
        t0 = time.monotonic()
        wire.kill_process_group(proc, wait_s=5)
        assert proc.returncode is not None
        assert _wait_gone(grandchild), "the grandchild survived"
        assert time.monotonic() - t0 < 5
    finally:
        try:
            os.kill(grandchild, 9)
        except ProcessLookupError:
            pass
        proc.stdout.close()


def test_kill_process_group_is_harmless_on_a_reaped_process():
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait(30)
    wire.kill_process_group(proc)  # no error, no signal to a reused pid
    wire.kill_process_group(proc, wait_s=0)
    assert proc.returncode == 0


def test_outputs_round_trip_whatever_they_are_called():
    """Output names are the model's: one called ``file`` (np.savez's own parameter) must survive too."""
    import numpy as np

    from workbench.measure.wire import decode_outputs, encode_outputs

    outputs = {"file": np.arange(3, dtype=np.float32), "logits": np.ones((1, 2), np.float32)}
    back = decode_outputs(encode_outputs(outputs))
    assert list(back) == ["file", "logits"]
    assert all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in outputs.items())
