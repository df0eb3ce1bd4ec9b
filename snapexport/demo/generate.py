"""Deterministic generator of demo sites, and the nightly changes to apply to one.

``create_site(folder, documents, seed)`` builds a migrated site with real small files;
``simulate_night(folder, seed)`` applies one night of edits. Both give the same database
and the same files (mtimes included) for the same arguments.

Django can be set up once per process. Both functions therefore run in-process when this
process has no Django yet (or already runs the demo settings on the same folder) and in a
subprocess otherwise. From a shell::

    python -m snapexport.demo.generate create FOLDER [--documents N] [--seed S]
    python -m snapexport.demo.generate night FOLDER [--seed S] [--new-every N] ...

A night's share of changes can be set (``NightRates``); the defaults give the demo's usual
night: one new document per 100, one edit per 50, one trashed per 200, one deleted per 300.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snapexport.demo import files as demo_files

if TYPE_CHECKING:
    from snapexport.demo.site.models import Document

SETTINGS_MODULE = "snapexport.demo.settings"
BASE_TIME = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
BATCH = 1000

CORRESPONDENTS = [
    "ACME Corp",
    "Stadtwerke München",
    "Bank of Nowhere",
    "Dr. Müller",
    "Tax Office",
    "Insurance & Co",
    "Landlord: J. Smith",
    "Telecom AG",
    "Café Zoë",
    "Amazon EU S.à r.l.",
    "City Hall",
    "Employer GmbH",
]
DOCUMENT_TYPES = ["Invoice", "Letter", "Contract", "Statement", "Receipt", "Report"]
# (name, parent name or None, colour, is inbox tag)
TAGS = [
    ("Inbox", None, "#1f78b4", True),
    ("Finance", None, "#33a02c", False),
    ("Taxes 2023", "Finance", "#fb9a99", False),
    ("Taxes 2024", "Finance", "#e31a1c", False),
    ("Bills", "Finance", "#a6cee3", False),
    ("Home", None, "#fdbf6f", False),
    ("Car", None, "#ff7f00", False),
    ("Health", None, "#cab2d6", False),
    ("Work", None, "#6a3d9a", False),
    ("Important ★", None, "#b15928", False),
]
STORAGE_PATHS = [
    ("By correspondent", "{{ correspondent }}/{{ created_year }}/{{ title }}"),
    (
        "By type",
        "{{ document_type }}/{{ created_year }}-{{ created_month }}-{{ created_day }} {{ title }}",
    ),
]
CUSTOM_FIELDS = [
    ("Amount", "monetary", None),
    ("Invoice number", "string", None),
    ("Due date", "date", None),
    ("Paid", "boolean", None),
    ("Pages counted", "integer", None),
    ("Score", "float", None),
    ("Link", "url", None),
    ("Related", "documentlink", None),
    (
        "Priority",
        "select",
        {
            "select_options": [
                {"id": "opt-low", "label": "low"},
                {"id": "opt-mid", "label": "medium"},
                {"id": "opt-high", "label": "high"},
            ]
        },
    ),
    ("Remarks", "longtext", None),
]
WORDS = [
    *("invoice", "letter", "contract", "statement", "receipt", "report", "tax", "loan"),
    *("mortgage", "insurance", "salary", "pension", "manual", "warranty", "ticket", "order"),
    *("offer", "claim", "delivery", "electricity", "water", "rent", "bank", "policy"),
    *("certificate", "reminder"),
]
SPECIAL_TITLES = ["Rechnung Nr. {n}: Größe/Maß? «ok»", "Notice {n} — résumé ✓"]


@dataclass(frozen=True, slots=True)
class NightRates:
    """How much one night changes: one new/edited/trashed/deleted document per N live ones."""

    new_every: int = 100
    edit_every: int = 50
    trash_every: int = 200
    delete_every: int = 300

    def as_args(self) -> list[str]:
        return [
            *("--new-every", str(self.new_every), "--edit-every", str(self.edit_every)),
            *("--trash-every", str(self.trash_every), "--delete-every", str(self.delete_every)),
        ]


# ---------------------------------------------------------------------------------------
# Process handling


def _django_ready_for(folder: Path) -> bool | None:
    """True: this process runs the demo on ``folder``; None: no Django yet; False: other."""
    from django.conf import settings

    if not settings.configured:
        return None
    if os.environ.get("DJANGO_SETTINGS_MODULE") != SETTINGS_MODULE:
        return False
    return Path(settings.DEMO_DIR) == folder.resolve()


def _setup(folder: Path) -> None:
    import django

    folder.mkdir(parents=True, exist_ok=True)
    os.environ["SNAPEXPORT_DEMO_DIR"] = str(folder.resolve())
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    django.setup()


def _run_elsewhere(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "snapexport.demo.generate", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"demo generator failed: {done.stderr.strip()[-2000:]}")


def _in_process(folder: Path) -> bool:
    state = _django_ready_for(folder)
    if state is None:
        _setup(folder)
        return True
    return state


def create_site(
    folder: Path, documents: int = 200, seed: int = 0, database: str | None = None
) -> None:
    """Create a migrated demo site with ``documents`` documents in ``folder``.

    ``database``: a URL (``postgresql://…``, ``mysql://…``) of an empty database for the
    site's records, kept in ``folder/database.url`` (mode 0600: it may hold a password);
    None keeps them in ``folder/db.sqlite3``.
    """
    folder = Path(folder)
    if database:
        from snapexport.demo.database import database_settings

        database_settings(database)  # a bad URL fails here, before anything is written
        folder.mkdir(parents=True, exist_ok=True)
        url_file = folder / "database.url"
        fd = os.open(url_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(database + "\n")
    if not _in_process(folder):
        _run_elsewhere(["create", str(folder), "--documents", str(documents), "--seed", str(seed)])
        return
    _create(folder.resolve(), documents, seed)


def simulate_night(folder: Path, seed: int = 1, rates: NightRates | None = None) -> None:
    """Apply one night of changes (new, edited, retagged, trashed, deleted documents)."""
    folder = Path(folder)
    rates = rates or NightRates()
    if not _in_process(folder):
        _run_elsewhere(["night", str(folder), "--seed", str(seed), *rates.as_args()])
        return
    _night(folder.resolve(), seed, rates)


# ---------------------------------------------------------------------------------------
# Files


def _write(path: Path, data: bytes, mtime: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    ns = int(mtime.timestamp()) * 1_000_000_000
    os.utime(path, ns=(ns, ns))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _original_bytes(mime: str, title: str, content: str, pk: int) -> bytes:
    if mime == "application/pdf":
        return demo_files.make_pdf([title, *content.splitlines()[1:2]])
    if mime == "image/png":
        return demo_files.make_png(8, 8, ((pk * 37) % 256, (pk * 59) % 256, (pk * 83) % 256))
    return (content + "\n").encode("utf-8")


def _thumbnail_bytes(pk: int, salt: int = 0) -> bytes:
    return demo_files.make_webp((255, (pk * 13 + salt) % 256, (pk * 7) % 256, (pk * 3) % 256))


class _Media:
    """Where the demo's files live (paperless's layout below MEDIA_ROOT)."""

    def __init__(self) -> None:
        from django.conf import settings

        self.originals = Path(settings.ORIGINALS_DIR)
        self.archive = Path(settings.ARCHIVE_DIR)
        self.thumbnails = Path(settings.THUMBNAIL_DIR)
        self.bundles = Path(settings.SHARE_LINK_BUNDLE_DIR)
        for folder in (self.originals, self.archive, self.thumbnails, self.bundles):
            folder.mkdir(parents=True, exist_ok=True)

    def thumbnail(self, pk: int) -> Path:
        return self.thumbnails / f"{pk:07}.webp"


# ---------------------------------------------------------------------------------------
# Building documents


class _Catalog:
    """The small tables, loaded once (the demo keeps them small on purpose)."""

    def __init__(self) -> None:
        from django.contrib.auth.models import User

        from snapexport.demo.site import models as m

        self.users = list(User.objects.exclude(username__in=["consumer"]).order_by("pk"))
        self.correspondents = list(m.Correspondent.objects.order_by("pk"))
        self.types = list(m.DocumentType.objects.order_by("pk"))
        self.paths = list(m.StoragePath.objects.order_by("pk"))
        self.tags = list(m.Tag.objects.order_by("pk"))
        self.fields = list(m.CustomField.objects.order_by("pk"))


def _title(rng: random.Random, n: int) -> str:
    if rng.random() < 0.02:
        return rng.choice(SPECIAL_TITLES).format(n=n)
    return f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {rng.randint(1000, 9999)}"


def _new_document(rng: random.Random, cat: _Catalog, pk: int, added: datetime) -> Document:
    from snapexport.demo.site.models import Document

    roll = rng.random()
    # Documents 1 and 2 share their content (a PDF) in every site.
    if roll < 0.9 or pk <= 2:
        mime = "application/pdf"
    else:
        mime = "image/png" if roll < 0.95 else "text/plain"
    title = _title(rng, pk)
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    doc = Document(
        pk=pk,
        owner=cat.users[0] if rng.random() < 0.8 else rng.choice(cat.users),
        correspondent=rng.choice(cat.correspondents) if rng.random() < 0.85 else None,
        storage_path=rng.choice(cat.paths) if rng.random() < 0.4 else None,
        title=title,
        document_type=rng.choice(cat.types) if rng.random() < 0.9 else None,
        content=f"{title}\n{words}",
        mime_type=mime,
        page_count=1 if mime == "application/pdf" else None,
        created=date(2024, 1, 1) + timedelta(days=rng.randint(0, 900)),
        modified=added + timedelta(seconds=rng.randint(1, 3600)),
        added=added,
        original_filename=f"scan_{pk:05}{'.pdf' if mime == 'application/pdf' else ''}",
        archive_serial_number=pk if rng.random() < 0.3 else None,
    )
    doc.content_length = len(doc.content)
    return doc


def _unique_name(name: str, used: set[str]) -> str:
    from pathlib import PurePosixPath

    candidate, counter = name, 0
    while candidate in used:
        counter += 1
        path = PurePosixPath(name)
        candidate = str(path.with_name(f"{path.stem}_{counter:02}{path.suffix}"))
    used.add(candidate)
    return candidate


def _store_files(doc: Document, media: _Media, used: set[str], same_as: bytes | None) -> None:
    """Write ``doc``'s original, archive and thumbnail, and set its name/checksum fields."""
    from snapexport.demo.site.naming import generate_filename

    original = same_as or _original_bytes(doc.mime_type, doc.title, doc.content, doc.pk)
    doc.checksum = _sha256(original)
    doc.filename = _unique_name(generate_filename(doc), used)
    _write(media.originals / doc.filename, original, doc.added)
    if doc.mime_type != "text/plain" and doc.pk % 10 != 7:
        archive = demo_files.make_pdf(["Archived: " + doc.title, f"document {doc.pk}"])
        doc.archive_checksum = _sha256(archive)
        doc.archive_filename = str(Path(doc.filename).with_suffix(".pdf"))
        _write(media.archive / doc.archive_filename, archive, doc.added)
    _write(media.thumbnail(doc.pk), _thumbnail_bytes(doc.pk), doc.added)


def _custom_value(rng: random.Random, field: Any, doc_pk: int) -> dict[str, Any]:
    kind = field.data_type
    if kind == "monetary":
        amount = Decimal(rng.randint(100, 99999)) / 100
        return {"value_monetary": f"EUR{amount}", "value_monetary_amount": amount}
    if kind == "string":
        return {"value_text": f"INV-{doc_pk:06}"}
    if kind == "date":
        return {"value_date": date(2024, 1, 1) + timedelta(days=rng.randint(0, 700))}
    if kind == "boolean":
        return {"value_bool": rng.random() < 0.5}
    if kind == "integer":
        return {"value_int": rng.randint(-5, 500)}
    if kind == "float":
        return {"value_float": round(rng.uniform(0, 10), 3)}
    if kind == "url":
        return {"value_url": f"https://example.org/doc/{doc_pk}"}
    if kind == "documentlink":
        return {"value_document_ids": [max(1, doc_pk - 1), 1]}
    if kind == "select":
        return {"value_select": rng.choice(["opt-low", "opt-mid", "opt-high"])}
    return {"value_long_text": f"Long remark for {doc_pk}\nsecond line – ✓"}


def _add_extras(
    rng: random.Random, cat: _Catalog, docs: Sequence[Document], clock: Iterator[datetime]
) -> None:
    """Tags, custom fields and notes for freshly created documents."""
    from snapexport.demo.site import models as m

    through = m.Document.tags.through
    links, instances, notes = [], [], []
    for doc in docs:
        for tag in rng.sample(cat.tags, rng.randint(0, 3)):
            links.append(through(document_id=doc.pk, tag_id=tag.pk))
        if rng.random() < 0.6:
            for field in rng.sample(cat.fields, rng.randint(1, 3)):
                instances.append(
                    m.CustomFieldInstance(
                        created=next(clock),
                        document_id=doc.pk,
                        field_id=field.pk,
                        **_custom_value(rng, field, doc.pk),
                    )
                )
        if rng.random() < 0.15:
            notes.append(
                m.Note(
                    note=f"Note for document {doc.pk} – checked ✓",
                    created=next(clock),
                    document_id=doc.pk,
                    user=cat.users[0],
                )
            )
    through.objects.bulk_create(links, batch_size=BATCH)
    m.CustomFieldInstance.global_objects.bulk_create(instances, batch_size=BATCH)
    m.Note.global_objects.bulk_create(notes, batch_size=BATCH)


def _ticks(start: datetime, step_ms: int = 7) -> Iterator[datetime]:
    moment = start
    while True:
        moment += timedelta(milliseconds=step_ms)
        yield moment


def _create_documents(
    rng: random.Random,
    cat: _Catalog,
    media: _Media,
    pks: range,
    start: datetime,
    used: set[str],
) -> None:
    from snapexport.demo.site.models import Document

    clock = _ticks(start)
    batch: list[Document] = []
    first_original: bytes | None = None
    for index, pk in enumerate(pks):
        doc = _new_document(rng, cat, pk, start + timedelta(seconds=37 * (index + 1)))
        same = None
        if pk == 2 and first_original is not None:
            # Two documents with the same content (paperless allows equal checksums).
            doc.mime_type = "application/pdf"
            same = first_original
        _store_files(doc, media, used, same)
        if pk == 1:
            first_original = (media.originals / (doc.filename or "")).read_bytes()
        batch.append(doc)
        if len(batch) >= BATCH:
            Document.global_objects.bulk_create(batch)
            _add_extras(rng, cat, batch, clock)
            batch = []
    if batch:
        Document.global_objects.bulk_create(batch)
        _add_extras(rng, cat, batch, clock)


def _create(folder: Path, documents: int, seed: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.migrations.recorder import MigrationRecorder

    from snapexport.demo.site import models as m
    from snapexport.errors import RequestError

    if (folder / "db.sqlite3").exists():
        raise RequestError(f"{folder} already holds a demo site")
    if connection.vendor != "sqlite" and connection.introspection.table_names():
        name = connection.settings_dict["NAME"]
        raise RequestError(f"the {connection.vendor} database {name!r} is not empty")
    call_command("migrate", verbosity=0, interactive=False)
    # Migration timestamps are the one non-deterministic thing migrate writes.
    MigrationRecorder.Migration.objects.update(applied=BASE_TIME)
    rng = random.Random(seed)
    media = _Media()
    with transaction.atomic():
        admin = User(
            pk=2,
            username="admin",
            first_name="Ad",
            last_name="Min",
            email="admin@example.org",
            is_staff=True,
            is_superuser=True,
            date_joined=BASE_TIME,
        )
        # A fixed salt keeps the database deterministic.
        admin.password = make_password("admin", salt="demosalt0000")
        users = [
            User(pk=1, username="consumer", date_joined=BASE_TIME),
            admin,
            User(pk=3, username="alice", email="alice@example.org", date_joined=BASE_TIME),
            User(pk=4, username="bob", first_name="Bøb", date_joined=BASE_TIME),
            User(pk=5, username="AnonymousUser", date_joined=BASE_TIME),
        ]
        for user in users:
            if not user.password:
                user.password = "!" + "x" * 40  # unusable, and deterministic
            user.save()
        staff = Group.objects.create(name="staff")
        readers = Group.objects.create(name="readers")
        perms = list(Permission.objects.filter(content_type__app_label="documents"))
        staff.permissions.set([p for p in perms if p.codename.startswith(("view", "change"))])
        readers.permissions.set([p for p in perms if p.codename.startswith("view")])
        users[2].groups.set([staff, readers])
        users[3].user_permissions.set([p for p in perms if p.codename == "add_note"])

        m.Correspondent.objects.bulk_create(
            m.Correspondent(
                pk=i + 1,
                name=name,
                match=name.split()[0].lower() if i % 3 == 0 else "",
                owner=admin if i % 4 == 0 else None,
            )
            for i, name in enumerate(CORRESPONDENTS)
        )
        m.DocumentType.objects.bulk_create(
            m.DocumentType(pk=i + 1, name=name, matching_algorithm=i % 3)
            for i, name in enumerate(DOCUMENT_TYPES)
        )
        m.StoragePath.objects.bulk_create(
            m.StoragePath(pk=i + 1, name=name, path=path)
            for i, (name, path) in enumerate(STORAGE_PATHS)
        )
        by_name: dict[str, m.Tag] = {}
        for i, (name, parent, colour, inbox) in enumerate(TAGS):
            by_name[name] = m.Tag.objects.create(
                pk=i + 1,
                name=name,
                tn_parent=by_name[parent] if parent else None,
                color=colour,
                is_inbox_tag=inbox,
            )
        for i, (name, kind, extra) in enumerate(CUSTOM_FIELDS):
            m.CustomField.objects.create(
                pk=i + 1,
                name=name,
                data_type=kind,
                extra_data=extra,
                created=BASE_TIME + timedelta(minutes=i),
            )
        view = m.SavedView.objects.create(
            pk=1,
            owner=admin,
            name="Finance inbox",
            sort_field="created",
            sort_reverse=True,
            page_size=50,
            display_mode="table",
            display_fields=["title", "created", "tag"],
        )
        m.SavedViewFilterRule.objects.create(pk=1, saved_view=view, rule_type=6, value="2")
        m.SavedViewFilterRule.objects.create(pk=2, saved_view=view, rule_type=0, value="invoice")
        m.UiSettings.objects.create(
            pk=1, user=admin, settings={"dark_mode": {"enabled": "true"}, "page_size": 50}
        )

        cat = _Catalog()
        used: set[str] = set()
        _create_documents(rng, cat, media, range(1, documents + 1), BASE_TIME, used)
        _versions_links_and_trash(rng, cat, media, documents, used)
    _reset_sequences()


def _reset_sequences() -> None:
    """Rows inserted with explicit keys leave PostgreSQL's id sequences behind: move each
    past its table's largest key so that rows created without a key get a free one."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), list(apps.get_models()))
    if statements:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def _versions_links_and_trash(
    rng: random.Random, cat: _Catalog, media: _Media, documents: int, used: set[str]
) -> None:
    from snapexport.demo.site import models as m

    admin = cat.users[0]
    moment = BASE_TIME + timedelta(days=1)
    # Two version documents of existing roots.
    for index, root_pk in enumerate(pk for pk in (1, 3) if pk <= documents):
        root = m.Document.global_objects.get(pk=root_pk)
        version = m.Document(
            pk=documents + 1 + index,
            owner=admin,
            title=root.title,
            content=root.content + "\n(rescanned)",
            mime_type="application/pdf",
            page_count=1,
            created=root.created,
            modified=moment,
            added=moment,
            original_filename=f"rescan_{root_pk:05}.pdf",
            root_document=root,
            version_index=1,
            version_label="v2 rescan",
        )
        version.content_length = len(version.content)
        _store_files(version, media, used, None)
        version.save()
    if documents >= 3:
        m.ShareLink.objects.create(
            created=moment,
            expiration=moment + timedelta(days=3650),
            slug="share-" + "a" * 40,
            document_id=1,
            file_version="original",
            owner=admin,
        )
        data = demo_files.make_zip([("one.txt", b"bundle member\n")])
        bundle = m.ShareLinkBundle.objects.create(
            created=moment,
            expiration=moment + timedelta(days=3650),
            slug="bundle-" + "b" * 40,
            owner=admin,
            file_version="archive",
            status="ready",
            size_bytes=len(data),
            file_path="bundles/bundle-0001.zip",
            built_at=moment,
        )
        bundle.documents.set([1, 2, 3])
        _write(media.bundles / bundle.file_path, data, moment)
    # Trash a few documents (with their notes and custom fields, as paperless does).
    candidates = list(range(4, documents + 1))
    for pk in rng.sample(candidates, min(len(candidates), max(1, documents // 40))):
        _trash(pk, moment, rng)


def _trash(pk: int, moment: datetime, rng: random.Random) -> None:
    from snapexport.demo.site import models as m

    transaction_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    for model in (m.Document, m.Note, m.CustomFieldInstance):
        key = "pk" if model is m.Document else "document_id"
        model.global_objects.filter(**{key: pk}).update(
            deleted_at=moment, transaction_id=transaction_id
        )


# ---------------------------------------------------------------------------------------
# A night of changes


def _night(folder: Path, seed: int, rates: NightRates) -> None:
    from django.db import transaction
    from django.db.models import Max

    from snapexport.demo.site import models as m

    rng = random.Random(seed * 1_000_003 + 17)
    media = _Media()
    with transaction.atomic():
        stats = m.Document.global_objects.aggregate(top=Max("pk"), last=Max("modified"))
        top: int = stats["top"] or 0
        moment: datetime = (stats["last"] or BASE_TIME) + timedelta(hours=12)
        cat = _Catalog()
        live = _live_roots()
        count = max(len(live), 1)
        used = {
            name for name in m.Document.global_objects.values_list("filename", flat=True) if name
        }

        # New documents (about 1%).
        new = max(1, count // rates.new_every)
        _create_documents(rng, cat, media, range(top + 1, top + new + 1), moment, used)

        clock = _ticks(moment + timedelta(hours=1))
        edit_count = min(len(live), max(2, count // rates.edit_every))
        for pk in rng.sample(live, edit_count):
            _edit(rng, cat, media, pk, clock, used)

        # Rename a tag now and then: reorders the tag lists of many documents.
        if rng.random() < 0.5:
            tag = rng.choice(cat.tags)
            tag.name = f"{tag.name.rstrip('0123456789 ')} {rng.randint(1, 99)}"
            tag.save(update_fields=["name"])

        # Trash, restore, delete.
        trashed = list(
            m.Document.global_objects.filter(deleted_at__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for pk in rng.sample(trashed, min(len(trashed), 1)):
            _restore(pk, next(clock))
        for pk in rng.sample(_live_roots(), min(len(live), max(1, count // rates.trash_every))):
            _trash(pk, next(clock), rng)
        for pk in rng.sample(_live_roots(), min(len(live), max(1, count // rates.delete_every))):
            _delete(pk, media)
    _reset_sequences()


def _live_roots() -> list[int]:
    from snapexport.demo.site import models as m

    return list(
        m.Document.objects.filter(root_document__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _edit(
    rng: random.Random,
    cat: _Catalog,
    media: _Media,
    pk: int,
    clock: Iterator[datetime],
    used: set[str],
) -> None:
    from snapexport.demo.site import models as m
    from snapexport.demo.site.naming import generate_filename

    doc = m.Document.objects.select_related("correspondent", "storage_path").get(pk=pk)
    action = rng.choice(["title", "correspondent", "tags", "custom", "note", "type"])
    if action == "title":
        doc.title = _title(rng, pk) + " (edited)"
    elif action == "correspondent":
        doc.correspondent = rng.choice(cat.correspondents)
    elif action == "type":
        doc.document_type = rng.choice(cat.types)
    elif action == "tags":
        doc.tags.set(rng.sample(cat.tags, rng.randint(0, 4)))
    elif action == "custom":
        field = rng.choice(cat.fields)
        m.CustomFieldInstance.global_objects.update_or_create(
            document=doc,
            field=field,
            defaults={"created": next(clock), **_custom_value(rng, field, pk)},
        )
    else:
        note = m.Note.objects.filter(document=doc).first()
        if note is not None and rng.random() < 0.5:
            note.note += " (amended)"
            note.save(update_fields=["note"])
        else:
            m.Note.objects.create(
                note=f"Night note {rng.randint(1, 999)}",
                created=next(clock),
                document=doc,
                user=cat.users[0],
            )
    doc.modified = next(clock)
    # Paperless moves files when their generated name changes; so does the demo.
    used.discard(doc.filename or "")
    new_name = _unique_name(generate_filename(doc), used)
    if new_name != doc.filename and doc.filename:
        _move(media.originals, doc.filename, new_name)
        if doc.archive_filename:
            new_archive = str(Path(new_name).with_suffix(".pdf"))
            _move(media.archive, doc.archive_filename, new_archive)
            doc.archive_filename = new_archive
        doc.filename = new_name
    doc.save()


def _move(root: Path, old: str, new: str) -> None:
    target = root / new
    target.parent.mkdir(parents=True, exist_ok=True)
    (root / old).rename(target)


def _restore(pk: int, moment: datetime) -> None:
    from snapexport.demo.site import models as m

    for model in (m.Document, m.Note, m.CustomFieldInstance):
        key = "pk" if model is m.Document else "document_id"
        model.global_objects.filter(**{key: pk}).update(
            deleted_at=None, restored_at=moment, transaction_id=None
        )


def _delete(pk: int, media: _Media) -> None:
    from snapexport.demo.site import models as m

    doc = m.Document.global_objects.get(pk=pk)
    for version in m.Document.global_objects.filter(root_document=doc):
        _delete(version.pk, media)
    paths = [media.thumbnail(pk)]
    if doc.filename:
        paths.append(media.originals / doc.filename)
    if doc.archive_filename:
        paths.append(media.archive / doc.archive_filename)
    doc.delete()
    for path in paths:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snapexport.demo.generate")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a demo site in FOLDER")
    create.add_argument("folder", type=Path)
    create.add_argument("--documents", type=int, default=200)
    create.add_argument("--seed", type=int, default=0)
    create.add_argument(
        "--database", metavar="URL", help="an empty PostgreSQL or MySQL database (default: SQLite)"
    )
    night = commands.add_parser("night", help="apply one night of changes to FOLDER")
    night.add_argument("folder", type=Path)
    night.add_argument("--seed", type=int, default=1)
    defaults = NightRates()
    for name, done in (
        ("new", "added"),
        ("edit", "edited"),
        ("trash", "trashed"),
        ("delete", "deleted"),
    ):
        night.add_argument(
            f"--{name}-every",
            type=int,
            default=getattr(defaults, f"{name}_every"),
            metavar="N",
            help=f"one document {done} per N live documents (at least one a night)",
        )
    args = parser.parse_args(argv)
    if args.command == "create":
        create_site(args.folder, args.documents, args.seed, args.database)
    else:
        rates = NightRates(args.new_every, args.edit_every, args.trash_every, args.delete_every)
        if min(rates.new_every, rates.edit_every, rates.trash_every, rates.delete_every) < 1:
            parser.error("the --*-every options take a positive number")
        simulate_night(args.folder, args.seed, rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
