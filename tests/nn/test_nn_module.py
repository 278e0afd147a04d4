"""Module, Parameter and Sequential: registration, traversal, modes, state dicts, moving, printing."""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_mb as tg
from tinygrad_mb import nn
from tinygrad_mb.errors import DTypeError, StateDictError


class MLP(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.fc1 = nn.Linear(4, 8, seed=rng)
        self.act = nn.ReLU()
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3, seed=rng)

    def forward(self, x):
        return self.fc2(self.bn(self.act(self.fc1(x))))


def test_named_parameters_use_dotted_names_in_registration_order():
    names = [n for n, _ in MLP().named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in seq.parameters())


def test_children_modules_and_buffers():
    m = MLP()
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "bn", "fc2"]
    assert list(m.children()) == [m.fc1, m.act, m.bn, m.fc2]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "bn", "fc2"]
    assert len(list(m.modules())) == 5
    assert [n for n, _ in m.named_buffers()] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert all(not b.requires_grad for b in m.buffers())


def test_shared_parameter_is_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 12


def test_tied_weights_appear_under_every_name_in_the_state_dict_as_in_pytorch():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 3, seed=0), nn.Linear(3, 3, seed=1)
            self.b.weight = self.a.weight  # one weight, two names

    model = Tied()
    assert list(model.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert len(list(model.parameters())) == 3  # the optimizer still sees it once
    fresh = Tied()
    fresh.load_state_dict(model.state_dict())  # strict: every key is expected
    np.testing.assert_array_equal(fresh.b.weight.data, model.a.weight.data)
    assert fresh.b.weight is fresh.a.weight
    older = model.state_dict()
    del older["b.weight"]  # state dicts saved before 2026-12-02 listed a tied weight once
    fresh.load_state_dict(older)  # strict, and still complete: b.weight is a.weight
    seq = nn.Sequential(model.a, nn.ReLU(), model.a)  # a shared layer, as in PyTorch: both positions listed
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_num_parameters():
    assert MLP().num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3
    m = MLP()
    m.fc1.weight.requires_grad = False
    assert m.num_parameters(trainable_only=True) == MLP().num_parameters() - 32


def test_reassigning_attributes_updates_the_registries():
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(3))
    assert [n for n, _ in m.named_parameters()] == ["w"]
    with pytest.raises(TypeError, match="cannot assign a Tensor as parameter 'w'.*nn.Parameter"):
        m.w = tg.Tensor(np.ones(3), requires_grad=True)  # would silently stop being trained (PyTorch raises too)
    assert [n for n, _ in m.named_parameters()] == ["w"]
    del m.w
    m.w = 5  # after del, the name is free for a plain value
    assert list(m.named_parameters()) == []
    m.sub = nn.Linear(2, 2)
    del m.sub
    assert list(m.named_children()) == []
    m.register_buffer("stat", np.ones(2))
    m.stat = tg.Tensor(np.zeros(2))  # replacing a buffer's tensor keeps it a buffer
    assert [n for n, _ in m.named_buffers()] == ["stat"]
    with pytest.raises(TypeError, match="cannot assign a ndarray as buffer 'stat'"):
        m.stat = np.ones(2)
    assert [n for n, _ in m.named_buffers()] == ["stat"]
    m.sub = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign a function as sub-module 'sub'.*Module or None"):
        m.sub = lambda x: x  # would silently drop the layer from training and saving
    assert [n for n, _ in m.named_children()] == ["sub"] and len(list(m.parameters())) == 2
    m.sub = None  # an empty slot stays listed, as in PyTorch
    assert list(m.named_children()) == [] and "sub" in m._module_names
    with pytest.raises(TypeError, match="register_parameter\\('v', ...\\) needs a Parameter or None, got a Tensor"):
        m.register_parameter("v", tg.Tensor(np.ones(3)))
    with pytest.raises(TypeError, match="got a ndarray"):
        m.register_parameter("v", np.ones(3))
    assert not hasattr(m, "v") and [n for n, _ in m.named_parameters()] == []


def test_setattr_before_init_says_what_to_do():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_linear_without_bias_has_no_bias_parameter():
    lin = nn.Linear(3, 2, bias=False)
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert list(lin.state_dict()) == ["weight"]


def test_zero_grad_sets_none():
    m = MLP()
    x = tg.Tensor(np.ones((4, 4), dtype=np.float32))
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m(x).sum().backward()
    held = [p.grad for p in m.parameters()]
    m.zero_grad(set_to_none=False)  # PyTorch's option: the same arrays, filled with zeros
    assert all(p.grad is g and not g.any() for p, g in zip(m.parameters(), held))


def test_train_eval_propagate():
    m = MLP()
    assert m.training and m.bn.training
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())


def test_call_is_forward_and_missing_forward_is_explained():
    lin = nn.Linear(2, 2, seed=0)
    x = tg.Tensor(np.ones((1, 2), dtype=np.float32))
    np.testing.assert_array_equal(lin(x).data, lin.forward(x).data)
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(x)


def test_repr_tree():
    text = repr(nn.Sequential(nn.Linear(4, 2), nn.Sequential(nn.ReLU(), nn.Dropout(0.5))))
    assert text == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=2, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.5)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Parameter(np.zeros(2))).startswith("Parameter(")


def test_parameter_is_a_cheap_tensor():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.dtype == np.float32
    assert not hasattr(p, "__dict__")  # no per-instance dict: as small as a Tensor
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


def test_sequential_indexing_len_iteration_and_slices():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3
    assert list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    with pytest.raises(IndexError):
        seq[3]
    x = tg.Tensor(np.ones((5, 2), dtype=np.float32))
    np.testing.assert_allclose(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    named = nn.Sequential(OrderedDict(fc1=nn.Linear(2, 2), act=nn.Tanh()))
    assert [n for n, _ in named.named_parameters()] == ["fc1.weight", "fc1.bias"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    with pytest.raises(TypeError, match="Sequential: item '4' is a function, not a Module"):
        seq.append(lambda x: x)  # was silently kept out of forward() and parameters()


class Tower(nn.Module):
    """Depth chosen at construction: the case ModuleList is for."""

    def __init__(self, depth):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(3, 3, seed=i) for i in range(depth))
        self.head = nn.Linear(3, 1, seed=99)

    def forward(self, x):
        for block in self.blocks:
            x = block(x).relu()
        return self.head(x)


def test_a_module_list_registers_its_layers_so_they_are_trained_and_saved():
    model = Tower(3)
    assert len(model.blocks) == 3 and isinstance(model.blocks[-1], nn.Linear)
    assert [n for n, _ in model.named_parameters()][:4] == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                                           "blocks.1.bias"]
    assert len(list(model.parameters())) == 8
    model(tg.Tensor(np.ones((2, 3), dtype=np.float32))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert set(model.state_dict()) >= {"blocks.2.weight", "head.bias"}
    part = model.blocks[1:]
    assert isinstance(part, nn.ModuleList) and list(part) == list(model.blocks)[1:]
    assert [n for n, _ in part.named_children()] == ["0", "1"]  # renumbered, as PyTorch's ModuleList does
    model.blocks.append(nn.Linear(3, 3)).extend([nn.Linear(3, 3)])
    assert len(model.blocks) == 5
    with pytest.raises(TypeError, match="ModuleList: item '5' is a int, not a Module"):
        model.blocks.append(3)
    with pytest.raises(IndexError, match="ModuleList index 9 out of range for 5 layers"):
        model.blocks[9]
    assert not hasattr(nn.ModuleList, "forward") or nn.ModuleList.forward is nn.Module.forward


def test_a_plain_list_of_layers_is_refused_since_it_would_never_be_trained():
    class Forgetful(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 1)]

    with pytest.raises(TypeError, match=r"'layers' of Forgetful.*never be trained or saved; use nn.ModuleList"):
        Forgetful()
    m = nn.Linear(2, 1)
    m.sizes = [2, 1]  # a list of anything else is an ordinary attribute
    assert m.sizes == [2, 1]


def test_a_sequential_slice_keeps_the_layer_names():
    # Catches slices renumbering their layers from 0: state dict keys would no longer match the full model's.
    seq = nn.Sequential(nn.ReLU(), nn.Linear(2, 3), nn.Linear(3, 1))
    tail = seq[1:]
    assert [n for n, _ in tail.named_children()] == ["1", "2"]
    assert list(tail.state_dict()) == ["1.weight", "1.bias", "2.weight", "2.bias"]


def test_appending_to_a_slice_never_replaces_a_layer():
    # Catches append naming the new layer str(len(seq)) = "2", which silently replaced the slice's layer "2".
    tail = nn.Sequential(nn.ReLU(), nn.Linear(2, 3), nn.Linear(3, 1))[1:]
    last = nn.Linear(1, 4)
    tail.append(last)
    assert [n for n, _ in tail.named_children()] == ["1", "2", "3"]
    assert len(tail) == 3 and tail[-1] is last
    assert tail(tg.Tensor(np.ones((5, 2)))).shape == (5, 4)


# --- state dicts --------------------------------------------------------------------------------
def test_state_dict_has_parameters_and_buffers_as_numpy_copies():
    m = MLP()
    state = m.state_dict()
    assert list(state) == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                           "bn.num_batches_tracked", "fc2.weight", "fc2.bias"]  # PyTorch's keys
    assert all(type(v) is np.ndarray for v in state.values())
    before = state["fc1.weight"].copy()
    m.fc1.weight.data += 1  # the state dict taken earlier must not change
    np.testing.assert_array_equal(state["fc1.weight"], before)
    state["fc2.bias"][:] = 7  # and writing to it must not change the model
    assert not np.any(m.fc2.bias.data == 7)


def test_state_dict_round_trip_gives_identical_predictions():
    a, b = MLP(seed=0), MLP(seed=1)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))
    a(x)  # update a's running statistics so buffers differ too
    a.eval(), b.eval()
    assert not np.allclose(a(x).data, b(x).data)
    keys = b.load_state_dict(a.state_dict())
    assert keys.missing_keys == [] and keys.unexpected_keys == []
    np.testing.assert_array_equal(a(x).data, b(x).data)
    for (_, pa), (_, pb) in zip(a._state_tensors().items(), b._state_tensors().items()):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_load_state_dict_writes_in_place():
    m = MLP()
    weight = m.fc1.weight
    array = weight.data
    m.load_state_dict(MLP(seed=3).state_dict())
    assert m.fc1.weight is weight and m.fc1.weight.data is array


def _assert_unchanged(model, state):
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[key])


@pytest.mark.parametrize("problem", ["missing", "extra", "shape", "transposed", "dtype", "not_array"])
def test_bad_state_dict_raises_naming_the_key_and_changes_nothing(problem):
    m = MLP(seed=0)
    before = m.state_dict()
    state = MLP(seed=1).state_dict()  # valid values that differ from the model's
    if problem == "missing":
        del state["fc2.bias"]
        pattern = "missing keys \\['fc2.bias'\\]"
    elif problem == "extra":
        state["fc3.weight"] = np.zeros((2, 2), np.float32)
        pattern = "unexpected keys \\['fc3.weight'\\]"
    elif problem == "shape":
        state["fc2.weight"] = np.zeros((4, 8), np.float32)  # fc2.weight is (3, 8)
        pattern = "'fc2.weight'.*\\(3, 8\\).*\\(4, 8\\)"
    elif problem == "transposed":  # same size, other shape: a size-only check would let it through
        state["fc2.weight"] = np.zeros((8, 3), np.float32)
        pattern = "'fc2.weight'.*\\(3, 8\\).*\\(8, 3\\)"
    elif problem == "dtype":
        state["fc2.bias"] = state["fc2.bias"].astype(np.float64)
        pattern = "'fc2.bias'.*float32.*float64"
    else:
        state["fc2.bias"] = [0.0, 0.0, 0.0]
        pattern = "'fc2.bias'.*list"
    with pytest.raises(StateDictError, match=pattern):
        m.load_state_dict(state)
    _assert_unchanged(m, before)  # fc1 comes first and is valid: it must not have been written


def test_non_strict_load_reports_and_loads_the_rest():
    m = MLP(seed=0)
    source = MLP(seed=1).state_dict()
    del source["fc2.bias"]
    source["extra"] = np.zeros(1)
    keys = m.load_state_dict(source, strict=False)
    assert keys.missing_keys == ["fc2.bias"] and keys.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(m.fc1.weight.data, source["fc1.weight"])
    with pytest.raises(StateDictError, match="shape mismatch"):  # shapes are checked even then
        m.load_state_dict({"fc1.weight": np.zeros((1, 1), np.float32)}, strict=False)


def test_load_state_dict_rejects_non_mapping():
    with pytest.raises(StateDictError, match="mapping"):
        MLP().load_state_dict([1, 2])


def test_load_state_dict_accepts_tensors():
    a, b = MLP(seed=0), MLP(seed=1)
    b.load_state_dict({k: tg.Tensor(v) for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(a.fc1.weight.data, b.fc1.weight.data)


# --- moving ----------------------------------------------------------------------------------
def test_to_dtype_converts_parameters_and_buffers():
    m = MLP().to(dtype="float64")
    floating = [t for t in list(m.parameters()) + list(m.buffers()) if t is not m.bn.num_batches_tracked]
    assert all(t.dtype == np.float64 for t in floating)
    assert m.bn.num_batches_tracked.dtype == np.int64  # a count, as in PyTorch


def test_to_dtype_converts_gradients_but_not_integer_buffers():
    # Catches to() leaving .grad in the old dtype, or casting an integer buffer (a counter) to float.
    m = MLP()
    m.register_buffer("steps", tg.Tensor(np.array([3], dtype=np.int64)))
    m.fc1.weight.grad = tg.ones(8, 4).data  # on the default backend, as the weight
    m.to(dtype="float64")
    assert m.fc1.weight.grad.dtype == np.float64
    assert m.steps.dtype == np.int64 and m.steps.data.tolist() == [3]


def test_to_an_integer_dtype_is_refused_before_anything_changes():
    m = MLP()
    before = m.state_dict()
    assert MLP().to(dtype="complex128").fc1.weight.dtype == np.complex128  # complex is fine, as in PyTorch
    with pytest.raises(DTypeError, match="dtype must be floating point or complex.*got int32"):
        m.to(dtype="int32")  # would truncate every weight to 0 and keep training integers
    for name, value in m.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
        assert value.dtype == before[name].dtype


def test_to_backend_moves_everything_and_back(backend_name):
    m = MLP(seed=0)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    expected = m.eval()(tg.Tensor(x)).data
    params = list(m.parameters())
    assert m.to(backend_name) is m
    assert list(m.parameters()) == params  # same Parameter objects
    assert all(t.backend == backend_name for t in list(m.parameters()) + list(m.buffers()))
    out = m(tg.Tensor(x, backend=backend_name))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    m.to("numpy")
    assert all(t.backend == "numpy" for t in m.parameters())


# --- details mutation testing found unpinned ---------------------------------------------------------
def test_a_name_assigned_again_moves_to_the_registry_of_its_new_kind():
    # A name lives in one registry: a layer replaced by a Parameter (or the reverse, or a buffer
    # re-registered as either) must not stay listed where it was, or it would be saved twice.
    m = nn.Module()
    m.x = nn.Linear(2, 2)
    m.x = nn.Parameter(np.zeros(3))
    assert [n for n, _ in m.named_parameters()] == ["x"] and list(m.children()) == []
    m.x = nn.Linear(2, 2)
    assert [n for n, _ in m.named_parameters()] == ["x.weight", "x.bias"] and len(list(m.children())) == 1
    m.register_buffer("b", tg.zeros(2))
    m.b = nn.Linear(1, 1)
    assert "b" not in dict(m.named_buffers()) and "b.weight" in m.state_dict()
    m.register_buffer("c", tg.zeros(2))
    m.c = nn.Parameter(np.ones(2))
    assert "c" in dict(m.named_parameters()) and "c" not in dict(m.named_buffers())
    m.register_buffer("x", tg.zeros(1))  # over a layer: the layer's weights leave the state dict
    assert "x" in dict(m.named_buffers()) and not any(k.startswith("x.") for k in m.state_dict())
    m.register_buffer("c", tg.zeros(1))  # over a parameter
    assert "c" not in dict(m.named_parameters()) and "c" in dict(m.named_buffers())
    m.register_parameter("x", nn.Parameter(np.ones(1)))  # and back: a parameter, no longer a buffer
    m.register_parameter("b", None)
    assert "x" in dict(m.named_parameters()) and "x" not in dict(m.named_buffers())
    assert list(m.children()) == [] and "b.weight" not in m.state_dict()
    seq = nn.Sequential(nn.ReLU(), nn.ReLU())
    seq.register_parameter("1", nn.Parameter(np.ones(1)))  # a layer slot taken by a parameter: one layer left
    assert len(seq) == 1 and [type(layer) for layer in seq] == [nn.ReLU]


def test_named_modules_lists_a_shared_layer_once_by_default_and_survives_a_cycle():
    shared = nn.Linear(2, 2)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in m.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in m.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    loop = nn.ModuleList([nn.ReLU()])
    loop.append(loop)  # a module inside itself: entered once, however it is walked
    assert [n for n, _ in loop.named_modules(remove_duplicate=False)] == ["", "0"]


def test_num_parameters_counts_frozen_weights_unless_asked_not_to():
    m = nn.Linear(3, 2)
    m.bias.requires_grad = False
    assert m.num_parameters() == 8 and m.num_parameters(trainable_only=True) == 6


def test_loading_a_state_dict_makes_an_earlier_graph_refuse_backward():
    from tinygrad_mb.errors import BackwardError

    m = nn.Linear(3, 1, seed=0)
    loss = m(tg.ones((2, 3))).sum()
    m.load_state_dict(nn.Linear(3, 1, seed=1).state_dict())  # the weights the graph used are gone
    with pytest.raises(BackwardError):
        loss.backward()


def test_sequential_indexing_at_both_ends_and_a_layer_class_passed_uncalled():
    from tinygrad_mb.errors import ArgumentTypeError

    first, last = nn.Linear(2, 2), nn.Linear(2, 1)
    m = nn.Sequential(first, nn.ReLU(), last)
    assert m[-3] is first and m[2] is last and m[-1] is last
    for bad in (3, -4):
        with pytest.raises(IndexError, match="out of range for 3 layers"):
            m[bad]
    with pytest.raises(ArgumentTypeError, match=r"ReLU is a layer class, not a layer: call it, ReLU\(\)"):
        nn.Sequential(nn.Linear(2, 2), nn.ReLU)


def test_a_dict_or_nested_list_of_layers_is_refused_since_it_would_never_be_trained():
    # Catches dicts and nested lists of layers being kept as plain attributes: parameters() never saw them.
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = {"age": nn.Linear(2, 1), "sex": nn.Linear(2, 2)}

    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [[nn.Linear(2, 2)], [nn.Linear(2, 2)]]

    with pytest.raises(TypeError, match=r"'heads' of Heads.*never be trained or saved; use nn.ModuleDict"):
        Heads()
    with pytest.raises(TypeError, match=r"'blocks' of Blocks.*never be trained or saved; use nn.ModuleList.*"
                                        r"ModuleList of ModuleLists"):
        Blocks()
    m = nn.Linear(2, 1)
    m.config = {"sizes": [2, 1], "nested": [[1, 2]]}  # containers of anything else are ordinary attributes
    m.loop = []
    m.loop.append(m.loop)
    m.other = [m.loop]  # a list inside itself is searched once, not forever
    assert m.config["sizes"] == [2, 1] and len(list(m.parameters())) == 2


class TwoHeads(nn.Module):
    """One trunk, one head per target: the case ModuleDict is for."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(3, 4, seed=0)
        self.heads = nn.ModuleDict({"age": nn.Linear(4, 1, seed=1), "sex": nn.Sequential(nn.Dropout(0.5),
                                                                                        nn.Linear(4, 2, seed=2))})

    def forward(self, x):
        h = self.trunk(x).relu()
        return {key: head(h) for key, head in self.heads.items()}


def test_a_module_dict_registers_its_layers_so_they_are_trained_saved_and_switched_to_eval():
    model = TwoHeads()
    assert [n for n, _ in model.named_parameters()] == [
        "trunk.weight", "trunk.bias", "heads.age.weight", "heads.age.bias", "heads.sex.1.weight", "heads.sex.1.bias"]
    out = model(tg.Tensor(np.ones((2, 3), dtype=np.float32)))
    (out["age"].sum() + out["sex"].sum()).backward()
    assert all(p.grad is not None for p in model.parameters())

    fresh = TwoHeads()
    fresh.heads["age"].weight.data[...] = 0
    fresh.load_state_dict(model.state_dict())
    assert all(np.array_equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
    assert list(fresh.state_dict()) == list(model.state_dict())

    model.eval()
    assert not model.heads["sex"][0].training and not model.heads["age"].training

    heads = model.heads
    assert len(heads) == 2 and list(heads) == ["age", "sex"] and list(heads.keys()) == ["age", "sex"]
    assert "age" in heads and "height" not in heads and 3 not in heads
    assert list(heads.values()) == [heads["age"], heads["sex"]] and dict(heads.items())["age"] is heads["age"]
    heads["height"] = nn.Linear(4, 1)
    assert list(heads) == ["age", "sex", "height"] and "heads.height.bias" in model.state_dict()
    del heads["height"]
    assert list(heads) == ["age", "sex"]
    assert list(nn.ModuleDict([("a", nn.ReLU())])) == ["a"]  # (key, layer) pairs work too
    assert nn.ModuleDict.forward is nn.Module.forward  # no forward: the model decides how heads are used
    assert "(age): Linear" in repr(model)


def test_a_module_dict_refuses_keys_and_values_that_would_break_it_with_the_fix():
    heads = nn.ModuleDict()
    with pytest.raises(KeyError, match=r"ModuleDict has no layer 'age'; its keys are \[\]"):
        heads["age"]
    with pytest.raises(TypeError, match=r"must be non-empty and contain no '\.'; use e.g. 'a_b'"):
        heads["a.b"] = nn.ReLU()
    with pytest.raises(TypeError, match="must be non-empty"):
        heads[""] = nn.ReLU()
    with pytest.raises(TypeError, match="ModuleDict keys must be strings, got a int"):
        heads[0] = nn.ReLU()
    with pytest.raises(TypeError, match="'keys' is already the name of a ModuleDict attribute or method"):
        heads["keys"] = nn.ReLU()
    with pytest.raises(TypeError, match=r"ModuleDict: item 'act' is a type, not a Module; ReLU is a layer class"):
        heads["act"] = nn.ReLU
    with pytest.raises(TypeError, match="for layers without names use nn.ModuleList"):
        nn.ModuleDict([nn.ReLU(), nn.ReLU()])
    assert len(heads) == 0


def test_indexing_a_sequential_with_a_string_or_float_says_what_to_use():
    # Catches the raw "'<=' not supported between 'int' and 'str'" and list-index errors.
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with pytest.raises(TypeError, match=r"Sequential layers are numbered.*'fc'; get a layer by its position, "
                                        r"e.g. \[0\].*attribute, e.g. .fc"):
        seq["fc"]
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.ReLU()))
    with pytest.raises(TypeError, match=r"has a layer named 'act': use \[1\] or the attribute .act"):
        named["act"]
    assert named.act is named[1]
    with pytest.raises(TypeError, match=r"has a layer named '0': use \[0\]$"):
        seq["0"]
    with pytest.raises(TypeError, match=r"Sequential index must be an int or a slice, got a float \(1.0\); "
                                        r"use an int, e.g. \[1\]"):
        seq[1.0]
    with pytest.raises(TypeError, match=r"ModuleList index must be an int.*got a float \(0.5\).*\[int\(i\)\]"):
        nn.ModuleList([nn.ReLU()])[0.5]
    assert seq[np.int64(1)] is seq[1]  # NumPy integers are ints here


def test_requires_grad_freezes_a_part_and_apply_visits_children_before_parents():
    # PyTorch's fine-tuning and initialisation idioms: model.features.requires_grad_(False), model.apply(init)
    model = nn.Sequential(nn.Linear(2, 3, seed=0), nn.ReLU(), nn.Sequential(nn.Linear(3, 1, seed=1)))
    assert model[0].requires_grad_(False) is model[0]
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    frozen = model[0].weight.data.copy()
    loss = model(np.ones((4, 2), np.float32)).sum()
    loss.backward()
    assert model[0].weight.grad is None and model[2][0].weight.grad is not None
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    np.testing.assert_array_equal(model[0].weight.data, frozen)
    seen = []
    assert model.apply(lambda m: seen.append(m)) is model
    assert seen == [model[0], model[1], model[2][0], model[2], model]  # post-order, as in PyTorch


def test_partial_state_dict_names_the_missing_keys_of_a_shared_layer_under_each_name():
    """A layer held under two names (tied encoder and decoder) was looked up under one only: KeyError."""

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(2, 2, seed=0)
            self.dec = self.enc
            self.head = nn.Linear(2, 1, seed=1)

    head_only = {k: v for k, v in Tied().state_dict().items() if k.startswith("head")}
    model = Tied()
    result = model.load_state_dict(head_only, strict=False)
    assert result.missing_keys == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    np.testing.assert_array_equal(model.head.weight.data, head_only["head.weight"])
    with pytest.raises(StateDictError, match=r"missing keys \['enc.weight', 'enc.bias', 'dec.weight'"):
        Tied().load_state_dict(head_only)


def test_load_state_dict_of_foreign_tensors_says_to_convert_them_to_numpy():
    """A PyTorch state dict has shapes and dtypes too, but NumPy cannot read torch's dtypes."""

    class ForeignTensor:  # stands for torch.Tensor: what matters is an array-like that is not NumPy's
        shape, dtype = (2, 3), "torch.float32"

    layer = nn.Linear(3, 2, seed=0)
    before = layer.weight.data.copy()
    with pytest.raises(StateDictError, match=r"'weight' is a .*ForeignTensor, not a NumPy/CuPy array; .*\.numpy\(\)"):
        layer.load_state_dict({"weight": ForeignTensor(), "bias": np.zeros(2, np.float32)})
    np.testing.assert_array_equal(layer.weight.data, before)


def test_names_that_would_overwrite_the_module_or_break_its_state_dict_are_refused():
    """register_buffer("forward") replaced the method; m.training = Parameter broke eval(); "a.b" a KeyError."""
    from tinygrad_mb.errors import ArgumentTypeError

    m = nn.Module()
    with pytest.raises(ArgumentTypeError, match="cannot register a Tensor as 'forward'.*already has an attribute"):
        m.register_buffer("forward", tg.Tensor([1.0]))
    with pytest.raises(ArgumentTypeError, match="cannot register a Parameter as 'training'"):
        m.training = nn.Parameter(np.ones(2))
    with pytest.raises(ArgumentTypeError, match="cannot register a Linear as 'eval'"):
        m.eval = nn.Linear(2, 2)
    for name in ("a.b", ""):
        with pytest.raises(ArgumentTypeError, match="cannot name a parameter, buffer or sub-module"):
            m.register_parameter(name, nn.Parameter(np.ones(1)))
    with pytest.raises(ArgumentTypeError, match=r"train\(mode\) takes True or False, got 'no'"):
        m.train("no")
    assert m.state_dict() == {} and m.training

    class Scaled(nn.Module):  # a plain attribute may still become a Parameter by assignment, as in PyTorch
        def __init__(self):
            super().__init__()
            self.scale = 2.0
            self.scale = nn.Parameter(np.ones(1))

    assert list(dict(Scaled().named_parameters())) == ["scale"]


def test_apply_visits_a_shared_layer_once():
    """Sequential(l, l).apply(halve) halved l's weight twice (torch: once)."""
    layer = nn.Linear(2, 2, seed=0)
    model = nn.Sequential(layer, layer)
    before = layer.weight.numpy().copy()
    visited = []

    def halve(module):
        visited.append(type(module).__name__)
        if isinstance(module, nn.Linear):
            module.weight.data *= 0.5

    model.apply(halve)
    np.testing.assert_array_equal(layer.weight.numpy(), before * 0.5)
    assert visited == ["Linear", "Sequential"]
    assert len(model) == 2 and [type(m).__name__ for m in model] == ["Linear", "Linear"]  # both places still there
