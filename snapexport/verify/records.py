"""Pairs the records the snapshot's export should hold with the export's, and says how
they differ: by bytes first, parsed only when the bytes differ; records out of place wait
in a dictionary until their partner comes, so memory grows with the differences."""

from __future__ import annotations

import itertools
import json
from typing import Any

from snapexport.errors import RequestError
from snapexport.exportformat.crypto import FieldCrypto
from snapexport.verify.report import Difference, ExportComparison


class RecordMatcher:
    """Pairs expected and actual records by ``(model, pk)`` and reports what differs."""

    def __init__(self, report: ExportComparison, crypto: FieldCrypto | None) -> None:
        self.report = report
        self.crypto = crypto
        self.expected: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.actual: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def pair(self, exp: bytes | None, act: bytes | None, where: str) -> None:
        if exp is not None and exp == act:
            self.report.records_checked += 1
            return
        e = self._parse(exp, where) if exp is not None else None
        a = self._parse(act, where, decrypt=True) if act is not None else None
        if e is not None and a is not None and e[0] == a[0]:
            self._compare(e[0], e[1], a[1])
            return
        if e is not None:
            other = self.actual.pop(e[0], None)
            if other is not None:
                self._compare(e[0], e[1], other[1])
            else:
                self.expected[e[0]] = (where, e[1])
        if a is not None:
            other = self.expected.pop(a[0], None)
            if other is not None:
                self._compare(a[0], other[1], a[1])
            else:
                self.actual[a[0]] = (where, a[1])

    def pair_lists(self, exp: list[Any], act: list[Any], where: str) -> None:
        for e, a in itertools.zip_longest(exp, act):
            self.pair(
                None if e is None else dumps_record(e),
                None if a is None else dumps_record(a),
                where,
            )

    def finish(self) -> None:
        for (model, pk), (where, _) in sorted(self.expected.items()):
            self.report.add(Difference("missing", "record", f"{model} {pk}", f"in {where}"))
        for (model, pk), (where, _) in sorted(self.actual.items()):
            self.report.add(Difference("extra", "record", f"{model} {pk}", f"in {where}"))
        self.expected.clear()
        self.actual.clear()

    def _parse(
        self, text: bytes, where: str, *, decrypt: bool = False
    ) -> tuple[tuple[str, str], dict[str, Any]]:
        try:
            record = json.loads(text)
        except ValueError as err:
            raise RequestError(f"{where}: a record is not valid JSON ({err})") from err
        if not isinstance(record, dict):
            record = {"model": "?", "pk": None, "value": record}
        model = str(record.get("model", "?"))
        if decrypt and self.crypto is not None:
            self.crypto.decrypt_record(record)
        return (model, json.dumps(record.get("pk"))), record

    def _compare(self, key: tuple[str, str], exp: dict[str, Any], act: dict[str, Any]) -> None:
        self.report.records_checked += 1
        if exp == act:
            return
        changes = []
        for name in dict.fromkeys([*exp, *act]):
            if name == "fields":
                continue
            if exp.get(name) != act.get(name):
                changes.append(change(name, exp.get(name), act.get(name)))
        ef, af = exp.get("fields") or {}, act.get("fields") or {}
        for name in dict.fromkeys([*ef, *af]):
            if ef.get(name) != af.get(name):
                changes.append(change(name, ef.get(name), af.get(name)))
        self.report.add(Difference("different", "record", f"{key[0]} {key[1]}", "; ".join(changes)))


def change(name: str, snapshot_value: Any, export_value: Any) -> str:
    return f"{name}: {_short(snapshot_value)} in the snapshot, {_short(export_value)} in the export"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + '..."'


def dumps_record(record: Any) -> bytes:
    return json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8")
