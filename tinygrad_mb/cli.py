"""The command line: ``tinygrad-mb compare | noise | sweep | trajectories`` (or ``python -m tinygrad_mb``).

Each subcommand builds a default problem (dataset + model + loss), runs one
tool of :mod:`tinygrad_mb.gd`, prints a table, and writes PNG figures and
CSV/JSON data into an output folder (default ``./tinygrad_mb_out``)::

    tinygrad-mb compare                                   # the main job: ~10 s on a laptop
    tinygrad-mb compare --dataset digits --variants batch,sgd,minibatch:64@0.2 --epochs 20 --seeds 0,1
    tinygrad-mb noise --batch-sizes 1,4,16,64,256
    tinygrad-mb sweep --batch-sizes 1,4,16,64,256,1000
    tinygrad-mb trajectories --variants batch,sgd,minibatch:16 --updates 60

Every argument is checked before anything runs or is written: a bad one
prints the valid choices and exits with status 2, leaving no files behind.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import shutil
import signal
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

from tinygrad_mb import backend as _backend
from tinygrad_mb import output_folder
from tinygrad_mb.errors import SaveLoadError, TinygradMBError
from tinygrad_mb.gd.problems import DATASETS, MODELS
from tinygrad_mb.gd.trainer import check_eval_grid, default_eval_every, samples_at_stop, updates_at_stop
from tinygrad_mb.gd.variants import LR_RULES, OPTIMIZERS, VARIANT_SPEC_HELP, parse_variants, scale_lr

DEFAULT_OUT = "tinygrad_mb_out"
NOISE_BATCH_SIZES = (1, 4, 16, 64, 256)
SWEEP_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1000)
DEFAULT_REF_BATCH_SIZE = 32
COMMANDS = ("compare", "noise", "sweep", "trajectories")
# The files each command writes into --out. Known before the run, so a user can be told
# up front which results of an earlier run in the same folder this run will replace.
OUTPUT_FILES = {
    "compare": ("compare.png", "compare_evals.csv", "compare_steps.csv", "compare_summary.csv", "compare.json"),
    **{command: (f"{command}.png", f"{command}.csv", f"{command}.json")
       for command in ("noise", "sweep", "trajectories")},
}


# --- argument types: each rejects bad text with a message naming what is valid ----------------
def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer (expected an integer >= {low})") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small (expected an integer >= {low})")
        return value

    return parse


_positive_int = _int_at_least(1)
_positive_int_or_zero = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (expected a positive number)") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive finite number")
    return value


def _list_of(kind: Any, what: str) -> Any:
    example = "1,4,16" if kind is _positive_int else "0.01,0.1,1"

    def parse(text: str) -> list[Any]:
        parts = [p for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {what}, e.g. {example}")
        return [kind(p.strip()) for p in parts]

    return parse


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(p) for p in text.split(",")]  # (an empty entry, '0,' or '0,,1', is refused too)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated non-negative integers, e.g. 0,1,2") \
            from None
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated non-negative integers, e.g. 0,1,2")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    """The ``tinygrad-mb`` argument parser with its four subcommands (every choice listed in ``-h``)."""
    from tinygrad_mb import __version__  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="tinygrad-mb",
        description="Compare batch, stochastic and mini-batch gradient descent: figures, tables and data.",
        epilog="Run 'tinygrad-mb COMMAND -h' for the options of one command.")
    parser.add_argument("--version", action="version", version=f"tinygrad_mb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                help=f"one of {', '.join(COMMANDS)}")

    def common(p: argparse.ArgumentParser, dataset: str = "linear") -> None:
        p.add_argument("--dataset", choices=DATASETS, default=dataset, help=f"the problem (default {dataset})")
        p.add_argument("--model", choices=MODELS, default=None,
                       help="model (default: linear for linear/logistic/linear2d, mlp for moons/digits)")
        p.add_argument("--backend", choices=_backend.BACKENDS, default=None,
                       help="array backend (default: $TINYGRAD_MB_BACKEND or numpy)")
        p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                       help=f"output folder for figures and data (default ./{DEFAULT_OUT})")
        p.add_argument("--quiet", action="store_true", help="print nothing but errors")

    def budget(p: argparse.ArgumentParser, epochs: float | None) -> None:
        g = p.add_argument_group(
            "budget (per run; the first one used up stops it)",
            "Budgets are checked between updates: a run ends after the update that reaches or crosses its budget, "
            "so it may see up to B-1 samples more than --samples or --epochs x N (the table's samples column "
            "shows what each run saw).")
        g.add_argument("--epochs", type=_positive_float, default=None,
                       help="passes over the training set, N samples each"
                       + (f" (default {epochs:g} when no other budget is given)" if epochs else ""))
        g.add_argument("--updates", type=_positive_int, default=None, help="parameter updates")
        g.add_argument("--samples", type=_positive_int, default=None, help="training samples seen")
        g.add_argument("--seconds", type=_positive_float, default=None,
                       help="training wall-clock seconds, per run: evaluations come on top, and every variant and "
                            "seed is a run of its own (3 variants x 3 seeds: 9 runs); every update is recorded, "
                            "so the output grows by about 2 MB per second of training")

    p = sub.add_parser("compare", help="train variants side by side and plot loss vs epochs/updates/samples/time",
                       description="Train every variant from the same initial weights on the same data and "
                                   "compare their full-batch loss curves.")
    common(p)
    p.add_argument("--variants", default="batch,sgd,minibatch:32", help=VARIANT_SPEC_HELP)
    p.add_argument("--lr", type=_list_of(_positive_float, "positive numbers"), default=None,
                   help="learning rate for all variants, or one per variant (comma-separated); "
                        "default: each variant's documented rate on --dataset (gd.DEFAULT_LRS; in Python, "
                        "prob.default_variants('batch,sgd,minibatch:32') gives the same variants)")
    p.add_argument("--lr-rule", choices=LR_RULES, default=None,
                   help="derive each variant's rate from a single --lr given at --ref-batch-size")
    p.add_argument("--ref-batch-size", type=_positive_int, default=None,
                   help=f"with --lr-rule: the batch size --lr refers to (default {DEFAULT_REF_BATCH_SIZE})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="update rule (default sgd)")
    p.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--eval-every", type=_positive_int, default=None,
                   help="evaluate the full loss every this many samples (default ~N/20, a multiple of every B)")
    p.add_argument("--drop-last", action="store_true",
                   help="skip the last, smaller batch of every pass when B does not divide N (default: keep it, "
                        "as PyTorch; it then gets a full-rate step on a noisier gradient)")
    p.add_argument("--target", type=float, default=None,
                   help="loss whose time-to-reach the summary reports (default: f* + 1%% of f0 - f*, or "
                        "when f* is unknown the best loss seen + 10%% of f0 - best, but at least 10%% below "
                        "the lowest starting loss f0)")
    budget(p, 10)

    p = sub.add_parser("noise", help="variance of mini-batch gradients vs batch size, with theory",
                       description="Measure E|g_B - G|^2 at the initial weights for several batch sizes and "
                                   "compare with tr(Sigma)/B (N-B)/(N-1); report the noise scale.")
    common(p)
    p.add_argument("--batch-sizes", type=_list_of(_positive_int, "positive integers"), default=None,
                   help=f"comma-separated batch sizes (default {','.join(map(str, NOISE_BATCH_SIZES))}, "
                        "those up to the number of training samples)")
    p.add_argument("--draws", type=_int_at_least(2), default=1000,
                   help="mini-batches per batch size, at least 2 (default 1000)")
    p.add_argument("--seed", type=_positive_int_or_zero, default=0,
                   help="seed for weights and sampling (default 0)")

    p = sub.add_parser("sweep", help="best learning rate and steps-to-target per batch size",
                       description="For each batch size, try a grid of learning rates and count the updates "
                                   "the best one needs to reach a target loss.")
    common(p)
    p.add_argument("--batch-sizes", type=_list_of(_positive_int, "positive integers"),
                   default=list(SWEEP_BATCH_SIZES),
                   help=f"comma-separated batch sizes (default {','.join(map(str, SWEEP_BATCH_SIZES))}; "
                        "those above the number of training samples run as full batch)")
    p.add_argument("--lrs", type=_list_of(_positive_float, "positive numbers"), default=None,
                   help="comma-separated learning rates (default 2^-10 ... 2^1 in factors of sqrt 2)")
    p.add_argument("--target", type=float, default=None,
                   help="full training loss to reach (default: f* + 0.03%% of f0 - f*, else 10%% of f0)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="update rule (default sgd)")
    p.add_argument("--seeds", type=_seeds, default=[0],
                   help="comma-separated seeds (default 0); a run counts the first evaluation at or below the "
                        "target, which a noisy run can reach by luck: several seeds, e.g. 0,1,2, average that out")
    p.add_argument("--epochs", type=_positive_float, default=5,
                   help="a run not at the target after max(epochs*N/B, --min-updates) updates fails (default 5)")
    p.add_argument("--min-updates", type=_positive_int, default=200, help="see --epochs (default 200)")

    p = sub.add_parser("trajectories", help="parameter paths on the loss contours of a 2-weight problem",
                       description="Draw each variant's path over the loss contours of a problem with two "
                                   "weights: batch GD smooth, SGD zig-zag, mini-batch in between.")
    p.add_argument("--dataset", choices=("linear2d",), default="linear2d", help="the two-weight problem")
    p.add_argument("--model", choices=("linear",), default="linear", help="the model (two weights, no bias)")
    p.add_argument("--backend", choices=_backend.BACKENDS, default=None, help="array backend")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--variants", default="batch,sgd,minibatch:16", help=VARIANT_SPEC_HELP)
    p.add_argument("--lr", type=_list_of(_positive_float, "positive numbers"), default=None,
                   help="learning rate for all variants, or one per variant (default: documented rates)")
    p.add_argument("--seed", type=_positive_int_or_zero, default=0, help="seed for the sample order (default 0)")
    g = p.add_argument_group("budget (per variant; the first one used up stops it)")
    g.add_argument("--updates", type=_positive_int, default=None,
                   help="updates per variant (default 80 when --epochs is not given)")
    g.add_argument("--epochs", type=_positive_float, default=None, help="epochs per variant")
    for name, subparser in sub.choices.items():
        subparser.set_defaults(subparser=subparser, command=name)
    return parser


# --- validation beyond argparse: everything before any work or file ------------------------------
def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """Check the combination of arguments; return the prepared objects. Exits with 2 on a problem."""
    from tinygrad_mb.gd.problems import make_problem  # noqa: PLC0415

    if not args.out.strip():
        parser.error("--out is empty; give a folder name (default ./tinygrad_mb_out)")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"--out {args.out!r} exists and is not a folder; give a folder name")
    try:
        backend_name = args.backend or _backend.get_backend()  # also checks $TINYGRAD_MB_BACKEND
    except TinygradMBError as exc:
        parser.error(str(exc))
    if backend_name == _backend.CUPY and not _backend.cupy_available():
        source = "--backend cupy" if args.backend else f"{_backend.ENV_VAR}=cupy"
        parser.error(f"{source} is not usable here ({_backend.cupy_unavailable_reason()}); "
                     f"valid choices here: ['numpy']")
    target = getattr(args, "target", None)
    if target is not None and not math.isfinite(target):
        parser.error(f"argument --target: {target} is not a finite loss; give a number, e.g. 0.3")
    if target is not None and target < 0:  # squared errors and cross-entropies are never negative
        parser.error(f"argument --target: {target} is below 0, which no loss here ever reaches; "
                     "give a positive number, e.g. 0.3")
    for option in ("seeds", "lrs", "batch_sizes"):  # a repeated value would only repeat a run (or a row)
        values = getattr(args, option, None)
        if values and len(set(values)) != len(values):
            parser.error(f"argument --{option.replace('_', '-')}: repeated values in {values}; give each once")
    prepared: dict[str, Any] = {"backend": backend_name, "notes": []}
    try:
        problem = make_problem(args.dataset, args.model)
    except TinygradMBError as exc:
        parser.error(str(exc))
    prepared["problem"] = problem
    if target is not None and problem.f_star is not None and target < problem.f_star * (1 - 1e-5):
        # (1e-5: a float32 loss can land a rounding step below f*, computed in float64)
        parser.error(f"argument --target: {target:g} is below f* = {problem.f_star:.6g}, the lowest loss this "
                     f"problem has, so no run can reach it; give a target above it, e.g. {problem.f_star * 1.01:.4g}")
    n = problem.n_train
    if args.command in ("compare", "trajectories"):
        try:
            variants = parse_variants(args.variants, args.dataset, n)
        except TinygradMBError as exc:
            parser.error(f"argument --variants: {exc}")
        if getattr(args, "ref_batch_size", None) is not None and args.lr_rule in (None, "none"):
            # without a rule nothing is scaled, so the option would be silently ignored
            parser.error("--ref-batch-size only matters with --lr-rule (it is the batch size the single --lr "
                         "is meant for); add e.g. --lr-rule linear, or leave --ref-batch-size out")
        lrs = args.lr
        if lrs is not None:
            if getattr(args, "lr_rule", None) is not None:
                if len(lrs) != 1:
                    parser.error("--lr-rule needs exactly one --lr (the rate at --ref-batch-size)")
                ref_batch_size = args.ref_batch_size or DEFAULT_REF_BATCH_SIZE
                lrs = [scale_lr(lrs[0], ref_batch_size, v.resolve_batch_size(n), args.lr_rule)
                       for v in variants]
            elif len(lrs) == 1:
                lrs = lrs * len(variants)
            elif len(lrs) != len(variants):
                parser.error(f"--lr got {len(lrs)} rates for {len(variants)} variants; give one rate or "
                             f"one per variant")
            has_at = ["@" in part for part in args.variants.split(",")]
            # A variant's own @LR wins over --lr: refuse the combinations where --lr would be ignored.
            if all(has_at):
                parser.error("--lr has no effect: every variant gives its own rate after '@'; "
                             "drop --lr or the '@' rates")
            if any(has_at) and len(args.lr) > 1:
                parser.error("--lr gives one rate per variant, but some variants have their own after '@'; "
                             "give the rates one way, not both")
            variants = [v if at else v.with_lr(lr) for v, lr, at in zip(variants, lrs, has_at)]
        elif getattr(args, "lr_rule", None) is not None:
            parser.error("--lr-rule needs --lr (the rate at --ref-batch-size)")
        if getattr(args, "optimizer", "sgd") != "sgd":
            from dataclasses import replace  # noqa: PLC0415

            variants = [replace(v, optimizer=args.optimizer) for v in variants]
            if args.lr is None and "@" not in args.variants:
                prepared["notes"].append(
                    f"note: the default learning rates are tuned for plain SGD; with --optimizer "
                    f"{args.optimizer} they may be far from the best (give rates with --lr or @LR)")
        labels = [v.label(n) for v in variants]
        # Identical runs, also when spelled differently (minibatch:N is batch, minibatch:1 is sgd):
        # the same batch size, rate, optimizer and schedule.
        runs = [(v.resolve_batch_size(n), v.lr, v.optimizer, v.schedule, v.schedule_unit) for v in variants]
        specs = [part.strip() for part in args.variants.split(",")]  # as the user wrote them: labels may coincide
        keys = [repr(run) for run in runs]
        same = [(spec, label) for spec, label, key in zip(specs, labels, keys) if keys.count(key) > 1]
        if same:
            parser.error(f"argument --variants: {', '.join(spec for spec, _ in same[:-1])} and {same[-1][0]} would "
                         f"make identical runs, {same[0][1]}; give them different batch sizes or rates")
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:  # different runs whose labels print alike (rates that differ past the 6th digit)
            parser.error(f"argument --variants: two variants would be labelled {repeated[0]} in the table and the "
                         "figures; make their rates differ in the first six digits")
        sizes = [v.resolve_batch_size(n) for v in variants]
        if getattr(args, "eval_every", None) is not None:
            try:
                check_eval_grid(args.eval_every, n, sizes)
            except TinygradMBError as exc:
                parser.error(f"argument --eval-every: {exc}")
        elif args.command == "compare" and default_eval_every(n, sizes) > n // 4:
            # Every variant is evaluated at the same sample counts: multiples of every batch size.
            partial = sorted(set(b for b in sizes if b < n))
            every = default_eval_every(n, sizes)
            prepared["notes"].append(
                f"note: the batch sizes {partial} share few sample counts, so every variant is evaluated only every "
                f"{every} samples (N={n}); batch sizes that divide one another (e.g. 16, 32, 64) give finer curves"
                if len(partial) > 1 else
                f"note: with B={partial[0]} the curves have a point only every {every} samples and at each epoch's "
                f"end (N={n}); a batch size that divides N more finely gives finer curves")
        prepared["variants"] = variants
        # Not an error (B >= N is batch gradient descent, a valid run), but not what the spec says either.
        prepared["notes"] += [f"note: {v.name} with B={v.batch_size} is larger than the {n} training samples of "
                              f"{args.dataset!r}, so it runs as full batch (B=N={n})"
                              for v in variants if v.batch_size is not None and v.batch_size > n]
        if args.command == "compare" and not args.drop_last:
            # N % B samples make one full-rate update per epoch on a much noisier gradient (B = 999 of
            # N = 1000: one sample), which can make a large-batch run look unstable
            prepared["notes"] += [f"note: {v.label(n)}: N={n} is not a multiple of B={b}, so the last batch of "
                                  f"every epoch has {n % b} sample{'s' * (n % b > 1)} and still gets a full-rate "
                                  "update; --drop-last skips it"
                                  for v, b in zip(variants, sizes) if n % b]
        if args.command == "compare":
            prepared["notes"] += _overshoot_notes(args, variants, n)
    if args.command in ("noise", "sweep"):
        # Unset, noise's batch sizes are the defaults that fit this dataset; args keeps None, which the
        # JSON's run block records for an option left unset.
        prepared["batch_sizes"] = batch_sizes = args.batch_sizes if args.batch_sizes is not None else [
            b for b in NOISE_BATCH_SIZES if b <= n]
        too_big = [b for b in batch_sizes if b > n]
        if args.command == "noise" and too_big:
            parser.error(f"argument --batch-sizes: {too_big} exceed the {n} training samples of "
                         f"{args.dataset!r}; valid batch sizes are 1..{n}")
        if too_big:  # the sweep runs them as full batch, as compare does
            prepared["notes"].append(f"note: batch sizes {too_big} are larger than the {n} training samples of "
                                     f"{args.dataset!r}, so they run as full batch (B=N={n})")
    return prepared


def _overshoot_notes(args: argparse.Namespace, variants: list[Any], n: int) -> list[str]:
    """A note when a samples or epochs budget is not on a batch boundary of some variant.

    An update is never cut short: the budget is checked between updates, so such a run ends
    after the update that crosses it, having seen up to B - 1 samples more than asked.
    """
    if args.epochs is None and args.samples is None and (args.updates is not None or args.seconds is not None):
        return []  # no samples budget: the default epochs apply only when no budget is given
    epochs = 10 if args.epochs is None and args.samples is None else args.epochs  # the default budget
    budgets = {"--samples": args.samples, "--epochs": None if epochs is None else epochs * n}
    option, budget = min(((k, v) for k, v in budgets.items() if v is not None), key=lambda kv: kv[1])
    over = []
    for v in variants:
        b = v.resolve_batch_size(n)
        # --updates stops a run first if it comes before the update that crosses the samples budget
        if args.updates is None or updates_at_stop(n, b, budget, args.drop_last) <= args.updates:
            seen = samples_at_stop(n, b, budget, args.drop_last)
            if seen > budget:
                over.append(f"{v.label(n)} sees {seen}")
    if not over:
        return []
    given = f"--samples {args.samples}" if option == "--samples" else f"--epochs {epochs:g} = {epochs:g} x N"
    unless = ", unless --seconds stops it first" if args.seconds is not None else ""
    return [f"note: a run ends after the update that reaches or crosses its budget of {budget:g} "
            f"sample{'' if budget == 1 else 's'} ({given}){unless}, so {', '.join(over)}; the table's samples column "
            "shows what each run saw"]


# --- the commands (each writes its files into a staging folder and returns their paths) ----------
def _save_figure(fig: Any, path: str) -> None:
    # bbox_inches="tight": the saved image grows to hold any text wider than the figure (a long
    # title over a single panel) instead of cutting it off at the edge.
    fig.savefig(path, dpi=150, format="png", bbox_inches="tight", pad_inches=0.1)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    plt.close(fig)


def _write_result(result: Any, fig: Any, out: str, command: str) -> list[str]:
    """``command``.png, .csv and .json for a noise, sweep or trajectories result."""
    paths = [os.path.join(out, name) for name in OUTPUT_FILES[command]]
    _save_figure(fig, paths[0])
    result.to_csv(paths[1])
    result.to_json(paths[2])
    return paths


def _run_compare(args: argparse.Namespace, prep: dict[str, Any], out: str) -> list[str]:
    from tinygrad_mb.gd import compare  # noqa: PLC0415

    prob = prep["problem"]
    budget = {k: getattr(args, k) for k in ("epochs", "updates", "samples", "seconds")}
    if all(v is None for v in budget.values()):
        budget["epochs"] = 10
    cmp = compare(prob.model_fn, prob.loss_fn, prob.train, prep["variants"], seeds=args.seeds,
                  test_dataset=prob.test, eval_every=args.eval_every, target=args.target, f_star=prob.f_star,
                  backend=args.backend, drop_last=args.drop_last, progress=not args.quiet, **budget)
    _say(args, f"{prob.description}\n{cmp.summary()}")
    paths = [os.path.join(out, name) for name in OUTPUT_FILES["compare"]]
    fig = cmp.plot(x="all", title=f"Batch vs stochastic vs mini-batch GD — {prob.description}")
    _save_figure(fig, paths[0])
    cmp.to_csv(paths[1], table="evals")
    cmp.to_csv(paths[2], table="steps")
    cmp.to_csv(paths[3], table="summary")
    cmp.to_json(paths[4], steps=False)  # the per-update table is in compare_steps.csv
    return paths


def _run_noise(args: argparse.Namespace, prep: dict[str, Any], out: str) -> list[str]:
    from tinygrad_mb.gd import gradient_noise  # noqa: PLC0415

    prob = prep["problem"]
    model = prob.model_fn(args.seed)
    result = gradient_noise(model, prob.loss_fn, prob.train, batch_sizes=prep["batch_sizes"], draws=args.draws,
                            seed=args.seed, backend=args.backend)
    _say(args, f"{prob.description}\n{result}")
    fig = result.plot(title=f"Mini-batch gradient noise vs batch size, at the initial weights\n{prob.description}")
    return _write_result(result, fig, out, "noise")


def _run_sweep(args: argparse.Namespace, prep: dict[str, Any], out: str) -> list[str]:
    from tinygrad_mb.gd import sweep  # noqa: PLC0415

    prob = prep["problem"]
    result = sweep(prob.model_fn, prob.loss_fn, prob.train, batch_sizes=args.batch_sizes, lrs=args.lrs,
                   target=args.target, epochs=args.epochs, min_updates=args.min_updates, seeds=args.seeds,
                   optimizer=args.optimizer,
                   backend=args.backend, progress=not args.quiet)
    _say(args, f"{prob.description}\n{result}")
    headline = ": perfect scaling for small batches, then diminishing returns" if _textbook_shape(result) else ""
    fig = result.plot(title=f"Learning-rate sweep{headline}\n{prob.description}")
    return _write_result(result, fig, out, "sweep")


def _textbook_shape(result: Any) -> bool:
    """Whether the measured counts show perfect scaling for small batches, then diminishing returns.

    The headline says so only where the measurements do: the two smallest batch sizes that reached the
    target needed about the same samples (within 25%: twice the batch, half the updates), and the
    largest one over twice as many samples as the smallest. One batch size, counts that rise with B,
    or every rate diverged: no such story.
    """
    samples = [m for s, m in zip(result.steps_to_target, result.samples_to_target) if 0 < s < math.inf]
    return len(samples) >= 3 and samples[1] <= 1.25 * samples[0] and samples[-1] >= 2 * samples[0]


def _run_trajectories(args: argparse.Namespace, prep: dict[str, Any], out: str) -> list[str]:
    from tinygrad_mb.gd import trajectories  # noqa: PLC0415

    prob = prep["problem"]
    budget = {"updates": args.updates, "epochs": args.epochs}
    if all(v is None for v in budget.values()):
        budget["updates"] = 80
    model = prob.model_fn(args.seed)
    result = trajectories(model, prob.loss_fn, prob.train, prep["variants"], seed=args.seed, start=prob.start,
                          backend=args.backend, **budget)
    _say(args, f"{prob.description}\n" + "\n".join(result.summary_lines()))  # says which runs diverged, and when
    return _write_result(result, result.plot(), out, "trajectories")


def _record_settings(written: list[str], args: argparse.Namespace, problem: Any, argv: list[str]) -> None:
    """Put a ``"run"`` block first in the command's JSON file: what ran, with which settings.

    The results alone do not say which dataset, model or backend produced them;
    with this block a run can be repeated from its own output folder.
    """
    import json  # noqa: PLC0415

    from tinygrad_mb import __version__  # noqa: PLC0415

    options = {}
    for key, value in sorted(vars(args).items()):
        if key in ("subparser", "out"):  # the parser object; where the files went (not a setting)
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = repr(value)
        options[key] = value
    run = {"command": f"tinygrad-mb {shlex.join(argv)}", "tinygrad_mb": __version__,  # quoted: pastes back as is
           "backend": args.backend or _backend.get_backend(), "problem": problem.description, "options": options}
    for path in written:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                result = json.load(f)
            with open(path, "w", encoding="utf-8") as f:  # in the staging folder: moved in when all is written
                json.dump({"run": run, **result}, f, indent=1, allow_nan=False)


def _say(args: argparse.Namespace, text: str) -> None:
    if args.quiet:
        return
    try:
        print(text, flush=True)
    except BrokenPipeError:  # e.g. `tinygrad-mb compare | head`: stop printing, keep working
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        args.quiet = True


def _what_arrived(written: list[str]) -> str:
    """After a stop: which finished files had already been moved out of the staging folder."""
    arrived = [os.path.basename(w) for w in written if not os.path.exists(w)]
    return f"only {', '.join(arrived)} moved in before it stopped" if arrived else "no files were written"


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``), handled like Ctrl-C: the output folder is left as it was."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-mb``; returns the exit status (2: bad arguments, 130: Ctrl-C, 143: SIGTERM)."""
    # Without a handler SIGTERM ends Python at once, skipping the cleanup that removes the staging folder.
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can handlers be set
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM before the run began (while importing or checking)
        print("tinygrad-mb: interrupted; no files were written", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _unrecognized(extra: list[str], args: argparse.Namespace) -> str:
    """The error for arguments no option takes, with the likely fix.

    argparse's own message names only the arguments, under the top-level usage;
    a student who typed ``--batch-size 64`` needs to hear where the batch size goes.
    """
    options = [opt for action in args.subparser._actions for opt in action.option_strings]
    word = extra[0].split("=", 1)[0]
    hint = f"see 'tinygrad-mb {args.command} -h' for the options"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.75)  # a typo, e.g. --seeds for --seed
    if "batch" in word.lower() and "--variants" in options:
        hint = ("the batch size is part of each variant: --variants batch,sgd,minibatch:64 "
                "(batch = all N samples per update, sgd = one)")
    elif "learning" in word.lower() and "--lr" in options:
        hint = "the learning rate is --lr, e.g. --lr 0.05"
    elif word in DATASETS and "--dataset" in options:
        hint = f"did you mean --dataset {word}?"
    elif close:
        hint = f"did you mean {close[0]}?"
    return f"unrecognized arguments: {' '.join(extra)}; {hint}"


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)  # exits with 2 and the valid choices on a bad argument
    if extra:
        args.subparser.error(_unrecognized(extra, args))
    prep = _validate(args.subparser, args)  # errors name the subcommand, e.g. 'tinygrad-mb compare: error'
    # Only files are drawn here (Agg, below), so $MPLBACKEND does not matter; but an unknown value
    # makes `import matplotlib` itself fail.
    os.environ.pop("MPLBACKEND", None)
    import matplotlib  # noqa: PLC0415  (only now: nothing is drawn before the arguments are known good)

    matplotlib.use("Agg")  # files only, never a window
    try:
        created = output_folder.prepare(args.out)
    except OSError as exc:
        args.subparser.error(f"--out {args.out!r}: {output_folder.explain(args.out, exc)}; "
                             "give a folder you can write to, e.g. --out ./results")
    for note in prep.get("notes", []):
        _say(args, note)
    earlier = output_folder.existing(args.out, OUTPUT_FILES[args.command])
    if earlier:  # said before the run, so there is time to stop it (Ctrl-C keeps the old files)
        _say(args, f"note: {args.out} holds {', '.join(earlier)} from an earlier run; this run replaces them "
                   "when it finishes (use another --out to keep them)")
    start = time.perf_counter()
    runner = {"compare": _run_compare, "noise": _run_noise, "sweep": _run_sweep,
              "trajectories": _run_trajectories}[args.command]
    # Files are written into a hidden staging folder inside --out and moved in together at the
    # end, so an error or Ctrl-C leaves the folder as it was: no half-written file, no mix of
    # new and old results.
    staging = tempfile.mkdtemp(prefix=".tinygrad-mb-", dir=args.out)
    written: list[str] = []
    try:
        # --backend wins over $TINYGRAD_MB_BACKEND for everything the run creates, the data included.
        with _backend.use_backend(prep["backend"]):
            written = runner(args, prep, staging)
        _record_settings(written, args, prep["problem"], sys.argv[1:] if argv is None else list(argv))
        paths = output_folder.move_in(written, args.out)
    except KeyboardInterrupt as exc:
        # Only a Ctrl-C in the last milliseconds, while the finished files are moved in, leaves some.
        print(f"tinygrad-mb {args.command}: interrupted; {_what_arrived(written)}", file=sys.stderr)
        return 143 if isinstance(exc, _Terminated) else 130  # the shell's codes for SIGTERM and Ctrl-C
    except (OSError, SaveLoadError) as exc:  # writing the results failed (a full disk, say)
        reason = getattr(exc.__cause__ or exc, "strerror", None) or exc
        print(f"tinygrad-mb {args.command}: error: could not write the results into {args.out!r} ({reason}); "
              f"{_what_arrived(written)}; free some space or give another --out", file=sys.stderr)
        return 1
    except TinygradMBError as exc:
        print(f"tinygrad-mb {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not os.listdir(args.out):
            output_folder.remove_empty(args.out, created)
    replaced = f"; replaced {len(earlier)} earlier file(s)" if earlier else ""
    _say(args, f"wrote {', '.join(paths)} ({time.perf_counter() - start:.1f} s{replaced})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
