"""The `lra` command. Thin: parse arguments, call library functions, print."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lra.errors import LraError

DEMO_OUT = "lra-demo"


def _add_config_args(parser: argparse.ArgumentParser, need_task: bool = True) -> None:
    parser.add_argument("--task", required=need_task, help="task name (see `lra tasks`)")
    parser.add_argument("--model", default="transformer", help="mechanism name (see `lra models`)")
    parser.add_argument("--preset", default="paper", help="paper (the released LRA configs) or tiny (CPU-sized)")
    parser.add_argument("--data-dir", help="where the task's data lies (default: data/<task>, or the preset's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.lr=0.01 (repeatable)")


def _resolved(args: argparse.Namespace):
    from lra.presets import resolve_config

    overrides = list(args.overrides)
    if args.data_dir:
        overrides.append(f"data.data_dir={args.data_dir}")
    return resolve_config(args.task, args.model, args.preset, overrides)


def cmd_train(args: argparse.Namespace) -> None:
    from lra.train import read_run_config, train

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
    print(format_results([results]))
    print(f"run directory: {out}")


def cmd_eval(args: argparse.Namespace) -> None:
    from lra.train import evaluate_run

    result = evaluate_run(args.run, split=args.split, checkpoint=args.checkpoint)
    stored = Path(args.run) / "results.json"
    line = f"{args.split} accuracy ({args.checkpoint} checkpoint, step {result['step']}): {result['accuracy']:.4f}"
    if stored.is_file() and args.split == "test":
        key = "test_acc" if args.checkpoint == "best" else "test_acc_last"
        line += f"   stored in results.json: {json.loads(stored.read_text())[key]:.4f}"
    print(line)


def cmd_models(args: argparse.Namespace) -> None:
    from lra.attention import get_spec, mechanism_names

    for name in mechanism_names():
        spec = get_spec(name)
        print(f"{name:14s} {spec.kind:9s} {spec.summary}")


def cmd_tasks(args: argparse.Namespace) -> None:
    from lra.data.tasks import get_task, task_names

    for name in task_names():
        spec = get_task(name)
        print(f"{name:12s} classes={spec.num_classes:<3d} vocab={spec.vocab_size:<4d} length={spec.max_length:<6d} "
              f"{spec.summary}")


def cmd_generate(args: argparse.Namespace) -> None:
    from lra.data import listops

    if args.task != "listops":
        raise LraError(f"`lra data generate` knows listops; got {args.task!r}")
    paths = listops.write_listops(
        args.out, n_train=args.train, n_val=args.val, n_test=args.test, seed=args.seed,
        min_length=args.min_length, max_length=args.max_length, max_depth=args.max_depth,
        max_args=args.max_args, progress=not args.quiet,
    )
    for split, path in paths.items():
        print(f"{split:5s} {path}")


def cmd_config_show(args: argparse.Namespace) -> None:
    print(json.dumps(_resolved(args).to_dict(), indent=2))


def cmd_demo(args: argparse.Namespace) -> None:
    from lra.data import listops
    from lra.presets import resolve_config
    from lra.train import train

    out = Path(args.out)
    config = resolve_config("listops", "transformer", "tiny", list(args.overrides))
    data_dir = out / "data" / "listops-tiny"
    config.data.data_dir = str(data_dir)
    if not all((data_dir / name).is_file() for name in listops.SPLIT_FILES.values()):
        print(f"generating tiny ListOps into {data_dir} ...")
        listops.write_listops(data_dir, **config.data.generate, progress=not args.quiet)
    run_dir = out / "runs" / "listops-transformer-tiny"
    started = time.perf_counter()
    results = train(config, run_dir, resume=(run_dir / "config.json").exists(), progress=not args.quiet)
    print()
    print(format_results([results]))
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; files in {out}/:")
    print(f"  data      {data_dir}")
    print(f"  run       {run_dir}  (config.json, metrics.jsonl, results.json, best.pt, last.pt)")
    print(f"  re-check  lra eval {run_dir}")


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

    p = sub.add_parser("demo", help="generate small ListOps, train the tiny Transformer, print results")
    p.add_argument("--out", default=DEMO_OUT, help=f"where data and runs go (default: {DEMO_OUT})")
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
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.set_defaults(func=cmd_eval)

    sub.add_parser("models", help="list registered mechanisms").set_defaults(func=cmd_models)
    sub.add_parser("tasks", help="list registered tasks").set_defaults(func=cmd_tasks)

    data = sub.add_parser("data", help="generate data").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("generate", help="generate a synthetic task in the official format")
    p.add_argument("task", help="listops")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--train", type=int, default=96000)
    p.add_argument("--val", type=int, default=2000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-length", type=int, default=500)
    p.add_argument("--max-length", type=int, default=2000)
    p.add_argument("--max-depth", type=int, default=10)
    p.add_argument("--max-args", type=int, default=10)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_generate)

    config = sub.add_parser("config", help="inspect configurations").add_subparsers(dest="config_command",
                                                                                   required=True)
    p = config.add_parser("show", help="print the resolved config of (task, model, preset)")
    _add_config_args(p)
    p.set_defaults(func=cmd_config_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except LraError as error:
        print(f"lra: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lra: interrupted; `lra train --resume --out RUN` continues a run from its last checkpoint",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
