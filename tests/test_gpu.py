"""The CuPy backend for real: NumPy/CuPy parity, and data staying on the GPU during training.

Everything marked ``gpu`` here needs CuPy and an NVIDIA GPU and is skipped
(with the reason shown) elsewhere. The transfer counter itself is also tested
on any machine, with a stand-in for CuPy's array type.
"""

import types

import numpy as np
import pytest

from tinygrad_mb import backend, data, gd, nn

class _FakeDeviceArray(np.ndarray):
    """Plays cupy.ndarray so the transfer counter can be tested without a GPU."""


def test_transfer_counter_counts_real_copies_only(monkeypatch):
    fake = types.SimpleNamespace(
        ndarray=_FakeDeviceArray,
        asarray=lambda a: np.asarray(a).view(_FakeDeviceArray),
        asnumpy=lambda a: np.asarray(a).view(np.ndarray),
    )
    monkeypatch.setattr(backend, "_cupy", fake)
    with backend.count_transfers() as counts:
        on_device = backend.to_backend(np.ones(3), "cupy")  # host -> device
        backend.to_backend(on_device, "cupy")  # already there: no copy
        backend.to_numpy(on_device)  # device -> host
        backend.to_numpy(np.ones(2))  # already on the host: no copy
    assert counts == {"host_to_device": 1, "device_to_host": 1}


def _linear_problem():
    ds = data.linear_regression(n=512, d=8, noise=0.5, seed=0)
    return ds, nn.MSELoss()


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available(), reason="CuPy backend not usable here")
def test_same_seed_gives_the_same_initial_weights_on_both_backends():
    cpu, gpu = nn.Linear(8, 4, seed=3, backend="numpy"), nn.Linear(8, 4, seed=3, backend="cupy")
    assert gpu.weight.backend == "cupy"
    for (name, a), (_, b) in zip(cpu.state_dict().items(), gpu.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available(), reason="CuPy backend not usable here")
def test_compare_on_cupy_matches_numpy_within_float32_tolerance():
    ds, loss = _linear_problem()
    variants = [gd.Batch(0.1), gd.MiniBatch(32, 0.05), gd.Stochastic(0.01)]
    runs = {}
    for name in ("numpy", "cupy"):
        model = nn.Linear(8, 1, seed=0, backend=name)
        runs[name] = gd.compare(model, loss, ds, variants, epochs=2, seeds=[0], backend=name)
    for label in runs["numpy"].labels:
        cpu = runs["numpy"].histories[label][0].evals["train_loss"]
        gpu = runs["cupy"].histories[label][0].evals["train_loss"]
        assert cpu.shape == gpu.shape
        np.testing.assert_allclose(gpu, cpu, rtol=2e-4, atol=1e-6, err_msg=label)


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available(), reason="CuPy backend not usable here")
def test_minibatch_training_copies_nothing_per_batch():
    """Host->GPU copies do not grow with the number of batches; GPU->host reads happen at evaluations."""
    ds, loss = _linear_problem()
    counts, evaluations = {}, {}
    for epochs in (1, 4):
        model = nn.Linear(8, 1, seed=0, backend="cupy")
        with backend.count_transfers() as c:
            history = gd.train(model, loss, ds, gd.MiniBatch(16, 0.05), epochs=epochs, eval_every=512,
                               seed=0, backend="cupy")
        counts[epochs], evaluations[epochs] = c, len(history.evals["train_loss"])
    updates_more = 3 * 512 // 16  # the 4-epoch run made 96 more updates
    assert counts[4]["host_to_device"] - counts[1]["host_to_device"] <= 3 * 2  # at most a permutation per epoch
    reads_more = counts[4]["device_to_host"] - counts[1]["device_to_host"]
    assert reads_more <= 4 * (evaluations[4] - evaluations[1]) + updates_more // 64 + 2


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available(), reason="CuPy backend not usable here")
def test_noise_and_sweep_move_a_numpy_model_to_the_requested_backend():
    ds, loss = _linear_problem()
    on_host = {name: nn.Linear(8, 1, seed=0) for name in ("numpy", "cupy")}
    noise = {name: gd.gradient_noise(model, loss, ds, batch_sizes=[1, 16], draws=20, seed=0, backend=name)
             for name, model in on_host.items()}
    assert on_host["cupy"].weight.backend == "cupy"  # moved, as train() moves it
    np.testing.assert_allclose(noise["cupy"].measured, noise["numpy"].measured, rtol=1e-3)
    result = gd.sweep(nn.Linear(8, 1, seed=0), loss, ds, batch_sizes=[8, 64], lrs=[0.05, 0.2], epochs=2,
                      backend="cupy")
    assert len(result.steps_to_target) == 2


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available(), reason="CuPy backend not usable here")
def test_an_integer_array_index_out_of_range_raises_on_the_gpu_too():
    """CuPy wraps x[[5]] of a 3-element array around to x[2]; NumPy raises. The engine checks it outside loops."""
    import tinygrad_mb as tg

    x = tg.Tensor(np.arange(6.0).reshape(3, 2), backend="cupy")
    for index in (np.array([0, 5]), [4], (slice(None), np.array([-3]))):
        with pytest.raises(IndexError, match="CuPy would wrap it around"):
            x[index]
    assert x[np.array([-3, 2])].tolist() == [[0.0, 1.0], [4.0, 5.0]]  # in range, negatives included
    with backend.skip_sync_checks():  # inside a training loop: no read-back (CuPy's own behaviour then)
        x[np.array([0, 1])]
