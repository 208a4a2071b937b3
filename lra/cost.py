"""Energy and cost of a run: measured where the device reports energy, otherwise estimated, and labelled so.

Measured: on NVIDIA GPUs through NVML's total-energy counter (`pynvml`, when installed), read when training
starts and ends (the whole board, including whatever else runs on it).
Estimated: training seconds x the device's board power, from the table below: the vendor's TDP, or for a
CPU the package TDP shared out per thread used. This is the method of the ML CO2 Impact calculator (Lacoste et
al., 2019). FLOP counts are not used because they miss elementwise work and a device's FLOP per joule varies
tenfold with the kernel. Prices are typical on-demand cloud prices per device-hour (late 2026), for
comparison only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceCost:
    watts: float  # board power under load (TDP); for a CPU, per thread used
    usd_per_hour: float  # on-demand price of the device (a CPU: per thread-hour)


# Keys are matched as substrings of torch.cuda.get_device_name(); "cpu" is a generic server x86 core.
DEVICES: dict[str, DeviceCost] = {
    "H200": DeviceCost(700.0, 3.50),
    "H100": DeviceCost(700.0, 2.50),
    "A100": DeviceCost(400.0, 1.50),
    "L4": DeviceCost(72.0, 0.70),
    "T4": DeviceCost(70.0, 0.35),
    "V100": DeviceCost(300.0, 0.90),
    "cpu": DeviceCost(5.0, 0.02),  # e.g. a 64-core, 128-thread EPYC at 280-360 W: 2-3 W per thread, plus memory
}
GENERIC_GPU = DeviceCost(300.0, 1.50)


def device_cost(device: torch.device, threads: int) -> tuple[DeviceCost, str, float]:
    """The table row for `device`, its name, and how many units of it the run used (threads on a CPU)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        row = next((cost for key, cost in DEVICES.items() if key != "cpu" and key in name), GENERIC_GPU)
        return row, name, 1.0
    return DEVICES["cpu"], "cpu", float(max(threads, 1))


def _significant(value: float) -> float:
    """Four significant digits: a short run's cost is small but not zero."""
    return float(f"{value:.4g}")


class EnergyMeter:
    """Reads NVML's energy counter at start and stop where it can; `record()` says measured or estimated."""

    def __init__(self, device: torch.device, measure: bool = True) -> None:
        self.device, self._handle, self._start_mj = device, None, None
        if device.type != "cuda" or not measure:
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
            self._start_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except Exception:  # no pynvml, no permission, an old GPU: fall back to the estimate
            self._handle = None

    def measured_joules(self) -> float | None:
        if self._handle is None or self._start_mj is None:
            return None
        import pynvml

        return (pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) - self._start_mj) / 1000.0

    def record(self, train_seconds: float, threads: int, processes: int = 1) -> dict:
        """results.json's "cost": energy in Wh, how it was obtained, device-hours and an estimated price."""
        row, name, units = device_cost(self.device, threads)
        hours = train_seconds / 3600.0
        measured = self.measured_joules()
        joules = measured * processes if measured is not None else row.watts * units * train_seconds * processes
        return {
            "device": name,
            "energy_wh": _significant(joules / 3600.0),
            "energy_source": "measured (NVML energy counter)" if measured is not None
            else f"estimated: {row.watts:g} W x {units:g} x {processes} process(es) x training time",
            "device_hours": _significant(hours * units * processes),
            "cost_usd": _significant(hours * units * processes * row.usd_per_hour),
        }
