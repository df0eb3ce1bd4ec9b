"""Models covering natural keys, M2M ordering, file fields and unusual column types."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models


def scans() -> FileSystemStorage:
    """A storage outside MEDIA_ROOT (callable, so migrations hold no absolute path)."""
    return FileSystemStorage(location=settings.SCANS_ROOT)


class GenreManager(models.Manager["Genre"]):
    def get_by_natural_key(self, slug: str) -> Genre:
        return self.get(slug=slug)


class Genre(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)

    objects = GenreManager()

    class Meta:
        ordering = ("name",)

    def natural_key(self) -> tuple[str]:
        return (self.slug,)


class AuthorManager(models.Manager["Author"]):
    def get_by_natural_key(self, name: str) -> Author:
        return self.get(name=name)


class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)
    born = models.DateField(null=True)
    rating = models.DecimalField(max_digits=6, decimal_places=2, null=True)

    objects = AuthorManager()

    class Meta:
        ordering = ("-rating", "name")

    def natural_key(self) -> tuple[str]:
        return (self.name,)


class Book(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True)
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    genres = models.ManyToManyField(Genre, blank=True, related_name="books")
    published = models.DateTimeField(null=True)
    pages = models.PositiveIntegerField(default=0)
    weight = models.FloatField(null=True)
    reading_time = models.DurationField(null=True)
    meta = models.JSONField(default=dict)
    secret = models.CharField(max_length=20, default="", serialize=False)

    class Meta:
        ordering = ("author", "title")


class Attachment(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/")
    scan = models.FileField(storage=scans, blank=True)
    note = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.file.name

    def describe(self) -> dict[str, Any]:
        return {"file": self.file.name, "scan": self.scan.name}
