"""The stand-in's cupyx: ``scatter_add`` goes through ``ndarray.scatter_add``, as in CuPy >= 12 (which warns)."""


def scatter_add(a, slices, value):
    a.scatter_add(slices, value)
