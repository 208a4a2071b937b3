"""The task registry's routes to data: TaskSpec.prepare and TaskSpec.generate, and their errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lra.cli import main
from lra.data import tasks
from lra.errors import LraError


def test_every_task_prepares_and_only_listops_and_pathfinder_generate() -> None:
    assert tasks.tasks_with("prepare") == tasks.task_names()
    assert tasks.tasks_with("generate") == ["listops", "pathfinder"]
    with pytest.raises(ValueError):
        tasks.tasks_with("load")


def test_generate_names_the_task_and_the_tasks_that_generate() -> None:
    for task in ("pathx", "text", "nope"):
        with pytest.raises(LraError, match=rf"`lra data generate` makes listops or pathfinder; got '{task}'"):
            tasks.generate_task(task, None)


def test_prepare_of_a_task_without_the_route(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(tasks.TASKS, "text", dataclasses.replace(tasks.TASKS["text"], prepare=None))
    with pytest.raises(LraError, match=r"`lra data prepare` has no route for task 'text'; it prepares image, "
                                       r"listops, .*retrieval$"):
        tasks.prepare_task("text", tmp_path, tmp_path / "out")
    with pytest.raises(LraError, match=r"unknown task 'nope'"):
        tasks.prepare_task("nope", tmp_path, tmp_path / "out")


def test_the_commands_follow_the_registry(monkeypatch, tmp_path: Path, capsys) -> None:
    calls = []

    def prepare(source: Path, data_dir: Path) -> Path:
        calls.append((source, data_dir))
        return data_dir

    def generate(options) -> str:
        calls.append(options.out)
        return f"made in {options.out}"

    spec = dataclasses.replace(tasks.TASKS["image"], prepare=prepare, generate=generate)
    monkeypatch.setitem(tasks.TASKS, "image", spec)
    assert main(["data", "generate", "image", "--out", str(tmp_path / "g")]) == 0
    assert capsys.readouterr().out == f"made in {tmp_path / 'g'}\n"
    assert main(["data", "prepare", "image", "--source", str(tmp_path), "--data-dir", str(tmp_path / "p")]) == 0
    assert capsys.readouterr().out == f"prepared {tmp_path / 'p'}\n"
    assert calls == [str(tmp_path / "g"), (tmp_path, tmp_path / "p")]
