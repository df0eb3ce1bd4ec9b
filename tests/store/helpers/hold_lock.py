"""Open a store (``write`` or ``read``), say "locked", then wait to be killed."""

import sys
import time

from snapexport.store import Store

store = Store.open(sys.argv[1], write=sys.argv[2] == "write")
print("locked", flush=True)
while True:
    time.sleep(60)
