"""The CPU a run trains on: how records name it, and whether it has native bfloat16 (what `precision=auto` decides
by). Standard library only, so records and benchmarks can name the machine without importing TensorFlow."""

from __future__ import annotations

import functools
from pathlib import Path

# avx512_bf16: native bfloat16 arithmetic; amx_bf16: AMX tiles, which oneDNN uses for bfloat16 matrix products.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The CPU's bfloat16 flags (of BF16_FLAGS) in /proc/cpuinfo's text `cpuinfo` (default: this machine's)."""
    lines = (_cpuinfo() if cpuinfo is None else cpuinfo).splitlines()
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return [flag for flag in BF16_FLAGS if flag in flags]


def cpu_name(cpuinfo: str | None = None) -> str:
    """The CPU's model name, with its bfloat16 flags: what decides how fast a run trains in mixed_bfloat16."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
                 "unknown CPU")
    named = bf16_flags(text)
    return model + (f" ({', '.join(named)})" if named else "")
