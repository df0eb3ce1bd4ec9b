"""How the catalog names models in SQL (schema 4, docs/format.md).

``record_spans.model`` and ``file_spans.owner_model`` hold a model's number (``models.id``),
never its 'app_label.modelname' label; nothing outside catalog/ ever sees a number. The
fragments here say that once for every query of catalog/ that needs it.

Numbers are handed out in the order labels first appear in the catalog's history: by the
sequence number of their oldest span, then by label. A snapshot numbers the labels it is
the first to use (its new spans all have ``born`` = its sequence number) in label order;
the migration to schema 4 and the replay of an older delta (catalog/journal.py) number the
labels they meet the same way, so a catalog rebuilt from older checkpoints and deltas gives
every label the number the live catalog gave it.
"""

from __future__ import annotations

# The label column of each span table.
LABEL_COLUMNS = {"record_spans": "model", "file_spans": "owner_model"}


def model_id(param: str = "?") -> str:
    """The number of the label given as the parameter ``param`` (``?`` or ``:name``)."""
    return f"(SELECT id FROM models WHERE name = {param})"


def model_name(column: str) -> str:
    """The label of the number in ``column`` (NULL stays NULL)."""
    return f"(SELECT name FROM models WHERE id = {column})"


def model_ids(marks: str) -> str:
    """The numbers of the labels listed in ``marks`` (``?,?,?``), for ``model IN (...)``."""
    return f"SELECT id FROM models WHERE name IN ({marks})"


def number_new(labels: str) -> str:
    """SQL numbering the labels an inner query ``labels`` yields as (name, born) rows that
    have no number yet: by their oldest ``born``, then by label."""
    return (
        f"INSERT INTO models (name) SELECT name FROM ({labels})"
        " WHERE name IS NOT NULL AND name NOT IN (SELECT name FROM models)"
        " GROUP BY name ORDER BY min(born), name"
    )


def span_labels(schema: str = "main", tables: tuple[str, ...] = tuple(LABEL_COLUMNS)) -> str:
    """(name, born) of every span of ``tables`` in database ``schema``, for ``number_new``."""
    return " UNION ALL ".join(
        f"SELECT {LABEL_COLUMNS[t]} AS name, born FROM {schema}.{t}" for t in tables
    )
