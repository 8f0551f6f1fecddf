"""A GGUF file for llama.cpp from a Hugging Face Llama or Qwen2 causal-LM folder, written with the ``gguf`` package.

What llama.cpp's own ``convert_hf_to_gguf.py`` does for these two architectures (that script ships only inside the
llama-cpp-python source distribution, so the workbench writes the file itself from the same weights):

* **Tensors** renamed to GGUF's names (``token_embd``, ``blk.N.attn_q`` …, ``output_norm``, ``output``); Llama's
  query and key projections **permuted** from Hugging Face's rotate-half layout back to the interleaved one
  llama.cpp's RoPE expects (Qwen2 uses the NeoX RoPE, which is Hugging Face's layout: no permutation); Qwen2's
  q/k/v biases kept; a tied LM head left out (llama.cpp then reuses ``token_embd``).
* **Weights**: ``fp32`` keeps every tensor F32; ``int8`` and ``int4`` store each 2-D weight whose rows split into
  32-value blocks as ``Q8_0`` / ``Q4_0`` (one scale per block of 32, llama.cpp's reference formats; its CPU kernels
  quantize the activations to 8 bits for those dot products), norms stay F32.
* **Vocabulary**: the byte-level BPE tokens and merges of ``tokenizer.json`` (``tokenizer.ggml.model = gpt2``),
  padded with ``[PAD n]`` tokens up to the embedding's rows, as the converter pads. The workbench feeds token ids
  to every engine, so llama.cpp's tokenizer never decides what the prompt is.

Heavy imports (torch, safetensors, gguf) happen inside :func:`export_gguf`. Raises ModelError in one line for what
it cannot write (another architecture, a missing tokenizer.json, the ``gguf`` package not installed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.errors import ModelError

__all__ = ["GGUF_FILE", "GGUF_RECIPE", "export_gguf", "permute_qk"]

#: The file inside the GGUF folder.
GGUF_FILE = "model.gguf"
#: How the GGUF file is made (recorded in the artifact's ``export``).
GGUF_RECIPE = (
    "gguf.GGUFWriter from the safetensors weights: Llama q/k permuted to llama.cpp's RoPE layout, "
    "F32 (fp32) / Q8_0 (int8) / Q4_0 (int4) 2-D weights, byte-level BPE vocabulary padded to the embedding"
)
#: ``--precision`` -> the GGML type of the quantizable weights, and the file type GGUF records
_WEIGHTS = {"fp32": ("F32", "ALL_F32"), "int8": ("Q8_0", "MOSTLY_Q8_0"), "int4": ("Q4_0", "MOSTLY_Q4_0")}
_ARCH = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}


def permute_qk(w: Any, heads: int) -> Any:
    """Hugging Face's rotate-half query/key rows (per head: first halves, then second halves) to the interleaved
    pairs llama.cpp's RoPE rotates (``convert_hf_to_gguf``'s ``permute``)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _vocab(folder: Path, n_vocab: int) -> tuple[list[str], list[int], list[str], dict[str, int]]:
    """Tokens (by id), their GGUF types (1 normal, 3 control, 5 unused padding), merges, and special ids."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"{folder.name}: no tokenizer.json (the GGUF vocabulary is read from it)")
    tok = json.loads(path.read_text())
    model = tok.get("model") or {}
    if model.get("type") != "BPE":
        raise ModelError(f"{folder.name}: the GGUF writer reads byte-level BPE tokenizers, not {model.get('type')}")
    vocab: dict[str, int] = dict(model.get("vocab") or {})
    special = {t["content"]: int(t["id"]) for t in tok.get("added_tokens") or []}
    vocab.update(special)
    if max(vocab.values(), default=-1) >= n_vocab:
        raise ModelError(f"{folder.name}: the tokenizer has ids beyond the model's {n_vocab}-row embedding")
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    types = [5] * n_vocab
    for text, i in vocab.items():
        tokens[i] = text
        types[i] = 3 if text in special else 1
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    return tokens, types, merges, special


def _tensors(folder: Path) -> dict[str, Any]:
    """Every tensor of the folder's safetensors files as float32 numpy arrays."""
    from safetensors.numpy import load_file

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelError(f"{folder.name}: no .safetensors weights (the GGUF writer reads safetensors only)")
    out: dict[str, Any] = {}
    for f in files:
        out.update({k: v.astype("float32") for k, v in load_file(str(f)).items()})
    return out


def _names(arch: str, layers: int) -> dict[str, str]:
    """Hugging Face tensor name -> GGUF name."""
    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per = {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }
    if arch == "qwen2":
        per |= {f"self_attn.{p}_proj.bias": f"attn_{p}.bias" for p in "qkv"}
    for i in range(layers):
        names |= {f"model.layers.{i}.{hf}": f"blk.{i}.{gg}" for hf, gg in per.items()}
    return names


def export_gguf(hf_dir: Path, out_dir: Path, weights: str = "fp32") -> dict[str, Any]:
    """Write ``out_dir/model.gguf`` from the causal-LM folder ``hf_dir`` at ``weights`` (fp32, int8, int4); returns
    the export record (recipe, weights, architecture). Raises ModelError in one line."""
    try:
        import gguf
        import numpy as np
    except ImportError as exc:
        raise ModelError(f"writing a GGUF file needs the gguf package: pip install gguf ({exc})") from None
    config = json.loads((hf_dir / "config.json").read_text())
    archs = config.get("architectures") or []
    arch = next((_ARCH[a] for a in archs if a in _ARCH), None)
    if arch is None:
        raise ModelError(
            f"{hf_dir.name}: the workbench's GGUF writer covers Llama and Qwen2 causal LMs, not {', '.join(archs)}"
        )
    qtype_name, ftype_name = _WEIGHTS[weights]
    qtype = getattr(gguf.GGMLQuantizationType, qtype_name)
    h, layers = int(config["hidden_size"]), int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or h // heads)
    tensors = _tensors(hf_dir)
    n_vocab = int(tensors["model.embed_tokens.weight"].shape[0])
    tokens, types, merges, special = _vocab(hf_dir, n_vocab)

    out_dir.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out_dir / GGUF_FILE), arch=arch)
    w.add_name(hf_dir.name)
    w.add_context_length(int(config.get("max_position_embeddings") or 2048))
    w.add_embedding_length(h)
    w.add_block_count(layers)
    w.add_feed_forward_length(int(config["intermediate_size"]))
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(
        float(config.get("rope_theta") or (config.get("rope_parameters") or {}).get("rope_theta") or 1e4)
    )
    w.add_layer_norm_rms_eps(float(config.get("rms_norm_eps") or 1e-6))
    w.add_vocab_size(n_vocab)
    w.add_file_type(getattr(gguf.LlamaFileType, ftype_name))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for key, add in (("<s>", w.add_bos_token_id), ("</s>", w.add_eos_token_id), ("<unk>", w.add_unk_token_id)):
        if key in special:
            add(special[key])
    w.add_add_bos_token(False)

    names = _names(arch, layers)
    quantized = 0
    for hf_name, array in tensors.items():
        name = names.get(hf_name)
        if name is None:
            raise ModelError(f"{hf_dir.name}: tensor {hf_name} has no GGUF name in the {arch} layout")
        if arch == "llama" and name.endswith("attn_q.weight"):
            array = permute_qk(array, heads)
        elif arch == "llama" and name.endswith("attn_k.weight"):
            array = permute_qk(array, kv_heads)
        if qtype_name != "F32" and array.ndim == 2 and array.shape[1] % 32 == 0:
            w.add_tensor(name, gguf.quants.quantize(np.ascontiguousarray(array), qtype), raw_dtype=qtype)
            quantized += 1
        else:
            w.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {
        "converter": GGUF_RECIPE,
        "weights": weights,
        "ggml_type": qtype_name,
        "quantized_tensors": quantized,
        "architecture": arch,
        "gguf": gguf.__name__ + " " + _version("gguf"),
    }


def _version(dist: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
