"""Querysets compiled to SQL once, run many times: the hot path's reads and writes.

Django builds and compiles a queryset's SQL on every evaluation. For a primary-key read
that is most of the cost: on a 2-core test machine ~0.5 ms of Python against ~0.07 ms for
running the SQL itself (docs/performance.md "Precompiled queries"). The few statements
that every signature runs (the device behind a request, its pending transactions, the
transaction and key rows it locks, the two rows it writes back) are compiled here once per
database connection, with placeholders where the values go, and later runs only bind
values, execute and build the model instances exactly as Django's ``ModelIterable``
does (``select_related`` included).

Usage::

    DEVICE = CompiledQuery(
        lambda: Device.objects.filter(pk=Arg("id", Device._meta.pk), state="ACTIVE")[:1]
    )
    device = DEVICE.first(id=device_id)

The queryset factory runs once per connection; its ``Arg`` values become ``%s`` in the SQL
and are prepared for the database by the given field when bound, as Django would prepare
them. Everything the SQL holds besides them (constants, ``LIMIT``, ``FOR UPDATE``) is fixed
at compile time. Querysets with ``select_for_update`` run only inside a transaction, as in
Django.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=models.Model)


class _Slot:
    """Where a bound value goes in a compiled statement's parameters."""

    __slots__ = ("field", "name")

    def __init__(self, name: str, field: models.Field[Any, Any]) -> None:
        self.name = name
        self.field = field

    def bind(self, values: dict[str, Any], connection: BaseDatabaseWrapper) -> Any:
        try:
            value = values[self.name]
        except KeyError:
            raise TypeError(f"missing value for {self.name!r}") from None
        return self.field.get_db_prep_value(value, connection, prepared=False)


class Arg(Expression):
    """A value bound at each run of a ``CompiledQuery``, prepared like ``field`` prepares
    its values (a UUID as 32 hex digits in SQLite, as a uuid in PostgreSQL, ...)."""

    def __init__(self, name: str, field: models.Field[Any, Any]) -> None:
        super().__init__(output_field=field)
        self.name = name

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
        return "%s", [_Slot(self.name, self.output_field)]

    def __repr__(self) -> str:
        return f"Arg({self.name!r})"


@dataclass(frozen=True)
class _Plan:
    sql: str
    params: tuple[Any, ...]
    locks: bool
    db: str
    model: type[models.Model]
    init_list: list[str]
    start: int
    end: int
    converters: list[tuple[int, list[Callable[..., Any]], Any]]
    populators: list[Any]
    annotations: dict[str, int]


def _bind(
    params: Sequence[Any], values: dict[str, Any], connection: BaseDatabaseWrapper
) -> list[Any]:
    return [p.bind(values, connection) if isinstance(p, _Slot) else p for p in params]


class _PerConnection:
    """A plan per database connection object (Django's connections are per thread)."""

    def __init__(self) -> None:
        self._plans: weakref.WeakKeyDictionary[BaseDatabaseWrapper, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self, connection: BaseDatabaseWrapper) -> Any:
        return self._plans.get(connection)

    def put(self, connection: BaseDatabaseWrapper, plan: Any) -> None:
        with self._lock:
            self._plans[connection] = plan


class CompiledQuery(Generic[M]):
    """A model queryset compiled once per connection; ``all()``/``first()`` bind values."""

    def __init__(self, build: Callable[[], models.QuerySet[M]], using: str = "default") -> None:
        self._build = build
        self._using = using
        self._plans = _PerConnection()

    def _plan(self, connection: BaseDatabaseWrapper) -> _Plan:
        plan: _Plan | None = self._plans.get(connection)
        if plan is not None:
            return plan
        queryset = self._build()
        if getattr(queryset, "_prefetch_related_lookups", None) or getattr(
            queryset, "_known_related_objects", None
        ):
            raise ValueError("a compiled query cannot prefetch")
        compiler = queryset.query.get_compiler(connection=connection)
        with connection.cursor():  # as_sql may need the connection's features
            sql, params = compiler.as_sql()
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        klass_info = compiler.klass_info
        assert klass_info is not None, "a compiled query selects model rows"
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        plan = _Plan(
            sql=sql,
            params=tuple(params),
            locks=bool(queryset.query.select_for_update)
            and connection.features.has_select_for_update,
            db=connection.alias,
            model=klass_info["model"],
            init_list=[f[0].target.attname for f in compiler.select[start:end]],
            start=start,
            end=end,
            converters=[
                (pos, convs, expr) for pos, (convs, expr) in compiler.get_converters(fields).items()
            ],
            populators=get_related_populators(klass_info, compiler.select, connection.alias),
            annotations=dict(compiler.annotation_col_map or {}),
        )
        self._plans.put(connection, plan)
        return plan

    def all(self, **values: Any) -> list[M]:
        """Run the statement with these values; the model instances it selects."""
        connection = connections[self._using]
        plan = self._plan(connection)
        if plan.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, _bind(plan.params, values, connection))
            rows: Iterable[Sequence[Any]] = cursor.fetchall()
        return [self._instance(plan, row, connection) for row in rows]

    def first(self, **values: Any) -> M | None:
        found = self.all(**values)
        return found[0] if found else None

    @staticmethod
    def _instance(plan: _Plan, row: Sequence[Any], connection: BaseDatabaseWrapper) -> M:
        if plan.converters:
            row = list(row)
            for pos, convs, expression in plan.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
        obj: M = plan.model.from_db(plan.db, plan.init_list, row[plan.start : plan.end])  # type: ignore[assignment]
        for populator in plan.populators:
            populator.populate(row, obj)
        for name, pos in plan.annotations.items():
            setattr(obj, name, row[pos])
        return obj


class CompiledUpdate:
    """``UPDATE <table> SET <fields> WHERE <pk> = %s`` for one model and a fixed set of
    fields: ``Model.save(update_fields=...)`` without the per-call SQL compilation (no
    ``pre_save`` hooks: do not list ``auto_now`` fields; no ``post_save`` signal)."""

    def __init__(self, model: type[models.Model], fields: Sequence[str], using: str = "default"):
        meta = model._meta
        self._fields: list[models.Field[Any, Any]] = []
        for name in fields:
            field = meta.get_field(name)
            if (
                not isinstance(field, models.Field)
                or field.primary_key
                or getattr(field, "auto_now", False)
            ):
                raise ValueError(f"{name}: not a plain column to update")
            self._fields.append(field)
        self._pk = meta.pk
        self._table = meta.db_table
        self._using = using
        self._sql: dict[str, str] = {}

    def _statement(self, connection: BaseDatabaseWrapper) -> str:
        sql = self._sql.get(connection.vendor)
        if sql is None:
            quote = connection.ops.quote_name
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in self._fields)
            assert self._pk is not None
            where = quote(str(self._pk.column))
            # Names from the model's metadata, quoted by the backend; values are parameters.
            sql = f"UPDATE {quote(self._table)} SET {assignments} WHERE {where} = %s"  # noqa: S608
            self._sql[connection.vendor] = sql
        return sql

    def save(self, obj: models.Model) -> None:
        """Write the listed fields of ``obj`` (as ``save(update_fields=...)`` would)."""
        connection = connections[self._using]
        assert self._pk is not None
        params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in self._fields]
        params.append(self._pk.get_db_prep_value(obj.pk, connection, prepared=False))
        with connection.cursor() as cursor:
            cursor.execute(self._statement(connection), params)
            if cursor.rowcount != 1:
                raise DatabaseError("Save with update_fields did not affect any rows.")


def attach_related(
    instance: models.Model, related_name: str, objects: Sequence[models.Model]
) -> None:
    """Make ``instance.<related_name>.all()`` answer ``objects`` without a query, as
    ``prefetch_related`` does, for rows read by a compiled query of their own (a reverse
    foreign key only: ``related_name`` is the accessor, e.g. ``account.keys``)."""
    descriptor = getattr(type(instance), related_name)
    rel = descriptor.rel
    queryset = rel.related_model._default_manager.none()
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    instance._prefetched_objects_cache[rel.cache_name] = queryset  # type: ignore[attr-defined]
