"""Management commands of the ``snapexport`` Django app."""
