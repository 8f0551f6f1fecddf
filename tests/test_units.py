"""workbench.units: the one number formatter (4 significant digits, never scientific, one missing mark)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench import units
from workbench.units import (
    MISSING,
    as_float,
    bytes_iec,
    count,
    duration,
    json_safe,
    ms,
    percent,
    rate,
    ratio,
    significant,
    text,
)

NOT_NUMBERS = [None, float("nan"), float("inf"), -float("inf"), True, False, "abc", [], {}, object()]


def test_missing_is_one_mark() -> None:
    assert MISSING == "—"
    for f in (significant, ms, duration, rate, bytes_iec, ratio, percent, count, units.p_value):
        for v in NOT_NUMBERS:
            assert f(v) == MISSING, (f.__name__, v)


@pytest.mark.parametrize(
    "value, expected",
    [
        (41.234, "41.23"),
        (8, "8.000"),
        (8.0, "8.000"),
        (0.41234, "0.4123"),
        (412.34, "412.3"),
        (1234.6, "1,235"),
        (12345.6, "12,346"),
        (1234567.0, "1,234,567"),
        (0.0012346, "0.001235"),
        (9.9996, "10.00"),
        (0.099996, "0.1000"),
        (999.96, "1,000"),
        (0, "0"),
        (-2, "-2.000"),
        (-41.234, "-41.23"),
        (np.float64(41.234), "41.23"),
        (np.int64(5), "5.000"),
        ("1.5", "1.500"),
    ],
)
def test_significant_rule(value, expected) -> None:
    assert significant(value) == expected
    assert ms(value) == expected


def test_significant_never_scientific() -> None:
    for v in (1e-7, 3.3e-5, 1e15, 123456789012.0, 5e-12):
        s = significant(v)
        assert "e" not in s.lower(), s
    assert significant(1e-7) == "0.000000100"  # capped at MAX_DECIMALS
    assert len(significant(5e-12).split(".")[1]) == units.MAX_DECIMALS


def test_significant_digits_argument() -> None:
    assert significant(41.234, 3) == "41.2"
    assert significant(41.234, 5) == "41.234"


@pytest.mark.parametrize(
    "value_ms, expected",
    [
        (41.234, "41.23 ms"),
        (0.04123, "41.23 µs"),
        (0.000412, "412.0 ns"),
        (1234.6, "1.235 s"),
        (120.0, "120.0 ms"),
        (1.0, "1.000 ms"),
        (123456.0, "123.5 s"),
        (0, "0 ns"),
    ],
)
def test_duration_picks_the_unit(value_ms, expected) -> None:
    assert duration(value_ms) == expected


def test_rate() -> None:
    assert rate(1234.6) == "1,235"
    assert rate(200, "/s") == "200.0/s"
    assert rate(None, "/s") == MISSING
    assert rate(12.3456) == "12.35"


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, "0 B"),
        (512, "512 B"),
        (1024, "1 KiB"),
        (48 * 1024, "48 KiB"),
        (1536 * 1024, "1.5 MiB"),
        (105 * 1024 * 1024, "105 MiB"),
        (32 * 1024**3, "32 GiB"),
        (int(31.5 * 1024**3), "31.5 GiB"),
        (2 * 1024**4, "2 TiB"),
        (3 * 1024**5, "3 PiB"),
        (-1, MISSING),
    ],
)
def test_bytes_iec(n, expected) -> None:
    assert bytes_iec(n) == expected


def test_ratio_and_percent() -> None:
    assert ratio(2.3149) == "2.31×"
    assert ratio(0.625) == "0.62×"  # round-half-even on the binary value, as f-strings do
    assert percent(12.345) == "12.3%"
    assert percent(-10.0, signed=True) == "-10.0%"
    assert percent(3, signed=True) == "+3.0%"
    assert percent(0.5, decimals=0) == "0%"


def test_count_matches_the_zoo() -> None:
    assert count(11689512) == "11.7M"
    assert count(9754) == "9.8k"
    assert count(999) == "999"
    assert count(3_000_000_000) == "3.0G"
    from workbench.models.zoo import human_count

    for n in (0, 7, 999, 1000, 9754, 11689512, 3_000_000_000):
        assert human_count(n) == count(n)


def test_as_float_and_json_safe() -> None:
    assert as_float("2.5") == 2.5 and as_float(3) == 3.0 and as_float(np.float32(1.5)) == 1.5
    for v in NOT_NUMBERS:
        assert as_float(v) is None
    doc = {"a": float("nan"), "b": [1.0, float("inf"), (2, -math.inf)], "c": "x", "d": {"e": 1}}
    assert json_safe(doc) == {"a": None, "b": [1.0, None, [2, None]], "c": "x", "d": {"e": 1}}


def test_text() -> None:
    assert text(None) == MISSING and text("") == MISSING and text("pass") == "pass" and text(0) == "0"


def test_units_is_stdlib_only() -> None:
    import ast
    import sys
    from pathlib import Path

    imported: set[str] = set()
    for node in ast.walk(ast.parse(Path(units.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            imported.add(str(node.module).split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported


def test_p_value() -> None:
    assert units.p_value(0.41234) == "0.412"
    assert units.p_value(0.0031) == "0.0031"
    assert units.p_value(4.2e-05) == "0.000042"
    assert units.p_value(1e-9) == "<0.000001"
    assert units.p_value(None) == MISSING
