"""Run several variants side by side, fairly, and compare them: :func:`compare`.

A fair comparison changes ONE thing, the batch size (and its learning rate):

* every variant starts from the **same initial model** (per seed: the model is
  built once and every run trains its own ``copy.deepcopy`` of it, so the
  weights *and* the state of any layer's own random generator, e.g.
  ``nn.Dropout(seed=...)``, are the same at the start of every run);
* every variant sees the **same data** in the same shuffled order (the loader is
  seeded with the same seed, so SGD and a mini-batch run walk through the
  samples in the same sequence);
* every variant is evaluated on the full training set at the **same sample
  counts** (a grid every ``eval_every`` samples that all batch sizes divide),
  so their curves share an x-axis: epochs, updates, samples seen or training
  seconds (evaluation time excluded). With ``drop_last`` a variant whose B does
  not divide N is also evaluated at the end of each of its (shorter) passes.

Several seeds give mean +- std bands and show how much of a difference is luck.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import inspect
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.gd.evaluation import as_dataset, dataset_f_star
from tinygrad_mb.gd.history import History
from tinygrad_mb.gd.trainer import BLOWUP_FACTOR, check_eval_grid, default_eval_every, resolve_budget, train
from tinygrad_mb.gd.variants import Variant
from tinygrad_mb.serialization import write_atomically


def compare(model: Any, loss_fn: Callable[[Any, Any], Any], dataset: Any, variants: Sequence[Variant], *,
            epochs: float | None = None, updates: int | None = None, samples: int | None = None,
            seconds: float | None = None, seeds: Sequence[int] = (0,), test_dataset: Any = None,
            eval_every: int | None = None, target: float | None = None, f_star: float | None = None,
            metrics: dict[str, Callable[[Any, Any], float]] | None = None, backend: str | None = None,
            drop_last: bool = False, progress: bool = False) -> Comparison:
    """Train every variant from the same initial weights on the same data, for each seed.

    Args:
        model: a ``Module`` (the same initial weights for every seed; every run trains a copy,
            so it is left as it was) or a factory ``seed -> Module`` (fresh weights per seed).
        loss_fn, dataset, test_dataset, metrics, backend, drop_last: as in :func:`train` (``drop_last``
            for every variant: skip the last, smaller batch of each pass when B does not divide N).
        variants: the :class:`Variant` s to run (their labels must differ).
        epochs, updates, samples, seconds: the budget of EACH run (default 10 epochs).
        seeds: one run per variant per seed.
        eval_every: shared evaluation grid in samples: a multiple of every mini-batch size, or N or
            more for epoch ends only (default ~N/20).
        target: the loss whose time-to-reach :meth:`Comparison.summary` reports (see there).
        f_star: optimal training loss, if known (read from the dataset otherwise).
        progress: show a tqdm bar (only when stderr is a terminal).
    """
    if isinstance(variants, Variant):  # one variant, not a list of them
        raise HyperparameterError(f"variants must be a list of gd.Variant, got a single one, {variants.label()}: "
                                  "put it in a list, e.g. [gd.Batch(0.5)]")
    variants = list(variants)
    if not variants or not all(isinstance(v, Variant) for v in variants):
        raise HyperparameterError("variants must be a non-empty list of gd.Variant (e.g. [gd.Batch(0.5), "
                                  "gd.Stochastic(0.01), gd.MiniBatch(32, 0.1)])")
    if isinstance(seeds, (int, np.integer)):  # seeds=0 for seeds=[0]
        raise HyperparameterError(f"seeds must be a list of seeds, got the number {seeds!r}: use seeds=[{seeds}]")
    seeds = list(seeds)
    if not seeds:
        raise HyperparameterError("seeds must name at least one seed, e.g. seeds=[0]")
    with _made_on(backend):
        n = len(as_dataset(dataset))
    labels = [v.label(n) for v in variants]
    if len(set(labels)) != len(labels):
        raise HyperparameterError(f"two variants have the same label; make them differ: {labels}")
    batch_sizes = [v.resolve_batch_size(n) for v in variants]
    if eval_every is None:
        eval_every = default_eval_every(n, batch_sizes)
    else:
        check_eval_grid(eval_every, n, batch_sizes)  # the same evaluation points for every variant
    f_star = dataset_f_star(dataset) if f_star is None else float(f_star)
    is_module = hasattr(model, "state_dict") and hasattr(model, "load_state_dict") and not isinstance(model, type)
    if not is_module:
        _check_factory(model)

    bar = _progress_bar(progress, len(seeds) * len(variants))
    histories: dict[str, list[History]] = {label: [] for label in labels}
    try:
        for seed in seeds:
            with _made_on(backend):
                template = model if is_module else model(seed)
            if not is_module and not hasattr(template, "parameters"):
                raise HyperparameterError(f"the model factory returned a {type(template).__name__}, not a model; it "
                                          "must return the nn.Module alone (compare makes each variant's optimizer)")
            for variant, label, batch_size in zip(variants, labels, batch_sizes):
                # A fresh copy per run, not reloaded weights: a layer with its own random generator
                # (nn.Dropout(seed=...)) would otherwise carry on where the previous variant left it,
                # and a variant's results would depend on which variants ran before it.
                net = copy.deepcopy(template)
                if bar is not None:
                    bar.set_description(f"seed {seed}: {label}")
                budget = resolve_budget(n, batch_size, epochs, updates, samples, seconds)
                h = train(net, loss_fn, dataset, variant, epochs=epochs, updates=updates, samples=samples,
                          seconds=seconds, seed=seed, test_dataset=test_dataset, eval_every=eval_every,
                          f_star=f_star, metrics=metrics, backend=backend, drop_last=drop_last,
                          callback=None if bar is None else _advance(bar, budget, n))
                histories[label].append(h)
                if bar is not None:
                    bar.n = math.floor(bar.n) + 1  # this run is done, whichever budget ended it
                    bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    return Comparison(variants, seeds, histories, n_train=n, f_star=f_star, target=target)


def _check_factory(model: Any) -> None:
    """HyperparameterError unless ``model`` can be called as ``model(seed)`` to build a model."""
    example = "lambda seed: nn.Linear(4, 1, seed=seed)"
    if isinstance(model, type):  # nn.Linear for a model: model(seed) would be nn.Linear(seed)
        raise HyperparameterError(f"model is the class {model.__name__}; pass a model, e.g. {model.__name__}(...), "
                                  f"or a factory seed -> model, e.g. {example}")
    if not callable(model):
        raise HyperparameterError(f"model must be an nn.Module or a factory seed -> model ({example}), "
                                  f"got a {type(model).__name__}")
    try:
        inspect.signature(model).bind(0)
    except TypeError:
        raise HyperparameterError(f"the model factory must take the seed as its one argument, e.g. {example}; "
                                  f"this one takes {inspect.signature(model)}") from None
    except ValueError:  # no signature to read (some builtins): find out by calling it
        pass


def _made_on(backend: str | None) -> Any:
    """Tensors made inside go to ``backend`` when one is given, whatever the default ($TINYGRAD_MB_BACKEND)."""
    return _backend.use_backend(backend) if backend is not None else contextlib.nullcontext()


def _advance(bar: Any, budget: dict[str, float], n: int) -> Callable[[dict[str, Any]], None]:
    """A train() callback moving the bar (one unit per run) through the current run, evaluation by evaluation.

    The run's share done is that of the budget nearest to running out (a run stops at the first).
    """
    finished = math.floor(bar.n)

    def advance(point: dict[str, Any]) -> None:
        used = {"epochs": point["samples"] / n, "updates": point["update"], "samples": point["samples"],
                "seconds": point["time"]}
        share = max(used[key] / limit for key, limit in budget.items())
        bar.n = finished + min(share, 0.999)  # the last bit when the run returns
        bar.refresh()

    return advance


def _progress_bar(enabled: bool, total: int) -> Any:
    import sys  # noqa: PLC0415

    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm  # noqa: PLC0415

    return tqdm(total=total, unit="run", leave=False)


SUMMARY_COLUMNS = (
    ("variant", "variant", "{}"), ("batch_size", "B", "{}"), ("lr", "lr", "{:g}"),
    ("final_loss", "final loss", "{:.4g}"), ("best_loss", "best loss", "{:.4g}"),
    ("final_suboptimality", "final f-f*", "{:.3g}"), ("updates", "updates", "count"),
    ("samples", "samples", "count"), ("time", "time [s]", "seconds"),
    ("reached_target", "reached", "of seeds"), ("time_to_target", "time->target [s]", "seconds"),
    ("updates_to_target", "updates->target", "count"),
    ("samples_to_target", "samples->target", "count"), ("final_test_accuracy", "test acc", "{:.3f}"),
    ("diverged", "diverged", "{}"),
)


class Comparison:
    """The histories of a :func:`compare` run: ``histories[label]`` is one History per seed."""

    def __init__(self, variants: list[Variant], seeds: list[int], histories: dict[str, list[History]], *,
                 n_train: int, f_star: float | None = None, target: float | None = None) -> None:
        self.variants = variants
        self.seeds = seeds
        self.histories = histories
        self.n_train = n_train
        self.f_star = f_star
        self._target = target

    @property
    def labels(self) -> list[str]:
        """The variants' labels, e.g. ``"minibatch (B=32, lr=0.1)"``, in the order given."""
        return list(self.histories)

    @property
    def target(self) -> float:
        """The loss whose time-to-reach the summary reports.

        The ``target`` given to :func:`compare`; else, when f* is known,
        ``f* + 0.01 (f0 - f*)`` (the initial suboptimality cut 100 times, f0 the
        mean starting loss); else, with f0 the *lowest* starting loss and
        ``f_best`` the lowest loss any run reached, the lower of
        ``f_best + 0.1 (f0 - f_best)`` (90% of the way from the start to the best
        seen) and ``f0 - 0.1 |f0|`` (10% below the start). The second keeps the
        target below every starting point: when no run improves, ``f_best = f0``
        and the first alone would count every run as there at update 0.
        """
        return self._default_target()[0]

    def _default_target(self) -> tuple[float, str]:
        """The target and, for the summary's header, how it was chosen."""
        if self._target is not None:
            return float(self._target), "given"
        runs = [h for hs in self.histories.values() for h in hs]
        if self.f_star is not None:
            f0 = float(np.mean([h.initial_loss for h in runs]))
            return self.f_star + 0.01 * (f0 - self.f_star), "f* + 1% of (f0 - f*)"
        f0 = min(h.initial_loss for h in runs)
        best = min(h.best_loss for h in runs)
        toward_best, below_start = best + 0.1 * (f0 - best), f0 - 0.1 * abs(f0)
        if toward_best <= below_start:
            return toward_best, "best loss seen + 10% of (f0 - best)"
        return below_start, f"f0 - 10% of |f0|: no run got far below the start f0 = {f0:.4g}"

    @property
    def suboptimality_floor(self) -> float | None:
        """f - f* below this is rounding noise in the coarsest dtype of the runs; None when f* is unknown.

        Plots and :meth:`summary` clip f - f* to it (see :func:`~tinygrad_mb.gd.evaluation.precision_floor`).
        """
        floors = [h.suboptimality_floor for hs in self.histories.values() for h in hs]
        return None if self.f_star is None else max(floors)

    def summary(self, target: float | None = None) -> Summary:
        """One row per variant, means over seeds; ``print(comparison.summary())`` shows the table."""
        target_value, rule = self._default_target() if target is None else (float(target), "given")
        floor = self.suboptimality_floor
        rows = []
        for variant, (label, runs) in zip(self.variants, self.histories.items()):
            reached = [r for r in (h.reach(target_value) for h in runs) if r is not None]
            # A run that stopped at an inf/nan loss ends there, not at its last finite evaluation (which can
            # be its start: read as a final loss, a blown-up run would look like the best one).
            finals = [math.inf if h.overflowed else h.final_loss for h in runs]
            row: dict[str, Any] = {
                "variant": label, "name": variant.name, "batch_size": runs[0].batch_size, "lr": variant.lr,
                "seeds": len(runs), "final_loss": _mean(finals), "final_loss_std": _std(finals),
                "best_loss": _mean([h.best_loss for h in runs]),
                # clipped per seed at the precision floor, as in the plots: float32 rounding can put f below f*
                "final_suboptimality": None if floor is None else _mean([max(f - self.f_star, floor) for f in finals]),
                "updates": _mean([h.updates for h in runs]), "samples": _mean([h.samples for h in runs]),
                "time": _mean([h.wall_time for h in runs]),
                "time_to_target": _mean([r["time"] for r in reached]) if reached else None,
                "updates_to_target": _mean([r["update"] for r in reached]) if reached else None,
                "samples_to_target": _mean([r["samples"] for r in reached]) if reached else None,
                "reached_target": len(reached),  # the three ->target means are over these seeds only
                **{f"final_{k}": _mean([float(h.evals[k][-1]) for h in runs])
                   for k in ("test_loss", "test_accuracy") if all(k in h.evals for h in runs)},
                "diverged": _diverged_text(runs),
                "diverged_after": [h.updates for h in runs if h.diverged],  # the last update each one took
            }
            rows.append(row)
        grids = {h.eval_every for hs in self.histories.values() for h in hs}
        return Summary(rows, target=target_value, f_star=self.f_star, seeds=len(self.seeds), target_rule=rule,
                       suboptimality_floor=floor, eval_every=grids.pop() if len(grids) == 1 else None)

    def plot(self, x: str | Sequence[str] = "epoch", y: str = "auto", ax: Any = None, bands: bool = True,
             title: str | None = None) -> Any:
        """Full training loss against ``x`` (``"epoch"``, ``"update"``, ``"samples"``, ``"time"``, or
        ``"all"`` for four panels); ``y="auto"`` plots f - f* on a log scale when f* is known.

        Returns the matplotlib Figure.
        """
        from tinygrad_mb.gd.compare_plot import plot_comparison  # noqa: PLC0415  (matplotlib only when plotting)

        return plot_comparison(self, x=x, y=y, ax=ax, bands=bands, title=title)

    # --- export --------------------------------------------------------------------
    def rows(self, table: str = "evals") -> list[dict[str, Any]]:
        """Long-format rows of ``"evals"``, ``"steps"`` or ``"summary"``."""
        if table == "summary":
            return [{k: v for k, v in r.items() if k != "diverged_after"} for r in self.summary().rows]
        if table not in ("evals", "steps"):
            raise HyperparameterError(f"table must be 'evals', 'steps' or 'summary', got {table!r}")
        out = []
        for label, runs in self.histories.items():
            for h in runs:
                cols = getattr(h, table)
                for i in range(len(next(iter(cols.values()), ()))):
                    out.append({"variant": label, "batch_size": h.batch_size, "lr": h.variant.lr, "seed": h.seed,
                                **{k: v[i].item() for k, v in cols.items()}})
        return out

    def to_csv(self, path: str | os.PathLike | None = None, table: str = "evals") -> str:
        """CSV text of one table (``"evals"``, ``"steps"`` or ``"summary"``); also written to ``path`` if given."""
        rows = self.rows(table)
        fields: list[str] = []
        for r in rows:
            fields += [k for k in r if k not in fields]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buf.getvalue()
        if path is not None:
            _write_text(path, text)
        return text

    def to_dict(self, steps: bool = True) -> dict[str, Any]:
        """Everything as plain Python: summary rows, variants, and every History (per-update tables if ``steps``)."""
        summary = self.summary()
        return {
            "n_train": self.n_train, "f_star": self.f_star, "seeds": self.seeds, "target": summary.target,
            "variants": [v.to_dict(self.n_train) for v in self.variants],
            "summary": summary.rows,
            "histories": {label: [h.to_dict(steps=steps) for h in runs] for label, runs in self.histories.items()},
        }

    def to_json(self, path: str | os.PathLike | None = None, steps: bool = True) -> str:
        """JSON text of everything (summary and histories); also written to ``path`` if given."""
        text = json.dumps(_sanitize(self.to_dict(steps=steps)), indent=1, default=_json_default)
        if path is not None:
            _write_text(path, text)
        return text

    def __repr__(self) -> str:
        return f"Comparison({self.labels}, seeds={self.seeds})"


class Summary:
    """The summary table: ``rows`` (dicts), printable, exportable."""

    def __init__(self, rows: list[dict[str, Any]], *, target: float, f_star: float | None, seeds: int,
                 target_rule: str, suboptimality_floor: float | None = None, eval_every: int | None = None) -> None:
        self.rows, self.target, self.f_star, self.seeds = rows, target, f_star, seeds
        self.target_rule = target_rule  # how the target was chosen, for the header
        self.suboptimality_floor = suboptimality_floor  # final f-f* is clipped here (float rounding)
        self.eval_every = eval_every  # the evaluation grid in samples, where the ->target columns are read

    def __getitem__(self, label: str) -> dict[str, Any]:
        for row in self.rows:
            if row["variant"] == label or row["name"] == label:
                return row
        raise KeyError(f"no variant {label!r}; have {[r['variant'] for r in self.rows]}")

    def __str__(self) -> str:
        cols = [c for c in SUMMARY_COLUMNS if not (c[0] == "final_suboptimality" and self.f_star is None)
                and (c[0] != "final_test_accuracy" or all(c[0] in r for r in self.rows))]
        table = [[title for _, title, _ in cols]]
        for row in self.rows:
            table.append([self._cell(row, key, fmt) for key, _, fmt in cols])
        widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
        last = len(cols) - 1  # the first (names) and last (diverged) columns read better left-aligned
        lines = ["  ".join(c.ljust(w) if i in (0, last) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 .rstrip() for r in table]
        lines.insert(1, "-" * len(lines[0]))
        what = self.target_rule
        # a mean over the seeds that got there says nothing about the ones that did not: 'reached' counts them
        head = (f"target loss {self.target:.6g} ({what}); means over {self.seeds} seed(s), the ->target ones "
                "over the seeds that reached it; time = training only")
        if self.rows and all(row["updates_to_target"] == 0 and row["reached_target"] == row["seeds"]
                             for row in self.rows):  # the ->target columns are all 0 and say nothing
            lines.append(f"every run started at or below the target loss {self.target:.6g}, so the ->target columns "
                         "are 0: give a target below the starting loss to compare how fast the variants get there")
        coarse = [row for row in self.rows if self.eval_every and row["batch_size"] < self.eval_every
                  and row["reached_target"]]
        if coarse:  # SGD's updates->target can be off by dozens of updates: say where it was read
            b = min(row["batch_size"] for row in coarse)
            lines.append(f"->target columns are read at the evaluations, every {self.eval_every} samples (and at "
                         f"each epoch's end): rounded up to that grid, by up to {self.eval_every // b - 1} updates "
                         f"at B = {b}")
        if any(self._at_floor(row) for row in self.rows):
            lines.append(f"final f-f* <={self.suboptimality_floor:.2g}: within one rounding step (ulp) of f* in the "
                         "parameters' precision, i.e. at the optimum as far as the computed loss can tell")
        if any(row["diverged_after"] for row in self.rows):
            # without this a blown-up run's 'final loss' reads as where training settled
            lines.append(f"diverged runs stopped after the update named: the loss of its weights was inf/nan or "
                         f"over {BLOWUP_FACTOR:,.0f} times the start (the crosses in the figure); a smaller "
                         "learning rate avoids it.")
            lines.append("Their final loss and f-f* are the loss where they stopped: the blown-up full-data loss, "
                         "or inf where the loss overflowed (inf or nan); best loss is the lowest one measured before.")
        return head + "\n" + "\n".join(lines)

    __repr__ = __str__

    def _at_floor(self, row: dict[str, Any]) -> bool:
        value, floor = row.get("final_suboptimality"), self.suboptimality_floor
        return value is not None and floor is not None and value <= floor * (1 + 1e-9)

    def _cell(self, row: dict[str, Any], key: str, fmt: str) -> str:
        if fmt == "of seeds":
            return f"{row[key]}/{row['seeds']}"
        if key == "final_suboptimality" and self._at_floor(row):
            return f"<={self.suboptimality_floor:.2g}"
        return _fmt(row.get(key), fmt)


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt == "count":  # a mean over seeds of a count: a whole number, or one decimal when the seeds differ
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    if fmt == "seconds":
        return _seconds(value)
    return fmt.format(value)


def _seconds(value: float, digits: int = 3) -> str:
    """Seconds to ``digits`` significant digits, in plain decimals.

    A fixed 3 decimals printed batch GD's 0.7 ms as 0.000, which reads as "no time at all"
    in the very column that compares the variants' speed; 1234 s stays 1234, not 1.23e+03.
    """
    if value <= 0:
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(value)))
    return f"{value:.{decimals}f}"


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _std(values: Sequence[float]) -> float:
    """The spread over seeds; NaN, without NumPy's warning, when a run ended at inf (diverged): inf - inf."""
    if len(values) < 2:
        return 0.0
    return float(np.std(values)) if np.all(np.isfinite(values)) else math.nan


def _diverged_text(runs: list[History]) -> str:
    bad = [h for h in runs if h.diverged]
    if not bad:
        # Below the blow-up rule but worse than at the start: a bare "no" would read as "trained fine".
        worse = [h for h in runs if h.final_loss > h.initial_loss]
        if not worse:
            return "no"
        if len(runs) == 1:
            h = runs[0]
            ratio = h.final_loss / h.initial_loss if h.initial_loss > 0 else math.inf
            times = f"x{ratio:,.0f}" if ratio >= 10 else f"x{ratio:.2g}"
            return f"no (final loss {times} the start: lr too large?)"
        return f"no ({len(worse)}/{len(runs)} seeds end above their start: lr too large?)"
    # 'after update k' = the updates column: the run's last update, whose weights gave the bad loss
    if len(runs) == 1:
        return f"yes, after update {bad[0].updates} (loss={bad[0].diverged_loss:.4g})"
    return f"{len(bad)}/{len(runs)} seeds, after update " + ", ".join(str(h.updates) for h in bad)


def _sanitize(obj: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by their names, recursively."""
    if isinstance(obj, dict):
        return {k: _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_sanitize(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(obj):
        return str(float(obj))
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _write_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file atomically: a crash never leaves half a file (see serialization.write_atomically).

    Raises:
        SaveLoadError: ``path`` is a folder, its folder does not exist, or the file cannot be written.
    """
    example = "results.json" if text.lstrip().startswith(("{", "[")) else "results.csv"  # a name to suggest
    write_atomically(path, lambda f: f.write(text.encode("utf-8")), "saving results", example)
