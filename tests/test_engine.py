"""The autograd engine: topological order, accumulation, graph release, no_grad and its errors."""

import gc
import pickle
import weakref

import numpy as np
import pytest

from tinygrad_mb import Function, Tensor, gradcheck, is_grad_enabled, no_grad
from tinygrad_mb.errors import BackwardError, GraphReleasedError, ShapeError, TinygradMBError


def test_chain_rule_on_a_small_expression():
    x = Tensor(2.0, requires_grad=True)
    y = Tensor(3.0, requires_grad=True)
    z = (x * y + x.exp()) / y  # dz/dx = (y + e^x) / y, dz/dy = -e^x / y^2
    z.backward()
    np.testing.assert_allclose(x.grad, (3 + np.exp(2)) / 3, rtol=1e-6)
    np.testing.assert_allclose(y.grad, -np.exp(2) / 9, rtol=1e-6)


def test_a_tensor_used_twice_gets_both_contributions():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x + x).sum().backward()  # d/dx (x^2 + x) = 2x + 1
    np.testing.assert_allclose(x.grad, [3.0, 5.0])


def test_gradients_accumulate_across_backward_calls_like_pytorch():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None


def test_leaf_gradients_are_independent_arrays():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([1.0, 2.0], requires_grad=True)
    (a + b).sum().backward()  # add hands the same array to both inputs
    assert a.grad is not b.grad
    a.grad[0] = 100.0  # writable, and does not change b.grad
    assert b.grad[0] == 1.0
    assert a.grad.dtype == a.dtype and a.grad.shape == a.shape
    c = Tensor([1.0, 2.0], requires_grad=True)
    d = Tensor([1.0, 2.0], requires_grad=True)
    ((c + d) * 2).sum().backward()  # the same array again, but a fresh one that owns its memory
    assert c.grad is not d.grad
    c.grad[0] = 100.0
    assert d.grad[0] == 2.0


def test_a_chain_of_100000_ops_backpropagates_without_recursion_error():
    x = Tensor(1.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0)


def test_a_node_reached_by_a_short_and_a_long_path_waits_for_both():
    # a feeds d directly and through b, c: its backward may only run once both
    # contributions are in. dd/dx = 2 (1 + 3 e^a) for a = 2x, d = a + 3 e^a.
    x = Tensor(0.25, dtype="float64", requires_grad=True)
    a = x * 2
    c = a.exp() * 3
    d = a + c
    d.backward()
    np.testing.assert_allclose(x.grad, 2 * (1 + 3 * np.exp(0.5)), rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_the_order_puts_every_node_before_its_inputs_in_a_random_graph(seed):
    # A random DAG: each new node combines one or two earlier ones (often far back),
    # so a wrong order would run some backward before all its gradient arrived.
    rng = np.random.default_rng(seed)
    leaves = [Tensor(rng.uniform(0.5, 1.5), dtype="float64", requires_grad=True) for _ in range(3)]
    nodes = list(leaves)
    for _ in range(40):
        i, j = rng.integers(0, len(nodes), size=2)
        nodes.append(nodes[i] * 0.5 + nodes[j] * 0.25 if rng.random() < 0.5 else (nodes[i] * 0.1).exp())
    out = nodes[-1] + nodes[len(nodes) // 2]
    # Every op result in the graph (a plain search here), each with a spy on its op's backward
    # that records the order in which backward() runs them.
    results, stack = {}, [out]
    while stack:
        node = stack.pop()
        if node._ctx is not None and id(node) not in results:
            results[id(node)] = node
            stack += [p for p in node._ctx.parents if isinstance(p, Tensor)]
    ran: list[int] = []
    for node in results.values():
        fn = node._ctx
        fn.backward = lambda g, fn=fn, node=node: (ran.append(id(node)), type(fn).backward(fn, g))[1]
    out.backward(retain_graph=True)
    position = {node_id: k for k, node_id in enumerate(ran)}
    assert sorted(position) == sorted(results) and len(ran) == len(results), "an op was skipped or ran twice"
    assert ran[0] == id(out)
    for node in results.values():
        for parent in node._ctx.parents:
            if isinstance(parent, Tensor) and parent._ctx is not None:
                assert position[id(parent)] > position[id(node)], "an input ran before its consumer"
    # and the gradients are right: compare with central differences
    analytic = [0.0 if leaf.grad is None else leaf.grad.item() for leaf in leaves]  # None: out ignores it

    def rebuild(values):
        rng2 = np.random.default_rng(seed)
        rng2.uniform(0.5, 1.5, size=3)
        vals = list(values)
        for _ in range(40):
            i, j = rng2.integers(0, len(vals), size=2)
            vals.append(vals[i] * 0.5 + vals[j] * 0.25 if rng2.random() < 0.5 else np.exp(vals[i] * 0.1))
        return vals[-1] + vals[len(vals) // 2]

    base = [leaf.item() for leaf in leaves]
    for k in range(3):
        up, down = list(base), list(base)
        up[k] += 1e-6
        down[k] -= 1e-6
        np.testing.assert_allclose(analytic[k], (rebuild(up) - rebuild(down)) / 2e-6, rtol=1e-6, atol=1e-9)


def test_intermediate_tensors_are_freed_after_backward():
    x = Tensor(np.ones(3), requires_grad=True)
    hidden = (x * 2).exp()
    ref = weakref.ref(hidden)
    loss = (hidden * 3).sum()
    del hidden
    gc.collect()
    assert ref() is not None  # still held by the graph
    loss.backward()
    gc.collect()
    assert ref() is None  # the graph released it


def test_retain_graph_allows_a_second_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])


def test_second_backward_through_a_freed_graph_says_what_to_do():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(GraphReleasedError, match="retain_graph=True"):
        loss.backward()


def test_a_backward_that_fails_half_way_leaves_every_grad_as_it_was():
    # y's own leaf (b) is reached first, then the shared part, freed by the first backward:
    # the error must come before anything is written, so b.grad keeps its old value.
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    shared = a * 2
    shared.sum().backward()
    b.grad = Tensor([10.0, 10.0]).data  # an array of the default backend, as b's
    y = (shared * b).sum()
    with pytest.raises(GraphReleasedError, match="retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(b.grad, [10.0, 10.0])
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])


def test_a_weight_used_many_times_holds_one_gradient_during_backward():
    # An unrolled loop uses the same weight at every step. Its contributions must be summed as
    # they arrive: keeping each one until the end would hold uses x weight-size bytes at once.
    alive: list[weakref.ref] = []
    most_alive = 0

    class Scale(Function):  # out = w * x; records how many of its earlier gradients for w still exist
        def forward(self, w, x):
            self.w, self.x = w, x
            return w * x

        def backward(self, g):
            nonlocal most_alive
            most_alive = max(most_alive, sum(ref() is not None for ref in alive))
            gw = g * self.x
            alive.append(weakref.ref(gw))
            return gw, g * self.w

    w = Tensor(np.full(1000, 0.5), dtype="float64", requires_grad=True)
    h = Tensor(np.ones(1000), dtype="float64", requires_grad=True)
    for _ in range(30):
        h = Scale.apply(w, h)
    h.sum().backward()
    assert most_alive <= 2, f"{most_alive} gradients of w were alive at once"
    np.testing.assert_allclose(w.grad, 30 * 0.5**29)  # d/dw of w^30 (times h0 = 1)


def test_a_custom_backward_with_too_few_gradients_writes_no_grad():
    class Broken(Function):  # two inputs, one gradient: a mistake the engine must name
        def forward(self, u, v):
            return u * v

        def backward(self, g):
            return g

    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    loss = (Broken.apply(a, b) + b).sum()  # b's gradient from "+ b" arrives before Broken's backward runs
    with pytest.raises(BackwardError, match="returned 1 gradient"):
        loss.backward()
    assert a.grad is None and b.grad is None


def test_a_custom_backward_may_return_a_list_and_a_pytorch_style_staticmethod_is_named():
    class Mul(Function):
        def forward(self, u, v):
            self.u, self.v = u, v
            return u * v

        def backward(self, g):
            return [g * self.v, g * self.u]  # a list: taken as the tuple (it was "1 gradient(s) for 2 inputs")

    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    Mul.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])
    # PyTorch's @staticmethod forward(ctx, x): called with (a, b) it would take a as ctx and b as x
    with pytest.raises(TypeError, match=r"Double.forward is a staticmethod.*def forward\(self, \*arrays\).*ctx"):
        class Double(Function):
            @staticmethod
            def forward(ctx, x):
                return 2 * x

    with pytest.raises(TypeError, match=r"Half.backward is a staticmethod.*def backward\(self, grad\)"):
        class Half(Function):
            def forward(self, x):
                return x / 2

            @staticmethod
            def backward(ctx, g):
                return g / 2


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(BackwardError, match=r"one-element output, got shape \(2,\).*pass grad="):
        y.backward()
    y.backward(np.array([1.0, 10.0], dtype=np.float32))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])


def test_backward_with_a_wrong_gradient_shape():
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ShapeError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_without_grad():
    with pytest.raises(BackwardError, match="requires_grad=True"):
        Tensor([1.0]).sum().backward()


def test_no_grad_records_no_graph_as_context_and_decorator():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y._ctx is None

    @no_grad()
    def evaluate(t):
        return (t * t).sum()

    z = evaluate(x)
    assert not z.requires_grad and z._ctx is None and is_grad_enabled()


def test_no_grad_restores_state_after_an_exception():
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError("boom")
    assert is_grad_enabled()


def test_only_tensors_requiring_grad_enter_the_graph():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([5.0])
    y = x * c
    y.sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad, [5.0])


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.numpy())
    assert not h.is_leaf and x.is_leaf


def test_detach_cuts_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf


def test_clone_copies_the_memory_and_keeps_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and not np.shares_memory(c.data, x.data)
    c.data[0] = 10.0  # the copy's memory is its own
    assert x.data[0] == 1.0
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    labels = Tensor(np.array([1, 2]))
    assert labels.clone().dtype == np.int64 and not labels.clone().requires_grad


def test_a_custom_function_plugs_into_the_engine():
    class Cube(Function):
        """out = x^3;   d/dx = 3 x^2."""

        def forward(self, x):
            self.x = x
            return x**3

        def backward(self, g):
            return 3 * self.x**2 * g

    x = Tensor([1.0, -2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 12.0])


def test_float32_grads_stay_float32_when_mixed_with_float64():
    w = Tensor([1.0, 2.0], requires_grad=True)  # float32
    x = Tensor(np.array([3.0, 4.0]))  # float64
    (w * x).sum().backward()
    assert w.grad.dtype == np.float32


def test_every_library_error_is_a_tinygradmb_error():
    with pytest.raises(TinygradMBError):
        Tensor(np.ones(2)) + Tensor(np.ones(3))


def test_the_library_raises_its_own_errors_only_as_errors_py_promises():
    # errors.py: every error raised on purpose derives from TinygradMBError (and the built-in one).
    # Plain built-ins are allowed only where Python's protocols expect them (AttributeError from a
    # module __getattr__, IndexError from Sequential[i], KeyError from a lookup by name) and for errors
    # caught inside the package.
    import pathlib
    import re

    import tinygrad_mb

    plain = {"ValueError", "TypeError", "RuntimeError", "OSError", "AssertionError"}
    internal = {"serialization.py", "update.py"}  # raised and caught within the same module
    offenders = []
    for path in pathlib.Path(tinygrad_mb.__file__).parent.rglob("*.py"):
        if path.name in internal or "exercises" in path.parts:  # exercise checkers report to students
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.search(r"raise (\w+)\(", line)
            if match and match.group(1) in plain:
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
    assert issubclass(tinygrad_mb.ArgumentTypeError, TypeError)
    with pytest.raises(tinygrad_mb.ArgumentTypeError, match="not a Module"):
        tinygrad_mb.nn.Sequential([tinygrad_mb.nn.ReLU()])


def test_no_grad_nests_and_a_decorated_function_may_call_itself():
    @no_grad()
    def countdown(t, n):
        if n:
            countdown(t, n - 1)
        return t * 2

    x = Tensor([1.0], requires_grad=True)
    assert not countdown(x, 3).requires_grad
    assert is_grad_enabled()  # the inner calls must not leave recording switched off
    block = no_grad()
    with block:
        with block:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_in_one_thread_does_not_switch_off_recording_in_another():
    import threading

    inside, release = threading.Event(), threading.Event()

    def evaluate():
        with no_grad():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=evaluate)
    worker.start()
    try:
        assert inside.wait(10)
        x = Tensor([1.0], requires_grad=True)
        assert is_grad_enabled() and (x * 2).requires_grad
    finally:
        release.set()
        worker.join()
    assert is_grad_enabled()


def test_backward_stores_a_copy_of_the_given_gradient_in_the_tensor_dtype():
    x = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    v = np.ones(2)
    (x + 1).backward(v)
    v[:] = 100  # the caller reuses its array: x.grad must not change
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    assert x.grad.dtype == np.float32
    same_dtype = Tensor(np.zeros(2), requires_grad=True)
    w = np.ones(2)  # float64 like the tensor: no conversion that would copy anyway
    (same_dtype + 1).backward(w)  # add passes the gradient on as it is
    w[:] = 100
    np.testing.assert_array_equal(same_dtype.grad, [1.0, 1.0])
    leaf = Tensor(np.zeros(2), requires_grad=True)
    given = Tensor(np.ones(2, dtype=np.float32))
    leaf.backward(given)
    given.data[:] = 7
    np.testing.assert_array_equal(leaf.grad, [1.0, 1.0])
    assert leaf.grad.dtype == np.float64


def test_a_zero_dimensional_gradient_stays_an_array_when_it_accumulates():
    x = Tensor(np.float64(2.0), requires_grad=True, backend="numpy")  # NumPy's 0-d results are scalars
    (x * 3).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad == 3.0
    (x * 3).backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad == 6.0


def test_a_cast_to_integers_leaves_the_graph():
    x = Tensor([1.5, 2.5], requires_grad=True)
    y = x.astype(np.int64)
    assert y.dtype == np.int64 and not y.requires_grad and y.is_leaf
    z = x.astype(np.float64)  # a float cast stays differentiable
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_a_no_grad_block_left_in_another_context_switches_recording_back_on_there():
    # A notebook may run a later cell in a copy of the context: leaving the block there must work.
    import contextvars

    def enter_here_and_leave_in_a_copy():
        block = no_grad()
        block.__enter__()
        assert not is_grad_enabled()
        later_cell = contextvars.copy_context()
        return later_cell.run(lambda: (block.__exit__(None, None, None), is_grad_enabled())[1])

    assert contextvars.copy_context().run(enter_here_and_leave_in_a_copy)  # this test's own context is untouched
    assert is_grad_enabled()


def test_a_no_grad_function_called_from_two_threads_leaves_each_thread_as_it_was():
    import threading

    @no_grad()
    def evaluate(t, entered, release):  # stays inside until released
        entered.set()
        release.wait(10)
        return t * 2

    x = Tensor([1.0], requires_grad=True)
    events = {name: (threading.Event(), threading.Event()) for name in "ab"}
    seen = {}

    def a():  # recording on, around the call
        evaluate(x, *events["a"])
        seen["a"] = is_grad_enabled()

    def b():  # recording off, around the call
        with no_grad():
            evaluate(x, *events["b"])
            seen["b"] = is_grad_enabled()

    threads = {name: threading.Thread(target=f) for name, f in (("a", a), ("b", b))}
    threads["a"].start()
    assert events["a"][0].wait(10)  # a is inside ...
    threads["b"].start()
    assert events["b"][0].wait(10)  # ... then b; a leaves first, b after
    for name in "ab":
        events[name][1].set()
        threads[name].join()
    assert seen == {"a": True, "b": False}


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda f32: Tensor(np.array([0, 128, 255], np.uint8)) / 255, np.float32),  # normalising pixels
        (lambda f32: Tensor([1, 2, 3]) * 0.5, np.float32),
        (lambda f32: Tensor([1, 2, 3]).exp(), np.float32),
        (lambda f32: f32 + Tensor([1, 2, 3]), np.float32),  # NumPy: float32 + int64 -> float64
        (lambda f32: f32 * np.array([1, 2, 3], np.int32), np.float32),
        (lambda f32: f32.clip(np.float64(0), np.float64(0.5)), np.float32),
        (lambda f32: f32.leaky_relu(np.float64(0.1)), np.float32),
        (lambda f32: f32 + Tensor(np.ones(3)), np.float64),  # a float64 input asks for float64
        (lambda f32: Tensor([1, 2, 3]).astype("float64") * 0.5, np.float64),  # so does a cast
        (lambda f32: Tensor(np.ones(3)).exp(), np.float64),
        # float64 that is not NumPy's cached dtype object: after pickling, or big-endian
        (lambda f32: Tensor(pickle.loads(pickle.dumps(np.ones(3)))).sigmoid(), np.float64),
        (lambda f32: Tensor(np.ones(3, dtype=">f8")).sum(), np.float64),
        (lambda f32: Tensor(np.array([3 + 4j])).abs(), np.float64),  # complex128 asks for float64, as in PyTorch
    ],
)
def test_results_are_float32_unless_an_input_is_float64_like_pytorch(make, expected):
    f32 = Tensor(np.ones(3, np.float32), requires_grad=True)
    out = make(f32)
    assert out.dtype == expected
    if out.requires_grad:
        out.sum().backward()
        assert f32.grad.dtype == np.float32


def test_integer_inputs_keep_a_float32_network_in_float32():
    from tinygrad_mb import ops

    pixels = Tensor(np.array([[0, 128, 255]], np.uint8)) / 255
    weight = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    out = ops.linear(pixels, weight)
    assert out.dtype == np.float32
    out.sum().backward()
    assert weight.grad.dtype == np.float32


def test_a_custom_backward_with_a_wrong_shape_or_too_few_gradients_is_named():
    class ForgotToTranspose(Function):
        def forward(self, x):
            return x.T.copy()

        def backward(self, g):
            return g  # (3, 2) for a (2, 3) input: same size, so a reshape would hide it

    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(BackwardError, match=r"ForgotToTranspose.backward returned a gradient of shape \(3, 2\) "
                                            r"for an input of shape \(2, 3\)"):
        ForgotToTranspose.apply(x).backward(np.ones((3, 2)))
    assert x.grad is None

    class ForgotOne(Function):
        def forward(self, a, b):
            self.b = b
            return a * b

        def backward(self, g):
            return g * self.b  # no gradient for b

    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(BackwardError, match=r"ForgotOne.backward returned 1 gradient\(s\) for 2 input\(s\)"):
        ForgotOne.apply(a, b).sum().backward()


def test_backward_refuses_a_gradient_of_the_right_size_but_another_shape():
    # A (1, 2) gradient for a (2,) tensor has the right number of elements but is not dL/dy;
    # comparing sizes instead of shapes would accept it (broadcasting then sums it back quietly).
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ShapeError, match=r"grad has shape \(1, 2\) but the tensor has shape \(2,\)"):
        y.backward(np.ones((1, 2)))
    leaf = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ShapeError, match=r"\(1, 2\).*\(2,\)"):
        leaf.backward(np.ones((1, 2)))
    assert leaf.grad is None


def test_each_node_is_walked_once_even_when_the_paths_to_it_multiply():
    # y = y + y, 16 times over: 2^16 paths lead from the output back to x. A graph walk that does not
    # remember the nodes it has already seen visits a node once per path: exponential time.
    class CountingAdd(Function):
        reads = 0  # how often the engine looked up an op's inputs

        def forward(self, a, b):
            return a + b

        def backward(self, g):
            return g, g

        @property
        def parents(self):
            CountingAdd.reads += 1
            return self.__dict__.get("_parents")  # None once released, as for every Function

        @parents.setter
        def parents(self, value):
            self.__dict__["_parents"] = value

    x = Tensor(np.array(1.0), requires_grad=True, backend="numpy")
    y = x
    for _ in range(16):
        y = CountingAdd.apply(y, y)
    y.backward()
    assert x.grad == 2.0**16
    assert CountingAdd.reads <= 4 * 16  # a few looks per node, not one per path


def test_zero_dimensional_results_are_arrays_not_numpy_scalars():
    # NumPy returns scalars (np.float64) for full reductions and 1-d dot products. A tensor holding
    # one has read-only .data: gradcheck, which perturbs its inputs in place, could not check it.
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True, backend="numpy")
    for out in (x.sum(), x.mean(), x.max(), x @ x, x.var(), x.sum() * 2):
        assert type(out.data) is np.ndarray and out.shape == ()
    assert gradcheck(lambda s: s * s, x.sum())  # a 0-d non-leaf, checked as a leaf of its own


# --- in-place changes: the version counter ------------------------------------------------------
def test_backward_refuses_when_an_optimizer_step_changed_an_input_in_between():
    from tinygrad_mb import optim

    w = Tensor([1.0, 2.0], requires_grad=True)
    h = w * w
    first, second = h.sum(), (h * w).sum()  # two losses sharing one forward pass
    first.backward(retain_graph=True)
    optim.SGD([w], lr=0.5).step()  # w changes under the graph that second still needs
    with pytest.raises(BackwardError, match=r"Mul: its input of shape \(2,\) was modified in place.*step"):
        second.backward()
    assert w.grad.tolist() == [2.0, 4.0]  # the failed backward wrote no gradient


def test_a_write_through_a_view_is_a_write_to_the_tensor_it_views_and_back():
    """A slice, reshape or transpose shares memory: writing through one changed what an op had used, unseen."""
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    with no_grad():
        part = w[:2]
        part -= 1.0  # writes w's memory
    assert w.tolist() == [0.0, 1.0, 3.0]
    with pytest.raises(BackwardError, match=r"Mul: its input of shape \(3,\) was modified in place"):
        y.backward()  # was: w.grad [0, 2, 6], from the new values
    x = Tensor([1.0, 2.0, 3.0, 4.0])
    w = Tensor(np.ones(4, np.float32), requires_grad=True)
    y = (w.reshape(2, 2) * x.reshape(2, 2).T).sum()  # the op saved views of x
    x *= 2  # the tensor they view is written
    with pytest.raises(BackwardError, match=r"is a view \(a slice, reshape or transpose\) of a tensor of shape "
                                            r"\(4,\), and that memory was modified in place"):
        y.backward()
    sibling = x[2:]
    y = (w[:2] * x[:2]).sum()
    sibling += 1  # another view of the same memory: refused too, as with PyTorch's shared version counter
    with pytest.raises(BackwardError, match="modified in place"):
        y.backward()
    copied = x[[0, 1]]  # an integer-array index copies: writing the copy leaves x's graph alone
    y = (w[:2] * x[:2]).sum()
    copied += 1
    y.backward()
    np.testing.assert_array_equal(w.grad[:2], x.numpy()[:2])
    assert getattr(copied, "_view_of", None) is None and getattr(sibling, "_view_of", None) is x


def test_every_in_place_write_raises_the_version_and_backward_checks_it():
    from tinygrad_mb import nn

    w = Tensor([1.0, 2.0], requires_grad=True)
    assert w._version == 0
    with no_grad():
        w -= 1.0
        first = w._version
        w *= 2.0
    assert 0 < first < w._version
    x = Tensor([3.0, 4.0])
    y = (w * x).sum()
    x /= 2.0  # nothing requires grad: in place, a new version
    with pytest.raises(BackwardError, match=r"Mul: its input of shape \(2,\) was modified in place"):
        y.backward()
    (w * x).sum().backward()  # a graph recorded after the change is fine
    np.testing.assert_array_equal(w.grad, [1.5, 2.0])

    layer = nn.Linear(2, 1)
    loss = layer(Tensor([[1.0, 2.0]])).sum()
    layer.load_state_dict(layer.state_dict())  # writes every parameter in place
    with pytest.raises(BackwardError, match="Linear: its input of shape .* modified in place"):
        loss.backward()

    norm = nn.BatchNorm1d(2)
    uses_stats = (Tensor([1.0, 1.0], requires_grad=True) * norm.running_var).sum()
    norm(Tensor([[1.0, 2.0], [3.0, 5.0]]))  # training mode: updates its running statistics in place
    with pytest.raises(BackwardError, match="modified in place"):
        uses_stats.backward()


def test_writes_straight_into_data_are_not_counted():  # the documented way around the check, as PyTorch's .data
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.data[...] = 0.0
    y.backward()
    assert w._version == 0 and w.grad.tolist() == [0.0, 0.0]


def test_nodes_with_equal_sequence_numbers_are_never_compared():
    # Only copies of a graph can share numbers (now refused, see below); the engine must not depend on it.
    x = Tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 2, x * 3
    b._ctx.sequence_number = a._ctx.sequence_number  # the heap would compare a < b: an elementwise tensor
    (a + b).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_only_leaves_can_be_copied_or_pickled():
    import copy

    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    y = x * 2
    for copier in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(BackwardError, match=r"made by an op \(here Mul\).*t.detach\(\)"):
            copier(y)
    for twin in (copy.deepcopy(x), pickle.loads(pickle.dumps(x))):
        assert twin.requires_grad and twin.is_leaf and twin.grad.tolist() == [2.0, 4.0]
        assert not np.shares_memory(twin.data, x.data)
    detached = copy.deepcopy(y.detach())
    assert detached.tolist() == [2.0, 4.0] and not detached.requires_grad


def test_no_grad_on_a_generator_applies_while_it_runs_and_only_then():
    x = Tensor([1.0], requires_grad=True)
    between = []

    @no_grad()
    def doubled(t, n):
        """Yields t * 2 n times; returns n."""
        for _ in range(n):
            received = yield t * 2
            if received is not None:
                yield received * t
        return n

    gen = doubled(x, 2)
    assert doubled.__doc__.startswith("Yields") and is_grad_enabled()
    first = next(gen)
    between.append(is_grad_enabled())  # the caller's code between items records as usual
    sent = gen.send(Tensor([3.0]))
    rest = list(gen)
    assert not first.requires_grad and not sent.requires_grad and sent.tolist() == [3.0]
    assert [t.requires_grad for t in rest] == [False] and between == [True] and is_grad_enabled()

    def finish():
        try:
            yield x * 2
        finally:
            seen.append(is_grad_enabled())

    seen = []
    closed = no_grad()(finish)()
    next(closed)
    closed.close()  # the generator's finally runs inside the block too
    assert seen == [False] and is_grad_enabled()
    gen = no_grad()(finish)()
    next(gen)
    with pytest.raises(KeyError):
        gen.throw(KeyError("from the caller"))
    assert seen == [False, False] and is_grad_enabled()
    with pytest.raises(StopIteration) as stop:
        next(doubled(x, 0))
    assert stop.value.value == 0


def test_numpy_functions_refuse_a_tensor_that_requires_grad():
    x = Tensor([1.0, 2.0], requires_grad=True, backend="numpy")  # NumPy functions: a host tensor
    with pytest.raises(TypeError, match=r"requires grad.*x\.log\(\).*x\.detach\(\)"):
        np.log(x)
    with pytest.raises(TypeError, match="requires grad"):
        np.asarray(x)
    np.testing.assert_allclose(np.log(x.detach()), np.log([1.0, 2.0]))  # values only: say so
    with no_grad():
        assert np.allclose(x * 2, [2.0, 4.0])  # results made without a graph are plain values


def test_assigning_grad_checks_shape_dtype_and_kind_as_pytorch_does():
    from tinygrad_mb.errors import DTypeError

    w = Tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    g = w.data + 1  # an array of w's backend (the default one), shape and dtype
    # a (1,) gradient would broadcast into every update
    with pytest.raises(ShapeError, match=r"has shape \(1,\) but the tensor has shape \(3, 2\)"):
        w.grad = g[:1, 0]
    with pytest.raises(DTypeError, match="dtype float64 but the tensor has float32.*astype"):
        w.grad = g.astype(np.float64)
    with pytest.raises(DTypeError, match="is a list, not an array"):
        w.grad = [[1.0, 2.0]] * 3
    assert w.grad is None  # a refused value leaves the old one
    w.grad = g
    assert w.grad is g  # an accepted array is stored as it is, as PyTorch does
    w.grad = Tensor(2 * g)  # a tensor: its array
    assert type(w.grad) is type(g) and (w.grad == 2).all()
    w.grad = None
    assert w.grad is None
    (w * 3).sum().backward()  # backward still fills it
    assert (w.grad == 3).all()


def test_retain_grad_on_a_tensor_that_does_not_require_grad_is_refused():
    x = Tensor([1.0, 2.0])
    with pytest.raises(BackwardError, match="does not require grad"):
        (x * 2).retain_grad()
    leaf = Tensor([1.0], requires_grad=True)
    assert leaf.retain_grad() is leaf  # a leaf keeps its gradient anyway: allowed, as in PyTorch
    (leaf * 2).sum().backward()
    assert leaf.grad.tolist() == [2.0]


# --- found by mutation testing: behaviour no other test pinned down ---


def test_unbroadcast_sums_the_copies_and_leaves_a_gradient_of_the_right_shape_alone():
    from tinygrad_mb.tensor import unbroadcast

    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(unbroadcast(g, (2, 3)), g)  # nothing to undo: the same values
    np.testing.assert_array_equal(unbroadcast(g, (3,)), [3.0, 5.0, 7.0])  # a new leading axis: summed away
    np.testing.assert_array_equal(unbroadcast(g, (2, 1)), [[3.0], [12.0]])  # a size-1 axis: summed, kept


def test_a_size_one_axis_broadcast_to_length_zero_gets_a_zero_gradient():
    x = Tensor([2.0], requires_grad=True)
    (x + Tensor(np.zeros(0))).sum().backward()  # x was used zero times
    assert x.grad.shape == (1,) and x.grad.tolist() == [0.0]


def test_backward_on_a_one_element_tensor_with_dimensions_keeps_its_shape():
    x = Tensor([2.0], requires_grad=True)
    x.backward()  # a leaf: dL/dx = 1, of x's shape (1,), not a 0-d array
    assert x.grad.shape == (1,) and x.grad.tolist() == [1.0]
    w = Tensor([[3.0]], requires_grad=True)
    h = (w * 2).retain_grad()
    h.backward()
    assert h.grad.shape == (1, 1) and h.grad.tolist() == [[1.0]]
    assert w.grad.shape == (1, 1) and w.grad.tolist() == [[2.0]]


def test_intermediate_results_keep_no_gradient_unless_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (h * h).sum().backward()
    assert h.grad is None  # as in PyTorch: only leaves (and retain_grad() results) keep one
    np.testing.assert_allclose(x.grad, [18.0, 36.0])  # d/dx (3x)^2 = 18x


# --- a custom op that returns the wrong kind of thing ------------------------------------------
class _Returns(Function):
    """forward returns ``self.out(x)``, backward ``self.grad(g)``: set per test on a subclass."""

    def forward(self, x):
        return type(self).out(x)

    def backward(self, g):
        return type(self).grad(g)


def _op(out=lambda x: x * 2, grad=lambda g: g * 2):
    return type("Custom", (_Returns,), {"out": staticmethod(out), "grad": staticmethod(grad)})


def test_a_forward_returning_a_tensor_a_float_or_none_is_refused_naming_the_op():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for returned, said in [(lambda a: Tensor(a * 2), "a Tensor, not an array.*use its .data"),
                           (lambda a: float(a.sum()), r"a float \(3.0\), not an array.*not float\(x.sum\(\)\)"),
                           (lambda a: None, r"None \(a missing return\?\)")]:
        with pytest.raises(TypeError, match="Custom.forward returned " + said):
            _op(out=returned).apply(x)


def test_a_backward_returning_a_bare_none_is_refused_as_a_missing_return():
    """A one-input op whose backward forgot `return`: the gradient vanished, .grad stayed None, no error."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = _op(grad=lambda g: None).apply(x)
    with pytest.raises(BackwardError, match=r"Custom.backward returned None \(is its `return` missing\?\).*\(None,\)"):
        y.sum().backward()
    assert x.grad is None
    # None in a tuple still says "no gradient for this input"
    z = _op(grad=lambda g: (None,)).apply(x) + x
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_a_backward_returning_a_float_or_a_tensor_is_refused_naming_the_input():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for returned, said in [(lambda g: 2.0, r"a float \(2.0\), not an array"),
                           (lambda g: Tensor(g * 2), "a Tensor, not an array")]:
        y = _op(grad=returned).apply(x)
        with pytest.raises(BackwardError, match=f"Custom.backward returned, for input 0, {said}.*e.g. g \\* 3"):
            y.sum().backward()
        assert x.grad is None


def test_a_gradient_bigger_than_the_output_is_refused_not_summed_down():
    # An elementwise op whose backward returns an outer product: (3, 3) for an input and output of shape (3,).
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = _op(grad=lambda g: 2 * g[:, None] * g[None, :]).apply(x)  # np.outer, on either backend
    with pytest.raises(BackwardError, match=r"shape \(3, 3\) for an input of shape \(3,\), bigger than the op's "
                                            r"output, of shape \(3,\)"):
        y.sum().backward()
    # Broadcasting's own case still works: a (3,) input added to a (2, 3) output gets its rows summed.
    b = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (Tensor(np.ones((2, 3))) + b).sum().backward()
    np.testing.assert_allclose(b.grad, [2.0, 2.0, 2.0])
    # So does a matrix product over a batch, whose last two axes differ from its output's.
    a = Tensor(np.ones((3, 4)), requires_grad=True)
    (a @ Tensor(np.ones((5, 4, 2)))).sum().backward()
    np.testing.assert_allclose(a.grad, np.full((3, 4), 10.0))


def test_an_integer_result_of_a_custom_op_leaves_the_graph_like_pytorch():
    x = Tensor([0.3, 1.7], requires_grad=True)
    y = _op(out=lambda a: np.round(a).astype(np.int64), grad=lambda g: g).apply(x)
    assert y.dtype == np.int64 and not y.requires_grad and y.is_leaf
    with pytest.raises(BackwardError, match="dtype int64: only float results carry gradients"):
        y.backward(np.ones(2))


def test_a_custom_backward_editing_g_in_place_fails_even_where_it_would_corrupt_another_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    if x.backend == "cupy":
        pytest.skip("CuPy arrays have no read-only flag, so the engine cannot hand g out read-only")

    def triple_in_place(g):
        g *= 3
        return g

    h = x * 1.0
    # The add hands one g to both of its inputs: edited in place, h's own share would become 3 too.
    with pytest.raises(BackwardError, match="Custom.backward wrote into a read-only array.*g \\* 3, not g \\*= 3"):
        ((_op(grad=triple_in_place).apply(h) + h) * 1.0).sum().backward()
    assert x.grad is None
    (_op(grad=lambda g: g * 3).apply(h) + h).sum().backward()  # the same op, written right
    np.testing.assert_allclose(x.grad, [4.0, 4.0])
