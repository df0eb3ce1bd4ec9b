"""Record texts exactly as ``document_exporter`` and ``dumpdata`` write them.

Django's python serializer gives ``{"model", "pk", "fields"}``; each record's text is
``json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)``: the bytes
paperless's manifest and ``dumpdata --indent 2`` hold for that record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model


def record_text(record: dict[str, Any]) -> str:
    """One record's text, as the exporter joins them into a manifest."""
    return json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def serialize_objects(
    objects: Sequence[Model], *, natural_foreign: bool = False, natural_primary: bool = False
) -> list[str]:
    """The texts of ``objects``, in their order (prefetch M2M on the queryset first)."""
    records = serializers.serialize(
        "python",
        objects,
        use_natural_foreign_keys=natural_foreign,
        use_natural_primary_keys=natural_primary,
    )
    return [record_text(record) for record in records]
