"""llama.cpp as an optional generate engine: the GGUF file the workbench writes (read back with the ``gguf``
package's reader), the timed loop over a llama.cpp-like object, the one-line refusals — and, where
llama-cpp-python is installed (an optional source build; CI does not build it), a real generation whose greedy
tokens agree with torch fp32."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from test_cli import wb

from workbench.models.gguf_export import export_gguf, permute_qk

SHORT = ("--prompt-tokens", "8", "--new-tokens", "6", "-d", "0.3", "--warmup", "0.05", "--iterations", "3")


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory):
    from workbench.models.generative import build_hf_folder

    folder = tmp_path_factory.mktemp("tiny-llama-hf")
    build_hf_folder("tiny-llama", folder, seed=0)
    return folder


def test_qk_permutation_interleaves_each_heads_rotary_halves():
    heads, head_dim = 2, 4
    w = np.arange(heads * head_dim)[:, None].repeat(3, axis=1)  # row r holds r
    got = permute_qk(w, heads)[:, 0].tolist()
    # per head: rows (0, 2) and (1, 3) of the rotate-half halves become neighbouring pairs
    assert got == [0, 2, 1, 3, 4, 6, 5, 7]


@pytest.mark.parametrize("weights, ggml", [("fp32", "F32"), ("int8", "Q8_0"), ("int4", "Q4_0")])
def test_the_gguf_file_holds_the_llama_layout_vocabulary_and_weights(tiny_hf, tmp_path, weights, ggml):
    import gguf

    record = export_gguf(tiny_hf, tmp_path, weights)
    assert record["ggml_type"] == ggml and record["architecture"] == "llama"
    reader = gguf.GGUFReader(str(tmp_path / "model.gguf"))
    fields = {k: v for k, v in reader.fields.items()}
    arch = bytes(fields["general.architecture"].parts[-1]).decode()
    assert arch == "llama"
    assert int(fields["llama.block_count"].parts[-1][0]) == 2
    assert int(fields["llama.attention.head_count_kv"].parts[-1][0]) == 2
    assert len(fields["tokenizer.ggml.tokens"].data) == 1000  # padded to the embedding's rows
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 3 + 2 * 9  # embedding, final norm, head + 9 per layer
    q = tensors["blk.0.attn_q.weight"]
    assert q.tensor_type.name == ggml and tensors["blk.0.attn_norm.weight"].tensor_type.name == "F32"
    if weights == "fp32":  # the stored query rows are the permuted Hugging Face ones, exactly
        from safetensors.numpy import load_file

        hf = load_file(str(tiny_hf / "model.safetensors"))["model.layers.0.self_attn.q_proj.weight"]
        stored = np.asarray(q.data).reshape(hf.shape)
        assert np.array_equal(stored, permute_qk(hf, 4))


def test_another_architecture_is_refused_in_one_line(tiny_hf, tmp_path):
    import json
    import shutil

    from workbench.errors import ModelError

    folder = tmp_path / "gpt"
    shutil.copytree(tiny_hf, folder)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="covers Llama and Qwen2 causal LMs, not GPT2LMHeadModel"):
        export_gguf(folder, tmp_path / "out")


class _FakeLlama:
    """Stands in for ``llama_cpp.Llama``'s eval/reset and its last logits: the next token is always (last + 1) % 7."""

    def __init__(self) -> None:
        self.n_tokens = 0
        self.ids: list[int] = []
        self.resets = 0
        self.scores = np.zeros((64, 7), dtype=np.float32)

    def reset(self) -> None:
        self.n_tokens, self.ids = 0, []
        self.resets += 1

    def eval(self, tokens: list[int]) -> None:
        self.ids += tokens
        self.n_tokens = len(self.ids)
        self.scores[self.n_tokens - 1] = 0
        self.scores[self.n_tokens - 1, (tokens[-1] + 1) % 7] = 1


def test_the_loop_resets_times_every_token_and_picks_greedily():
    from workbench_engines.llamacpp_engine import LlamaCppGenerator

    fake = _FakeLlama()
    gen = LlamaCppGenerator(fake, "fp32", 2, {}, lambda: fake.scores[fake.n_tokens - 1])
    trace = gen.generate([[1, 5, 3]], 5)
    assert trace.tokens == [4, 5, 6, 0, 1] and len(trace.step_ns) == 5 and all(t > 0 for t in trace.step_ns)
    assert fake.ids == [1, 5, 3, 4, 5, 6, 0]  # the prompt once, then each token fed back (the last is not)
    gen.generate([[2]], 2)
    assert fake.resets == 2 and fake.ids == [2, 3]  # no prefix of the previous generation is reused


def test_seeded_sampling_repeats_with_its_seed_and_respects_top_k():
    from workbench_engines.base import Sampling
    from workbench_engines.llamacpp_engine import sample_token

    logits = np.linspace(0.0, 3.0, 50)
    draw = lambda seed, **kw: [  # noqa: E731
        sample_token(logits, Sampling(seed=seed, **kw), rng) for rng in [np.random.default_rng(seed)] for _ in range(20)
    ]
    assert draw(7) == draw(7) and draw(7) != draw(8)
    assert set(draw(3, top_k=3)) <= {47, 48, 49}
    assert set(draw(3, top_p=1e-9)) == {49}  # the nucleus keeps at least the most likely token


def test_without_llama_cpp_python_the_row_says_what_to_install(tmp_path, shared_cache):
    hide = tmp_path / "hide"
    (hide / "llama_cpp").mkdir(parents=True)
    (hide / "llama_cpp" / "__init__.py").write_text("raise ImportError('llama_cpp is hidden by the test')\n")
    path = f"{hide}:" + ":".join(p for p in sys.path if p)
    r = wb("run", "-m", "tiny-llama", "--mode", "generate", "-e", "llamacpp", "--no-parity", *SHORT,
           env={"PYTHONPATH": path}, timeout=180)  # fmt: skip
    assert r.returncode != 0 and "pip install gguf llama-cpp-python" in (r.stdout + r.stderr), r.stderr
    assert "Traceback" not in r.stderr
    r = wb("run", "-m", "tiny_cnn", "-e", "llamacpp", "-d", "0.2", env={"PYTHONPATH": path}, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_llama_cpp_generates_torchs_greedy_tokens_where_it_is_installed(tmp_path, shared_cache):
    pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is an optional source build (pip install llama-cpp-python)"
    )
    import json

    out = tmp_path / "r.json"
    r = wb("run", "-m", "tiny-llama", "--mode", "generate", "-e", "torch,llamacpp", *SHORT, "--json", str(out),
           timeout=240)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = {x["engine"]: x for x in json.loads(out.read_text())["results"]}
    lc = rows["llamacpp"]
    assert lc["status"] == "ok" and lc["precision_effective"] == "fp32"
    assert lc["parity"]["tokens_agree"] == lc["parity"]["tokens_compared"] == 6  # F32 GGUF: the same tokens
    assert lc["generation"]["ttft_ms"]["p50"] > 0 and lc["generation"]["tokens_per_s"]["decode"] > 0
