"""Single documents: ``ls``, ``find``, ``history``, ``restore`` and ``dump``.

Each command parses, makes one library call (``snapexport/documents/``) and renders its
result; listings stream, so ``--json`` writes its object a document at a time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import click

from snapexport.cli import handle_errors, main, store_option

_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: dumps() builds one a call


def _batches(items: Iterable[Any]) -> Iterator[list[Any]]:
    """500 items at a time: one echo per item cost 10 us, more than the listing."""
    stream = iter(items)
    while batch := list(islice(stream, 500)):
        yield batch


def _echo_json_stream(header: dict[str, Any], key: str, items: Iterable[Any]) -> int:
    """``{...header, key: [item, ...]}`` written 500 items at a time (one encode and one echo
    per batch: per item they cost more than the listing); returns the item count."""
    head = _ENCODE(header)
    click.echo(head[:-1] + (", " if header else "") + _ENCODE(key) + ": [", nl=False)
    count = 0
    for batch in _batches(items):
        text = _ENCODE([item.as_json() for item in batch])[1:-1]
        click.echo(text if count == 0 else ", " + text, nl=False)
        count += len(batch)
    click.echo("]}")
    return count


@main.command("ls")
@store_option
@click.argument("snapshot", default="latest")
@click.option("--tag", help="Only documents carrying this tag (by name).")
@click.option("--correspondent", help="Only documents from this correspondent (by name).")
@click.option("--type", "document_type", help="Only documents of this document type (by name).")
@click.option("--title", help="Only documents whose title matches this glob (e.g. 'Invoice*').")
@click.option("--snapshot-tag", help="With latest / latest~N: count only snapshots with this tag.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def ls(store_location: str, snapshot: str, tag: str | None, correspondent: str | None,
       document_type: str | None, title: str | None, snapshot_tag: str | None,
       as_json: bool) -> None:  # fmt: skip
    """List the documents SNAPSHOT holds (default: latest), with the exporter's file names."""
    from snapexport.documents.search import list_documents
    from snapexport.store import Store

    with Store.open(store_location) as store:
        listing = list_documents(store, snapshot, tag=tag, correspondent=correspondent,
                                 document_type=document_type, title=title,
                                 snapshot_tag=snapshot_tag)  # fmt: skip
        if as_json:
            _echo_json_stream(listing.header_json(), "documents", listing.documents)
            return
        count = 0
        for batch in _batches(listing.documents):
            click.echo("\n".join(doc.line() for doc in batch))
            count += len(batch)
        click.echo(f"{count} document(s) in snapshot {listing.snapshot.short_id}")


@main.command()
@store_option
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def find(store_location: str, query: str, as_json: bool) -> None:
    """Find documents in every snapshot by title, correspondent, tag, ASN, original file
    name, checksum (prefix) or content words; show which snapshots hold each version,
    including documents deleted since."""
    from snapexport.documents.search import find_documents
    from snapexport.store import Store

    with Store.open(store_location) as store:
        result = find_documents(store, query)
        if as_json:
            _echo_json_stream(result.header_json(), "documents", result.documents)
            return
        count = 0
        for doc in result.documents:
            for line in doc.lines():
                click.echo(line)
            count += 1
        click.echo(f"{count} document(s) match {query!r}")


@main.command()
@store_option
@click.argument("document")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def history(store_location: str, document: str, as_json: bool) -> None:
    """Show one document's changes across all snapshots: fields (as diff --fields shows
    them), files, notes and custom fields, trashed, restored, deleted."""
    from snapexport.documents.history import document_history
    from snapexport.store import Store

    with Store.open(store_location) as store:
        result = document_history(store, document)
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    for line in result.lines():
        click.echo(line)


@main.command()
@store_option
@click.argument("args", nargs=-1, required=True, metavar="[SNAPSHOT] TARGET")
@click.option("--document", "-d", "documents", multiple=True, metavar="ID",
              help="A document id to restore (repeat for more).")  # fmt: skip
@click.option("--query", "-q", help="Restore every document find QUERY finds.")
@click.option("--original-only", is_flag=True, help="Only the original files, no JSON.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def restore(store_location: str, args: tuple[str, ...], documents: tuple[str, ...],
            query: str | None, original_only: bool, as_json: bool) -> None:  # fmt: skip
    """Write single documents (original, archive, thumbnail under the exporter's names,
    and snapexport-restore.json with their records) into the existing folder TARGET.

    Without SNAPSHOT each document comes from the newest snapshot holding it.
    """
    from snapexport.documents.restore import restore_documents
    from snapexport.errors import UsageError
    from snapexport.store import Store

    if len(args) > 2:
        raise UsageError("restore takes [SNAPSHOT] TARGET: name documents with --document ID")
    snapshot, target = (None, args[0]) if len(args) == 1 else args
    with Store.open(store_location) as store:
        result = restore_documents(store, Path(target), documents=documents, query=query,
                                   snapshot=snapshot, original_only=original_only)  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        return
    for doc in result.documents:
        click.echo(f"document {doc.pk} (snapshot {doc.snapshot[:8]}): "
                   + ", ".join(doc.files.values()))  # fmt: skip
    click.echo(result.summary())


@main.command()
@store_option
@click.argument("snapshot")
@click.argument("document")
@click.option("--original", "role", flag_value="original", default=True,
              help="The original file (default).")  # fmt: skip
@click.option("--archive", "role", flag_value="archive", help="The archived PDF.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print what would be streamed (size, role) as JSON instead of the bytes.",
)
@handle_errors
def dump(store_location: str, snapshot: str, document: str, role: str, as_json: bool) -> None:
    """Stream one document's original (or archive) from SNAPSHOT to stdout, verified."""
    from snapexport.documents.restore import dump_file
    from snapexport.store import Store

    with Store.open(store_location) as store:
        result = dump_file(store, snapshot, document, role)
        if as_json:
            click.echo(json.dumps(result.as_json()))
            return
        out = sys.stdout.buffer
        for piece in result.chunks:
            out.write(piece)
        out.flush()
