"""Books, authors, genres and attachments: every field kind the serializer handles."""
