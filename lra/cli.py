"""The `lra` command. Thin: parse arguments, call library functions, print."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lra.errors import LraError
from lra.presets import demo, preset_names
from lra.safe_io import atomic_write_json, read_json

DEMO_OUT = "lra-demo"


def _add_config_args(parser: argparse.ArgumentParser, need_task: bool = True) -> None:
    parser.add_argument("--task", required=need_task, help="task name (see `lra tasks`)")
    parser.add_argument("--model", help="mechanism name (see `lra models`; default: the config's, transformer)")
    parser.add_argument("--preset", default="paper", help=f"one of {', '.join(preset_names())} (default paper: LRA's "
                        "headline configs; released: the released code's; small: real data sized for a CPU; tiny: "
                        "seconds on a CPU)")
    parser.add_argument("--data-dir", help="where the task's data lies (default: data/<task>, or the preset's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.lr=0.01 (repeatable)")


def _resolved(args: argparse.Namespace):
    from lra.config import RunConfig
    from lra.presets import resolve_config

    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    return resolve_config(args.task, args.model or RunConfig().model.attention, args.preset, overrides)


def cmd_train(args: argparse.Namespace) -> None:
    from lra.trainer import read_run_config, train

    if args.resume:
        if not args.out:
            raise LraError("--resume needs --out RUN, the run directory to continue")
        config = read_run_config(Path(args.out)) if args.task is None else _resolved(args)
    else:
        if args.task is None:
            raise LraError("--task is required (see `lra tasks`)")
        config = _resolved(args)
    out = Path(args.out or f"runs/{config.task}-{config.model_name}-{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
    results = train(config, out, resume=args.resume, progress=not args.quiet)
    if results:  # under torchrun only rank 0 has results to print
        print(format_results([results]))
        print(f"run directory: {out}")


def cmd_eval(args: argparse.Namespace) -> None:
    from lra.trainer import evaluate_run

    if args.halt_threshold is not None:
        _eval_thresholds(args)
        return
    if args.json:
        raise LraError("--json writes the rows of a --halt-threshold sweep; give --halt-threshold with it")
    result = evaluate_run(args.run, split=args.split, checkpoint=args.checkpoint)
    stored = Path(args.run) / "results.json"
    line = f"{args.split} accuracy ({args.checkpoint} checkpoint, step {result['step']}): {result['accuracy']:.4f}"
    if stored.is_file() and args.split == "test":
        key = "test_acc" if args.checkpoint == "best" else "test_acc_last"
        stored_value = read_json(stored, "a run's results").get(key)
        if isinstance(stored_value, float):
            line += f"   stored in results.json: {stored_value:.4f}"
    print(line)


def _eval_thresholds(args: argparse.Namespace) -> None:
    """An adaptive-depth run at several halting thresholds: accuracy against mean layers per real token."""
    from lra.act import evaluate_thresholds

    try:
        thresholds = [float(t) for t in args.halt_threshold.split(",") if t.strip()]
    except ValueError:
        raise LraError(f"--halt-threshold {args.halt_threshold!r}: expected comma-separated thresholds in (0, 1], "
                       "e.g. 0.5,0.9,0.99") from None
    rows = evaluate_thresholds(args.run, thresholds, split=args.split, checkpoint=args.checkpoint)
    print(f"{args.split} split, {args.checkpoint} checkpoint (step {rows[0]['step']}), at most "
          f"{rows[0]['max_layers']} layers")
    print(f"| halt threshold | {args.split} accuracy | average layers per token |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['threshold']:g} | {100 * r['accuracy']:.2f} | {r['average_layers']:.3f} |")
    if args.json:
        atomic_write_json(Path(args.json), rows)


def cmd_models(args: argparse.Namespace) -> None:
    from lra.attention import broken_plugins, get_spec, mechanism_names

    for name in mechanism_names():
        spec = get_spec(name)
        print(f"{name:14s} {spec.kind:9s} {spec.summary}")
    for name, reason in broken_plugins().items():
        print(f"lra: plugin {name!r} did not load ({reason})", file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    from lra.checks import format_checks, run_checks
    from lra.config import RunConfig, apply_overrides

    for item in args.overrides:
        if not item.startswith("model.attention_options."):
            raise LraError(f"--set {item}: lra check takes only model.attention_options.* (the mixer's options)")
    config = RunConfig()
    config.model.attention = args.model
    options = apply_overrides(config, args.overrides).model.attention_options
    results = run_checks(args.model, options)
    print(format_checks(args.model, results))
    return 1 if any(r.status == "fail" for r in results) else 0


def cmd_prune(args: argparse.Namespace) -> None:
    from lra.prune import prune_run

    try:
        amounts = [float(a) for a in args.amounts.split(",") if a.strip()]
    except ValueError:
        raise LraError(f"--amounts {args.amounts!r}: expected comma-separated fractions, e.g. 0.3,0.5,0.7") from None
    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    if args.out and len(methods) != 1:
        raise LraError("--out saves one pruned run: give one --method with it")
    records = [r for method in methods
               for r in prune_run(args.run, method, amounts, args.finetune_steps, args.finetune_lr, args.out)]
    print("| method | amount | sparsity | fine-tune steps | test acc | test eval s |")
    print("|---|---|---|---|---|---|")
    for r in records:
        print(f"| {r['method']} | {r['amount']:g} | {r['sparsity']:.3f} | {r['finetune_steps']} | "
              f"{100 * r['test_acc']:.2f} | {r['test_eval_s']} |")
    if args.json:
        atomic_write_json(Path(args.json), records)
    if args.plot:
        from lra.prune import plot_curve

        print(f"written: {plot_curve(records, Path(args.plot))}")


def cmd_tasks(args: argparse.Namespace) -> None:
    from lra.data.tasks import get_task, task_names

    for name in task_names():
        spec = get_task(name)
        print(f"{name:14s} classes={spec.num_classes:<3d} vocab={spec.vocab_size:<4d} length={spec.max_length:<6d} "
              f"{spec.summary}")


def _say(text: str) -> None:
    """Print for the data commands; a reader that went away (`lra data info | head`) ends it quietly."""
    import os

    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def cmd_generate(args: argparse.Namespace) -> None:
    from lra.data.tasks import generate_task

    _say(generate_task(args.task, args))


def _data_dir(args: argparse.Namespace) -> Path:
    from lra.config import DataConfig
    from lra.data.tasks import get_task, resolve_data_dir

    get_task(args.task)
    return Path(args.data_dir) if args.data_dir else resolve_data_dir(args.task, DataConfig())


def cmd_download(args: argparse.Namespace) -> None:
    from lra.data.archive import CorruptArchive
    from lra.data.download import TASK_SOURCES, download, set_aside
    from lra.data.tasks import prepare_task

    data_dir = _data_dir(args)
    source = TASK_SOURCES[args.task]
    if source.note:
        _say(f"{source.filename}: {source.note}")
    archive = download(source.url, data_dir.parent / "downloads" / source.filename, md5=source.md5,
                       progress=not args.quiet)
    try:
        prepared = prepare_task(args.task, archive, data_dir)
    except CorruptArchive as error:  # a broken download would otherwise be reused on every later run
        bad = set_aside(archive)
        raise LraError(f"{str(error).removesuffix('; re-download it')}; it was moved aside to {bad}, so "
                       f"`lra data download {args.task}` fetches it afresh") from None
    _say(f"prepared {prepared} from {archive}")


def cmd_prepare(args: argparse.Namespace) -> None:
    from lra.data.tasks import prepare_task

    _say(f"prepared {prepare_task(args.task, Path(args.source), _data_dir(args))}")


def cmd_info(args: argparse.Namespace) -> None:
    from lra.config import RunConfig
    from lra.presets import resolve_config

    config = resolve_config(args.task, RunConfig().model.attention, "paper", [f"data.data_dir={_data_dir(args)}"])
    from lra.data.tasks import task_info

    _say(json.dumps(task_info(args.task, config.data), indent=2))


CPU_BENCH_BATCH = 1  # keeps the default CPU sweep of every model within ~15 minutes on 2 cores


def cmd_bench(args: argparse.Namespace) -> None:
    import torch

    from lra.attention import mechanism_names
    from lra.bench import baselines
    from lra.data.tasks import get_task
    from lra.report import bench_table, sweep_and_write

    get_task(args.task)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise LraError("--device cuda but no CUDA device is available")
    names = mechanism_names() if args.models == "all" else _model_names(args.models)
    names = list(dict.fromkeys([*baselines(), *names]))  # ratios need both baselines
    try:
        lengths = [int(n) for n in args.lengths.split(",")]
    except ValueError:
        raise LraError(f"--lengths {args.lengths!r}: expected comma-separated integers, e.g. 1024,2048") from None
    batch = args.batch_size or (32 if device == "cuda" else CPU_BENCH_BATCH)
    note = ""
    if not args.batch_size and device == "cpu":
        note = (f"Batch {batch} is the CPU default, chosen so that the sweep of every registered model at "
                f"1K-4K finishes in about 15 minutes on 2 cores (the paper used batch 32 on 16 TPU v3 chips).")
    repeats = args.repeats or (10 if device == "cuda" else 3)
    out = Path(args.out or f"bench/{args.task}-{args.mode}-{device}-{time.strftime('%Y%m%d-%H%M%S')}")
    sweep = sweep_and_write(names, lengths, task=args.task, batch_size=batch, device=device, dtype=args.dtype,
                            mode=args.mode, repeats=repeats, warmup=args.warmup, threads=args.threads,
                            timeout_s=args.timeout, out=out, progress=not args.quiet, note=note)
    print(bench_table(sweep))
    print(f"\nwritten: {out}/table.md, results.json, results.csv" + (", bench.png" if (out / "bench.png").exists()
                                                                         else ""))


def _model_names(value: str) -> list[str]:
    """Comma-separated model names, each registered or importable (module.path:Class); unknown ones refused."""
    from lra.attention import get_spec

    names = [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        get_spec(name)
    return names


def _names(value: str, known: list[str], what: str) -> list[str]:
    if value == "all":
        return known
    names = [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        if name not in known:
            raise LraError(f"unknown {what} {name!r}; registered: {', '.join(known)}")
    return names


def cmd_suite(args: argparse.Namespace) -> None:
    from lra.attention import get_spec, mechanism_names
    from lra.data.tasks import task_names
    from lra.presets import preset_tasks
    from lra.suite import run_suite

    tasks = _names(args.tasks, task_names(), "task")
    if args.tasks == "all":  # every task the preset has a file for
        tasks = [t for t in tasks if t in preset_tasks(args.preset)]
    models = mechanism_names() if args.models == "all" else _model_names(args.models)
    if args.models == "all":
        models = [m for m in models if not get_spec(m).oracle]  # the oracle is the transformer, only slower
    out = Path(args.out)
    if (out / "suite.json").exists() and not args.resume:
        raise LraError(f"{out} already holds a suite; pass --resume to continue it or choose another --out")
    status = run_suite(tasks, models, args.preset, out, overrides=args.overrides, progress=not args.quiet,
                       isolate=True)
    failed = [k for k, v in status.items() if v["status"] == "failed"]
    print((out / "report.md").read_text())
    print(f"{len(status) - len(failed)} of {len(status)} runs finished; report: {out / 'report.md'}"
          + (f"; failed: {', '.join(failed)} (see {out / 'suite.json'})" if failed else ""))


def cmd_report(args: argparse.Namespace) -> None:
    from lra.report import write_report

    if not Path(args.dir).is_dir():
        raise LraError(f"{args.dir} is not a directory")
    path = write_report(Path(args.dir), Path(args.out) if args.out else None)
    print(path.read_text())
    print(f"written: {path} (and table1.csv, figure3.png when bench results are present)")


def cmd_span(args: argparse.Namespace) -> None:
    from lra.span import attention_spans

    result = attention_spans(args.run, samples=args.samples)
    for i, heads in enumerate(result["per_layer_head"]):
        print(f"layer {i}: " + "  ".join(f"{h:.1f}" for h in heads) + f"   mean {result['per_layer'][i]:.1f}")
    print(f"required attention span ({result['model']} on {result['task']}, {result['samples']} validation "
          f"samples): {result['mean']:.1f} tokens")
    atomic_write_json(Path(args.run) / "span.json", result)


def cmd_plot(args: argparse.Namespace) -> None:
    from lra.curves import find_run_dirs, plot_curves

    runs = [run for arg in args.runs for run in ([Path(arg)] if (Path(arg) / "metrics.jsonl").is_file()
                                                 else find_run_dirs(arg))]
    if not runs:
        raise LraError(f"no run directories (with metrics.jsonl) in {', '.join(args.runs)}")
    print(f"written: {plot_curves(runs, args.out)} ({len(runs)} runs)")


def cmd_config_show(args: argparse.Namespace) -> None:
    print(json.dumps(_resolved(args).to_dict(), indent=2))




def _listops_complete(folder: Path) -> bool:
    """All three split files there and their manifest (when we wrote them) says the set is complete."""
    from lra.data import listops
    from lra.data.archive import check_set

    if not all((folder / name).is_file() for name in listops.SPLIT_FILES.values()):
        return False
    try:
        check_set(folder, "listops")
    except LraError:
        return False
    return True


def cmd_demo(args: argparse.Namespace) -> None:
    """A short suite on data that needs no download: tiny ListOps and Pathfinder for a few mechanisms,
    the CPU benchmark at small lengths, and the report."""
    from lra.attention import speed_baselines
    from lra.config import RunConfig
    from lra.data import listops, pathfinder
    from lra.presets import resolve_config
    from lra.report import sweep_and_write, write_report
    from lra.suite import run_suite

    out = Path(args.out)
    started = time.perf_counter()
    models = [m.strip() for m in args.models.split(",")]
    listops_dir, pathfinder_dir = out / "data" / "listops-tiny", out / "data" / "pathfinder-tiny"
    if not _listops_complete(listops_dir):
        print(f"generating tiny ListOps into {listops_dir} ...")
        generate = resolve_config("listops", RunConfig().model.attention, "tiny").data.generate
        listops.write_listops(listops_dir, **generate, progress=not args.quiet)
    if not (pathfinder_dir / pathfinder.folder_for(32, "hard") / "metadata").is_dir():
        print(f"generating {demo.PATHFINDER_IMAGES} Pathfinder images into {pathfinder_dir} ...")
        pathfinder.generate(pathfinder_dir, 32, "hard", n=demo.PATHFINDER_IMAGES, seed=0, batch_size=250,
                            progress=not args.quiet)
    data_dirs = {"listops": str(listops_dir), "pathfinder": str(pathfinder_dir)}
    run_suite(["listops"], models, "tiny", out, overrides=list(args.overrides), progress=not args.quiet,
              data_dirs=data_dirs)
    status = run_suite(["pathfinder"], models, "tiny", out, overrides=[*demo.PATHFINDER_RUN, *args.overrides],
                       progress=not args.quiet, data_dirs=data_dirs)
    if not (out / "bench" / "results.json").exists():
        print("benchmarking training steps at lengths 256 and 512 ...")
        bench_models = list(dict.fromkeys([*speed_baselines(), *models]))
        sweep_and_write(bench_models, [256, 512], task="listops", batch_size=4, repeats=3, out=out / "bench",
                        progress=not args.quiet)
    report = write_report(out)
    print()
    print(report.read_text())
    failed = [k for k, v in status.items() if v["status"] == "failed"]
    print(f"demo finished in {time.perf_counter() - started:.0f} s; files in {out}/:")
    print(f"  report    {report}  (table1.csv; figure3.png with the plot extra)")
    print(f"  runs      {out / 'runs'}/<task>-<model>  (config.json, metrics.jsonl, results.json, checkpoints)")
    print(f"  bench     {out / 'bench'}  (table.md, results.json, results.csv, bench.png)")
    print(f"  re-check  lra eval {out / 'runs' / 'listops-transformer'}")
    if failed:
        print(f"failed runs: {', '.join(failed)} (see {out / 'suite.json'})")


def format_results(rows: list[dict]) -> str:
    header = ("| task | model | preset | test acc (best val) | test acc (last) | majority class "
              "| steps | steps/s | wall s |")
    lines = [header, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['model']} | {r['preset']} | {100 * r['test_acc']:.2f} | "
            f"{100 * r['test_acc_last']:.2f} | {100 * r['test_majority_acc']:.2f} | {r['steps']} | "
            f"{r['steps_per_s']:.2f} | {r['wall_time_s']:.0f} |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lra", description="Long Range Arena in PyTorch")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="a short suite on generated data: tiny ListOps and Pathfinder, bench, report")
    p.add_argument("--out", default=DEMO_OUT, help=f"where data and runs go (default: {DEMO_OUT})")
    p.add_argument("--models", default=",".join(demo.MODELS), help="mechanisms to train (comma-separated)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train one model on one task")
    _add_config_args(p, need_task=False)
    p.add_argument("--out", help="run directory (default: runs/<task>-<model>-<preset>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="re-evaluate a saved run")
    p.add_argument("run", help="run directory")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--checkpoint", default="last", choices=["best", "last"],
                   help="last parameters (LRA's protocol, default) or the best-validation checkpoint")
    p.add_argument("--halt-threshold", metavar="T1,T2,...",
                   help="an adaptive-depth run (model.adaptive_depth=true) at each halting threshold in (0, 1]: "
                   "accuracy and average layers per token")
    p.add_argument("--json", help="with --halt-threshold: also write the rows as JSON here")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="training speed and peak memory against sequence length (Table 2)")
    p.add_argument("--models", default="all", help="all, or a comma-separated list (baselines are always added)")
    p.add_argument("--task", default="text", help="whose paper config to benchmark (default: text, as the paper)")
    p.add_argument("--lengths", default="1024,2048,3072,4096")
    p.add_argument("--batch-size", type=int, default=0,
                   help=f"default: 32 on CUDA (the paper's), {CPU_BENCH_BATCH} on CPU")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--mode", default="train", choices=["train", "attention"],
                   help="train: whole training steps; attention: one attention layer (forward, backward, both)")
    p.add_argument("--repeats", type=int, default=0, help="timed repeats (default 10 on CUDA, 3 on CPU)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per measurement before it is recorded "
                   "as a timeout")
    p.add_argument("--out", help="output directory (default: bench/<task>-<mode>-<device>-<time>)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("suite", help="train every (task, model) pair of a preset, then write the report")
    p.add_argument("--tasks", default="all")
    p.add_argument("--models", default="all", help="all (every registered mechanism but the oracle) or a,b")
    p.add_argument("--preset", default="paper")
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true", help="continue a suite: finished runs are skipped")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_suite)

    p = sub.add_parser("report", help="Table 1, Table 2 and the bubble plot from the runs and bench under DIR")
    p.add_argument("dir")
    p.add_argument("--out", help="where to write (default: DIR)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("plot", help="learning curves: validation accuracy against steps and wall time")
    p.add_argument("runs", nargs="+", help="run directories, or folders holding runs")
    p.add_argument("--out", default="curves.png", help="the PNG to write (default curves.png)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("span", help="required attention span of a trained attention model")
    p.add_argument("run")
    p.add_argument("--samples", type=int, default=1000, help="validation samples (default 1000, as the paper)")
    p.set_defaults(func=cmd_span)

    sub.add_parser("models", help="list registered mechanisms").set_defaults(func=cmd_models)
    p = sub.add_parser("prune", help="prune a trained run (magnitude, heads or MLP channels) and test it")
    p.add_argument("run", help="a run directory (its last.pt is pruned)")
    p.add_argument("--method", default="magnitude",
                   help="magnitude (unstructured), heads or mlp (structured); several, comma-separated")
    p.add_argument("--amounts", default="0.5", help="fractions to prune, comma-separated: one row each")
    p.add_argument("--finetune-steps", type=int, default=0, help="training steps after pruning (masks kept)")
    p.add_argument("--finetune-lr", type=float, default=1e-4)
    p.add_argument("--out", help="save the pruned run here (one amount only); `lra eval` reads it")
    p.add_argument("--json", help="also write the rows as JSON here")
    p.add_argument("--plot", help="also draw test accuracy against sparsity, one line per method, to this PNG")
    p.set_defaults(func=cmd_prune)
    p = sub.add_parser("check", help="the battery's properties on one mixer (yours too): a pass/fail table")
    p.add_argument("model", help="a registered name or module.path:Class")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="model.attention_options.KEY=VALUE",
                   help="an option of the mixer (repeatable)")
    p.set_defaults(func=cmd_check)
    sub.add_parser("tasks", help="list registered tasks").set_defaults(func=cmd_tasks)

    data = sub.add_parser("data", help="generate, download, prepare and inspect data").add_subparsers(
        dest="data_command", required=True)
    p = data.add_parser("generate", help="generate ListOps or Pathfinder in the official format")
    p.add_argument("task", help="listops or pathfinder")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    listops_args = p.add_argument_group("listops")
    listops_args.add_argument("--train", type=int, default=96000)
    listops_args.add_argument("--val", type=int, default=2000)
    listops_args.add_argument("--test", type=int, default=2000)
    listops_args.add_argument("--min-length", type=int, default=500)
    listops_args.add_argument("--max-length", type=int, default=2000)
    listops_args.add_argument("--max-depth", type=int, default=10)
    listops_args.add_argument("--max-args", type=int, default=10)
    pf_args = p.add_argument_group("pathfinder")
    pf_args.add_argument("--resolution", type=int, default=32, choices=[32, 64, 128, 256])
    pf_args.add_argument("--difficulty", default="hard", choices=["easy", "intermediate", "hard"])
    pf_args.add_argument("--n", type=int, default=200000, help="images (the release has 200,000 per difficulty)")
    pf_args.add_argument("--workers", type=int, default=0, help="processes (default: all cores)")
    pf_args.add_argument("--batch-size", type=int, default=1000, help="images per imgs/<batch> folder")
    p.set_defaults(func=cmd_generate)
    for name, func, text in (("download", cmd_download, "fetch a task's official source (resumable, verified) "
                                                        "and prepare it"),
                             ("prepare", cmd_prepare, "prepare a task from a downloaded archive or folder"),
                             ("info", cmd_info, "what is present: split sizes, labels, lengths")):
        p = data.add_parser(name, help=text)
        p.add_argument("task")
        p.add_argument("--data-dir", help="default: data/<task> (or $LRA_DATA_DIR/<task>)")
        if name == "prepare":
            p.add_argument("--source", required=True, help="the archive or the unpacked official folder")
        if name == "download":
            p.add_argument("--quiet", action="store_true")
        p.set_defaults(func=func)

    config = sub.add_parser("config", help="inspect configurations").add_subparsers(dest="config_command",
                                                                                   required=True)
    p = config.add_parser("show", help="print the resolved config of (task, model, preset)")
    _add_config_args(p)
    p.set_defaults(func=cmd_config_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
    except LraError as error:
        # One line whatever the message held: a wrapped library error may carry newlines.
        print("lra: error: " + " | ".join(part.strip() for part in str(error).splitlines() if part.strip()),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lra: interrupted; `lra train --resume --out RUN` continues a run from its last checkpoint",
              file=sys.stderr)
        return 130
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
