"""The hardware a run used, named as a price list names it: CPU model and threads, or the CUDA device.

Prices follow what ran, not a setting's default: a GPU run priced at the CPU core rate understated the
FT route's training by two orders of magnitude.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

Kind = Literal["cpu", "cuda"]


@dataclass(frozen=True)
class Hardware:
    kind: Kind
    name: str  # "AMD EPYC 7B13", "NVIDIA H100 80GB HBM3"
    units: int  # CPU threads billed, or GPUs

    def label(self) -> str:
        count = f"{self.units} threads" if self.kind == "cpu" else f"{self.units} GPU"
        return f"{self.name} ({self.kind}, {count})"


def cpu(threads: int | None = None) -> Hardware:
    return Hardware("cpu", cpu_model(), threads or os.cpu_count() or 1)


def cuda(index: int = 0) -> Hardware | None:
    """The CUDA device torch would use, or None without torch or a GPU (torch is imported only here)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return Hardware("cuda", torch.cuda.get_device_name(index), 1)


def detect(threads: int | None = None) -> Hardware:
    """The GPU when there is one, else the CPU."""
    return cuda() or cpu(threads)


@cache
def cpu_model() -> str:
    """/proc/cpuinfo's model name on Linux; platform's guess elsewhere."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text("utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"
