"""draw_graph: walks tensor._ctx.parents, lays the graph out, draws it with matplotlib.

At the end: the figure of ``tinygrad-mb compare`` (gd/compare_plot.py, gd/plots.py), its colours and axes.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tinygrad_mb import Tensor  # noqa: E402
from tinygrad_mb.errors import GraphReleasedError  # noqa: E402
from tinygrad_mb.viz import draw_graph, graph_nodes  # noqa: E402


def small_expression():
    a = Tensor(2.0, requires_grad=True)
    b = Tensor(-3.0, requires_grad=True)
    c = Tensor(6.5, requires_grad=True)
    return a, b, c, (a * b + c).tanh() * 2


def test_graph_nodes_follow_the_expression():
    a, b, c, out = small_expression()
    nodes, edges = graph_nodes(out)
    kinds = [n["kind"] for n in nodes]
    assert kinds.count("op") == 4  # *, +, tanh, *
    assert kinds.count("const") == 1  # the 2
    tensors = [n["obj"] for n in nodes if n["kind"] == "tensor"]
    assert any(t is a for t in tensors) and any(t is b for t in tensors) and any(t is c for t in tensors)
    level = {id(n["obj"]): n["level"] for n in nodes if n["kind"] == "tensor"}
    assert level[id(a)] == level[id(b)] == level[id(c)] == 0
    assert nodes[0]["obj"] is out and nodes[0]["level"] == max(n["level"] for n in nodes)
    for i, j in edges:  # every arrow points forward, from a column to a later one
        assert nodes[i]["level"] < nodes[j]["level"]


def test_a_tensor_used_twice_is_one_node_with_two_arrows():
    x = Tensor(3.0, requires_grad=True)
    nodes, edges = graph_nodes(x * x + x)
    k = next(i for i, n in enumerate(nodes) if n["obj"] is x)
    assert sum(1 for i, _ in edges if i == k) == 3  # into Mul twice, into Add once


def test_draw_graph_returns_a_figure_with_names_values_and_grads():
    a, b, c, out = small_expression()
    out.backward(retain_graph=True)
    fig = draw_graph(out, names={"a": a, "out": out}, title="my graph")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("a\n2\ngrad") for t in texts)
    assert "tanh" in texts and "×" in texts and "+" in texts
    assert fig.axes[0].get_title() == "my graph"
    assert len(fig.axes[0].patches) + len(fig.axes[0].texts) > 8  # boxes and arrows were drawn
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_draw_graph_of_arrays_shows_shapes_and_draws_into_given_axes():
    import matplotlib.pyplot as plt

    x = Tensor(np.ones((2, 3)), requires_grad=True)
    fig, ax = plt.subplots()
    assert draw_graph((x * x).sum(), names={"x": x}, ax=ax) is fig
    assert any("shape 2×3" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_freed_graph_and_non_tensors_are_rejected_with_advice():
    _, _, _, out = small_expression()
    out.backward()
    with pytest.raises(GraphReleasedError, match="retain_graph=True"):
        graph_nodes(out)
    with pytest.raises(TypeError, match="needs a Tensor"):
        graph_nodes(3.0)


def test_a_leaf_alone_is_one_node():
    import matplotlib.pyplot as plt

    nodes, edges = graph_nodes(Tensor(1.0))
    assert len(nodes) == 1 and edges == []
    plt.close(draw_graph(Tensor(1.0)))


import matplotlib.pyplot as plt  # noqa: E402


def _arrows(fig):
    """(start, end, rad) of every arrow drawn, in data coordinates."""
    ax = fig.axes[0]
    return [(ann.xyann, ann.xy, ann.arrow_patch.get_connectionstyle().rad)
            for ann in ax.texts if hasattr(ann, "arrow_patch") and ann.arrow_patch is not None]


def test_every_arrow_can_be_seen_when_a_value_is_used_twice_or_skips_a_column():
    # y = x * x + x: x goes into × twice and into + past the × and its output.
    x = Tensor(3.0, requires_grad=True)
    y = x * x + x
    fig = draw_graph(y)
    arrows = _arrows(fig)
    assert len(arrows) == len(graph_nodes(y)[1]) == 6
    twin_rads = sorted(rad for start, end, rad in arrows if end[0] < 1.5)
    assert len(twin_rads) == 2 and twin_rads[0] != twin_rads[1]  # two arcs, not one line drawn twice
    skipping = [rad for start, end, rad in arrows if end[0] - start[0] > 1.5]
    assert skipping and all(rad != 0 for rad in skipping)  # arcs over the boxes in between
    low, high = fig.axes[0].get_ylim()
    assert low < -0.5 and high > 0.5  # room for the arcs
    plt.close(fig)


def test_an_edge_past_empty_rows_stays_straight():
    a, b, c = (Tensor(v, requires_grad=True) for v in (2.0, -3.0, 10.0))
    fig = draw_graph((a * b + c).tanh())
    assert all(rad == 0 for _, _, rad in _arrows(fig))  # c's arrow passes no box: no need to bend
    plt.close(fig)


def test_long_labels_in_neighbouring_columns_leave_room_for_the_arrow():
    # linear -> "shape 4×2" -> crossentropy -> loss: wide boxes that used to touch, hiding the arrow
    from tinygrad_mb import nn

    x = Tensor(np.ones((4, 3), dtype="float32"))
    loss = nn.functional.cross_entropy(nn.Linear(3, 2, seed=0)(x), Tensor(np.array([0, 1, 0, 1])))
    fig = draw_graph(loss)
    lengths = [end[0] - start[0] for start, end, _ in _arrows(fig)]  # box edge to box edge, columns 1 apart
    assert min(lengths) >= 0.25, lengths
    plt.close(fig)


def test_names_must_be_a_mapping():
    a, _, _, out = small_expression()
    with pytest.raises(TypeError, match="names must map a label to a tensor, e.g. names=\\{'a': a"):
        draw_graph(out, names=[("a", a)])


def test_in_a_panel_of_a_given_figure_the_boxes_still_leave_room_for_the_arrows():
    # Catches labels overlapping ("tanh" showing as "nh") when the figure is not ours to widen.
    import matplotlib.pyplot as plt

    from tinygrad_mb.viz import MIN_GAP, _box_extents, _narrowest_gap

    a, b, c, out = small_expression()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    draw_graph(out, names={"a": a, "b": b, "c": c, "out": out}, ax=axes[0])
    nodes, _ = graph_nodes(out)
    boxes = axes[0].texts[:len(nodes)]  # the node labels, in node order (the arrows come after)
    assert _narrowest_gap(_box_extents(fig, axes[0], boxes), nodes) >= MIN_GAP
    assert axes[0].get_title() == "Computational graph"  # the short title: the long one ran into the next panel
    plt.close(fig)


def test_a_huge_graph_warns_and_stays_a_drawable_size():
    # Catches a 60-op chain drawn 221 inches wide (a 200-op one 736 inches: 73,600 pixels).
    import matplotlib.pyplot as plt

    from tinygrad_mb.viz import MAX_INCHES

    h = Tensor(0.5, requires_grad=True)
    for _ in range(60):
        h = (h * 1.01).tanh()
    with pytest.warns(UserWarning, match="too many to draw legibly"):
        fig = draw_graph(h)
    assert max(fig.get_size_inches()) <= MAX_INCHES
    plt.close(fig)


# --- the comparison figure (gd/compare_plot.py and gd/plots.py) ---------------------------------
def _curve_colors(panel):
    """Each legend label's line colour in one panel (the ✕ marks and the floor line have no label)."""
    return {line.get_label(): line.get_color() for line in panel.get_lines() if not line.get_label().startswith("_")}


def test_a_variant_keeps_its_colour_whatever_its_place_in_the_list():
    # Catches colours given by position: `--variants sgd,batch` drew SGD blue and batch red,
    # the other way round from the default batch,sgd,minibatch:32 figure a class has seen.
    import matplotlib.pyplot as plt

    from tinygrad_mb import gd
    from tinygrad_mb.gd.plots import COLORS, variant_colors

    blue, vermillion, green, orange = COLORS[:4]
    assert (blue, vermillion, green) == ("#0072B2", "#D55E00", "#009E73")  # Okabe-Ito: safe for colour-blind readers
    assert variant_colors([1000, 1, 32], 1000) == [blue, vermillion, green]  # the default order: as before
    assert variant_colors([1, 64, 5000], 1000) == [vermillion, green, blue]  # B >= N is full batch
    assert variant_colors([1000, 1000, 1, 32], 1000) == [blue, green, vermillion, orange]  # a second batch: its own
    assert len(set(variant_colors([2 ** k for k in range(12)], 5000))) == len(COLORS)  # more than COLORS: reused
    prob = gd.make_problem("linear")
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.MiniBatch(64, 0.05), gd.Stochastic(0.01),
                   gd.Batch(0.5)], updates=3, seeds=[0])
    fig = c.plot(x="all")
    for panel in fig.axes:
        colors = _curve_colors(panel)
        assert colors["batch (B=N=1000, lr=0.5)"] == blue, panel.get_title()
        assert colors["sgd (B=1, lr=0.01)"] == vermillion, panel.get_title()
        assert colors["minibatch (B=64, lr=0.05)"] == green, panel.get_title()
    plt.close(fig)


def test_each_kind_of_variant_has_its_own_line_style_in_the_curves_and_the_legend():
    # Catches a figure told apart by colour alone: a reader who cannot tell vermillion from green
    # (or prints in grey) needs the line style to match a curve to its legend entry.
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from tinygrad_mb import gd
    from tinygrad_mb.gd.plots import variant_styles

    # by kind, not by place; a second variant of a kind gets a style of its own (two mini-batch sizes
    # used to be two dashed curves told apart by colour alone)
    assert variant_styles([1000, 1, 32, 5000, 64], 1000) == ["-", ":", "--", "-.", "-."]
    assert len(set(map(str, variant_styles([1000, 1, 8, 64, 128, 256], 1000)))) == 6
    prob = gd.make_problem("linear")
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.MiniBatch(64, 0.05), gd.Stochastic(0.01),
                   gd.Batch(0.5)], updates=3, seeds=[0])
    want = {"minibatch (B=64, lr=0.05)": "--", "sgd (B=1, lr=0.01)": ":", "batch (B=N=1000, lr=0.5)": "-"}
    for x in ("all", "epoch"):  # the figure's legend below the panels, and one panel's own legend
        fig = c.plot(x=x)
        for panel in fig.axes:
            styles = {line.get_label(): line.get_linestyle() for line in panel.get_lines()
                      if not line.get_label().startswith("_")}
            assert styles == want, panel.get_title()
        (legend,) = fig.legends or [fig.axes[0].get_legend()]
        handles = dict(zip((t.get_text() for t in legend.get_texts()), legend.legend_handles))
        assert all(isinstance(h, Line2D) for h in handles.values())
        assert {label: h.get_linestyle() for label, h in handles.items()} == want
        plt.close(fig)


def test_the_epoch_axis_turns_logarithmic_when_the_runs_last_very_different_numbers_of_epochs():
    # Catches `compare --updates 100` (or --seconds): batch GD runs 100 epochs, SGD 0.1, and on a
    # linear epoch axis SGD's whole curve sat in the first pixel.
    import matplotlib.pyplot as plt

    from tinygrad_mb import gd

    prob = gd.make_problem("linear")
    variants = [gd.Batch(0.5), gd.Stochastic(0.01), gd.MiniBatch(32, 0.1)]
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, updates=100, seeds=[0])
    fig = c.plot(x="all")
    panel = fig.axes[0]
    assert panel.get_xscale() == "log" and "log scale" in panel.get_xlabel()
    sgd = next(line for line in panel.get_lines() if line.get_label().startswith("sgd"))
    assert len(sgd.get_xdata()) >= 1 and max(sgd.get_xdata()) == pytest.approx(0.1)  # drawn, from 64 samples on
    plt.close(fig)
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=1, seeds=[0])
    fig = c.plot(x="all")
    assert fig.axes[0].get_xscale() == "linear" and "log" not in fig.axes[0].get_xlabel()  # same length: linear
    plt.close(fig)
    # a run that diverged early does not count: the others still all ran the same epochs
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.Stochastic(100.0)], epochs=1,
                   seeds=[0])
    assert c.histories["sgd (B=1, lr=100)"][0].diverged
    fig = c.plot(x="epoch")
    assert fig.axes[0].get_xscale() == "linear"
    plt.close(fig)
