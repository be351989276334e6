"""``einsum`` with torch's meaning.

The equation is parsed and checked as torch does (subscripts in ``[a-zA-Z]``, at most one ``...``
per operand, implicit output: the ellipsis dimensions, then the subscripts that appear once, upper
case before lower case). Sizes broadcast as torch's: a dimension of size 1 stretches to the size the
same subscript has elsewhere (it is dropped from that operand and NumPy's einsum broadcasts it).
Forward is one ``np.einsum`` (with ``optimize`` for two operands or more); the gradient of each
operand is another einsum of the output's gradient with the other operands, broadcast along the
subscripts only that operand has, and written onto the diagonal where a subscript repeats in it.

Operands must share one dtype, as torch's (an ``EinsumError``, a ``RuntimeError`` as torch's). Errors
name what torch's name, in its words. Difference from torch: the sublist form
``einsum(a, [0, 1], b, [1, 2])`` is not implemented.
"""

from __future__ import annotations

from typing import Any

from retroprop.backend import array_module
from retroprop.tensor import Function, ShapeError, Tensor, share_counter

__all__ = ["einsum"]

# torch's order of subscripts (upper case first) and NumPy's einsum alphabet
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class EinsumError(ValueError, RuntimeError):
    """A malformed einsum equation (bad subscript, misplaced ellipsis, operand count).

    A ``RuntimeError``, as torch raises for these, and a ``ValueError``, as retroprop does."""


def _parse_term(term: str, start: int, operand: int | None) -> list[str]:
    """The subscripts of one term, with ``'...'`` as one entry; ``start`` is its index in the equation."""
    labels: list[str] = []
    where = "the output" if operand is None else f"operand {operand}"
    i = 0
    while i < len(term):
        char = term[i]
        if char == ".":
            if "..." in labels:
                raise EinsumError(f"einsum(): found '.' for {where} for which an ellipsis was already found")
            if term[i:i + 3] != "...":
                raise EinsumError(f"einsum(): found '.' for {where} that is not part of any ellipsis")
            labels.append("...")
            i += 3
            continue
        if char == " ":
            i += 1
            continue
        if not ("a" <= char <= "z" or "A" <= char <= "Z"):
            raise EinsumError(f"einsum(): invalid subscript given at index {start + i} in the equation "
                              "string, subscripts must be in [a-zA-Z]")
        labels.append(char)
        i += 1
    return labels


class _Plan:
    """A checked equation for given shapes, rewritten for NumPy.

    ``terms[k]`` are operand ``k``'s letters after dropping its broadcast size-1 axes (``keep[k]``
    lists the axes it keeps), ``output`` the output's letters and ``sizes`` each letter's size."""

    def __init__(self, equation: str, shapes: list[tuple[int, ...]]) -> None:
        if not isinstance(equation, str):
            raise TypeError(f"einsum(): the equation must be a string, got {type(equation).__name__}")
        arrow = equation.find("->")
        lhs = equation if arrow < 0 else equation[:arrow]
        pieces = lhs.split(",")
        if len(pieces) < len(shapes):
            raise EinsumError("einsum(): more operands were provided than specified in the equation")
        if len(pieces) > len(shapes):
            raise EinsumError("einsum(): fewer operands were provided than specified in the equation")
        inputs, start = [], 0
        for k, piece in enumerate(pieces):
            inputs.append(_parse_term(piece, start, k))
            start += len(piece) + 1
        output = None if arrow < 0 else _parse_term(equation[arrow + 2:], arrow + 2, None)

        # the ellipsis: as many dimensions as an operand has beyond its subscripts, right-aligned
        ellipsis_dims = 0
        for k, (labels, shape) in enumerate(zip(inputs, shapes, strict=True)):
            named = len(labels) - ("..." in labels)
            if "..." in labels:
                if len(shape) < named:
                    raise ShapeError(f"einsum(): the number of subscripts in the equation ({named}) is more "
                                     f"than the number of dimensions ({len(shape)}) for operand {k}")
                ellipsis_dims = max(ellipsis_dims, len(shape) - named)
            elif len(shape) != named:
                raise ShapeError(f"einsum(): the number of subscripts in the equation ({named}) does not "
                                 f"match the number of dimensions ({len(shape)}) for operand {k} and no "
                                 "ellipsis was given")
        used = {c for labels in inputs for c in labels if c != "..."}
        spare = [c for c in _LETTERS if c not in used]
        if ellipsis_dims > len(spare):
            raise EinsumError(f"einsum(): {len(used)} subscripts and {ellipsis_dims} ellipsis dimensions "
                              f"exceed the {len(_LETTERS)} that einsum can name")
        ellipsis = spare[:ellipsis_dims]
        terms = []
        for labels, shape in zip(inputs, shapes, strict=True):
            if "..." in labels:
                at = labels.index("...")
                count = len(shape) - (len(labels) - 1)
                labels = [*labels[:at], *ellipsis[ellipsis_dims - count:], *labels[at + 1:]]
            terms.append(labels)

        # sizes: equal within an operand, equal or 1 across operands
        sizes: dict[str, int] = {}
        for k, (labels, shape) in enumerate(zip(terms, shapes, strict=True)):
            own: dict[str, int] = {}
            for label, n in zip(labels, shape, strict=True):
                if label in own and own[label] != n:
                    raise ShapeError(f"einsum(): subscript {label} is repeated for operand {k} but the sizes "
                                     f"don't match, {own[label]} != {n}")
                own[label] = n
            for label, n in own.items():
                seen = sizes.get(label)
                if seen is None or seen == 1:
                    sizes[label] = n
                elif n not in (1, seen):
                    if label in ellipsis:
                        raise ShapeError(f"einsum(): dimension {ellipsis.index(label)} covered by ellipsis "
                                         f"in operand {k} has size {n} which does not broadcast with "
                                         f"previously seen ellipsis with size {seen} for the respective "
                                         "dimension")
                    raise ShapeError(f"einsum(): subscript {label} has size {n} for operand {k} which does "
                                     f"not broadcast with previously seen size {seen}")

        if output is None:  # implicit: the ellipsis, then the subscripts seen once, in torch's order
            counts: dict[str, int] = {}
            for labels in inputs:
                for label in labels:
                    counts[label] = counts.get(label, 0) + 1
            once = sorted((c for c, n in counts.items() if n == 1 and c != "..."), key=_LETTERS.index)
            output_letters = [*ellipsis, *once]
        else:
            output_letters = []
            for label in output:
                if label == "...":
                    output_letters.extend(ellipsis)
                    continue
                if label not in used:
                    raise EinsumError(f"einsum(): output subscript {label} does not appear in the equation "
                                      "for any input operand")
                if label in output_letters:
                    raise EinsumError(f"einsum(): output subscript {label} appears more than once in the "
                                      "output")
                output_letters.append(label)

        # a size-1 axis whose subscript is larger elsewhere broadcasts: drop it from that operand
        self.keep = [tuple(i for i, (c, n) in enumerate(zip(labels, shape, strict=True))
                           if not (n == 1 and sizes[c] != 1))
                     for labels, shape in zip(terms, shapes, strict=True)]
        self.terms = ["".join(labels[i] for i in keep) for labels, keep in zip(terms, self.keep, strict=True)]
        self.output = "".join(output_letters)
        self.sizes = sizes
        self.shapes = shapes

    def operand(self, k: int, x: Any) -> Any:
        """Operand ``k`` without its broadcast size-1 axes."""
        keep = self.keep[k]
        if len(keep) == x.ndim:
            return x
        return x.reshape(tuple(x.shape[i] for i in keep))


def _einsum(xp: Any, subscripts: str, *arrays: Any) -> Any:
    # optimize picks a contraction order and BLAS (tensordot) for pairs; one operand needs neither
    return xp.einsum(subscripts, *arrays, optimize=len(arrays) > 1)


class Einsum(Function):
    """``einsum`` of two operands with a ``_Plan``; each gradient is another einsum (subclasses: one
    operand, three or more)."""

    saves: tuple[int, ...] | None = (0, 1)  # each operand for the other's gradient

    def forward(self, *arrays: Any, plan: _Plan) -> Any:
        xp = array_module(*arrays)
        self.plan = plan
        operands = [plan.operand(k, a) for k, a in enumerate(arrays)]
        self.arrays = operands if len(operands) > 1 else None  # one operand's gradient needs only grad's
        return _einsum(xp, ",".join(plan.terms) + "->" + plan.output, *operands)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        plan, arrays = self.plan, self.arrays or []
        xp = array_module(grad)
        grads: list[Any] = []
        for k, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            term = plan.terms[k]
            others = [(plan.terms[j], arrays[j]) for j in range(len(arrays)) if j != k]
            elsewhere = set(plan.output).union(*(t for t, _ in others))
            unique = "".join(dict.fromkeys(term))
            # subscripts only this operand has were summed over: its gradient is constant along them
            target = "".join(c for c in unique if c in elsewhere)
            spec = ",".join([plan.output, *(t for t, _ in others)]) + "->" + target
            part = _einsum(xp, spec, grad, *(a for _, a in others))
            if target != unique:
                part = part.reshape([plan.sizes[c] if c in target else 1 for c in unique])
                part = xp.broadcast_to(part, [plan.sizes[c] for c in unique])
            if len(unique) != len(term):  # a repeated subscript: the gradient lies on the diagonal
                shape = [plan.sizes[c] for c in term]
                full = xp.zeros(shape, dtype=grad.dtype)
                strides = [sum(s for c2, s in zip(term, full.strides, strict=True) if c2 == c)
                           for c in unique]
                view = xp.lib.stride_tricks.as_strided(full, [plan.sizes[c] for c in unique], strides)
                view[...] = part
                part = full
            else:
                part = xp.ascontiguousarray(part)  # a broadcast view or an einsum view of grad
            grads.append(part.reshape(plan.shapes[k]))
        return tuple(grads)


class _EinsumOfOne(Einsum):
    """One operand: nothing kept for backward. Its transpose or diagonal is a view of it (NumPy's einsum
    returns one, as torch's does), sharing its version counter."""

    saves = ()

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        result = super().apply(*inputs, **options)
        share_counter(inputs[0], result)  # a no-op unless the result is a view of the input
        return result


class _EinsumOfMany(Einsum):
    """Three operands or more: the engine keeps them (``saves = None``)."""

    saves = None


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sum of products over the subscripts of ``equation``, as ``torch.einsum``: e.g.
    ``einsum('ij,jk->ik', a, b)`` is ``a @ b``, ``einsum('ii', a)`` the trace, ``einsum('...ij->...ji', a)``
    a transpose over any leading dimensions. Operands may also come as one list,
    ``einsum('ij,jk', [a, b])``. Without ``->`` the output holds the ellipsis dimensions, then the
    subscripts that appear once, in alphabetical order (upper case first)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise EinsumError("einsum(): must provide at least one operand")
    tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in operands]
    dtype = tensors[0].dtype
    for k, t in enumerate(tensors[1:], 1):
        if t.dtype != dtype:
            raise EinsumError(f"einsum(): operand {k} has dtype {t.dtype} but operand 0 has {dtype}; they "
                              "must be the same (convert one with .to() or .double()/.float())")
    plan = _Plan(equation, [tuple(t.shape) for t in tensors])
    op = _EinsumOfOne if len(tensors) == 1 else Einsum if len(tensors) == 2 else _EinsumOfMany
    return op.apply(*tensors, plan=plan)

