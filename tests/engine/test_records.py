"""The hand-written ``__init__`` of the per-line records (app/engine/records.py): the same
fields, defaults, errors and immutability as the generated one, and a mismatch with
the fields refused when the class is made."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from app.engine.model import FeeLine, ItemResult
from app.engine.records import replaces_init, slot_setters

HAND_WRITTEN = (FeeLine, ItemResult)


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda cls: cls.__name__)
def test_installed(cls: type) -> None:
    assert cls.__init__.__qualname__ == f"{cls.__name__}.__init__"
    assert cls.__init__.__code__.co_filename.endswith("model.py")  # not dataclasses' "<string>"


@pytest.mark.parametrize("cls", HAND_WRITTEN, ids=lambda cls: cls.__name__)
def test_every_field_gets_its_own_argument(cls: type) -> None:
    """A distinct marker per field, by keyword and by position: each lands in its field."""
    fields = [f.name for f in dataclasses.fields(cls)]
    markers = {name: object() for name in fields}
    assert {name: getattr(cls(**markers), name) for name in fields} == markers
    positional = cls(*markers.values())
    assert {name: getattr(positional, name) for name in fields} == markers


def test_same_default_and_errors_as_the_generated_init() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Generated:  # FeeLine's fields, with the generated __init__
        line_no: int
        code: str
        qty: Decimal
        unit_price: Decimal
        name: str | None = None

    two = Decimal("2")
    assert FeeLine(1, "X", two, two).name is None
    for args, kwargs in [((1, "X", two), {}), ((1, "X", two, two), {"z": 1}), ((1, "X", two, two, "n", 6), {}),
                         ((1, "X", two, two), {"line_no": 2})]:  # fmt: skip
        with pytest.raises(TypeError) as generated:
            Generated(*args, **kwargs)
        with pytest.raises(TypeError) as ours:
            FeeLine(*args, **kwargs)
        assert str(ours.value) == str(generated.value).replace(Generated.__qualname__, "FeeLine")


def test_still_frozen_equal_hashable_and_replaceable() -> None:
    line = FeeLine(line_no=1, code="X01", qty=Decimal("2"), unit_price=Decimal("1.50"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.qty = Decimal("3")  # type: ignore[misc]
    same = FeeLine(1, "X01", Decimal("2"), Decimal("1.50"))
    assert line == same and hash(line) == hash(same)
    assert repr(line) == "FeeLine(line_no=1, code='X01', qty=Decimal('2'), unit_price=Decimal('1.50'), name=None)"
    assert dataclasses.replace(line, qty=Decimal("3")).qty == Decimal("3")


@dataclasses.dataclass(frozen=True, slots=True)
class _Pair:
    a: int
    b: str = "b"


@pytest.mark.parametrize(
    "init",
    [
        lambda self, b, a="b": None,  # fields out of order
        lambda self, a: None,  # a field left out
        lambda self, a, b="other": None,  # another default
        lambda self, a, b="b", c=0: None,  # an argument that is no field
        lambda self, a, *rest, b="b": None,  # not plain positional parameters
    ],
)
def test_refuses_an_init_that_does_not_match_the_fields(init) -> None:  # noqa: ANN001
    with pytest.raises(TypeError):
        replaces_init(_Pair)(init)


def test_refuses_classes_it_would_get_wrong() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    for cls in (NoSlots, PostInit, Factory):
        with pytest.raises(TypeError):
            slot_setters(cls)
