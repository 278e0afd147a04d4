"""The one training loop: exactness against hand-written loops, records, budgets, divergence."""

import itertools
import math
import time

import numpy as np
import pytest

from tinygrad_mb import data, gd, nn, optim
from tinygrad_mb.backend import get_backend
from tinygrad_mb.errors import HyperparameterError

N, D = 200, 5


@pytest.fixture(scope="module")
def problem64():
    """A small float64 least-squares problem (so comparisons can be exact or to 1e-12)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((N, D))
    y = (X @ rng.standard_normal(D) + 0.3 + 0.5 * rng.standard_normal(N)).reshape(N, 1)
    return X, y


def linear64(seed=0):
    return nn.Linear(D, 1, seed=seed, dtype="float64")


def weights(model):
    return [p.numpy().copy() for p in model.parameters()]


def test_minibatch_of_size_n_is_batch_gd_exactly(problem64):
    X, y = problem64
    ds = data.TensorDataset(X, y)
    runs = {}
    for name, variant in {"batch": gd.Batch(0.3), "minibatch_N": gd.MiniBatch(N, 0.3)}.items():
        model = linear64()
        gd.train(model, nn.MSELoss(), ds, variant, updates=7)
        runs[name] = weights(model)
    # and a hand-written full-batch loop with the same ops
    model = linear64()
    opt = optim.SGD(model.parameters(), lr=0.3)
    Xt, yt = ds.tensors
    for _ in range(7):
        loss = nn.MSELoss()(model(Xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b, c in zip(runs["batch"], runs["minibatch_N"], weights(model)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # and the math in plain NumPy: w <- w - lr * (2/N) A^T (A w - y)
    ref = linear64()
    w = np.concatenate([ref.weight.numpy().ravel(), ref.bias.numpy()])
    A = np.hstack([X, np.ones((N, 1))])
    for _ in range(7):
        w = w - 0.3 * 2 / N * A.T @ (A @ w - y[:, 0])
    np.testing.assert_allclose(np.concatenate([runs["batch"][0].ravel(), runs["batch"][1]]), w, rtol=1e-12)


def test_batch_size_one_is_per_sample_sgd(problem64):
    X, y = problem64
    ds = data.TensorDataset(X, y)
    model = linear64()
    w = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    h = gd.train(model, nn.MSELoss(), ds, gd.Stochastic(0.02), epochs=2, seed=5)
    assert h.updates == 2 * N and h.batch_size == 1
    # hand-written SGD on the samples in the order a loader seeded the same way gives them
    lr, losses = 0.02, []
    loader = data.DataLoader(ds, batch_size=1, shuffle=True, seed=5)
    for _ in range(2):
        for xb, yb in loader:
            x, target = np.append(xb.numpy()[0], 1.0), yb.numpy()[0, 0]
            r = x @ w - target
            losses.append(r * r)
            w = w - lr * 2 * r * x
    np.testing.assert_allclose(np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()]), w, rtol=1e-10)
    np.testing.assert_allclose(h.steps["loss"], losses, rtol=1e-10)


@pytest.mark.parametrize("batch_size", [7, 32, 64])
def test_size_weighted_minibatch_gradients_average_to_the_full_gradient(problem64, batch_size):
    X, y = problem64
    ds = data.TensorDataset(X, y)
    model = linear64(3)
    parts = gd.minibatch_gradients(model, nn.MSELoss(), ds, batch_size, seed=0)
    sizes = [s for s, _ in parts]
    assert sum(sizes) == N and len(parts) == math.ceil(N / batch_size)
    weighted = sum(s * g for s, g in parts) / N
    np.testing.assert_allclose(weighted, gd.full_gradient(model, nn.MSELoss(), ds), rtol=1e-12, atol=1e-14)
    # and it is the analytic one, (2/N) A^T (A w - y)
    A = np.hstack([X, np.ones((N, 1))])
    w = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    np.testing.assert_allclose(weighted, 2 / N * A.T @ (A @ w - y[:, 0]), rtol=1e-12)


def test_per_update_records(problem64):
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(32, 0.05), epochs=3, seed=0)
    per_epoch = math.ceil(N / 32)
    s = h.steps
    assert set(s) == {"update", "epoch", "samples", "time", "loss", "grad_norm", "lr"}
    assert h.updates == 3 * per_epoch
    np.testing.assert_array_equal(s["update"], np.arange(1, 3 * per_epoch + 1))
    assert s["samples"][per_epoch - 1] == N and s["samples"][-1] == 3 * N  # last batch of an epoch is short
    np.testing.assert_allclose(s["epoch"], s["samples"] / N)
    assert np.all(np.diff(s["time"]) >= 0) and np.all(s["grad_norm"] > 0) and np.all(s["lr"] == 0.05)
    # the recorded gradient norm is |g_B| of that batch
    model = linear64()
    g = gd.minibatch_gradients(model, nn.MSELoss(), (X, y), 32, seed=0)[0][1]
    assert s["grad_norm"][0] == pytest.approx(np.linalg.norm(g), rel=1e-12)


def test_evaluation_grid_is_shared_and_full_batch_is_evaluated_every_update(problem64):
    X, y = problem64
    runs = {v.name: gd.train(linear64(), nn.MSELoss(), (X, y), v, epochs=3, eval_every=40)
            for v in [gd.Batch(0.3), gd.Stochastic(0.01), gd.MiniBatch(8, 0.05)]}
    grid = list(range(0, 3 * N + 1, 40))
    assert list(runs["sgd"].evals["samples"]) == grid
    assert list(runs["minibatch"].evals["samples"]) == grid
    assert list(runs["batch"].evals["update"]) == [0, 1, 2, 3]  # every update, none skipped
    assert list(runs["batch"].evals["samples"]) == [0, N, 2 * N, 3 * N]
    assert set(runs["batch"].evals["samples"]) <= set(grid)
    assert "suboptimality" not in runs["sgd"].evals  # no f* known for raw arrays


def test_budgets(problem64):
    X, y = problem64
    loss = nn.MSELoss()
    assert gd.train(linear64(), loss, (X, y), gd.MiniBatch(10, 0.05), updates=13).updates == 13
    h = gd.train(linear64(), loss, (X, y), gd.MiniBatch(10, 0.05), samples=250)
    assert h.samples == 250 and h.stop_reason == "samples"
    h = gd.train(linear64(), loss, (X, y), gd.MiniBatch(10, 0.05), epochs=1.5)
    assert h.samples == 300 and h.stop_reason == "epochs"
    assert h.evals["samples"][-1] == 300
    h = gd.train(linear64(), loss, (X, y), gd.Stochastic(0.01), seconds=0.2, epochs=1e6)
    assert h.stop_reason == "seconds" and 0.2 <= h.wall_time < 1.0
    assert gd.train(linear64(), loss, (X, y), gd.Batch(0.1)).updates == 10  # default: 10 epochs
    with pytest.raises(HyperparameterError):
        gd.train(linear64(), loss, (X, y), gd.Batch(0.1), epochs=0)
    # NumPy numbers are budgets too (e.g. computed from a shape), stored as plain Python numbers
    h = gd.train(linear64(), loss, (X, y), gd.MiniBatch(10, 0.05), updates=np.int64(13), epochs=np.float64(5))
    assert h.updates == 13 and type(h.budget["updates"]) is int and type(h.budget["epochs"]) is float


def test_drop_last_skips_the_short_batch_and_each_pass_still_ends_with_an_evaluation(problem64):
    # Catches a trainer without drop_last (the N % B leftover samples always got a full-rate update) and
    # an epoch end detected by samples (seen - epoch_start >= N), which never fires once that batch is dropped.
    X, y = problem64  # N = 200, B = 64: passes of 64, 64, 64 and 8
    kept = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(64, 0.05), epochs=2, eval_every=128)
    dropped = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(64, 0.05), epochs=2, eval_every=128,
                       drop_last=True)
    assert np.diff(np.r_[0, kept.steps["samples"]]).tolist() == [64, 64, 64, 8] * 2 and not kept.drop_last
    assert set(np.diff(np.r_[0, dropped.steps["samples"]]).tolist()) == {64} and dropped.drop_last
    # 2 epochs are 400 samples; passes are 192: the run ends after the update that crosses 400
    assert dropped.samples == 448 and dropped.stop_reason == "epochs"
    # the grid every 128 samples from the start, every pass end (192, 384) and the last update
    assert dropped.evals["samples"].tolist() == [0, 128, 192, 256, 384, 448]
    np.testing.assert_allclose(dropped.evals["epoch"], dropped.evals["samples"] / N)  # an epoch is N samples


def test_drop_last_keeps_a_large_batch_from_stepping_on_a_few_samples():
    # B = 999 of N = 1000 at batch GD's rate: every epoch ends with a full-rate step on one sample
    prob = gd.make_problem("linear")
    runs = {drop: gd.train(prob.model_fn(0), prob.loss_fn, prob.train, gd.MiniBatch(999, 0.5), epochs=5,
                           drop_last=drop) for drop in (False, True)}
    kept, dropped = (runs[drop].final_loss - prob.f_star for drop in (False, True))
    assert kept > 0.1 and dropped < 1e-4  # the 1-sample steps throw batch GD's progress away


@pytest.mark.parametrize("drop_last", [False, True])
def test_a_samples_budget_ends_after_the_update_that_crosses_it(problem64, drop_last):
    # samples_at_stop() is what the command line's note promises: it must match what train() does
    from tinygrad_mb.gd.trainer import samples_at_stop

    X, y = problem64
    for b, budget in [(64, 250), (64, 400), (7, 300), (200, 250), (1, 33), (64, 192)]:
        h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(b, 0.01), samples=budget, drop_last=drop_last)
        assert h.samples == samples_at_stop(N, b, budget, drop_last) >= budget, (b, budget)
        assert h.samples - budget < b


def test_stop_loss_and_reach(problem64):
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Batch(0.3), epochs=100, stop_loss=0.5)
    assert h.stop_reason == "stop_loss" and h.final_loss <= 0.5 < h.evals["train_loss"][-2]
    hit = h.reach(0.5)
    assert hit["update"] == h.updates and hit["samples"] == h.samples


def test_evaluation_time_is_not_counted(problem64):
    X, y = problem64

    def slow_metric(out, target):
        time.sleep(0.02)
        return 0.0

    start = time.perf_counter()
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Batch(0.1), epochs=10, metrics={"slow": slow_metric})
    total = time.perf_counter() - start
    assert total > 11 * 0.02 and h.wall_time < 0.1 * total
    assert h.evals["time"][0] == 0.0 and np.all(np.diff(h.evals["time"]) >= 0)


def test_setting_up_the_blas_threads_is_not_counted_as_training(problem64, monkeypatch):
    # The trainer sets the BLAS thread count after the first evaluation (importing
    # threadpoolctl the first time): setup, which must not land in update 1's time.
    import contextlib

    from tinygrad_mb import backend

    @contextlib.contextmanager
    def slow_setup(n):
        time.sleep(0.2)
        yield

    monkeypatch.setattr(backend, "blas_threads", slow_setup)
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Stochastic(0.01), updates=5)
    assert h.steps["time"][0] < 0.1 and h.wall_time < 0.1


def test_same_seed_same_history_other_seed_other_order(problem64):
    X, y = problem64

    def run(seed):
        return gd.train(linear64(0), nn.MSELoss(), (X, y), gd.MiniBatch(16, 0.05), epochs=2, seed=seed)

    a, b, c = run(3), run(3), run(4)
    for key in ("loss", "grad_norm", "samples"):
        np.testing.assert_array_equal(a.steps[key], b.steps[key])
    np.testing.assert_array_equal(a.evals["train_loss"], b.evals["train_loss"])
    assert not np.array_equal(a.steps["loss"], c.steps["loss"])


def test_divergence_stops_the_run_at_its_update(problem64):
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Batch(1e200), epochs=1000)  # overflows to inf at once
    assert h.diverged and h.stop_reason == "diverged"
    assert not math.isfinite(h.diverged_loss)
    assert h.diverged_at == h.updates + 1  # stopped before stepping on the non-finite loss
    assert np.all(np.isfinite(h.steps["loss"])) and np.all(np.isfinite(h.evals["train_loss"]))
    assert h.updates < 1000


def test_schedule_and_optimizer_choice(problem64):
    X, y = problem64
    v = gd.MiniBatch(50, 0.1, schedule=lambda opt: optim.StepLR(opt, step_size=1, gamma=0.5))
    h = gd.train(linear64(), nn.MSELoss(), (X, y), v, epochs=3)
    assert list(np.unique(h.steps["lr"])) == [0.025, 0.05, 0.1]  # halved after every epoch
    for opt in ("momentum", "nesterov", "adam", "rmsprop", "adagrad"):
        h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(50, 0.01, optimizer=opt), epochs=2)
        assert h.final_loss < h.initial_loss


def test_classification_records_accuracy_and_test_metrics():
    moons = data.two_moons(300, seed=0)
    train, test = moons.split(0.25, seed=0)
    model = gd.make_model("mlp", 2, 2, seed=0)
    h = gd.train(model, nn.CrossEntropyLoss(), train, gd.MiniBatch(16, 0.3), epochs=3, test_dataset=test)
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        assert key in h.evals and len(h.evals[key]) == len(h.evals["update"])
    assert h.evals["train_accuracy"][-1] > 0.75


def test_bad_inputs_are_rejected_before_training(problem64):
    X, y = problem64
    model = linear64()
    before = weights(model)
    with pytest.raises(HyperparameterError):
        gd.train(model, nn.MSELoss(), (X, y), "sgd")
    with pytest.raises(HyperparameterError):
        gd.train(model, nn.MSELoss(), (X, y), gd.Batch(0.1), eval_every=0)
    with pytest.raises(HyperparameterError, match=r"loss_fn is the class MSELoss; pass an instance, MSELoss\(\)"):
        gd.train(model, nn.MSELoss, (X, y), gd.Batch(0.1))
    with pytest.raises(HyperparameterError, match="loss_fn must be callable"):
        gd.train(model, "mse", (X, y), gd.Batch(0.1))
    with pytest.raises(HyperparameterError, match="model must be an nn.Module instance.*got a function"):
        gd.train(lambda x: x, nn.MSELoss(), (X, y), gd.Batch(0.1))
    with pytest.raises(HyperparameterError, match="got the class Linear"):
        gd.train(nn.Linear, nn.MSELoss(), (X, y), gd.Batch(0.1))
    for a, b in zip(before, weights(model)):
        np.testing.assert_array_equal(a, b)


def test_a_finite_but_exploding_loss_counts_as_diverged():
    from tinygrad_mb import data
    from tinygrad_mb.gd.trainer import BLOWUP_FACTOR

    ds = data.linear_regression(n=256, d=8, noise=0.5, seed=0)
    h = gd.train(nn.Linear(8, 1, seed=0), nn.MSELoss(), ds, gd.Batch(1.6), epochs=40)
    assert h.diverged and h.stop_reason == "diverged"
    assert np.isfinite(h.diverged_loss) and h.diverged_loss > BLOWUP_FACTOR * h.initial_loss
    assert h.updates == h.diverged_at - 1 < 40


def test_a_blown_up_evaluation_is_kept_as_the_runs_last_point():
    # catches: the finite, blown-up loss that stopped the run dropped from the evals, so the final
    # loss, the CSV and the curve ended one evaluation before the updates the run had made
    from tinygrad_mb import data

    ds = data.linear_regression(n=256, d=8, noise=0.5, seed=0)
    h = gd.train(nn.Linear(8, 1, seed=0), nn.MSELoss(), ds, gd.Batch(1.6), epochs=40)
    assert h.diverged and np.isfinite(h.diverged_loss)
    assert h.evals["update"][-1] == h.updates and h.evals["samples"][-1] == h.samples == h.diverged_samples
    assert h.final_loss == h.evals["train_loss"][-1] == h.diverged_loss
    assert h.evals["time"][-1] == h.diverged_time  # the ✕ stands on the curve's last point
    assert repr(h).endswith(f"diverged after update {h.updates})")


def test_a_schedule_can_step_after_every_update(problem64):
    X, y = problem64
    v = gd.MiniBatch(50, 0.1, schedule=lambda opt: optim.StepLR(opt, step_size=1, gamma=0.5), schedule_unit="update")
    h = gd.train(linear64(), nn.MSELoss(), (X, y), v, updates=3, eval_every=50)
    np.testing.assert_allclose(h.steps["lr"], [0.1, 0.05, 0.025])  # halved after every update, not every epoch
    # An evaluation's lr is the rate of the update just made (the scheduler used to step before it): as per epoch.
    np.testing.assert_allclose(h.evals["lr"], [0.1, 0.1, 0.05, 0.025])
    per_epoch = gd.MiniBatch(50, 0.1, schedule=lambda opt: optim.StepLR(opt, step_size=1, gamma=0.5))
    h = gd.train(linear64(), nn.MSELoss(), (X, y), per_epoch, epochs=2, eval_every=len(X))
    np.testing.assert_allclose(h.evals["lr"], [0.1, 0.1, 0.05])


def test_optimizer_presets_are_what_their_names_say():
    params = list(linear64().parameters())
    momentum = gd.trainer.make_optimizer(gd.MiniBatch(50, 0.01, optimizer="momentum"), params)
    nesterov = gd.trainer.make_optimizer(gd.MiniBatch(50, 0.01, optimizer="nesterov"), params)
    assert isinstance(momentum, optim.SGD) and momentum.momentum == 0.9 and not momentum.nesterov
    assert isinstance(nesterov, optim.SGD) and nesterov.momentum == 0.9 and nesterov.nesterov
    assert isinstance(gd.trainer.make_optimizer(gd.MiniBatch(50, 0.01, optimizer="adam"), params), optim.Adam)
    assert isinstance(gd.trainer.make_optimizer(gd.MiniBatch(50, 0.01, optimizer="rmsprop"), params), optim.RMSprop)
    assert isinstance(gd.trainer.make_optimizer(gd.MiniBatch(50, 0.01, optimizer="adagrad"), params), optim.Adagrad)
    plain = gd.trainer.make_optimizer(gd.MiniBatch(50, 0.01), params)
    assert isinstance(plain, optim.SGD) and plain.momentum == 0 and plain.lr == 0.01


def test_a_mini_batch_loss_that_overflows_marks_the_update_that_met_it(problem64):
    X, y = (a.astype(np.float32) for a in problem64)
    # float32 and lr = 1e20: the first step is finite, the next batch's loss overflows to inf.
    # One evaluation per epoch, so it is the mini-batch loss, not an evaluation, that sees it.
    h = gd.train(nn.Linear(D, 1, seed=0), nn.MSELoss(), (X, y), gd.MiniBatch(10, 1e20), epochs=2, eval_every=N)
    assert h.diverged and len(h.steps["update"]) == 1  # update 1 was taken ...
    assert h.diverged_at == 2 and not math.isfinite(h.diverged_loss)  # ... update 2 met the overflow


def test_batch_gd_is_the_plain_full_gradient_loop_bit_for_bit(problem64):
    X, y = problem64  # batch GD uses the data in its order: no shuffling, so no reordered sums
    by_library, by_hand = linear64(), linear64()
    gd.train(by_library, nn.MSELoss(), (X, y), gd.Batch(0.1), updates=3)
    opt = optim.SGD(by_hand.parameters(), lr=0.1)
    for _ in range(3):
        loss = nn.MSELoss()(by_hand(tg_tensor(X)), tg_tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b in zip(weights(by_library), weights(by_hand)):
        np.testing.assert_array_equal(a, b)


def tg_tensor(a):
    from tinygrad_mb import Tensor

    return Tensor(a)


@pytest.mark.parametrize("variant", [gd.Batch(1.5), gd.MiniBatch(100, 5.0)])
def test_a_divergence_stands_at_the_same_place_on_every_axis(variant):
    # Found at an evaluation (the loss of the weights after update k blown up or not finite) or
    # inside a step: either way the run stops after update k, and update k + 1 is not taken.
    prob = gd.make_problem("linear")
    h = gd.train(prob.model_fn(0), prob.loss_fn, prob.train, variant, epochs=50)
    assert h.diverged and h.diverged_at == h.updates + 1
    assert h.diverged_samples == h.samples == h.updates * h.batch_size  # full batches: no partial epoch here


def test_a_nan_mini_batch_loss_stops_the_run_before_stepping_on_it(problem64):
    # catches: only an infinite loss checked, so a NaN one is stepped on and the weights turn NaN
    X, y = problem64
    calls = itertools.count(1)

    def nan_at_update_3(out, target):
        loss = nn.MSELoss()(out, target)
        return loss * math.nan if target.shape[0] < N and next(calls) == 3 else loss

    model = linear64()
    h = gd.train(model, nan_at_update_3, (X, y), gd.MiniBatch(10, 0.01), epochs=1)
    assert h.diverged and h.diverged_at == 3 and h.updates == 2 and math.isnan(h.diverged_loss)
    if get_backend() == "numpy":  # on a GPU the loss is read back every 64 updates (see train), so
        assert all(np.all(np.isfinite(w)) for w in weights(model))  # a step on it may already be taken


def test_a_divergence_on_the_short_last_batch_stops_where_the_samples_were_seen(problem64):
    # catches: the update that was not taken counted as seen (192 + 8, or 192 + 64, samples)
    X, y = problem64  # N = 200: batches of 64, 64, 64 and 8

    def nan_on_the_short_batch(out, target):
        loss = nn.MSELoss()(out, target)
        return loss * math.nan if target.shape[0] == 8 else loss

    h = gd.train(linear64(), nan_on_the_short_batch, (X, y), gd.MiniBatch(64, 0.01), epochs=2)
    assert (h.updates, h.diverged_at, h.diverged_samples) == (3, 4, 192)
    # the same when an evaluation finds it: the full-data loss after update 3 (192 samples) is NaN
    evaluations = itertools.count(1)

    def nan_at_the_4th_evaluation(out, target):
        loss = nn.MSELoss()(out, target)
        return loss * math.nan if target.shape[0] == N and next(evaluations) == 4 else loss

    h = gd.train(linear64(), nan_at_the_4th_evaluation, (X, y), gd.MiniBatch(64, 0.01), epochs=2, eval_every=64)
    assert (h.updates, h.diverged_at, h.diverged_samples) == (3, 4, 192)
    # the NaN evaluation is left out (no curve can show it): the last one kept is after update 2
    assert list(h.evals["update"]) == [0, 1, 2] and math.isnan(h.diverged_loss)


def test_a_seconds_budget_stops_at_the_first_update_past_it(problem64):
    # catches: the budget checked against a later time, so the run goes on past it
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Stochastic(0.01), seconds=0.1, epochs=1e6)
    assert h.stop_reason == "seconds" and h.steps["time"][-2] < 0.1 <= h.steps["time"][-1]


def test_evaluations_record_fractional_epochs_and_the_scheduled_rate(problem64):
    # catches: the eval table's epoch rounded to whole epochs, its lr frozen at the variant's rate
    X, y = problem64
    v = gd.MiniBatch(50, 0.1, schedule=lambda opt: optim.StepLR(opt, step_size=1, gamma=0.5))
    h = gd.train(linear64(), nn.MSELoss(), (X, y), v, epochs=3, eval_every=50)
    np.testing.assert_allclose(h.evals["epoch"], h.evals["samples"] / N)
    assert 0 < h.evals["epoch"][1] < 1
    assert list(np.unique(h.evals["lr"])) == [0.025, 0.05, 0.1]


def test_the_callback_gets_every_evaluation(problem64):
    # catches: the callback's dict mislabelled (e.g. the update count passed as samples)
    X, y = problem64
    got = []
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(20, 0.05), epochs=1, eval_every=40,
                 callback=got.append)
    for key in ("update", "samples", "train_loss"):
        assert [r[key] for r in got] == list(h.evals[key])
    assert got[0]["variant"] == "minibatch (B=20, lr=0.05)"


def test_the_rate_of_an_optimizer_that_keeps_it_in_param_groups_is_recorded(problem64):
    # catches: optimizer_lr() ignoring param_groups (a factory's optimizer without .lr): lr recorded as NaN
    X, y = problem64

    class Grouped:
        def __init__(self, params, lr):
            self._sgd, self.param_groups = optim.SGD(params, lr=lr), [{"lr": lr}]

        def zero_grad(self):
            self._sgd.zero_grad()

        def step(self):
            self._sgd.step()

    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(50, 0.1, optimizer=Grouped), updates=3)
    assert np.all(h.steps["lr"] == 0.1) and np.all(h.evals["lr"] == 0.1)


def test_the_full_loss_is_exact_when_evaluated_in_unequal_chunks(problem64, monkeypatch):
    # catches: chunk losses averaged without weighting by their sizes (64, 64, 64 and 8 samples here)
    from tinygrad_mb.gd import evaluation

    monkeypatch.setattr(evaluation, "EVAL_CHUNK", 64)
    X, y = problem64
    model = linear64()
    h = gd.train(model, nn.MSELoss(), (X, y), gd.Batch(0.1), updates=1)
    w, b = weights(model)
    assert h.final_loss == pytest.approx(np.mean((X @ w.T + b - y) ** 2), rel=1e-12)


def test_flush_marks_the_first_non_finite_loss_and_drops_what_follows():
    # catches (the GPU path, where losses are read back in bulk): a NaN missed, or the rows after it kept
    h = gd.History(gd.MiniBatch(10, 0.1), seed=0, n_train=100, batch_size=10)
    for k, loss in enumerate([1.0, 0.5, math.nan, 2.0], start=1):
        h.add_step(k, 10 * k, 0.1 * k, np.float64(loss), np.float64(1.0), 0.1)
    assert not h.flush()
    # the NaN was met by update 3, at the weights after update 2 (20 samples seen): the run stops there
    assert (h.diverged_at, h.diverged_samples, h.diverged_time) == (3, 20, 0.2) and math.isnan(h.diverged_loss)
    h.finish("diverged")
    assert list(h.steps["update"]) == [1, 2] and list(h.steps["loss"]) == [1.0, 0.5]


def test_the_test_loss_is_measured_on_the_test_data(problem64):
    # catches: the test set's loader built on the training data (the test loss is then the training loss)
    X, y = problem64
    model = linear64()
    w, b = weights(model)
    h = gd.train(model, nn.MSELoss(), (X[:150], y[:150]), gd.Batch(0.1), updates=1, test_dataset=(X[150:], y[150:]))
    assert h.evals["test_loss"][0] == pytest.approx(np.mean((X[150:] @ w.T + b - y[150:]) ** 2), rel=1e-12)


# --- found by mutation testing of gd/trainer.py ------------------------------------------------------------------


def test_the_stopwatch_counts_running_time_only():
    # catches: elapsed() while paused (or while running after a pause) not the seconds counted so far
    from tinygrad_mb.gd.trainer import Stopwatch

    sw = Stopwatch()
    assert sw.elapsed() == 0.0
    sw.start()
    time.sleep(0.02)
    counted = sw.pause()
    assert counted >= 0.02 and sw.elapsed() == counted
    time.sleep(0.02)
    assert sw.elapsed() == counted  # paused: nothing more counted
    sw.start()
    time.sleep(0.02)
    assert sw.elapsed() >= counted + 0.02


def test_step_times_never_go_back_across_an_evaluation(problem64):
    # catches: the running time after a pause computed as total - (now - since)
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Stochastic(0.01), epochs=2, eval_every=N)
    assert list(h.evals["samples"]) == [0, N, 2 * N]  # 200 updates between evaluations
    assert h.steps["time"][0] >= 0 and np.all(np.diff(h.steps["time"]) >= 0)


@pytest.mark.parametrize("key", ["epochs", "updates", "samples", "seconds"])
@pytest.mark.parametrize("bad", [True, math.inf, math.nan, "10"])
def test_a_budget_that_is_not_a_finite_positive_number_is_rejected(problem64, key, bad):
    X, y = problem64
    with pytest.raises(HyperparameterError, match=f"budget {key}=.* must be a finite number > 0"):
        gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(10, 0.05), **{key: bad})


def test_samples_at_stop_keeps_the_short_batch_by_default():
    from tinygrad_mb.gd.trainer import samples_at_stop

    # N = 200, B = 64: passes of 200 samples (64, 64, 64, 8), or of 192 with drop_last
    assert samples_at_stop(200, 64, 400) == 400 == samples_at_stop(200, 64, 400, drop_last=False)
    assert samples_at_stop(200, 64, 400, drop_last=True) == 448


def test_the_default_grid_is_about_20_points_an_epoch_on_the_mini_batch_sizes(problem64):
    from tinygrad_mb.gd.trainer import default_eval_every

    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(10, 0.05), epochs=1)
    assert h.eval_every == 10 and list(h.evals["samples"]) == list(range(0, N + 1, 10))
    assert default_eval_every(N, [8, N]) == 8  # the full batch does not enter the multiple
    assert default_eval_every(N, [3, 7]) == 21 and default_eval_every(N, [64, 96]) == 192


def test_the_grid_check_ignores_full_batch_and_leaves_wrong_types_to_train(problem64):
    from tinygrad_mb.gd.trainer import check_eval_grid

    assert check_eval_grid(40, N, [8, N]) is None  # 40 is a multiple of 8; B = N lands on every epoch end
    for not_a_count in (True, "10", 2.5):
        assert check_eval_grid(not_a_count, N, [8]) is None
    with pytest.raises(HyperparameterError, match=r"every batch size \[8\], .* use a multiple of 8, e\.g\. 16,"):
        check_eval_grid(12, N, [8, N])
    with pytest.raises(HyperparameterError, match=r"use 200 \(N\), or leave it"):
        check_eval_grid(40, N, [8, 25])  # lcm 200: only epoch ends are shared
    X, y = problem64
    with pytest.raises(HyperparameterError, match="eval_every must be a positive number of samples"):
        gd.compare(lambda seed: linear64(seed), nn.MSELoss(), (X, y), [gd.MiniBatch(8, 0.05)], updates=1,
                   eval_every=True, progress=False)


def test_a_model_that_is_not_callable_gets_the_wrap_it_hint(problem64):
    X, y = problem64
    with pytest.raises(HyperparameterError, match="got a str; wrap a function in a Module subclass"):
        gd.train("linear", nn.MSELoss(), (X, y), gd.Batch(0.1))


def test_the_default_seed_is_0(problem64):
    X, y = problem64

    def run(**kw):
        return gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(16, 0.05), epochs=1, **kw)

    default, zero, one = run(), run(seed=0), run(seed=1)
    assert default.seed == 0
    np.testing.assert_array_equal(default.steps["loss"], zero.steps["loss"])
    assert not np.array_equal(default.steps["loss"], one.steps["loss"])


def test_parameters_are_recorded_only_when_asked_one_row_per_update(problem64):
    X, y = problem64
    assert gd.train(linear64(), nn.MSELoss(), (X, y), gd.Batch(0.3), updates=3).params is None
    model = linear64()
    start = np.concatenate([w.ravel() for w in weights(model)])
    h = gd.train(model, nn.MSELoss(), (X, y), gd.Batch(0.3), updates=3, record_params=True)
    assert h.params.shape == (4, D + 1)
    np.testing.assert_array_equal(h.params[0], start)
    np.testing.assert_array_equal(h.params[-1], np.concatenate([w.ravel() for w in weights(model)]))


def test_a_model_with_a_single_parameter_trains(problem64):
    # catches: the backend or dtype read from the model's second parameter
    X, y = problem64
    model = nn.Linear(D, 1, bias=False, seed=0, dtype="float64")
    w = model.weight.numpy().ravel().copy()
    h = gd.train(model, nn.MSELoss(), (X, y), gd.Batch(0.1), updates=3)
    for _ in range(3):
        w = w - 0.1 * 2 / N * X.T @ (X @ w - y[:, 0])
    np.testing.assert_allclose(model.weight.numpy().ravel(), w, rtol=1e-12)
    assert h.dtype == "float64" and h.updates == 3


def test_a_single_sample_is_a_dataset(problem64):
    X, y = problem64
    model = linear64()
    h = gd.train(model, nn.MSELoss(), (X[:1], y[:1]), gd.Batch(0.1), updates=2, test_dataset=(X[1:2], y[1:2]))
    assert h.updates == 2 and h.samples == 2 and list(h.evals["samples"]) == [0, 1, 2]
    w, b = weights(model)
    assert h.evals["test_loss"][-1] == pytest.approx(((X[1] @ w.T + b - y[1]) ** 2).item(), rel=1e-12)


def test_eval_every_must_be_a_whole_number_of_samples_and_1_is_one(problem64):
    X, y = problem64
    for bad in (True, 2.5, 0):
        with pytest.raises(HyperparameterError, match="eval_every must be a positive number of samples"):
            gd.train(linear64(), nn.MSELoss(), (X, y), gd.Stochastic(0.01), updates=3, eval_every=bad)
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Stochastic(0.01), updates=3, eval_every=1)
    assert list(h.evals["samples"]) == [0, 1, 2, 3]


def test_a_blow_up_after_the_first_update_stops_the_run_there(problem64):
    # catches: update 1's evaluation exempt from the blow-up check (only the starting one is)
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Batch(1e4), epochs=50)
    assert h.diverged and np.isfinite(h.diverged_loss) and h.diverged_loss > 1e6 * h.initial_loss
    assert (h.updates, h.diverged_at) == (1, 2)


def test_with_drop_last_an_eval_every_of_n_means_pass_ends_only(problem64):
    # catches: eval_every == N treated as a grid from the start (at 200, 400 samples: evaluated after 256)
    X, y = problem64  # passes of 192 samples (3 batches of 64)
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(64, 0.05), epochs=2, eval_every=N, drop_last=True)
    assert list(h.evals["samples"]) == [0, 192, 384, 448]


def test_an_overshot_grid_point_does_not_shift_the_grid(problem64):
    # B = 30 does not divide eval_every = 40 (train allows it; compare does not): the points stay at 40, 80, 120, ..
    X, y = problem64
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(30, 0.05), epochs=1, eval_every=40)
    assert list(h.evals["samples"]) == [0, 60, 90, 120, 180, 200]


def test_the_stop_reason_names_the_budget_that_ran_out_first(problem64):
    # catches: samples compared with epochs / N, and a tie (samples = epochs * N) not reported as samples
    X, y = problem64
    for budgets, reason, seen in [({"samples": 250, "epochs": 5}, "samples", 250),
                                  ({"samples": 1000, "epochs": 1}, "epochs", N),
                                  ({"samples": 2 * N, "epochs": 2}, "samples", 2 * N)]:
        h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(10, 0.05), **budgets)
        assert (h.stop_reason, h.samples) == (reason, seen), budgets


def test_stop_loss_stops_at_a_loss_equal_to_it(problem64):
    X, y = problem64
    free = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Batch(0.1), updates=6)
    target = float(free.evals["train_loss"][3])  # batch GD is deterministic: the same loss after update 3
    h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.Batch(0.1), updates=6, stop_loss=target)
    assert h.stop_reason == "stop_loss" and h.updates == 3 and h.final_loss == target


def test_optimizer_lr_prefers_the_optimizers_own_rate():
    from tinygrad_mb.gd.trainer import optimizer_lr

    class Both:
        lr, param_groups = 0.1, [{"lr": 0.5}]

    class GroupsOnly:
        param_groups = [{"lr": 0.5}]

    assert optimizer_lr(Both()) == 0.1 and optimizer_lr(GroupsOnly()) == 0.5 and math.isnan(optimizer_lr(object()))


def test_the_gradient_norm_of_parameters_without_gradients_is_0():
    from tinygrad_mb.gd.trainer import _grad_norm

    model = linear64()
    assert _grad_norm(list(model.parameters())) == 0.0 and _grad_norm([]) == 0.0
    model.weight.grad = model.weight.data * 0 + 2.0  # on the weight's backend, the default one
    assert float(_grad_norm(list(model.parameters()))) == pytest.approx(2.0 * math.sqrt(D), rel=1e-12)


def test_accuracy_is_recorded_for_a_subset_whatever_backend_its_labels_are_on():
    """A Subset (no .tensors) had its label read with np.asarray even when it had a dtype: refused on the GPU."""
    from tinygrad_mb.gd.evaluation import default_metrics

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 2)).astype(np.float32), np.arange(10) % 2
    part, _ = data.random_split(data.TensorDataset(X, y), [5, 5], seed=0)  # on the default backend
    assert set(default_metrics(part)) == {"accuracy"}
    model = nn.Sequential(nn.Linear(2, 2, seed=0))
    h = gd.train(model, nn.CrossEntropyLoss(), part, gd.MiniBatch(5, 0.1), epochs=1)
    assert "train_accuracy" in h.evals


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (7, False), (7, True), (50, False), (64, True)])
def test_updates_at_stop_counts_what_a_run_with_that_samples_budget_makes(problem64, batch_size, drop_last):
    """The CLI's overshoot note decides with it whether --updates stops a run before its samples budget."""
    X, y = problem64
    for budget in (1, len(X) // 2 + 3, 2 * len(X) + 5):
        h = gd.train(linear64(), nn.MSELoss(), (X, y), gd.MiniBatch(batch_size, 0.01), samples=budget,
                     drop_last=drop_last)
        assert h.updates == gd.trainer.updates_at_stop(len(X), batch_size, budget, drop_last)
        assert h.samples == gd.trainer.samples_at_stop(len(X), batch_size, budget, drop_last)
