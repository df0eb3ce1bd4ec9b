"""``snapexport run``: the night in one command (``night.py``), its rolling check
(``check_slice.py``) and its monitoring (``monitor.py``)."""
