"""workbench.machine.sysinfo: CPU lists, pure parsers, a fake sysfs tree, collect(), fingerprint."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.machine import sysinfo
from workbench.machine.cpus import default_cores, format_cpu_list, parse_cpu_list
from workbench.machine.sysinfo import (
    collect,
    fingerprint,
    fingerprint_diff,
    fingerprint_fields,
    governor_summary,
    parse_cpuinfo,
)
from workbench.report.sysinfo import format_table

# ---------------------------------------------------------------------------------------------------------------------
# CPU lists
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", [0]),
        ("0-3,6", [0, 1, 2, 3, 6]),
        (" 6 , 0-3 ", [0, 1, 2, 3, 6]),
        ("3,1,1,2-3", [1, 2, 3]),
        ("4-4", [4]),
        ("0-1,8-9\n", [0, 1, 8, 9]),
    ],
)
def test_parse_cpu_list(text: str, expected: list[int]) -> None:
    assert parse_cpu_list(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a", "not a CPU number"),
        ("0-3,x", "not a CPU number"),
        ("1.5", "not a CPU number"),
        ("-1", "negative"),
        ("0--2", "negative"),
        ("5-3", "reversed"),
        ("0,,1", "empty item"),
        ("0,", "empty item"),
        ("0-", "not a range"),
        ("-", "negative"),
        ("1-a", "not a range"),
    ],
)
def test_parse_cpu_list_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_cpu_list(text)
    assert fragment in str(err.value)


def test_parse_cpu_list_allow_empty() -> None:
    assert parse_cpu_list("\n", allow_empty=True) == []


@pytest.mark.parametrize(
    "cpus, expected",
    [
        ([0, 1, 2, 3, 6], "0-3,6"),
        ([6, 3, 2, 1, 0, 0], "0-3,6"),
        ([], ""),
        ([5], "5"),
        ([0, 2, 4], "0,2,4"),
        ([0, 1, 3, 4, 5, 9], "0-1,3-5,9"),
    ],
)
def test_format_cpu_list(cpus: list[int], expected: str) -> None:
    assert format_cpu_list(cpus) == expected


@pytest.mark.parametrize("bad", [[-1], [0, "1"], [1.0], [True]])
def test_format_cpu_list_errors(bad: list) -> None:
    with pytest.raises(ValueError):
        format_cpu_list(bad)


def test_cpu_list_round_trip() -> None:
    for text in ("0-3,6", "1", "0,2-5,7-8,100-103"):
        assert format_cpu_list(parse_cpu_list(text)) == text


# ---------------------------------------------------------------------------------------------------------------------
# Pure parsers
# ---------------------------------------------------------------------------------------------------------------------

_XEON_FLAGS = (
    "fpu vme sse sse2 ht avx avx2 avx512f avx512dq avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile "
    "amx_int8 hypervisor"
)


def _cpuinfo(n_sockets: int = 2, cores_per_socket: int = 2, smt: int = 2, flags: str = _XEON_FLAGS) -> str:
    blocks = []
    proc = 0
    for _t in range(smt):
        for s in range(n_sockets):
            for c in range(cores_per_socket):
                blocks.append(
                    "\n".join(
                        [
                            f"processor\t: {proc}",
                            "vendor_id\t: GenuineIntel",
                            "model name\t: Intel(R) Xeon(R) Platinum 8480+",
                            f"physical id\t: {s}",
                            f"core id\t\t: {c}",
                            f"flags\t\t: {flags}",
                        ]
                    )
                )
                proc += 1
    return "\n\n".join(blocks) + "\n"


def test_parse_cpuinfo_xeon() -> None:
    p = parse_cpuinfo(_cpuinfo())
    assert p["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert p["vendor"] == "GenuineIntel"
    assert p["logical_cpus"] == 8
    assert p["sockets"] == 2
    assert p["physical_cores"] == 4
    # cpu 0 (socket 0, core 0) and cpu 4 (second thread of the same core) are siblings
    assert p["siblings"][0] == "0,4"
    assert len(p["siblings"]) == 4
    flags = sysinfo.isa_flags(p["flags"])
    assert flags == {
        "avx2": True,
        "avx512f": True,
        "avx512_vnni": True,
        "avx_vnni": False,
        "avx512_bf16": True,
        "avx512_fp16": True,
        "amx_bf16": True,
        "amx_int8": True,
        "amx_tile": True,
    }
    assert sysinfo.flag_highlights(p["flags"]) == [
        "AVX2",
        "AVX-512",
        "AVX512-VNNI",
        "AVX512-BF16",
        "AVX512-FP16",
        "AMX-BF16",
        "AMX-INT8",
    ]


def test_parse_cpuinfo_laptop_without_avx512() -> None:
    text = _cpuinfo(n_sockets=1, cores_per_socket=4, smt=1, flags="fpu sse avx avx2 avx_vnni")
    p = parse_cpuinfo(text)
    assert p["sockets"] == 1 and p["physical_cores"] == 4 and p["siblings"] == []
    assert sysinfo.flag_highlights(p["flags"]) == ["AVX2", "AVX-VNNI"]
    assert not sysinfo.isa_flags(p["flags"])["avx512f"]


def test_parse_cpuinfo_arm_and_garbage() -> None:
    arm = (
        "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes sve\nCPU implementer\t: 0x41\n\n"
        "processor\t: 1\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes sve\nCPU implementer\t: 0x41\n"
    )
    p = parse_cpuinfo(arm)
    assert p["logical_cpus"] == 2
    assert p["vendor"] == "ARM"
    assert p["sockets"] is None and p["physical_cores"] is None
    assert "sve" in p["flags"]
    empty = parse_cpuinfo("")
    assert empty["model"] is None and empty["flags"] == [] and empty["logical_cpus"] is None
    assert parse_cpuinfo("not: really\nparseable")["logical_cpus"] is None


def test_parse_os_release_and_size() -> None:
    rel = sysinfo.parse_os_release(
        'NAME="Ubuntu"\nVERSION_ID="22.04"\n# c\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\n'
    )
    assert rel == {"NAME": "Ubuntu", "VERSION_ID": "22.04", "PRETTY_NAME": "Ubuntu 22.04.4 LTS", "ID": "ubuntu"}
    assert sysinfo.parse_size("48K") == 48 * 1024
    assert sysinfo.parse_size("2048K") == 2 * 1024 * 1024
    assert sysinfo.parse_size("105 MiB") == 105 * 1024 * 1024
    assert sysinfo.parse_size("junk") is None
    assert sysinfo.parse_size(None) is None


# ---------------------------------------------------------------------------------------------------------------------
# Fake sysfs tree
# ---------------------------------------------------------------------------------------------------------------------


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture()
def fake_root(tmp_path: Path) -> Path:
    cpu = "sys/devices/system/cpu"
    governors = ["performance", "performance", "powersave", "powersave"]
    for i, g in enumerate(governors):
        _write(tmp_path, f"{cpu}/cpu{i}/cpufreq/scaling_governor", g + "\n")
        _write(tmp_path, f"{cpu}/cpu{i}/cpufreq/scaling_driver", "intel_pstate\n")
        _write(tmp_path, f"{cpu}/cpu{i}/cpufreq/energy_performance_preference", "balance_performance\n")
        _write(tmp_path, f"{cpu}/cpu{i}/cpufreq/cpuinfo_max_freq", "3800000\n")
    # cpu4 has no cpufreq directory at all (offline / not exposed): must be skipped, not crash
    (tmp_path / cpu / "cpu4").mkdir(parents=True)
    (tmp_path / cpu / "cpufreq").mkdir(parents=True)  # not a cpuN dir
    _write(tmp_path, f"{cpu}/intel_pstate/no_turbo", "0\n")
    _write(tmp_path, f"{cpu}/intel_pstate/status", "active\n")
    _write(tmp_path, f"{cpu}/isolated", "2-3\n")
    _write(tmp_path, f"{cpu}/smt/active", "1\n")
    _write(tmp_path, f"{cpu}/smt/control", "on\n")
    for idx, (level, typ, size, shared) in enumerate(
        [
            (1, "Data", "48K", "0,2"),
            (1, "Instruction", "32K", "0,2"),
            (2, "Unified", "2048K", "0,2"),
            (3, "Unified", "107520K", "0-3"),
        ]
    ):
        base = f"{cpu}/cpu0/cache/index{idx}"
        _write(tmp_path, f"{base}/level", f"{level}\n")
        _write(tmp_path, f"{base}/type", f"{typ}\n")
        _write(tmp_path, f"{base}/size", f"{size}\n")
        _write(tmp_path, f"{base}/shared_cpu_list", f"{shared}\n")
    _write(tmp_path, "sys/devices/system/node/node0/cpulist", "0-1\n")
    _write(tmp_path, "sys/devices/system/node/node0/meminfo", "Node 0 MemTotal:       16384 kB\n")
    _write(tmp_path, "sys/devices/system/node/node1/cpulist", "2-3\n")
    _write(tmp_path, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    _write(tmp_path, "etc/os-release", 'PRETTY_NAME="Fake Linux 1.0"\nID=fake\nVERSION_ID=1.0\n')
    _write(tmp_path, "proc/cpuinfo", _cpuinfo(n_sockets=1, cores_per_socket=2, smt=2))
    _write(tmp_path, "proc/self/cgroup", "0::/bench\n")
    _write(tmp_path, "sys/fs/cgroup/bench/cpu.max", "200000 100000\n")
    _write(tmp_path, "sys/fs/cgroup/bench/memory.max", "max\n")
    return tmp_path


def test_governor_summary_from_fake_sysfs(fake_root: Path) -> None:
    assert governor_summary(fake_root) == {"performance": [0, 1], "powersave": [2, 3]}
    assert governor_summary(fake_root / "nothing-here") == {}


def test_summarise_per_cpu_skips_unreadable() -> None:
    assert sysinfo.summarise_per_cpu({0: "a", 1: None, 2: "b", 3: "a"}) == {"a": [0, 3], "b": [2]}


def test_collect_on_fake_tree(fake_root: Path) -> None:
    info = collect(refresh=True, root=str(fake_root))
    json.dumps(info)
    cpu = info["cpu"]
    assert cpu["model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert cpu["sockets"] == 1 and cpu["physical_cores"] == 2 and cpu["logical_cpus"] == 4
    assert cpu["flags"]["amx_int8"] is True
    assert cpu["smt_siblings"] == ["0,2", "1,3"]
    freq = info["frequency"]
    assert freq["governors"] == {"performance": [0, 1], "powersave": [2, 3]}
    assert freq["energy_performance_preference"] == {"balance_performance": [0, 1, 2, 3]}
    assert freq["turbo"] is True and freq["turbo_source"] == "intel_pstate/no_turbo"
    assert freq["driver"] == "intel_pstate"
    assert info["isolated_cpus"] == [2, 3]
    assert info["smt"]["active"] is True and info["smt"]["control"] == "on"
    assert info["caches"]["L1d"]["bytes"] == 48 * 1024
    assert info["caches"]["L3"]["instances"] == 1
    assert info["caches"]["L2"]["instances"] == 2
    assert [n["cpus"] for n in info["numa"]] == [[0, 1], [2, 3]]
    assert info["numa"][0]["memory_total_bytes"] == 16384 * 1024
    assert info["numa"][1]["memory_total_bytes"] is None
    assert info["os"]["distro"] == "Fake Linux 1.0"
    assert info["os"]["transparent_hugepages"] == "madvise"
    assert info["cgroup"]["cpu_quota"] == 2.0 and info["cgroup"]["memory_limit_bytes"] is None
    assert info["virtualisation"]["hypervisor_flag"] is True
    text = format_table(info)
    assert "powersave on 2-3" in text and "AMX-INT8" in text


def test_collect_on_empty_tree_degrades(tmp_path: Path) -> None:
    info = collect(refresh=True, root=str(tmp_path))
    json.dumps(info)
    assert info["frequency"]["governors"] == {}
    assert info["frequency"]["turbo"] is None
    assert info["isolated_cpus"] is None
    assert info["numa"] == []
    assert info["caches"] == {}
    assert info["os"]["distro"] is None
    assert info["cpu"]["flags"]["avx2"] is False
    assert isinstance(info["fingerprint"], str)
    format_table(info)  # renders with "—" where unknown
    format_table({})  # even with nothing at all


# ---------------------------------------------------------------------------------------------------------------------
# collect() on this machine
# ---------------------------------------------------------------------------------------------------------------------

_TOP_KEYS = {
    "hostname",
    "cpu",
    "numa",
    "caches",
    "memory",
    "cgroup",
    "frequency",
    "smt",
    "os",
    "python",
    "versions",
    "gpus",
    "virtualisation",
    "affinity",
    "isolated_cpus",
    "fingerprint",
    "fingerprint_fields",
}


def test_collect_real_machine_keys_and_json() -> None:
    info = collect(refresh=True)
    assert _TOP_KEYS <= set(info)
    assert json.loads(json.dumps(info)) == info  # plain JSON types only
    assert set(info["cpu"]["flags"]) == set(sysinfo.ISA_FLAGS)
    assert set(info["versions"]) == set(sysinfo.ENGINE_DISTRIBUTIONS)
    assert info["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert isinstance(info["gpus"], list)
    assert isinstance(info["fingerprint"], str) and len(info["fingerprint"]) == 12
    assert set(info["fingerprint_fields"]) == set(sysinfo.FINGERPRINT_KEYS)
    # the table renders every section
    text = format_table(info)
    for section in (
        "CPU",
        "Caches",
        "NUMA",
        "Memory",
        "Frequency & power",
        "Virtualisation",
        "Packages",
        "Fingerprint",
    ):
        assert f"\n{section}\n" in "\n" + text


def test_collect_is_fast_and_cached() -> None:
    t0 = time.perf_counter()
    first = collect(refresh=True)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = collect()
    warm = time.perf_counter() - t0
    assert cold < 1.0  # budget is 0.3 s; leave room for slow CI, the measured value is in collect_ms
    assert warm < 0.05
    assert second == first
    second["cpu"]["model"] = "mutated"
    assert collect()["cpu"]["model"] == first["cpu"]["model"]  # callers get copies


def test_collect_imports_no_engine() -> None:
    code = (
        "import sys; from workbench.machine import noise, sysinfo; sysinfo.collect(); "
        "bad = [m for m in ('torch', 'onnxruntime', 'openvino', 'textual') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------------------------------------------------------------
# Fingerprint
# ---------------------------------------------------------------------------------------------------------------------


def test_fingerprint_stable_and_sensitive() -> None:
    a = collect(refresh=True)
    b = collect(refresh=True)
    assert a["fingerprint"] == b["fingerprint"]
    fields = dict(a["fingerprint_fields"])
    assert fingerprint(fields) == a["fingerprint"]
    assert fingerprint(a) == a["fingerprint"]  # a whole info dict works too
    assert fingerprint(dict(reversed(list(fields.items())))) == a["fingerprint"]  # key order irrelevant
    for key, new in [
        ("cpu_model", "Other CPU"),
        ("logical_cpus", 999),
        ("kernel", "0.0.0"),
        ("torch", "0.0.1"),
        ("isa", ["AMX-BF16"]),
    ]:
        changed = dict(fields, **{key: new})
        assert fingerprint(changed) != a["fingerprint"], key
        assert set(fingerprint_diff(fields, changed)) == {key}
        assert fingerprint_diff(a, {"fingerprint_fields": changed})[key] == (fields[key], new)
    assert fingerprint_diff(a, b) == {}


def test_fingerprint_ignores_moment_to_moment_fields() -> None:
    info = collect(refresh=True)
    moved = dict(info)
    moved["memory"] = dict(info["memory"], available_bytes=1)
    moved["frequency"] = dict(info["frequency"], current_mhz=1.0, governors={"powersave": [0]})
    moved["hostname"] = "elsewhere"
    assert fingerprint(fingerprint_fields(moved)) == info["fingerprint"]
    # a few MiB less memory (firmware reservation) does not change it either
    total = info["memory"]["total_bytes"] or (16 << 30)
    moved["memory"] = dict(info["memory"], total_bytes=total - (3 << 20))
    assert abs(fingerprint_fields(moved)["memory_total_gib"] - round(total / (1 << 30))) <= 1


def test_summary_is_compact_json() -> None:
    s = sysinfo.summary(collect())
    json.dumps(s)
    assert s["fingerprint"] == collect()["fingerprint"]
    assert "cpu_model" in s and "isa" in s


def test_default_cores_is_one_rule_for_cli_and_ui():
    """The CLI's runner and the UI's setup pane pick the same default cores (machine.cpus.default_cores)."""
    from workbench.tui import services

    assert default_cores([0]) == (0,)
    assert default_cores([0, 1]) == (0, 1)  # two cores: the benchmark gets both
    assert default_cores([3, 0, 1, 2]) == (1, 2, 3)  # more: the lowest is left to the parent
    for cpus in ([0], [0, 1], [0, 1, 2], [2, 4, 6, 8]):
        run, rest = services.default_cores(cpus)
        assert tuple(run) == default_cores(cpus)
        assert sorted(run + rest) == sorted(cpus)
