"""Write blobs forever: after each flush print "committed <n> <blob hex>" for every blob.

The crash test SIGKILLs this process at some point and then checks that every blob it
reported as committed is readable byte for byte. Content of blob n: ``content(n)``.
"""

import os
import sys

import blake3

from snapexport.store import Store
from snapexport.store.chunker import ChunkerParams


def content(n: int) -> bytes:
    size = (n * 7919) % 400_000
    data = blake3.blake3(n.to_bytes(8, "little")).digest(length=size)
    return data if n % 3 else data[: size // 2] + b"compressible text " * (size // 36)


if __name__ == "__main__":
    path = sys.argv[1]
    if sys.argv[2:] == ["init"]:
        Store.init(
            path, pack_size=256 * 1024,
            chunker=ChunkerParams(min_size=4096, avg_size=16384, max_size=65536),
        ).close()  # fmt: skip
        sys.exit(0)
    with Store.open(path, write=True) as store:
        n = int(store.catalog.get_meta("test_next") or 0)
        # Bounded, so a test that fails to stop it cannot fill the machine's memory.
        limit = n + int(os.environ.get("WRITE_MANY_LIMIT", "20000"))
        while n < limit:
            batch = []
            for _ in range(5):
                batch.append((n, store.put_bytes(content(n)).id))
                n += 1
            store.flush()
            for i, blob in batch:
                print("committed", i, blob.hex(), flush=True)
