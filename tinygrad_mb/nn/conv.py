"""2-D convolution and max pooling, as matrix products over image patches (im2col).

A convolution slides a small kernel over the image; at each position it takes
the dot product of the kernel with the patch under it. Writing every patch as
a row of a matrix ("im2col") turns the whole convolution into ONE matrix
product, which NumPy/CuPy do fast:

    x (N, C, H, W)  --im2col-->  cols (N*OH*OW, C*KH*KW)
    out = cols @ W.reshape(OC, C*KH*KW)^T + b      -> (N, OH, OW, OC) -> (N, OC, OH, OW)

with OH = (H + 2*pad - KH) // stride + 1 (and the same for the width).
The patches are read without copying through a strided *view* of the padded
input (``as_strided``); the one copy happens when the view is reshaped into
the matrix. Backward is the same product transposed, followed by "col2im":
each patch's gradient is added back to the pixels it came from.

Tensors use PyTorch's layouts: images (N, C, H, W), kernels (OC, C, KH, KW).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.backend import as_rng
from tinygrad_mb.errors import HyperparameterError, ShapeError
from tinygrad_mb.nn import init
from tinygrad_mb.nn.module import Module, Parameter
from tinygrad_mb.tensor import Function, Tensor


def _pair(value: int | tuple[int, int], name: str, minimum: int) -> tuple[int, int]:
    try:
        pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    except TypeError:  # a float or other non-sequence: same message as any other bad value
        pair = ()
    if len(pair) != 2 or any(not isinstance(v, (int, np.integer)) or v < minimum for v in pair):
        raise HyperparameterError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def _patches(x: Any, kh: int, kw: int, stride: tuple[int, int], out_hw: tuple[int, int]) -> Any:
    """A read-only view of shape (N, C, OH, OW, KH, KW): patch (oh, ow) of every image and channel.

    Element [n, c, oh, ow, i, j] is x[n, c, oh*stride_h + i, ow*stride_w + j]; the
    strides say how many bytes to jump along each of those six axes.
    """
    sn, sc, sh, sw = x.strides
    shape = (x.shape[0], x.shape[1], out_hw[0], out_hw[1], kh, kw)
    strides = (sn, sc, sh * stride[0], sw * stride[1], sh, sw)
    xp = backend.array_module(x)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def _pad(x: Any, padding: tuple[int, int], value: float = 0.0) -> Any:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    xp = backend.array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _col2im(dpatches: Any, padded_shape: tuple, stride: tuple[int, int], padding: tuple[int, int]) -> Any:
    """Add each patch's gradient back onto the input pixels it was read from; crop the padding.

    ``dpatches`` has shape (N, C, OH, OW, KH, KW). For a kernel offset (i, j), the
    pixels read by all patches form the strided grid x[:, :, i::stride_h, j::stride_w]
    (OH x OW of them), so one slice-add per offset does it. Patches overlap when
    stride < kernel; ``+=`` per offset then accumulates the overlapping parts.
    """
    xp = backend.array_module(dpatches)
    _, _, oh, ow, kh, kw = dpatches.shape
    sh, sw = stride
    dx = xp.zeros(padded_shape, dtype=dpatches.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += dpatches[:, :, :, :, i, j]
    ph, pw = padding
    return dx[:, :, ph:dx.shape[2] - ph, pw:dx.shape[3] - pw]


def _check_conv_shapes(x: Any, weight: Any, bias: Any) -> None:
    """One clear message per way the shapes of a convolution can be wrong."""
    if x.ndim not in (3, 4):
        fix = "e.g. x.reshape(1, 1, H, W) for a single grey image"
        if x.ndim == 2 and weight.ndim == 4:  # (N, C*H*W): a batch of flattened images
            n, c = x.shape[0], weight.shape[1]
            side = math.isqrt(x.shape[1] // c)
            hw = f"{side}, {side}" if c * side * side == x.shape[1] else "H, W"
            fix = f"e.g. x.reshape({n}, {c}, {hw}) for {n} flattened images of {c} channel(s)"
        raise ShapeError(
            f"conv2d: input must be (N, C, H, W) or one unbatched image (C, H, W), got shape {tuple(x.shape)}; "
            f"reshape it, {fix}"
        )
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must be (out_channels, in_channels, kh, kw), got shape {tuple(weight.shape)}")
    c = x.shape[-3]  # the channel axis, batched or not
    if c != weight.shape[1]:
        if x.ndim == 3 and weight.shape[1] == 1:  # (N, H, W): a batch of grey images read as one image
            fix = f"for {x.shape[0]} grey images add the channel axis: x.reshape({x.shape[0]}, 1, {x.shape[1]}, " \
                  f"{x.shape[2]})"
        elif x.shape[-1] == weight.shape[1]:  # (N, H, W, C), as image libraries store them
            fix = "the channels look last (N, H, W, C); move them to axis 1: x.transpose(0, 3, 1, 2)" \
                if x.ndim == 4 else "the channels look last (H, W, C); move them first: x.transpose(2, 0, 1)"
        else:
            fix = "in_channels must equal the channels of the input (axis 1 of (N, C, H, W))"
        raise ShapeError(
            f"conv2d: weight expects {weight.shape[1]} input channels, got {c} (input shape {tuple(x.shape)}, "
            f"weight shape {tuple(weight.shape)}); {fix}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(
            f"conv2d: bias must have shape ({weight.shape[0]},), one value per output channel, got shape "
            f"{tuple(bias.shape)}"
        )


class Conv2dFn(Function):
    """out[n, o, p, q] = b[o] + sum_{c,i,j} W[o, c, i, j] * xpad[n, c, p*s + i, q*s + j].

    With cols = im2col(x) (N*OH*OW, C*KH*KW), Wm = W.reshape(OC, -1) and the
    output gradient as a matrix G (N*OH*OW, OC):

        out = cols Wm^T + b,   dL/dWm = G^T cols,   dL/db = sum of G's rows,
        dL/dcols = G Wm,       dL/dx = col2im(dL/dcols).
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0)):
        """out = im2col(x) @ W^T + b, reshaped to (N, OC, OH, OW) ((OC, OH, OW) for a (C, H, W) input)."""
        _check_conv_shapes(x, weight, bias)
        self.unbatched = x.ndim == 3
        if self.unbatched:  # one image: a batch of one, removed again from the output (as in PyTorch)
            x = x[None]
        n, c, h, w = x.shape
        oc, _, kh, kw = weight.shape
        oh = _output_size(h, kh, stride[0], padding[0])
        ow = _output_size(w, kw, stride[1], padding[1])
        if oh < 1 or ow < 1:
            raise ShapeError(f"conv2d: kernel {kh}x{kw} does not fit in the {h}x{w} input with padding {padding}")
        xpad = _pad(x, padding)
        # (N, C, OH, OW, KH, KW) -> (N, OH, OW, C, KH, KW) -> matrix: the one copy.
        cols = _patches(xpad, kh, kw, stride, (oh, ow)).transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
        wm = weight.reshape(oc, -1)
        out = cols.dot(wm.T)
        if bias is not None:
            out += bias
        self.cols, self.wm, self.has_bias = cols, wm, bias is not None
        self.weight_shape, self.padded_shape, self.stride, self.padding = weight.shape, xpad.shape, stride, padding
        xp = backend.array_module(x)
        out = xp.ascontiguousarray(out.reshape(n, oh, ow, oc).transpose(0, 3, 1, 2))
        return out[0] if self.unbatched else out

    def backward(self, g):
        """dL/dx = col2im(G Wm), dL/dW = G^T cols, dL/db = sum of G's rows (each only if its input needs it)."""
        if self.unbatched:
            g = g[None]
        n, oc, oh, ow = g.shape
        gm = g.transpose(0, 2, 3, 1).reshape(-1, oc)  # (N*OH*OW, OC)
        dx = dw = None
        if self.needs_input_grad(0):  # input images usually need none: skip the product and col2im
            _, c, kh, kw = self.weight_shape
            dpatches = gm.dot(self.wm).reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 1, 2, 4, 5)
            dx = _col2im(dpatches, self.padded_shape, self.stride, self.padding)
            dx = dx[0] if self.unbatched else dx
        if self.needs_input_grad(1):  # a frozen kernel needs none
            dw = gm.T.dot(self.cols).reshape(self.weight_shape)
        if self.has_bias:
            return dx, dw, gm.sum(axis=0)
        return dx, dw


class MaxPool2dFn(Function):
    """out[n, c, p, q] = max over the window (p, q) of xpad, padded with -inf.

    dL/dx is dL/dout routed to the one input element that won each window
    (the first one if several tie, as in PyTorch; padding only wins where the
    whole window is -inf, and then the first real element takes its place);
    windows that overlap (stride < kernel) add up at shared winners.
    """

    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0)):
        """The maximum of every window; remembers which element won."""
        if x.ndim not in (3, 4):
            raise ShapeError(
                f"max_pool2d: input must be (N, C, H, W) or one unbatched image (C, H, W), got shape {x.shape}"
            )
        self.unbatched = x.ndim == 3
        if self.unbatched:  # one image: a batch of one, removed again from the output (as in PyTorch)
            x = x[None]
        n, c, h, w = x.shape
        kh, kw = kernel
        oh = _output_size(h, kh, stride[0], padding[0])
        ow = _output_size(w, kw, stride[1], padding[1])
        if oh < 1 or ow < 1:
            raise ShapeError(f"max_pool2d: window {kh}x{kw} does not fit in the {h}x{w} input")
        # The padding value must never win: the lowest value of the dtype.
        lowest = -np.inf if x.dtype.kind in "fc" else False if x.dtype.kind == "b" else np.iinfo(x.dtype).min
        xpad = _pad(x, padding, value=lowest)
        windows = _patches(xpad, kh, kw, stride, (oh, ow)).reshape(n, c, oh, ow, kh * kw)
        self.winner = windows.argmax(axis=-1)  # flat offset i*kw + j of each window's maximum
        self.kernel, self.stride, self.padding, self.padded_shape = kernel, stride, padding, xpad.shape
        xp = backend.array_module(x)
        out = xp.take_along_axis(windows, self.winner[..., None], axis=-1)[..., 0]
        # (On the GPU, reading (out == lowest).any() in the `if` would wait for the device: fix up every time.)
        if lowest == -np.inf and any(padding) and (xp is not np or (out == lowest).any()):
            # A window whose real values are all -inf ties with its padding, which may come first; its
            # gradient would be lost in the padding. Give it to the first real element, as PyTorch does.
            real = _patches(_pad(xp.ones(x.shape, dtype=bool), padding, value=False), kh, kw, stride, (oh, ow))
            first_real = real.reshape(n, c, oh, ow, kh * kw).argmax(axis=-1)
            self.winner = xp.where(out == lowest, first_real, self.winner)
        return out[0] if self.unbatched else out

    def backward(self, g):
        """Send each output gradient back to its window's winner (adding where windows overlap)."""
        if self.unbatched:
            g = g[None]
        xp = backend.array_module(g)
        kh, kw = self.kernel
        offsets = xp.arange(kh * kw).reshape(kh, kw)
        # dpatches[..., i, j] = g where the window's winner sits at offset (i, j), else 0.
        dpatches = (self.winner[..., None, None] == offsets) * g[..., None, None]
        dx = _col2im(dpatches.astype(g.dtype, copy=False), self.padded_shape, self.stride, self.padding)
        return dx[0] if self.unbatched else dx


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Tensor:
    """2-D convolution (really cross-correlation, as in every DL library) of (N, C, H, W) images.

    Args:
        x: images (N, C, H, W), or one image (C, H, W) as in PyTorch.
        weight: kernels (out_channels, C, kh, kw).
        bias: (out_channels,) or None.
        stride: step between patches (int or (sh, sw)).
        padding: zeros added on each side (int or (ph, pw)).

    Returns:
        (N, out_channels, OH, OW) with OH = (H + 2*ph - kh) // sh + 1; (out_channels, OH, OW)
        for one image.
    """
    params = {"stride": _pair(stride, "stride", 1), "padding": _pair(padding, "padding", 0)}
    if bias is None:
        return Conv2dFn.apply(x, weight, **params)
    return Conv2dFn.apply(x, weight, bias, **params)


def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> Tensor:
    """Maximum over each kh x kw window of (N, C, H, W) images (or one (C, H, W) image); stride defaults to the kernel.

    Padding (at most half the kernel, as in PyTorch) adds -inf, which never wins.
    """
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise HyperparameterError(f"max_pool2d: padding {padding} must be at most half the kernel {kernel}")
    return MaxPool2dFn.apply(x, kernel=kernel, stride=stride, padding=padding)


class Conv2d(Module):
    """2-D convolution layer: (N, in_channels, H, W) -> (N, out_channels, OH, OW); also (C, H, W) -> (OC, OH, OW).

    Weight (out_channels, in_channels, kh, kw) and bias (out_channels,) are
    initialised as in PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = in_channels * kh * kw (kaiming_uniform with a = sqrt(5)).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: int or (kh, kw).
        stride: int or pair, default 1.
        padding: int or pair of zero-padding on each side, default 0.
        dilation, groups: only 1, their default; they hold PyTorch's places in the
            argument order, so positional arguments mean what they mean there.
        bias: learn an additive bias per output channel (default True).
        seed: int or numpy Generator for the initial weights (None: fresh entropy); by name,
            like ``dtype`` and ``backend``.
        dtype: of the parameters (default float32).
        backend: "numpy" or "cupy" (default: the current backend).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True, *,
                 seed: int | np.random.Generator | None = None, dtype: Any = "float32", backend: str | None = None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise HyperparameterError(f"Conv2d: {name} must be a positive int, got {value!r}")
        # PyTorch's order of arguments, so that Conv2d(3, 8, 3, 1, 1, 2) ported from it cannot mean something
        # else here; dilation and groups themselves are not implemented.
        if _pair(dilation, "dilation", 1) != (1, 1) or groups != 1:
            raise HyperparameterError(
                f"Conv2d: dilation={dilation!r}, groups={groups!r}: only dilation=1 and groups=1 are implemented "
                "(a plain convolution over all input channels)"
            )
        if bias not in (True, False):  # e.g. a seed given where PyTorch's bias stands
            raise HyperparameterError(f"Conv2d: bias must be True or False, got {bias!r}; pass seed= by name")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        rng = as_rng(seed)  # one Generator for all initial weights: weight first, then bias
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype), backend=backend)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), seed=rng)
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype), backend=backend)
            bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
            init.uniform_(self.bias, -bound, bound, seed=rng)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        if self.bias is None:
            return Conv2dFn.apply(x, self.weight, stride=self.stride, padding=self.padding)
        return Conv2dFn.apply(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """Max pooling layer; ``stride`` defaults to ``kernel_size`` (non-overlapping windows)."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        if self.padding[0] > self.kernel_size[0] // 2 or self.padding[1] > self.kernel_size[1] // 2:
            raise HyperparameterError(
                f"MaxPool2d: padding {self.padding} must be at most half the kernel {self.kernel_size}"
            )

    def forward(self, x: Tensor) -> Tensor:
        return MaxPool2dFn.apply(x, kernel=self.kernel_size, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
