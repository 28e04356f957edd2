"""What machine a benchmark ran on: every report names the CPU, its instruction-set flags, torch and
onnxruntime."""
from __future__ import annotations

import subprocess
from typing import Any


def cpu_description() -> dict[str, Any]:
    """CPU model and the instruction-set flags that matter for torch on CPU (lscpu)."""
    info: dict[str, Any] = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return info
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Hypervisor vendor"):
            info[key.strip()] = value.strip()
        if key.strip() == "Flags":
            flags = value.split()
            info["flags_relevant"] = [f for f in flags if f.startswith(("avx", "amx", "fma", "f16c"))]
            info["flags"] = " ".join(flags)
    import torch

    info["torch"] = torch.__version__
    import onnxruntime

    info["onnxruntime"] = onnxruntime.__version__
    info["bf16_autocast"] = bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
    return info
