"""Energy and cost: the estimate is the documented formula, NVML's counter is used when present, runs record it."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from lra.cost import DEVICES, EnergyMeter, device_cost
from lra.report import write_report
from lra.safe_io import read_json


def test_the_cpu_estimate_is_power_per_thread_times_time():
    record = EnergyMeter(torch.device("cpu")).record(train_seconds=3600, threads=2, processes=1)
    assert record["energy_wh"] == pytest.approx(2 * DEVICES["cpu"].watts)
    assert record["device_hours"] == pytest.approx(2.0)
    assert record["cost_usd"] == pytest.approx(2 * DEVICES["cpu"].usd_per_hour)
    assert record["energy_source"].startswith("estimated")


def test_a_gpu_is_found_in_the_table_by_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    row, name, units = device_cost(torch.device("cuda", 0), threads=16)
    assert (row, name, units) == (DEVICES["H200"], "NVIDIA H200", 1.0)


def test_nvml_energy_is_measured_when_the_device_reports_it(monkeypatch):
    readings = iter([1_000, 7_201_000])  # millijoules at start and at stop: 7,200 J = 2 Wh
    fake = types.SimpleNamespace(nvmlInit=lambda: None, nvmlDeviceGetHandleByIndex=lambda index: "gpu0",
                                 nvmlDeviceGetTotalEnergyConsumption=lambda handle: next(readings))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    record = EnergyMeter(torch.device("cuda", 0)).record(train_seconds=60, threads=16)
    assert record["energy_wh"] == pytest.approx(2.0) and record["energy_source"].startswith("measured")


def test_a_run_records_its_cost_and_the_report_lists_it(finished_run, tmp_path):
    cost = read_json(finished_run / "results.json", "results")["cost"]
    assert cost["device"] == "cpu" and cost["energy_wh"] > 0 and cost["cost_usd"] > 0
    report = write_report(finished_run.parent, tmp_path / "report").read_text()
    assert "## Cost" in report and "estimated" in report
    assert "energy_wh" in (tmp_path / "report" / "table1.csv").read_text().splitlines()[0]
