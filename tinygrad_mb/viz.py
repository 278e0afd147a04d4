"""Draw the computational graph behind a tensor, with matplotlib only (no graphviz).

Every tensor made by an op remembers that op in ``tensor._ctx``, and the op
remembers its inputs in ``_ctx.parents``. Walking those links backwards from
the output visits the whole expression::

    L = tanh(a * b + c)          a ─┐
                                    ├─ × ── ab ─┐
                                 b ─┘           ├─ + ── d ── tanh ── L
                                 c ─────────────┘

:func:`draw_graph` lays the nodes out in columns (inputs on the left, the
output on the right; column = longest path from an input), draws tensors as
boxes (name, value or shape, and ``.grad`` once ``backward()`` has filled it)
and ops as round nodes, and connects them with arrows in the direction the
values flow. ``backward()`` frees the graph unless it is called with
``retain_graph=True``; draw before it, or keep the graph.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_mb.backend import to_numpy
from tinygrad_mb.errors import ArgumentTypeError, GraphReleasedError
from tinygrad_mb.tensor import Tensor

__all__ = ["draw_graph", "graph_nodes"]

#: How an op's class name is shown in its node.
OP_SYMBOLS = {"Add": "+", "Sub": "−", "Mul": "×", "Div": "÷", "Pow": "**", "Neg": "−x", "MatMul": "@"}


def _describe(array: Any) -> str:
    """A scalar's value (4 significant digits), or an array's shape."""
    a = to_numpy(array)
    if a.size == 1:
        return f"{float(a.reshape(-1)[0]):.4g}"
    return "shape " + "×".join(str(s) for s in a.shape)


def graph_nodes(tensor: Tensor) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """The nodes and edges of the graph that produced ``tensor``.

    Returns:
        ``(nodes, edges)``: each node a dict with ``kind`` (``"tensor"``,
        ``"op"`` or ``"const"``), ``obj`` (the Tensor, the op or the constant)
        and ``level`` (its column: 0 for inputs); each edge ``(i, j)`` an arrow
        from node ``i`` to node ``j`` in the direction the values flow.
    """
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError(f"draw_graph needs a Tensor, got {type(tensor).__name__}")
    nodes: list[dict[str, Any]] = []
    index: dict[int, int] = {}  # id(obj) -> node number
    edges: list[tuple[int, int]] = []

    def add(kind: str, obj: Any) -> int:
        key = id(obj)
        if kind == "const" or key not in index:
            nodes.append({"kind": kind, "obj": obj, "level": 0})
            if kind == "const":  # constants are not shared: 2 in two places is two nodes
                return len(nodes) - 1
            index[key] = len(nodes) - 1
        return index[key]

    # Iterative depth-first walk (deep graphs must not hit Python's recursion limit).
    root = add("tensor", tensor)
    stack, seen = [tensor], {id(tensor)}
    while stack:
        t = stack.pop()
        fn = t._ctx
        if fn is None:
            continue
        parents = fn.parents
        if parents is None:
            raise GraphReleasedError("this graph was freed by backward(); draw before backward() or call "
                             "backward(retain_graph=True)")
        op = add("op", fn)
        edges.append((op, index[id(t)]))
        for p in parents:
            if isinstance(p, Tensor):
                edges.append((add("tensor", p), op))
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append(p)
            else:
                edges.append((add("const", p), op))

    # Column of each node = longest path from an input (relax until nothing changes; the graph is a DAG).
    changed = True
    while changed:
        changed = False
        for i, j in edges:
            if nodes[j]["level"] < nodes[i]["level"] + 1:
                nodes[j]["level"] = nodes[i]["level"] + 1
                changed = True
    # Keep constants next to the op they feed instead of far left.
    for i, j in edges:
        if nodes[i]["kind"] == "const":
            nodes[i]["level"] = nodes[j]["level"] - 1
    assert root == 0
    return nodes, edges


def _label(node: dict[str, Any], names: dict[int, str], show_grad: bool) -> str:
    obj = node["obj"]
    if node["kind"] == "op":
        name = type(obj).__name__
        return OP_SYMBOLS.get(name, name.lower())
    if node["kind"] == "const":
        return f"{obj:g}" if isinstance(obj, (int, float)) else str(obj)
    lines = []
    if id(obj) in names:
        lines.append(names[id(obj)])
    lines.append(_describe(obj.data))
    if show_grad and obj.grad is not None:
        lines.append("grad " + _describe(obj.grad))
    return "\n".join(lines)


def _blocked(i: int, j: int, nodes: list[dict[str, Any]], y: Any) -> bool:
    """Whether the straight arrow from node i to node j would pass through another node's box."""
    start, stop = nodes[i]["level"], nodes[j]["level"]
    for k, node in enumerate(nodes):
        if start < node["level"] < stop:
            on_line = y[i] + (y[j] - y[i]) * (node["level"] - start) / (stop - start)
            if abs(y[k] - on_line) < 0.45:  # rows are 1 apart; a box is about half a row tall
                return True
    return False


# Columns are 1 apart in data units; boxes in neighbouring columns keep at least this much
# of it free, so the arrow between them shows.
MIN_GAP = 0.3
# A figure grows with the graph up to this size (inches, each way); beyond it the text shrinks,
# down to MIN_FONT points. A graph that needs more is too big to read as a picture.
MAX_INCHES = 30.0
MIN_FONT = 5


def _box_extents(fig: Any, ax: Any, texts: list[Any]) -> list[Any]:
    """Each text's box in data units, ``[[x0, y0], [x1, y1]]`` (drawing first sizes the boxes)."""
    fig.canvas.draw()
    to_data = ax.transData.inverted()
    return [to_data.transform(t.get_bbox_patch().get_window_extent()) for t in texts]


def _narrowest_gap(extents: list[Any], nodes: list[dict[str, Any]]) -> float:
    """The smallest horizontal space between the boxes of two neighbouring columns, in data units."""
    left: dict[int, float] = {}
    right: dict[int, float] = {}
    for ((x0, _), (x1, _)), node in zip(extents, nodes):
        level = node["level"]
        left[level] = min(left.get(level, np.inf), x0)
        right[level] = max(right.get(level, -np.inf), x1)
    return min((left[level + 1] - right[level] for level in right if level + 1 in left), default=1.0)


def draw_graph(tensor: Tensor, names: Mapping[str, Tensor] | None = None, ax: Any = None,
               show_grad: bool = True, title: str | None = None) -> Any:
    """Draw the computational graph that produced ``tensor``; returns the matplotlib Figure.

    Args:
        tensor: the output, e.g. a loss.
        names: labels for some tensors, e.g. ``{"a": a, "b": b, "L": L}``.
        ax: a matplotlib Axes to draw into (default: a new figure).
        show_grad: print ``.grad`` under the value where ``backward()`` has filled it.
        title: the axes title (default: "Computational graph").
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415  (matplotlib only when drawing)

    if names is not None and not isinstance(names, Mapping):
        raise ArgumentTypeError(f"draw_graph: names must map a label to a tensor, e.g. names={{'a': a, 'L': L}}; "
                        f"got a {type(names).__name__}")
    nodes, edges = graph_nodes(tensor)
    labels = {id(t): name for name, t in (names or {}).items()}
    levels = max(n["level"] for n in nodes) + 1

    # Rows inside each column: inputs in walk order, then each node near the mean row of its inputs.
    inputs_of: dict[int, list[int]] = {j: [] for j in range(len(nodes))}
    for i, j in edges:
        inputs_of[j].append(i)
    # Depth-first order from the output, first argument first: puts a above b in a * b.
    first_seen: dict[int, int] = {}
    stack = [0]
    while stack:
        k = stack.pop()
        if k in first_seen:
            continue
        first_seen[k] = len(first_seen)
        stack.extend(reversed(inputs_of[k]))
    y = np.zeros(len(nodes))
    for level in range(levels):
        members = sorted((k for k, n in enumerate(nodes) if n["level"] == level), key=first_seen.__getitem__)
        if level > 0:
            members.sort(key=lambda k: np.mean([y[i] for i in inputs_of[k]]) if inputs_of[k] else 0.0)
        for r, k in enumerate(members):
            y[k] = r - (len(members) - 1) / 2
    # Pull each op and its output onto the mean height of the op's inputs when that row is free.
    for level in range(1, levels):
        members = [k for k, n in enumerate(nodes) if n["level"] == level]
        if len(members) == 1 and inputs_of[members[0]]:
            y[members[0]] = np.mean([y[i] for i in inputs_of[members[0]]])
    height = max(np.ptp(y) + 1, 2)

    own_figure = ax is None  # only then may the figure be resized to fit the labels
    if own_figure:
        if max(1.25 * levels, height) > MAX_INCHES:
            warnings.warn(f"draw_graph: {len(nodes)} nodes in {levels} columns and {height:.0f} rows are too many to "
                          f"draw legibly in a figure of at most {MAX_INCHES:g} inches; labels will overlap. Draw "
                          "a smaller part of the graph (e.g. one layer's output)", stacklevel=2)
        fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 1.25 * levels)),
                                        min(MAX_INCHES, max(2.8, 1.0 * height))))
    else:
        fig = ax.figure
    styles = {
        "tensor": dict(boxstyle="round,pad=0.4", fc="#dbe9f6", ec="#1f77b4", lw=1.2),
        "op": dict(boxstyle="circle,pad=0.3", fc="#fde0c5", ec="#d9730d", lw=1.2),
        "const": dict(boxstyle="round,pad=0.3", fc="#eeeeee", ec="#999999", lw=1.0),
    }
    texts = []
    for k, node in enumerate(nodes):
        style = dict(styles[node["kind"]])
        if node["kind"] == "op" and len(_label(node, labels, show_grad)) > 2:
            style["boxstyle"] = "round,pad=0.35,rounding_size=0.6"  # a circle around "tanh" would be huge
        if k == 0:
            style.update(fc="#c9e7c9", ec="#2ca02c", lw=1.6)  # the output
        texts.append(ax.text(node["level"], -y[k], _label(node, labels, show_grad), ha="center", va="center",
                             fontsize=9 if node["kind"] == "tensor" else 11, bbox=style, zorder=3))
    ax.set_xlim(-0.6, levels - 0.4)
    ax.set_ylim(-(y.max() + 0.8), -(y.min() - 0.8))
    ax.axis("off")
    extents = _box_extents(fig, ax, texts)
    if own_figure and _narrowest_gap(extents, nodes) < MIN_GAP:
        # Long labels ("crossentropy", "shape 4×2") in neighbouring columns touched, leaving
        # no room for the arrow between them: widen the figure until they are apart.
        width, fig_height = fig.get_size_inches()
        wanted = width * (1 - _narrowest_gap(extents, nodes)) / (1 - MIN_GAP)
        fig.set_size_inches(min(MAX_INCHES, wanted), fig_height)
        extents = _box_extents(fig, ax, texts)
    while _narrowest_gap(extents, nodes) < MIN_GAP and min(t.get_fontsize() for t in texts) > MIN_FONT:
        # Still too tight: an axes given by the caller (a panel of a larger figure), which we
        # may not resize, or the largest figure allowed. Smaller text instead (and with it the boxes).
        for text in texts:
            text.set_fontsize(max(MIN_FONT, 0.9 * text.get_fontsize()))
        extents = _box_extents(fig, ax, texts)
    # Straight arrows, except where a straight line would hide one: an edge that skips
    # columns would run behind the boxes in between, and a value used twice by one op
    # (x * x) would draw its two arrows on top of each other. Those get arcs.
    copies: dict[tuple[int, int], int] = {}
    bends = []
    for i, j in edges:
        copy = copies[i, j] = copies.get((i, j), -1) + 1
        total = edges.count((i, j))
        if total > 1:
            bends.append(0.6 * (copy - (total - 1) / 2))  # spread around the straight line
        elif _blocked(i, j, nodes, y):
            bends.append(-0.3)  # arc over the nodes in between
        else:
            bends.append(0.0)
    starts = [(extents[i][1][0], -y[i]) for i, _ in edges]  # right edge of the input's box
    ends = [(extents[j][0][0], -y[j]) for _, j in edges]  # left edge of the consumer's box
    # Make room above and below for the arcs: a quadratic arc with ``rad`` r bulges by
    # r/2 of its length (in screen units) away from the straight line.
    to_screen = ax.transData
    low, high = ax.get_ylim()
    for start, end, bend in zip(starts, ends, bends):
        if bend:
            (x0, y0), (x1, y1) = to_screen.transform([start, end])
            bulge = abs(bend) / 2 * np.hypot(x1 - x0, y1 - y0)
            per_unit = to_screen.transform([(0, 1)])[0][1] - to_screen.transform([(0, 0)])[0][1]
            middle = (start[1] + end[1]) / 2
            low, high = min(low, middle - bulge / per_unit - 0.3), max(high, middle + bulge / per_unit + 0.3)
    ax.set_ylim(low, high)
    for start, end, bend in zip(starts, ends, bends):
        ax.annotate("", xy=end, xytext=start, zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="#555555", lw=1.1, shrinkA=0, shrinkB=0,
                                    mutation_scale=12, connectionstyle=f"arc3,rad={bend}"))
    # In a panel of someone else's figure the long default title would run into the next panel.
    default = "Computational graph (values flow left to right, gradients right to left)" if own_figure \
        else "Computational graph"
    ax.set_title(title or default, fontsize=11)
    return fig
