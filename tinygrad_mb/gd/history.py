"""What one training run recorded: :class:`History`.

Two tables, each a dict of equally long NumPy arrays:

``steps`` -- one row per update ``k = 1, 2, ...``:
    ``update``, ``epoch`` (fractional: samples / N), ``samples`` (seen so far),
    ``time`` (training wall-clock seconds, evaluation excluded, read without
    waiting for the GPU: see :attr:`History.wall_time`), ``loss`` (the
    mini-batch loss the update stepped on, at the weights *before* it),
    ``grad_norm`` (``|g_B|`` of that mini-batch gradient), ``lr`` (the rate that update used).

``evals`` -- one row per evaluation on the full data (row 0: the initial weights):
    ``update``, ``epoch``, ``samples``, ``time``, ``lr`` (the rate of the last
    update before it; row 0: the starting rate), ``train_loss`` (the full
    training loss f(w)), ``suboptimality`` (f(w) - f*, when f* is known),
    and ``test_loss`` / ``{train,test}_<metric>`` where available.

A run *diverges* when a loss measured at the weights after some update k is not
finite, or (a full-data loss) is past ``trainer.BLOWUP_FACTOR`` (1e6) times its start. It then
stops after update k: ``updates == k``, ``diverged_at == k + 1`` (the first update
not taken) and ``diverged_loss`` is the loss that showed it. A blown-up but finite
evaluation stays in ``evals`` (the curve ends on it); an inf/nan one is left out.

During a run, mini-batch losses and gradient norms are kept as 0-d device
arrays and read back to the host in bulk (:meth:`History.flush`), so a GPU
run does not stop to synchronise after every update.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.gd.evaluation import flat_params, precision_floor
from tinygrad_mb.gd.variants import Variant

STEP_COLUMNS = ("update", "epoch", "samples", "time", "loss", "grad_norm", "lr")
X_AXES = ("epoch", "update", "samples", "time")


class History:
    """The record of one run of one variant with one seed (see the module docstring)."""

    def __init__(self, variant: Variant, *, seed: Any, n_train: int, batch_size: int,
                 f_star: float | None = None, budget: dict[str, float] | None = None,
                 eval_every: int | None = None, dtype: str = "", drop_last: bool = False) -> None:
        self.variant = variant
        self.seed = seed
        self.n_train = n_train
        self.batch_size = batch_size
        self.f_star = f_star
        self.budget = dict(budget or {})
        self.eval_every = eval_every
        self.drop_last = drop_last  # train()'s option: the last batch of a pass was skipped when smaller than B
        self.dtype = dtype  # of the parameters: float32 losses resolve f - f* only down to ~ulp(f*)
        self.diverged = False
        # updates 1 .. diverged_at - 1 were taken; the loss at the weights after the last of them
        # (diverged_loss) was inf/nan or blown up, so update diverged_at was not
        self.diverged_at: int | None = None
        self.diverged_loss: float | None = None
        self.diverged_samples: int | None = None  # samples seen and training time where it stopped
        self.diverged_time: float | None = None
        self.stop_reason = ""
        self._steps: dict[str, list[Any]] = {c: [] for c in ("update", "samples", "time", "lr")}
        self._losses: list[float] = []  # read back
        self._gnorms: list[float] = []
        self._pending: list[tuple[Any, Any]] = []  # (loss, grad_norm) device scalars not yet read back
        self._evals: dict[str, list[float]] = {}
        self._params: list[np.ndarray] = []
        self.steps: dict[str, np.ndarray] = {}
        self.evals: dict[str, np.ndarray] = {}
        self.params: np.ndarray | None = None

    # --- recording (used by the trainer) ------------------------------------------------
    def add_step(self, update: int, samples: int, t: float, loss: Any, grad_norm: Any, lr: float) -> None:
        """Record one update (``loss`` and ``grad_norm`` may be 0-d device arrays: read back later)."""
        self._steps["update"].append(update)
        self._steps["samples"].append(samples)
        self._steps["time"].append(t)
        self._steps["lr"].append(lr)
        self._pending.append((loss, grad_norm))

    def add_params(self, update: int, params: list[Any]) -> None:
        """Record the flattened parameters after ``update`` (for trajectory plots)."""
        self._params.append(flat_params(params))

    def add_eval(self, update: int, samples: int, t: float, record: dict[str, float], lr: float) -> None:
        """Record one full-data evaluation (``record``: train_loss, test_loss, metrics) after ``update``."""
        row = {"update": update, "epoch": samples / self.n_train, "samples": samples, "time": t, "lr": lr,
               **record}
        if self.f_star is not None:
            row["suboptimality"] = record["train_loss"] - self.f_star
        for key, value in row.items():
            self._evals.setdefault(key, []).append(float(value))

    def initial_eval(self, key: str) -> float:
        """The first evaluated value of ``key`` (at the initial weights) while the run is going."""
        return self._evals[key][0]

    def last_eval(self, key: str) -> float:
        """The latest evaluated value of ``key`` while the run is going."""
        return self._evals[key][-1]

    def flush(self) -> bool:
        """Read pending losses back to the host; False (and marks divergence) if one is not finite."""
        if self._pending:
            xp = _backend.array_module(self._pending[0][0])
            values = _backend.to_numpy(xp.stack([xp.asarray(v, dtype=xp.float64) for pair in self._pending
                                                 for v in pair])).reshape(-1, 2)
            self._pending.clear()
            bad = np.flatnonzero(~np.isfinite(values[:, 0]))
            if bad.size:
                # row j stepped on a non-finite loss: the weights after the update before it were bad
                j = len(self._losses) + int(bad[0])
                samples, t = (self._steps["samples"][j - 1], self._steps["time"][j - 1]) if j else (0, 0.0)
                self.mark_diverged(self._steps["update"][j] - 1, samples, t, float(values[bad[0], 0]))
                values = values[: bad[0]]
                for column in self._steps.values():
                    del column[j:]
            self._losses.extend(values[:, 0].tolist())
            self._gnorms.extend(values[:, 1].tolist())
        return not self.diverged

    def mark_diverged(self, after_update: int, samples: int, t: float, loss: float) -> None:
        """The run stops after ``after_update`` (``samples`` seen, ``t`` seconds): the loss at its weights was ``loss``.

        ``loss`` is a mini-batch loss that is inf or nan, or a full training loss that is inf, nan or
        past ``BLOWUP_FACTOR`` times its start. Update ``after_update + 1`` is not taken.
        """
        if not self.diverged:
            self.diverged, self.diverged_at, self.diverged_loss = True, int(after_update) + 1, float(loss)
            self.diverged_samples, self.diverged_time = int(samples), float(t)

    def mark_diverged_from_eval(self) -> None:
        """The last evaluation showed divergence (its full loss inf, nan, or blown up): stop at its update.

        A blown-up but finite loss was measured and stays: it is the run's last point, where its curve
        and final loss end. An inf/nan one is dropped: no curve can show it (``diverged_loss`` keeps it).
        """
        if self.diverged or not self._evals:
            return
        loss = self._evals["train_loss"][-1]
        last = {k: v.pop() if not math.isfinite(loss) else v[-1] for k, v in self._evals.items()}
        self.mark_diverged(int(last["update"]), int(last["samples"]), last["time"], loss)

    def finish(self, stop_reason: str) -> None:
        """Turn the lists into arrays (called once when the run ends)."""
        self.flush()
        self.stop_reason = stop_reason
        n = len(self._losses)
        self.steps = {
            "update": np.asarray(self._steps["update"][:n], dtype=np.int64),
            "epoch": np.asarray(self._steps["samples"][:n], dtype=np.float64) / self.n_train,
            "samples": np.asarray(self._steps["samples"][:n], dtype=np.int64),
            "time": np.asarray(self._steps["time"][:n], dtype=np.float64),
            "loss": np.asarray(self._losses, dtype=np.float64),
            "grad_norm": np.asarray(self._gnorms, dtype=np.float64),
            "lr": np.asarray(self._steps["lr"][:n], dtype=np.float64),
        }
        self.evals = {k: np.asarray(v, dtype=np.int64 if k in ("update", "samples") else np.float64)
                      for k, v in self._evals.items()}
        if self._params:
            self.params = np.stack(self._params[: n + 1])

    # --- reading --------------------------------------------------------------------
    @property
    def label(self) -> str:
        """E.g. ``"minibatch (B=32, lr=0.1)"``."""
        return self.variant.label(self.n_train)

    @property
    def updates(self) -> int:
        """Number of updates taken."""
        return int(self.steps["update"][-1]) if len(self.steps.get("update", ())) else 0

    @property
    def samples(self) -> int:
        """Training samples seen (the sum of all batch sizes)."""
        return int(self.steps["samples"][-1]) if len(self.steps.get("samples", ())) else 0

    @property
    def wall_time(self) -> float:
        """Training wall-clock seconds until the run stopped, evaluation excluded.

        The time of the last evaluation: the clock is read there after waiting for the
        device, and every run ends with one. So this is where the curves' time axis ends,
        and a time-to-target (also read at an evaluation) is never more. (``steps["time"]``
        is read without waiting for the device and can be less.) A run that diverged
        stopped at ``diverged_time``, which may lie after its last kept evaluation (an
        inf/nan one is dropped).
        """
        end = float(self.evals["time"][-1]) if len(self.evals.get("time", ())) else 0.0
        return end if self.diverged_time is None else max(end, self.diverged_time)

    @property
    def initial_loss(self) -> float:
        """Full training loss at the initial weights, f(w_0)."""
        return float(self.evals["train_loss"][0])

    @property
    def final_loss(self) -> float:
        """Full training loss at the last evaluation, where the run stopped (unless it diverged to inf/nan).

        For a run that blew up past ``BLOWUP_FACTOR`` this is the blown-up loss, after update ``updates``;
        for one whose loss became inf or nan, the last finite one measured before that.
        """
        return float(self.evals["train_loss"][-1])

    @property
    def overflowed(self) -> bool:
        """Whether the run diverged to an inf or nan loss, which no evaluation can show (its final_loss is older)."""
        return self.diverged and not math.isfinite(self.diverged_loss)

    @property
    def best_loss(self) -> float:
        """Lowest full training loss evaluated during the run."""
        return float(np.nanmin(self.evals["train_loss"]))

    @property
    def suboptimality_floor(self) -> float | None:
        """f - f* below this is float rounding noise (see :func:`precision_floor`); None when f* is unknown."""
        return None if self.f_star is None else precision_floor(self.f_star, self.dtype)

    def reach(self, target: float, key: str = "train_loss") -> dict[str, float] | None:
        """Where the evaluated ``key`` first got to ``<= target``: update, epoch, samples, time; or None."""
        hits = np.flatnonzero(self.evals[key] <= target)
        if not hits.size:
            return None
        i = int(hits[0])
        return {x: float(self.evals[x][i]) for x in X_AXES}

    def to_dict(self, steps: bool = True) -> dict[str, Any]:
        """JSON-friendly: metadata, the eval table and (optionally) the per-update table."""
        out: dict[str, Any] = {
            "variant": self.variant.to_dict(self.n_train), "seed": self.seed, "n_train": self.n_train,
            "batch_size": self.batch_size, "f_star": self.f_star, "budget": self.budget,
            "eval_every": self.eval_every, "drop_last": self.drop_last, "dtype": self.dtype,
            "stop_reason": self.stop_reason,
            "diverged": self.diverged,
            "diverged_at": self.diverged_at, "diverged_loss": _json_float(self.diverged_loss),
            "evals": {k: [_json_float(x) for x in v.tolist()] for k, v in self.evals.items()},
        }
        if steps:
            out["steps"] = {k: [_json_float(x) for x in v.tolist()] for k, v in self.steps.items()}
        return out

    def __repr__(self) -> str:
        state = f"diverged after update {self.updates}" if self.diverged else f"final loss {self.final_loss:.4g}"
        return f"History({self.label}, seed={self.seed}, {self.updates} updates, {state})"


def _json_float(x: Any) -> Any:
    """NaN/inf are not JSON: write them as strings so nothing is silently lost."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x
