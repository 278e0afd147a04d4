"""Mistakes students make writing a training loop: each gets an error that names the problem and the fix.

One test per mistake that used to give a raw Python/NumPy error, an error far from the mistake, a
misleading hint, or a silently wrong result.
"""

import numpy as np
import pytest

import tinygrad_mb as tg
import tinygrad_mb.nn.functional as F
from tinygrad_mb import data, gd, nn
from tinygrad_mb.errors import DataError, HyperparameterError, LabelError, LossInputWarning, ShapeError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((20, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64)
IMAGES = RNG.standard_normal((8, 1, 8, 8)).astype(np.float32)


def linear_factory(seed):
    return nn.Linear(4, 2, seed=seed)


# --- feeding the model ----------------------------------------------------------------------
def test_linear_on_unflattened_images_says_flatten():
    with pytest.raises(ShapeError, match=r"not flattened.*nn\.Flatten\(\).*x\.reshape\(8, -1\)"):
        nn.Linear(64, 10, seed=0)(tg.Tensor(IMAGES))


def test_linear_after_conv_without_flatten_says_flatten():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, seed=0), nn.ReLU(), nn.Linear(72, 10, seed=0))
    with pytest.raises(ShapeError, match=r"not flattened.*nn\.Flatten\(\)"):
        model(tg.Tensor(IMAGES))


def test_linear_wrong_width_names_the_in_features_to_use():
    with pytest.raises(ShapeError, match=r"6 features.*expects 4.*in_features=6 \(nn\.Linear\(6, 3\)\)"):
        nn.Linear(4, 3, seed=0)(tg.Tensor(np.zeros((5, 6), np.float32)))


def test_conv2d_on_flattened_images_says_how_to_reshape_the_batch():
    with pytest.raises(ShapeError, match=r"got shape \(8, 64\).*x\.reshape\(8, 1, 8, 8\)"):
        nn.Conv2d(1, 4, 3, seed=0)(tg.Tensor(IMAGES.reshape(8, 64)))


def test_conv2d_on_channels_last_images_says_transpose():
    with pytest.raises(ShapeError, match=r"channels look last.*x\.transpose\(0, 3, 1, 2\)"):
        nn.Conv2d(1, 4, 3, seed=0)(tg.Tensor(IMAGES.transpose(0, 2, 3, 1)))


def test_conv2d_on_grey_images_without_channel_axis_says_add_it():
    with pytest.raises(ShapeError, match=r"8 grey images add the channel axis: x\.reshape\(8, 1, 8, 8\)"):
        nn.Conv2d(1, 4, 3, seed=0)(tg.Tensor(IMAGES[:, 0]))


def test_numpy_array_into_dropout_first_model_works_like_linear_first():
    # Linear, Conv2d and the activations took arrays; a Dropout in front raised an AttributeError.
    model = nn.Sequential(nn.Dropout(0.5, seed=0), nn.Linear(4, 2, seed=0)).eval()
    np.testing.assert_array_equal(model(X).numpy(), model(tg.Tensor(X)).numpy())
    out = F.dropout(X.tolist(), 0.5, training=True, seed=0)
    assert isinstance(out, tg.Tensor) and out.shape == X.shape


def test_numpy_array_into_batchnorm_works():
    bn = nn.BatchNorm1d(4)
    np.testing.assert_allclose(bn(X).numpy(), nn.BatchNorm1d(4)(tg.Tensor(X)).numpy())
    assert F.batch_norm(X, None, None, training=True).shape == X.shape


def test_sequential_of_a_list_says_unpack_it():
    with pytest.raises(TypeError, match=r"not a list: Sequential\(\*layers\)"):
        nn.Sequential([nn.Linear(4, 2, seed=0), nn.ReLU()])


def test_sequential_with_a_layer_class_says_call_it():
    with pytest.raises(TypeError, match=r"ReLU is a layer class, not a layer: call it, ReLU\(\)"):
        nn.Sequential(nn.Linear(4, 2, seed=0), nn.ReLU)


# --- losses ------------------------------------------------------------------------------------
def test_binary_cross_entropy_on_probabilities_points_to_the_logits_version():
    with pytest.raises(AttributeError, match=r"drop the sigmoid.*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy  # noqa: B018
    with pytest.raises(AttributeError, match=r"drop the nn\.Sigmoid\(\).*nn\.BCEWithLogitsLoss\(\)"):
        nn.BCELoss  # noqa: B018
    assert not hasattr(F, "no_such_function") and not hasattr(nn, "NoSuchLayer")


def test_a_model_ending_in_softmax_trained_with_cross_entropy_is_warned_at_the_users_line():
    model = nn.Sequential(nn.Linear(4, 2, seed=0), nn.Softmax(dim=1))
    loss_fn = nn.CrossEntropyLoss()
    with pytest.warns(LossInputWarning, match=r"cross_entropy got the output of softmax.*drop the softmax") as seen:
        loss_fn(model(X), Y)
    assert [w.filename for w in seen] == [__file__]  # the user's line, not one inside the library
    with pytest.warns(LossInputWarning, match=r"nll_loss got the output of softmax.*use log_softmax"):
        F.nll_loss(F.softmax(model[0](X), dim=1), Y)
    with pytest.warns(LossInputWarning, match=r"with_logits got the output of sigmoid.*drop the sigmoid"):
        F.binary_cross_entropy_with_logits(F.sigmoid(model[0](X)), np.ones((20, 2), np.float32))


def test_the_right_loss_inputs_get_no_warning(recwarn):
    logits = nn.Linear(4, 2, seed=0)(X)
    F.cross_entropy(logits, Y)
    F.cross_entropy(F.log_softmax(logits, dim=1), Y)  # log-softmax twice changes nothing: no warning
    F.nll_loss(F.log_softmax(logits, dim=1), Y)
    F.binary_cross_entropy_with_logits(logits, np.ones((20, 2), np.float32))
    F.mse_loss(F.sigmoid(logits), np.ones((20, 2), np.float32))
    assert not [w for w in recwarn if issubclass(w.category, LossInputWarning)]


@pytest.mark.parametrize("args", [(tg.Tensor(X[:, :2]), Y), (tg.Tensor(X[:, :2]),)])
def test_loss_class_called_on_the_data_says_make_it_first(args):
    with pytest.raises(HyperparameterError, match=r"CrossEntropyLoss is a class.*loss_fn = nn\.CrossEntropyLoss\(\)"):
        nn.CrossEntropyLoss(*args)


# --- data -----------------------------------------------------------------------------------------
def test_tensordataset_of_a_list_of_pairs_says_stack_the_fields():
    with pytest.raises(DataError, match=r"TensorDataset\(X, y\).*np\.stack"):
        data.TensorDataset(list(zip(X, Y)))


def test_tensordataset_of_string_labels_fails_there_not_in_the_loss():
    with pytest.raises(DataError, match=r"tensor 1 holds <U3 values.*np\.unique\(y, return_inverse=True\)"):
        data.TensorDataset(X, np.where(Y == 1, "cat", "dog"))


def test_dataloader_over_a_tuple_of_arrays_says_tensordataset():
    with pytest.raises(DataError, match=r"tuple of 2 arrays.*DataLoader\(TensorDataset\(X, y\)"):
        data.DataLoader((X, Y), batch_size=4)


def test_dataloader_over_a_bare_array_says_tensordataset():
    # It used to yield 1-tuples, which a Linear layer silently read as a (1, B, features) input.
    with pytest.raises(DataError, match=r"NumPy array of shape \(20, 4\).*TensorDataset\(X\) for inputs alone"):
        data.DataLoader(X, batch_size=4)
    assert len(data.DataLoader([(x, y) for x, y in zip(X, Y)], batch_size=4)) == 5  # samples: still a dataset


# --- gd ----------------------------------------------------------------------------------------------
def test_compare_with_a_factory_without_the_seed_says_take_it():
    with pytest.raises(HyperparameterError, match=r"factory must take the seed.*lambda seed:.*takes \(\)"):
        gd.compare(lambda: nn.Linear(4, 2, seed=0), F.cross_entropy, (X, Y), [gd.Batch(0.1)], epochs=1)


def test_compare_with_the_layer_class_says_pass_a_model_or_factory():
    with pytest.raises(HyperparameterError, match=r"class Linear.*factory seed -> model"):
        gd.compare(nn.Linear, F.cross_entropy, (X, Y), [gd.Batch(0.1)], epochs=1)


def test_compare_with_a_factory_returning_a_tuple_says_return_the_model():
    with pytest.raises(HyperparameterError, match=r"factory returned a tuple.*nn\.Module alone"):
        gd.compare(lambda seed: (linear_factory(seed), None), F.cross_entropy, (X, Y), [gd.Batch(0.1)], epochs=1)


def test_compare_with_one_variant_says_put_it_in_a_list():
    with pytest.raises(HyperparameterError, match=r"single one.*put it in a list"):
        gd.compare(linear_factory, F.cross_entropy, (X, Y), gd.Batch(0.1), epochs=1)


def test_compare_with_an_int_seed_says_use_a_list():
    with pytest.raises(HyperparameterError, match=r"seeds=\[0\]"):
        gd.compare(linear_factory, F.cross_entropy, (X, Y), [gd.Batch(0.1)], epochs=1, seeds=0)


def test_train_with_a_model_factory_says_call_it():
    with pytest.raises(HyperparameterError, match=r"got a function; if it builds the model, call it"):
        gd.train(linear_factory, F.cross_entropy, (X, Y), gd.Batch(0.1), epochs=1)


# --- the engine, ops and the training loop ------------------------------------------------------
def test_ragged_rows_and_string_arrays_are_refused_when_the_tensor_is_made():
    from tinygrad_mb.errors import DTypeError

    with pytest.raises(DTypeError, match="rows differ in length.*pad them"):
        tg.Tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(DTypeError, match="array of <U3 values.*np.unique"):
        tg.Tensor(np.array(["cat", "dog"]))
    assert tg.Tensor(np.array([1, 2], np.uint8)).dtype == np.uint8  # numbers of any kind still pass


def test_a_dtype_does_not_hide_ragged_rows_or_turn_none_and_strings_into_numbers():
    # NumPy with a dtype says "setting an array element with a sequence", makes None NaN and parses strings
    from tinygrad_mb.errors import DTypeError

    with pytest.raises(DTypeError, match="rows differ in length.*pad them"):
        tg.Tensor([[1.0, 2.0], [3.0]], dtype="float32")
    for values in ([None, 1.0], ["1", "2"]):
        with pytest.raises(DTypeError, match="give numbers"):
            tg.Tensor(values, dtype="float64")
    t = tg.Tensor([[1, 2]], dtype="float64")  # the dtype still decides for numbers
    assert t.dtype == np.float64 and t.tolist() == [[1.0, 2.0]]
    assert tg.Tensor(True, dtype="float32").item() == 1.0


def test_a_float_index_says_use_an_int():
    x = tg.Tensor([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match=r"holds a float: use int\(i\)"):
        x[1.0]
    with pytest.raises(IndexError, match=r"astype\('int64'\)"):
        x[tg.Tensor([0.0, 2.0])]
    assert x[tg.Tensor([0, 2])].tolist() == [1.0, 3.0]


def test_integer_one_hot_labels_get_the_argmax_hint_and_one_output_unit_the_two_fixes():
    logits = tg.Tensor(np.zeros((4, 3), np.float32))
    with pytest.raises(LabelError, match=r"look one-hot.*argmax\(axis=1\)"):
        F.cross_entropy(logits, np.eye(3, dtype=np.int64)[[0, 1, 2, 0]])
    one_unit = tg.Tensor(np.zeros((4, 1), np.float32))
    with pytest.raises(LabelError, match="out_features=2.*binary_cross_entropy_with_logits"):
        F.cross_entropy(one_unit, np.array([0, 1, 1, 0]))


def test_a_one_element_tensor_formats_as_its_number():
    total = 0.0
    for loss in (tg.Tensor(0.25), tg.Tensor(0.5)):
        total += loss  # a running total for logging stays a tensor
    assert f"{total:.3f}" == "0.750" and f"{tg.Tensor([2.0]):>5.1f}" == "  2.0"
    with pytest.raises(ShapeError, match=r"one element.*item\(\)"):
        f"{tg.Tensor([1.0, 2.0]):.2f}"


def test_a_loss_without_reduction_in_train_says_use_the_mean():
    prob = gd.make_problem("linear")
    with pytest.raises(HyperparameterError, match="reduction='mean'"):
        gd.train(prob.model_fn(0), nn.MSELoss(reduction="none"), prob.train, gd.Batch(0.5), epochs=1)


# --- PyTorch and NumPy habits ---------------------------------------------------------------------
def test_a_dtype_or_a_string_as_requires_grad_is_refused_not_taken_as_true():
    # Tensor(x, np.float32) (np.array's habit) and requires_grad="False" used to switch gradients on
    from tinygrad_mb.errors import ArgumentTypeError

    with pytest.raises(ArgumentTypeError, match=r"second positional argument is requires_grad.*dtype='float32'"):
        tg.Tensor([1.0, 2.0], np.float32)
    with pytest.raises(ArgumentTypeError, match=r"requires_grad=False, without quotes"):
        tg.Tensor([1.0, 2.0], requires_grad="False")
    t = tg.Tensor([1.0, 2.0])
    with pytest.raises(ArgumentTypeError, match="requires_grad must be True or False"):
        t.requires_grad = "True"
    assert not t.requires_grad and tg.Tensor([1.0], requires_grad=1).requires_grad


class _TorchName:
    """Prints like a PyTorch dtype or device (torch.float64, cuda:0); the checks read only that text."""

    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text

    __repr__ = __str__


def test_to_with_a_dtype_or_a_torch_device_names_the_fix(monkeypatch):
    from tinygrad_mb.errors import BackendError, DTypeError

    model = nn.Linear(4, 2, seed=0)
    with pytest.raises(BackendError, match=r"dtype, not a backend; pass it by keyword: model\.to\(dtype='float64'\)"):
        model.to(np.float64)
    with pytest.raises(BackendError, match=r"model\.to\(dtype='float64'\)"):
        model.to(_TorchName("torch.float64"))
    with pytest.raises(BackendError, match=r"'cuda' is a PyTorch device.*use 'cupy'"):
        model.to("cuda")
    with pytest.raises(BackendError, match=r"'cuda' is a PyTorch device.*use 'cupy'"):
        tg.Tensor([1.0], backend="cuda")
    with pytest.raises(BackendError, match=r"'gpu' is a PyTorch device.*use 'cupy'"):
        tg.set_backend("GPU")
    monkeypatch.setenv("TINYGRAD_MB_BACKEND", "cuda:0")
    with pytest.raises(BackendError, match=r"set TINYGRAD_MB_BACKEND=cupy \('cuda' is a PyTorch device\)"):
        tg.backend._backend_from_env()
    with pytest.raises(BackendError, match=r"'cuda' is a PyTorch device"):
        model.to(_TorchName("cuda:0"))  # torch.device("cuda:0")
    with pytest.raises(BackendError, match=r"t\.astype\('float32'\)"):
        tg.Tensor([1]).to("float32")
    with pytest.raises(BackendError, match=r"'cpu' is a PyTorch device.*use 'numpy'"):
        tg.Tensor([1.0]).to("cpu")
    with pytest.raises(DTypeError, match=r"torch\.float32 is not a NumPy dtype.*dtype='float32'"):
        tg.Tensor([1, 2], dtype=_TorchName("torch.float32"))
    with pytest.raises(DTypeError, match=r"dtype='int64'"):
        tg.Tensor([1.0]).astype(_TorchName("torch.int64"))
    assert model.weight.dtype == np.float32 and model.to("numpy", dtype="float64").weight.dtype == np.float64


def test_size_called_as_in_pytorch_says_shape_and_stays_numpys_int():
    t = tg.Tensor(np.zeros((3, 4), np.float32))
    assert t.size == 12 and isinstance(t.size, int) and np.zeros(t.size).shape == (12,)
    with pytest.raises(TypeError, match=r"number of elements, 12.*x\.size\(\) write x\.shape$"):
        t.size()
    with pytest.raises(TypeError, match=r"x\.size\(0\) write x\.shape\[0\]"):
        t.size(0)
    with pytest.raises(TypeError, match=r"x\.size\(1\) write x\.shape\[1\]"):
        t.size(dim=1)


def test_item_assignment_says_what_to_write():
    from tinygrad_mb.errors import ArgumentTypeError

    x = tg.Tensor(X)
    with pytest.raises(ArgumentTypeError, match=r"cannot be assigned to by index.*tg\.where\(mask, v, x\)"):
        x[0] = 5.0
    np.testing.assert_array_equal(x.numpy(), X)  # nothing was written


def test_dim_and_keepdim_keywords_say_axis_and_numpy_reductions_work():
    x = tg.Tensor(X, requires_grad=True)
    from tinygrad_mb.errors import ArgumentTypeError

    for call in (lambda: x.sum(dim=1), lambda: x.softmax(dim=1), lambda: x.argmax(dim=1),
                 lambda: tg.concatenate([x, x], dim=0)):
        with pytest.raises(ArgumentTypeError, match=r"PyTorch's name; here \(as in NumPy\) it is axis"):
            call()
    with pytest.raises(ArgumentTypeError, match=r"keepdims=True"):
        x.mean(1, keepdim=True)
    # np.mean(t) calls t.mean(axis=None, dtype=None, out=None): it used to fail inside NumPy
    m = np.mean(x)
    assert isinstance(m, tg.Tensor) and np.isclose(m.item(), X.mean()) and m.requires_grad


def test_more_pytorch_keywords_get_numpys_spelling_and_var_says_its_divisor():
    """var(dim=0), squeeze(dim=0), transpose(dim0=, dim1=) failed with Python's bare TypeError; var's differs."""
    from tinygrad_mb.errors import ArgumentTypeError

    x = tg.Tensor(X)
    for call in (lambda: x.var(dim=0), lambda: x.squeeze(dim=0), lambda: x.unsqueeze(dim=0)):
        with pytest.raises(ArgumentTypeError, match=r"PyTorch's name; here \(as in NumPy\) it is axis"):
            call()
    with pytest.raises(ArgumentTypeError, match=r"unbiased=False, PyTorch's.*write var\(ddof=0\).*default is n - 1"):
        x.var(unbiased=False)
    with pytest.raises(ArgumentTypeError, match=r"correction=1.*write var\(ddof=1\)"):
        x.var(0, correction=1)
    with pytest.raises(ArgumentTypeError, match=r"dim0=0, dim1=1, PyTorch's names.*transpose\(a, b\)"):
        x.transpose(dim0=0, dim1=1)
    with pytest.raises(ArgumentTypeError, match=r"needs the position of the new axis"):
        x.unsqueeze()
    # clip takes NumPy 2's and clamp's min= and max=; argmax NumPy's keepdims
    np.testing.assert_array_equal(x.clip(min=0.0, max=0.5).numpy(), np.clip(X, 0.0, 0.5))
    np.testing.assert_array_equal(x.clip(max=0.5).numpy(), np.minimum(X, 0.5))
    with pytest.raises(ArgumentTypeError, match=r"both min= and the bound it names \(lo\)"):
        x.clip(0.0, min=0.1)
    np.testing.assert_array_equal(x.argmax(axis=1, keepdims=True).numpy(), X.argmax(axis=1, keepdims=True))
    np.testing.assert_array_equal(x.argmin(0, keepdims=True).numpy(), X.argmin(axis=0, keepdims=True))


def test_relu_inplace_from_pytorch_tutorials_is_accepted():
    # nn.ReLU(inplace=True) said "Module.__init__() got an unexpected keyword argument"; PyTorch gives the same values
    out = nn.Sequential(nn.Linear(4, 2, seed=0), nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True))(X)
    np.testing.assert_array_equal(out.numpy(), nn.Sequential(nn.Linear(4, 2, seed=0), nn.ReLU())(X).numpy())


def test_a_mini_batch_variant_with_rate_and_size_swapped_says_which_comes_first():
    with pytest.raises(HyperparameterError, match=r"before the learning rate: MiniBatch\(batch_size=32, lr=0\.1\)"):
        gd.MiniBatch(0.1, 32)
    with pytest.raises(HyperparameterError, match=r"got 0\.5$"):  # no rate to swap with: no guess
        gd.MiniBatch(0.5)


def test_pytorch_top_level_names_say_what_to_write():
    with pytest.raises(AttributeError, match=r"'cat' \(PyTorch's name\); here use tg\.concatenate"):
        tg.cat([tg.ones(2), tg.ones(2)])
    with pytest.raises(AttributeError, match=r"'manual_seed' .*seed="):
        tg.manual_seed(0)
    assert not hasattr(tg, "no_such_name")
