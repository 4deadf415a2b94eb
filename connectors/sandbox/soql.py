"""A SOQL subset: parse a query, check it against the schema, evaluate it on records.

Supported::

    SELECT Id, Name, Account.Name | COUNT()  FROM Object
    [WHERE cond]  [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]  [LIMIT n]  [OFFSET n]

    cond   := cond OR cond | cond AND cond | NOT cond | ( cond )
            | field op literal | field [NOT] IN (literal, ...) | field LIKE 'pattern'
    op     := = != <> < <= > >=
    literal:= 'string' | number | true | false | null | 2026-01-31
            | 2026-01-31T00:00:00Z (or .000+0000, +01:00) | TODAY | YESTERDAY
            | LAST_N_DAYS:n | NEXT_N_DAYS:n

Keywords and field names are case-insensitive (results use the canonical
field name); relation paths such as ``Account.Name`` or ``Champion__r.Email``
follow a reference field.  What literals mean and how values compare is in
``sf_soql_values.py``.  Errors raise :class:`SoqlError` carrying Salesforce's
``errorCode``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from connectors.sandbox.sf_schema import Field
from connectors.sandbox.sf_soql_values import (  # noqa: F401 - re-exported
    SoqlError,
    check_type,
    compare,
    like,
    literal_value,
    sort_records,
)

Record = dict[str, Any]
Resolve = Callable[[Record, tuple[str, ...]], Any]

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<dtm>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.:]*)
)""", re.VERBOSE)


@dataclass
class Query:
    object: str
    fields: list[tuple[str, ...]]
    where: Callable[[Record], bool] | None = None
    order: list[tuple[tuple[str, ...], bool, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    count_only: bool = False


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at: {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent over the token list, resolving names against ``schemas``."""

    def __init__(self, text: str, schemas: dict[str, dict[str, Field]], today: dt.date,
                 resolve: Resolve) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.schemas = schemas
        self.today = today
        self.resolve = resolve

    # -- token helpers -------------------------------------------------
    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in words:
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if not tok or tok[0] != kind or (value and tok[1].upper() != value):
            found = tok[1] if tok else "end of query"
            raise SoqlError("MALFORMED_QUERY", f"expected {value or kind} but found {found!r}")
        self.pos += 1
        return tok[1]

    # -- grammar --------------------------------------------------------
    def query(self) -> Query:
        self.expect("word", "SELECT")
        raw_fields = self.select_list()
        self.expect("word", "FROM")
        obj = self.object_name(self.expect("word"))
        count_only = raw_fields == ["COUNT()"]
        query = Query(obj, [] if count_only else [self.path(obj, f) for f in raw_fields],
                      count_only=count_only)
        if self.keyword("WHERE"):
            query.where = self.disjunction(obj)
        if self.keyword("ORDER"):
            self.expect("word", "BY")
            query.order = self.order_list(obj)
        if self.keyword("LIMIT"):
            query.limit = int(self.expect("num"))
        if self.keyword("OFFSET"):
            query.offset = int(self.expect("num"))
        if self.peek():
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: {self.peek()[1]!r}")
        return query

    def select_list(self) -> list[str]:
        if self.keyword("COUNT"):
            self.expect("punct")
            self.expect("punct")
            return ["COUNT()"]
        names = [self.expect("word")]
        while self.peek() == ("punct", ","):
            self.pos += 1
            names.append(self.expect("word"))
        return names

    def object_name(self, name: str) -> str:
        for known in self.schemas:
            if known.lower() == name.lower():
                return known
        raise SoqlError("INVALID_TYPE", f"sObject type '{name}' is not supported.")

    def path(self, obj: str, dotted: str) -> tuple[str, ...]:
        """``account.name`` on Contact → ``("Account", "Name")`` (canonical case)."""
        parts = dotted.split(".")
        out, schema = [], self.schemas[obj]
        for i, part in enumerate(parts):
            if i < len(parts) - 1:
                ref = _relationship(schema, part)
                if ref is None:
                    raise _no_column(dotted, obj)
                out.append(ref.name)
                schema = self.schemas[ref.reference_to]
                continue
            match = next((f for f in schema if f.lower() == part.lower()), None)
            if match is None:
                raise _no_column(dotted, obj)
            out.append(match)
        return tuple(out)

    def field_of(self, obj: str, path: tuple[str, ...]) -> Field:
        schema = self.schemas[obj]
        for ref_name in path[:-1]:
            schema = self.schemas[schema[ref_name].reference_to]
        return schema[path[-1]]

    def disjunction(self, obj: str) -> Callable[[Record], bool]:
        terms = [self.conjunction(obj)]
        while self.keyword("OR"):
            terms.append(self.conjunction(obj))
        return terms[0] if len(terms) == 1 else (lambda r: any(t(r) for t in terms))

    def conjunction(self, obj: str) -> Callable[[Record], bool]:
        terms = [self.factor(obj)]
        while self.keyword("AND"):
            terms.append(self.factor(obj))
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    def factor(self, obj: str) -> Callable[[Record], bool]:
        if self.keyword("NOT"):
            inner = self.factor(obj)
            return lambda r: not inner(r)
        if self.peek() == ("punct", "("):
            self.pos += 1
            inner = self.disjunction(obj)
            self.expect("punct", ")")
            return inner
        return self.comparison(obj)

    def comparison(self, obj: str) -> Callable[[Record], bool]:
        path = self.path(obj, self.expect("word"))
        fld = self.field_of(obj, path)
        getter = self.getter(path)
        if self.keyword("LIKE"):
            pattern = like(self.literal(fld))
            return lambda r: isinstance(getter(r), str) and bool(pattern.match(getter(r)))
        negate = self.keyword("NOT")
        if self.keyword("IN"):
            values = self.literal_list(fld)
            test = lambda r: any(compare(getter(r), "=", v) for v in values)  # noqa: E731
            return (lambda r: not test(r)) if negate else test
        if negate:
            raise SoqlError("MALFORMED_QUERY", "NOT must be followed by IN here")
        op = self.expect("op")
        value = self.literal(fld)
        return lambda r: compare(getter(r), op, value)

    def getter(self, path: tuple[str, ...]) -> Callable[[Record], Any]:
        if len(path) == 1:
            return lambda r: r.get(path[0])
        return lambda r: self.resolve(r, path)

    def literal_list(self, fld: Field) -> list[Any]:
        self.expect("punct", "(")
        values = [self.literal(fld)]
        while self.peek() == ("punct", ","):
            self.pos += 1
            values.append(self.literal(fld))
        self.expect("punct", ")")
        return values

    def literal(self, fld: Field) -> Any:
        tok = self.peek()
        if tok is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.pos += 1
        value = literal_value(tok, self.today)
        return check_type(fld, value)

    def order_list(self, obj: str) -> list[tuple[tuple[str, ...], bool, bool]]:
        items = []
        while True:
            path = self.path(obj, self.expect("word"))
            desc = self.keyword("DESC")
            if not desc:
                self.keyword("ASC")
            nulls_first = not desc
            if self.keyword("NULLS"):
                nulls_first = self.keyword("FIRST") or not self.keyword("LAST")
            items.append((path, desc, nulls_first))
            if self.peek() != ("punct", ","):
                return items
            self.pos += 1


def _relationship(schema: dict[str, Field], name: str) -> Field | None:
    for fld in schema.values():
        if fld.relationship_name and fld.relationship_name.lower() == name.lower():
            return fld
    return None


def _no_column(name: str, obj: str) -> SoqlError:
    return SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{obj}'. If you are attempting "
                     "to use a custom field, be sure to append the '__c' after the custom field name.")


def parse(text: str, schemas: dict[str, dict[str, Field]], today: dt.date, resolve: Resolve) -> Query:
    """Parse and check ``text``; ``resolve(record, path)`` follows relationship paths."""
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "empty query: pass the SOQL statement in q=")
    return _Parser(text, schemas, today, resolve).query()
