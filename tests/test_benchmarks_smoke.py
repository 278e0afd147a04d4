"""The benchmark suite runs, and its hand-written NumPy baseline is verified, not trusted.

The baseline's manual backward is checked against central differences in
float64; its SGD step against ``w - lr * grad``; and, where PyTorch is
installed, against PyTorch's step from the same weights.
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    bare_engine, engine_calls, gap, gpu, instructions, numpy_mlp, problem, promises, report, run, targets, throughput,
    timing,
)
from benchmarks.numpy_mlp import NumpyMLP  # noqa: E402


def _weights(n_in, n_hidden, n_out, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {
        "0.weight": rng.standard_normal((n_hidden, n_in)).astype(dtype),
        "0.bias": rng.standard_normal(n_hidden).astype(dtype) * 0.1,
        "2.weight": rng.standard_normal((n_out, n_hidden)).astype(dtype),
        "2.bias": rng.standard_normal(n_out).astype(dtype) * 0.1,
    }


def _loss(weights, x, y):
    """The loss written plainly, independent of the benchmark's code."""
    h = np.maximum(x @ weights["0.weight"].T + weights["0.bias"], 0)
    z = h @ weights["2.weight"].T + weights["2.bias"]
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


@pytest.mark.parametrize("shape, entries", [((6, 5, 3), None), ((problem.N_IN, problem.N_HIDDEN, problem.N_OUT), 40)])
def test_numpy_mlp_gradients_match_central_differences(shape, entries):
    weights = _weights(*shape)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, shape[0]))
    y = rng.integers(0, shape[2], size=4)
    loss, grads = NumpyMLP(weights).gradients(x, y)
    assert loss == pytest.approx(_loss(weights, x, y), rel=1e-12)
    eps = 1e-6
    for name, w in weights.items():
        flat = w.reshape(-1)
        n = flat.size if entries is None else min(entries, flat.size)
        idx = rng.choice(flat.size, size=n, replace=False)
        for i in idx:
            old = flat[i]
            flat[i] = old + eps
            up = _loss(weights, x, y)
            flat[i] = old - eps
            down = _loss(weights, x, y)
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            assert grads[name].reshape(-1)[i] == pytest.approx(numeric, rel=1e-5, abs=1e-7), (name, i)


def test_numpy_mlp_step_is_plain_sgd_and_float32():
    weights = problem.initial_weights()
    x, y = problem.random_batch(8)
    _, grads = NumpyMLP(weights).gradients(x, y)
    model = NumpyMLP(weights, lr=0.1)
    loss = model.step(x, y)
    assert loss.dtype == np.float32
    after = model.weights()
    for name, w in weights.items():
        assert after[name].dtype == np.float32
        np.testing.assert_allclose(after[name], w - 0.1 * grads[name], rtol=1e-5, atol=1e-6)


def test_initial_weights_and_batches_are_reproducible():
    a, b = problem.initial_weights(), problem.initial_weights()
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == np.float32 for k in a)
    x1, y1 = problem.random_batch(32)
    x2, y2 = problem.random_batch(32)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and x1.dtype == np.float32


def test_pytorch_takes_the_same_step_as_the_baseline():
    pytest.importorskip("torch")
    impls = [i for i in throughput.cpu_impls((1,))[0] if i.name in (throughput.NUMPY, throughput.TORCH)]
    agree = throughput.agreement(impls)
    assert agree[throughput.TORCH]["max_abs_weight_diff"] < 1e-5
    assert agree[throughput.TORCH]["loss"] == pytest.approx(agree[throughput.NUMPY]["loss"], rel=1e-5)


def test_interleaved_timing_reports_every_case_and_survives_a_failing_one():
    calls = []

    def broken():
        raise RuntimeError("boom")

    cases = [timing.Case("ok", lambda: calls.append(1)), timing.Case("broken", broken)]
    timing.run_interleaved(cases, repeats=3, target_s=0.001)
    assert len(cases[0].seconds_per_step) == 3 and cases[0].steps_per_timing >= 1
    assert cases[1].error == "RuntimeError: boom"
    s = timing.Summary.of([3.0, 1.0, 2.0]).scaled(lambda t: 10 / t)
    assert (s.median, s.low, s.high) == (5.0, 10 / 3, 10.0)


def test_quick_mlp_run_writes_results_and_figure(tmp_path, capsys):
    out = tmp_path / "RESULTS.md"
    argv = ["--quick", "--only", "mlp", "--repeats", "2", "--target", "0.003", "--settle", "0.02", "--out", str(out)]
    assert run.main(argv) == 0  # a short settle: enough to run that code, short enough for CI
    text = out.read_text()
    assert "hand-written NumPy, 1 thread" in text and "samples per second" in text
    assert "best PyTorch / limit" in text and "steal time during the run" in text
    assert "load average at end (includes this benchmark)" in text and "at most 0.02 s" in text
    assert (tmp_path / "throughput.png").stat().st_size > 10_000
    assert (tmp_path / "results.json").exists()
    # The run ends with its targets: measured ones with their figures but no verdict, the others marked so.
    printed = _rows(capsys.readouterr().out.split("the speed and memory targets in this run")[1].split("\n", 1)[1])
    assert re.search(r"\| \d\.\d{3}; rounds \d\.\d{3} \[under 5 rounds\]: not judged: quick run \| 0 / 0 / 0 \|$",
                     printed["batch 32: tinygrad_mb / limit ≥ 0.85"])
    assert printed["batch 8192: tinygrad_mb / limit ≥ 0.95"].endswith("| not measured | 0 / 0 / 0 |")
    assert "## Targets" in text and "not judged: quick run" in text and "✓" not in text and "✗" not in text


def _wrong_step(weights):
    """The hand-written step with twice the learning rate: fast, and wrong."""
    return NumpyMLP(weights, lr=2 * problem.LR)


def test_engine_calls_tinygrad_and_the_hand_written_step_agree_after_several_steps():
    from benchmarks.engine_calls import EngineCallsMLP

    impls = [i for i in throughput.cpu_impls((1,))[0] if i.name != throughput.TORCH]
    impls.append(throughput.Impl("engine calls", 1, EngineCallsMLP))
    agree = throughput.agreement(impls, (1, 2048), steps=3)  # batch 1, and a batch big enough for BLAS to block
    assert set(agree) == {throughput.NUMPY, throughput.TINYGRAD, "engine calls"}
    assert throughput.disagreements(agree) == []
    assert all(v["batch_sizes"] == [1, 2048] and v["steps"] == 3 for v in agree.values())
    wrong = throughput.agreement([impls[0], throughput.Impl("wrong", 1, _wrong_step)], (1, 2048), steps=3)
    assert wrong["wrong"]["max_abs_weight_diff"] > 1e-3
    assert throughput.disagreements(wrong) == [f"wrong: max |Δw| {wrong['wrong']['max_abs_weight_diff']:.1e} > 1e-05"]


def test_a_run_says_loudly_when_weights_disagree(tmp_path, capsys, monkeypatch):
    impls = [throughput.Impl(throughput.NUMPY, 1, NumpyMLP), throughput.Impl(throughput.TINYGRAD, 1, _wrong_step)]
    monkeypatch.setattr(run.throughput, "cpu_impls", lambda: (impls, {}))
    monkeypatch.setattr(run.report, "plot_throughput", lambda *args: None)  # matplotlib is slow, and not the point
    out = tmp_path / "RESULTS.md"
    run.main(["--quick", "--only", "mlp", "--repeats", "1", "--target", "0.002", "--settle", "0", "--out", str(out)])
    printed = capsys.readouterr().out
    assert printed.count("WEIGHTS DISAGREE with the hand-written step: tinygrad_mb: max |Δw|") == 2  # start and end
    assert "**WARNING: weights disagree with the hand-written step beyond 1e-05: tinygrad_mb" in out.read_text()


def test_settle_waits_until_other_threads_stop_burning_cpu():
    import threading
    import time

    assert timing.settle(0) < 1e-3
    timing.settle(1.0)  # earlier tests may have left BLAS threads spinning (~0.14 s here): this waits them out
    assert timing.settle(1.0) < 0.1  # now idle: one quiet window is enough

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    spinner = threading.Thread(target=spin, args=(0.3,))
    spinner.start()
    capped = timing.settle(0.1)  # still spinning when the cap comes
    rest = timing.settle(2.0)
    spinner.join()
    assert 0.1 <= capped < 0.2 and 0.1 < capped + rest < 0.6


def test_run_interleaved_settles_before_each_calibration_and_each_timing(monkeypatch):
    events = []
    monkeypatch.setattr(timing, "settle", lambda max_s: events.append(("settle", max_s)))
    cases = [timing.Case(name, lambda name=name: events.append(name)) for name in ("a", "b")]
    timing.run_interleaved(cases, repeats=3, target_s=0.001, settle_s=0.4)
    assert events.count(("settle", 0.4)) == 2 + 2 * 3
    assert events[0] == ("settle", 0.4)  # before the first calibration
    starts = [i for i, e in enumerate(events) if e in ("a", "b") and events[i - 1] != e]
    assert all(events[i - 1] == ("settle", 0.4) for i in starts)  # every case's run of steps follows a settle


def test_each_batch_size_gets_its_own_sequence_of_orders(monkeypatch):
    seeds = []

    def recording(cases, repeats, target_s, settle_s=0.0, seed=0):
        seeds.append(seed)
        timing.run_interleaved(cases, repeats, target_s, settle_s, seed)

    monkeypatch.setattr(throughput, "run_interleaved", recording)
    impls = [throughput.Impl(throughput.NUMPY, 1, NumpyMLP), throughput.Impl("again", 1, NumpyMLP)]
    throughput.measure(impls, (1, 32), repeats=1, target_s=0.001)
    assert len(seeds) == 2 and seeds[0] != seeds[1]


def test_steal_time_is_read_from_proc_stat():
    from benchmarks import machine

    before = machine.cpu_times("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3\n")
    after = machine.cpu_times("cpu  200 0 100 1500 10 0 0 90 0 0\n")
    assert before == [100, 0, 50, 800, 10, 0, 0, 40]
    assert machine.steal_share(before, after) == "5.6% of CPU time (/proc/stat)"  # 50 of 900 ticks
    assert machine.steal_share(None, after) == "unknown" and machine.cpu_times("no cpu line") is None
    if Path("/proc/stat").exists():
        assert len(machine.cpu_times()) == 8


def test_gap_tool_takes_the_step_apart_and_times_the_updates_per_thread_count():
    book = gap.bookkeeping(repeats=2, target_s=0.005)
    assert set(book) == {"hand-written NumPy", gap.ENGINE_CALLS, gap.BARE_ENGINE, "tinygrad_mb"}
    assert all(s.n == 2 and 0 < s.low <= s.median <= s.high for s in book.values())
    full = {4: gap.step_times(gap.FULL, 4, repeats=2, target_s=0.005)}
    sgd = gap.sgd_update(repeats=2, target_s=0.005)
    threaded = f"{gap.ADD_SCALED} [{gap.ALL_THREADS}]"
    assert set(sgd) == {"p -= lr * g", "p -= g", gap.ADD_SCALED, threaded}
    phases = {4: gap.phase_times(gap.FULL, 4, repeats=2, steps=3)}
    assert set(phases[4]) == {gap.ENGINE_CALLS, gap.BARE_ENGINE, "tinygrad_mb"}
    assert all(set(parts) == set(gap.PHASES) for parts in phases[4].values())
    assert all(s.n == 2 and 0 < s.low <= s.median <= s.high for parts in phases[4].values() for s in parts.values())
    after = gap.after_full_step(repeats=2, steps=2, batch=4)
    assert set(after) == set(book)
    assert all(set(times) == {"alone", "after"} for times in after.values())
    assert all(s.n == 2 and 0 < s.low <= s.median <= s.high for times in after.values() for s in times.values())
    table = gap.report(book, sgd, full, phases, after)
    # header, rule, 9 rows per step measurement (two), 15 phase rows, 12 for the tiny step after the full one,
    # 4 update rows: 51 lines
    assert table.count("\n") == 50
    assert "→ 4-4-3 MLP step, right after against alone: tinygrad_mb | ×" in table
    assert "4-4-3 MLP, batch 1: tinygrad_mb's checks and conveniences" in table
    assert "784-128-10 MLP, batch 4: the API's" in table and "batch 4: the least engine (objects," in table
    assert "→ backward, 784-128-10 MLP, batch 4: tinygrad_mb's checks and conveniences" in table
    assert "→ backward, 784-128-10 MLP, batch 4: the least engine |" in table
    assert table.count("1 BLAS thread: `") == 3 and "all BLAS threads: `add_scaled_(p, -lr, g)`" in table


def test_the_step_in_parts_is_the_step():
    """forward, backward and update in turn do what step() does, for the engine's calls, bare engine and tinygrad_mb."""
    from benchmarks.bare_engine import BareEngineMLP
    from benchmarks.engine_calls import EngineCallsMLP
    from benchmarks.tinygrad_mlp import TinygradMLP

    weights = problem.initial_weights(sizes=gap.TINY)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, gap.TINY[0]), dtype=np.float32), rng.integers(0, gap.TINY[-1], size=5)
    for build in (EngineCallsMLP, BareEngineMLP, TinygradMLP):
        whole, parts = build(weights), build(weights)
        xb, yb = whole.prepare(x, y)
        whole.step(xb, yb)
        parts.update(parts.backward(parts.forward(*parts.prepare(x, y))))
        for name, w in whole.weights().items():
            np.testing.assert_array_equal(parts.weights()[name], w, err_msg=f"{build.__name__}: {name}")
        assert not np.array_equal(whole.weights()["0.weight"], weights["0.weight"])  # a real update happened


@pytest.mark.parametrize("module", ["engine_calls", "bare_engine"])
def test_engine_calls_and_bare_engine_compute_tinygrad_mbs_update_bit_for_bit(module):
    """Same loss and weights after three steps: else the step no longer mirrors the engine, and times another thing.

    engine_calls.py is tinygrad_mb's NumPy calls without the engine; bare_engine.py the same calls in the least
    engine a training loop needs.
    """
    from benchmarks.bare_engine import BareEngineMLP, BareTensor
    from benchmarks.engine_calls import EngineCallsMLP
    from benchmarks.tinygrad_mlp import TinygradMLP

    build = {"engine_calls": EngineCallsMLP, "bare_engine": BareEngineMLP}[module]
    weights = problem.initial_weights(sizes=(20, 16, 5))
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((7, 20), dtype=np.float32), rng.integers(0, 5, size=7)
    step, engine = build(weights), TinygradMLP(weights)
    for _ in range(3):
        loss = step.step(*step.prepare(x, y))
        loss = loss.data if isinstance(loss, BareTensor) else loss  # the bare engine's tensor, or an array
        assert float(loss) == float(engine.step(*engine.prepare(x, y)).data)
    for name, value in engine.weights().items():
        np.testing.assert_array_equal(step.weights()[name], value, err_msg=f"{name}: update {module}.py")
    assert not np.array_equal(step.weights()["0.weight"], weights["0.weight"])  # a real update happened
    with pytest.raises(ValueError, match="label out of range"):
        step.step(*step.prepare(x, np.full(7, 5)))


def test_each_promise_dropped_still_computes_the_same_update():
    """Else benchmarks.promises would price a different computation, not a promise."""
    from benchmarks.engine_calls import PROMISES, EngineCallsMLP

    weights = problem.initial_weights(sizes=(20, 16, 5))
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((7, 20), dtype=np.float32), rng.integers(0, 5, size=7)
    kept = EngineCallsMLP(weights)
    losses = [float(kept.step(x, y)) for _ in range(3)]
    for dropped in [(p,) for p in PROMISES] + [tuple(PROMISES)]:
        variant = EngineCallsMLP(weights, without=dropped)
        np.testing.assert_allclose([float(variant.step(x, y)) for _ in range(3)], losses, rtol=1e-6)
        for name, value in kept.weights().items():  # lr folded into dL/dz rounds differently: close, not equal
            np.testing.assert_allclose(variant.weights()[name], value, rtol=1e-5, atol=1e-7, err_msg=f"{dropped}")
    assert not np.array_equal(kept.weights()["0.weight"], weights["0.weight"])
    unchecked = EngineCallsMLP(weights, without=["label check"])
    unchecked.step(x, np.full(7, 3))  # a label in range: fine either way
    with pytest.raises(ValueError, match="the promises are"):
        EngineCallsMLP(weights, without=["lr"])


def test_promises_tool_prices_every_promise():
    times = {4: promises.step_times(4, repeats=2, target_s=0.005)}
    assert set(times[4]) == {"hand-written NumPy", *promises.variants()}
    assert all(s.n == 2 and 0 < s.low <= s.median <= s.high for s in times[4].values())
    table = promises.report(times)
    # header, rule, 7 steps, 4 promises, all together, what is left
    assert table.count("\n") == 14
    assert re.search(r"\| → batch 4: cost of learning rate \| [+-]\d+\.\d \|", table)
    assert "→ batch 4: what is left, every promise dropped − hand-written" in table
    updates = {4: promises.update_in_step(4, repeats=2, steps=3)}
    assert set(updates[4]) <= set(promises.UPDATES) and "p -= g" in updates[4]
    assert all(s.n == 2 and 0 < s.low <= s.median <= s.high for s in updates[4].values())
    both = promises.report(times, updates)
    assert both.startswith(table) and "| batch 4: `add_scaled_(p, -1.0, g)` | " in both


def test_every_way_of_timing_the_update_in_the_step_updates_the_same():
    weights = problem.initial_weights(sizes=(20, 16, 5))
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((7, 20), dtype=np.float32), rng.integers(0, 5, size=7)
    models = [promises._TimedUpdate(weights, how) for how in promises.UPDATES]
    for model in models:
        model.step(x, y)
        assert len(model.spent) == 1 and model.spent[0] > 0
    for name, value in models[0].weights().items():
        for model in models[1:]:
            np.testing.assert_allclose(model.weights()[name], value, rtol=1e-6, atol=1e-8, err_msg=model.how)
    assert not np.allclose(models[0].weights()["0.weight"], weights["0.weight"])  # each made a real update


CACHEGRIND_SUMMARY = """==7== I   refs:      1,048,238,453
==7== I1  misses:       10,885,253
==7== LLi misses:           31,200
==7== D   refs:        548,014,051  (304,822,001 rd   + 243,192,050 wr)
==7== D1  misses:       13,674,430  ( 10,656,549 rd   +   3,017,881 wr)
==7== LLd misses:        3,113,927  (  2,251,446 rd   +     862,481 wr)
"""


def test_instruction_counter_parses_cachegrind_and_runs_both_steps():
    assert instructions.summary(CACHEGRIND_SUMMARY) == {instructions.INSTRUCTIONS: 1_048_238_453}
    assert instructions.summary(CACHEGRIND_SUMMARY, cache=True) == {
        instructions.INSTRUCTIONS: 1_048_238_453,
        instructions.CODE_MISSES: 10_885_253,
        instructions.L2_DATA_MISSES: 3_113_927,  # reads and writes together
    }
    with pytest.raises(RuntimeError, match="no 'instructions' total"):
        instructions.summary("==1== error\n")
    with pytest.raises(RuntimeError, match="no 'L2 data misses' total"):
        instructions.summary(CACHEGRIND_SUMMARY.split("==7== LLd")[0], cache=True)
    for name in (throughput.NUMPY, throughput.TINYGRAD):  # the program valgrind runs, at both sizes
        instructions.run_steps(name, 3)
        instructions.run_steps(name, 2, model="full", batch=4)
    counts = {throughput.NUMPY: {instructions.INSTRUCTIONS: 200_000.0, instructions.CODE_MISSES: 1_000.0},
              throughput.TINYGRAD: {instructions.INSTRUCTIONS: 450_000.0, instructions.CODE_MISSES: 1_500.0}}
    table = instructions.report(counts, model="full", batch=32)
    assert "784-128-10 MLP, batch 32: tinygrad_mb | 450,000 | 2.25 | 1,500 | 1.50 |" in table
    assert table.count("\n") == 3


def test_the_same_batch_and_weights_for_every_implementation():
    steps = gap.training_steps(gap.TINY, 5)
    losses = [step() for step in steps.values()]  # first step of each: the loss before any update
    losses = [float(np.asarray(getattr(loss, "data", loss))) for loss in losses]
    assert len(losses) == 4 and losses[0] > 0
    np.testing.assert_allclose(losses[1:], [losses[0]] * 3, rtol=1e-5)


def test_instruction_counter_says_what_it_needs(monkeypatch, capsys):
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as stop:
        instructions.main([])
    assert stop.value.code == 2 and "needs valgrind" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        instructions.main(["--steps", "5", "5"])
    assert stop.value.code == 2 and "FEW must be" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        instructions.main(["--batch", "0"])
    assert stop.value.code == 2 and "--batch must be at least 1" in capsys.readouterr().err


def test_instruction_count_of_a_real_run_under_valgrind():
    if instructions.shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    few = instructions.count(throughput.NUMPY, 0)[instructions.INSTRUCTIONS]
    many = instructions.count(throughput.NUMPY, 40)[instructions.INSTRUCTIONS]
    assert 1_000_000 < few < many  # starting Python costs millions; 40 steps add more


def test_tiny_weights_give_a_tiny_tinygrad_model():
    from benchmarks.tinygrad_mlp import build_model

    model = build_model(problem.initial_weights(sizes=gap.TINY))
    assert [tuple(p.shape) for p in model.parameters()] == [(4, 4), (4,), (3, 4), (3,)]


def test_gpu_section_skips_cleanly_without_a_gpu():
    if gpu.gpu_unavailable() is None:
        pytest.skip("a GPU is usable here")
    assert set(gpu.run((1,), 1, 0.001)) == {"skipped"}


def test_modules_stay_short():
    modules = (bare_engine, engine_calls, gap, gpu, numpy_mlp, problem, promises, report, run, targets, throughput,
               timing)
    for module in modules:
        assert len(Path(module.__file__).read_text().splitlines()) < 300, module.__name__


NOISE = (-3, -2, -1, 0, 0, 0, 1, 2, 3)  # 9 rounds: the 90% interval is [x(2), x(8)], i.e. noise ±2


def _fake_results(ours_s: float, limit_s: float, torch_s: float, add_us: float, spread: float = 0.1,
                  **config) -> dict:
    """A results.json as the runner writes it (batch sizes as strings), with chosen seconds per step.

    tinygrad_mb's and the tracked add's timings vary from round to round by ±``spread``; the others do not.
    """
    def rounds(seconds, jitter=0.0):
        return [seconds * (1 + jitter * n / 3) for n in NOISE]

    def timing(seconds_per_sample, jitter=0.0):
        return {bs: {"seconds": rounds(seconds_per_sample * int(bs), jitter)} for bs in ("1", "32", "128", "8192")}

    return {
        "machine": {"date": "2026-12-02 12:00 UTC"},
        "config": {"sections": ["mlp", "overhead", "memory"], "quick": False, **config},
        "mlp": {"agreement": {throughput.NUMPY: {"loss": 2.3, "max_abs_weight_diff": 0.0},
                              throughput.TINYGRAD: {"loss": 2.3, "max_abs_weight_diff": 1e-8}},
                "results": {"hand-written NumPy, 1 thread": timing(limit_s), "hand-written NumPy, 2 threads":
                            timing(2 * limit_s), "PyTorch, 1 thread": timing(torch_s),
                            "tinygrad_mb, 2 threads": timing(ours_s, spread)}},
        "overhead": {"per_call_s": {"numpy": {"add": rounds(0.3e-6)}, "tinygrad_mb": {"add": rounds(add_us * 1e-6,
                                                                                                     spread)}}},
        "memory": {"training": {"tinygrad_mb": {"growth": 0, "peak_growth": 2**20, "requested": 100_000,
                                                "updates": 100_000, "complete": True}},
                   "imports": {"tinygrad_mb": {"seconds": [0.1] * 5, "matplotlib_imported": False}}},
    }


def _rows(text: str) -> dict[str, str]:
    return {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[2:]}


def test_median_interval_takes_the_binomial_order_statistics():
    assert targets.median_interval(list(range(15, 0, -1))) == (4, 12)  # P(Bin(15, 1/2) <= 3) = 1.8%: 96.5%
    assert targets.median_interval(list(range(1, 10))) == (2, 8)
    assert targets.median_interval([5, 1, 3, 2, 4]) == (1, 5)  # 1 - 2/32 = 93.75%
    assert targets.median_interval([1, 2, 3, 4]) is None  # even [min, max] covers only 87.5%


def test_targets_are_judged_on_the_paired_rounds_interval():
    good = _fake_results(ours_s=1.0, limit_s=0.97, torch_s=2.0, add_us=1.5)  # 0.97 of the limit, ±7% by round
    slow = _fake_results(ours_s=1.0, limit_s=0.6, torch_s=0.9, add_us=2.5)  # 0.6 of the limit, PyTorch faster
    near = _fake_results(ours_s=1.0, limit_s=0.86, torch_s=2.0, add_us=1.95)  # bars inside the interval
    slow.pop("memory")
    rows = _rows(targets.table({"good run": good, "slow run": slow, "near run": near}))
    assert rows["batch 32: tinygrad_mb / limit ≥ 0.85"].endswith(
        "| 0.970; rounds 0.970 [0.909–1.039]: ✓ met | 0.600; rounds 0.600 [0.562–0.643]: ✗ not met "
        "| 0.860; rounds 0.860 [0.806–0.921]: ? inconclusive | 1 / 1 / 1 |")
    assert rows["batch 8192: tinygrad_mb / limit ≥ 0.95"].endswith("✗ not met | 0 / 2 / 1 |")
    assert rows["batch 1: tinygrad_mb / limit ≥ 0.5"].endswith("| 3 / 0 / 0 |")
    assert "| 2.00×; rounds 2.00× [1.88×–2.14×], PyTorch at 0.48 of the limit: ✓ met |" in rows[
        "batch 1: faster than PyTorch"]
    assert rows["batch 1: faster than PyTorch"].endswith("| 2 / 1 / 0 |")
    assert rows["tracked add ≤ 2.0 µs"].endswith("| 1.95 µs [1.82 µs–2.08 µs]: ? inconclusive | 1 / 1 / 1 |")
    assert rows["tracked add ≤ 7× np.add"].endswith("| 2 / 1 / 0 |")
    assert rows["peak RSS growth ≤ 5 MiB"].endswith(
        "| +1.0 MiB over 100,000 updates: ✓ met | not measured | +1.0 MiB over 100,000 updates: ✓ met | 2 / 0 / 0 |")
    assert rows["import < 0.3 s, no matplotlib"].endswith("| 100 ms [100 ms–100 ms]: ✓ met | not measured |"
                                                          " 100 ms [100 ms–100 ms]: ✓ met | 2 / 0 / 0 |")
    few = _fake_results(ours_s=1.0, limit_s=2.0, torch_s=2.0, add_us=1.0)
    few["mlp"]["results"]["tinygrad_mb, 2 threads"]["32"]["seconds"][4:] = []  # failed after round 4: pair 4
    assert _rows(targets.table({"few": few}))["batch 32: tinygrad_mb / limit ≥ 0.85"].endswith(
        "[under 5 rounds]: ? inconclusive | 0 / 0 / 1 |")


def test_quick_runs_short_memory_runs_and_disagreeing_weights_are_not_judged():
    quick = _fake_results(ours_s=1.0, limit_s=0.97, torch_s=2.0, add_us=1.5, quick=True)
    for name, row in _rows(targets.table({"quick": quick})).items():
        assert row.endswith(": not judged: quick run | 0 / 0 / 0 |"), name
    short = _fake_results(ours_s=1.0, limit_s=0.97, torch_s=2.0, add_us=1.5)
    short["memory"]["training"]["tinygrad_mb"].update(requested=5_000, updates=5_000)
    stopped = _fake_results(ours_s=1.0, limit_s=0.97, torch_s=2.0, add_us=1.5)
    stopped["memory"]["training"]["tinygrad_mb"].update(updates=61_000, complete=False)
    assert _rows(targets.table({"short": short, "stopped": stopped}))["peak RSS growth ≤ 5 MiB"].endswith(
        "| +1.0 MiB over 5,000 updates: not judged: 5,000 requested, 5,000 done, 100,000 needed "
        "| +1.0 MiB over 61,000 updates: not judged: 100,000 requested, 61,000 done, 100,000 needed | 0 / 0 / 0 |")
    wrong = _fake_results(ours_s=1.0, limit_s=0.97, torch_s=2.0, add_us=1.5)
    wrong["mlp"]["agreement"][throughput.TINYGRAD]["max_abs_weight_diff"] = 3e-3
    rows = _rows(targets.table({"wrong": wrong}))
    for name in [n for n, (section, _) in targets.TARGETS.items() if section == "mlp"]:
        assert "not judged: weights disagree (tinygrad_mb: max |Δw| 3.0e-03 > 1e-05)" in rows[name], name
    assert rows["tracked add ≤ 2.0 µs"].endswith("✓ met | 1 / 0 / 0 |")  # the add does not depend on the MLP
    assert "**WARNING: weights disagree" in report.agreement_text(wrong["mlp"]["agreement"])
    wrong["mlp"].pop("agreement")
    assert "not judged: agreement with the hand-written step not checked" in _rows(targets.table({"w": wrong}))[
        "batch 1: faster than PyTorch"]


def test_targets_tool_reads_results_files_and_names_a_bad_one(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text(json.dumps(_fake_results(1.0, 0.9, 2.0, 1.0)))
    text = targets.main([str(tmp_path / "a" / "results.json")])
    assert "2026-12-02 12:00 UTC, all" in text and "0.900; rounds 0.900 [0.844–0.964]: ✓ met" in text
    with pytest.raises(SystemExit) as stop:
        targets.main([str(tmp_path / "missing.json")])
    assert stop.value.code == 2 and "cannot read" in capsys.readouterr().err
