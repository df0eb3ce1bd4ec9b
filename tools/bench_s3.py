"""Store throughput to a local folder and to a local S3 server, plain and encrypted, with
restic on the same S3 server and the same files for comparison.

Generates the store bench's paperless-like file set (tools/bench_store.py), starts moto's
standalone S3 server on 127.0.0.1, and times writing every file through ``Store.put_file``
(flushed and closed: durable, catalog image published) into each target; restic backs up
the same folder to a bucket on the same server. Prints MB/s and ratios. ``--clients``
instead compares the S3 client libraries (boto3 and obstore) on raw put/get.

    python tools/bench_s3.py --size 300
    python tools/bench_s3.py --clients
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import MB, make_files

from snapexport.store import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("moto server did not start")


def make_bucket(endpoint: str, name: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{name}", method="PUT")).read()


def store_run(location: str, paths: list[Path], *, encrypt: bool) -> float:
    """Seconds from the first byte to a durable close; init (and its one-off ~0.3 s scrypt
    key derivation) is left out, as restic's repository init is."""
    with Store.init(location, encrypt=encrypt, password="bench" if encrypt else None) as store:
        started = time.perf_counter()
        for p in paths:
            with open(p, "rb") as f:
                store.put_file(f)
    return time.perf_counter() - started


def restic_run(endpoint: str, bucket: str, folder: Path) -> float | None:
    if shutil.which("restic") is None:
        return None
    env = {**os.environ, "RESTIC_PASSWORD": "bench"}
    repo = f"s3:{endpoint}/{bucket}"
    subprocess.run(["restic", "-r", repo, "init"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run(["restic", "-r", repo, "backup", "-q", str(folder)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def bench_clients(endpoint: str, size_mib: int = 32, count: int = 6) -> None:
    import boto3
    import obstore
    from obstore.store import S3Store

    data = os.urandom(size_mib << 20)
    for b in ("cboto", "cobs"):
        make_bucket(endpoint, b)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    ob = S3Store("cobs", endpoint=endpoint, client_options={"allow_http": True},
                 region="us-east-1")  # fmt: skip

    def timed(fn):  # type: ignore[no-untyped-def]
        t, c = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - t, time.process_time() - c

    mb = count * len(data) / MB
    rows = {
        "boto3": (
            timed(lambda: [s3.put_object(Bucket="cboto", Key=f"o{i}", Body=data)
                           for i in range(count)]),
            timed(lambda: [s3.get_object(Bucket="cboto", Key=f"o{i}")["Body"].read()
                           for i in range(count)]),
            timed(lambda: [s3.put_object(Bucket="cboto", Key=f"s{i}", Body=b"x" * 300)
                           for i in range(200)]),
        ),
        "obstore": (
            timed(lambda: [obstore.put(ob, f"o{i}", data, use_multipart=False)
                           for i in range(count)]),
            timed(lambda: [bytes(obstore.get(ob, f"o{i}").bytes()) for i in range(count)]),
            timed(lambda: [obstore.put(ob, f"s{i}", b"x" * 300) for i in range(200)]),
        ),
    }  # fmt: skip
    for name, (put, get, small) in rows.items():
        print(f"{name:8} put {mb / put[0]:6.1f} MB/s (client CPU {put[1] / mb * 1000:4.2f} s/GB)"
              f"  get {mb / get[0]:6.1f} MB/s (CPU {get[1] / mb * 1000:4.2f} s/GB)"
              f"  small puts {200 / small[0]:5.0f}/s"
              f" (CPU {small[1] / 200 * 1000:.2f} ms each)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=300, help="MB of generated files")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clients", action="store_true", help="compare boto3 and obstore")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="snapexport-bench-s3-"))
    os.environ.setdefault("SNAPEXPORT_CACHE_DIR", str(tmp / "cache"))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    server = start_server(port)
    try:
        if args.clients:
            bench_clients(endpoint)
            return
        files = tmp / "files"
        paths = make_files(files, args.size * MB, args.seed)
        total = sum(p.stat().st_size for p in paths) / MB
        print(f"{len(paths)} files, {total:.0f} MB; S3 server: moto on {endpoint}")
        results: dict[str, float] = {}
        results["local folder"] = store_run(str(tmp / "plain"), paths, encrypt=False)
        results["local folder, encrypted"] = store_run(str(tmp / "enc"), paths, encrypt=True)
        for b in ("plain", "enc", "restic"):
            make_bucket(endpoint, b)
        results["S3"] = store_run("s3://plain/store", paths, encrypt=False)
        results["S3, encrypted"] = store_run("s3://enc/store", paths, encrypt=True)
        restic = restic_run(endpoint, "restic", files)
        for name, secs in results.items():
            print(f"{name:26} {total / secs:7.1f} MB/s")
        if restic is not None:
            print(f"{'restic to the same S3':26} {total / restic:7.1f} MB/s")
        local = results["local folder"]
        enc_local = results["local folder, encrypted"]
        print(f"encryption cost, local: {100 * (enc_local / local - 1):+.1f} %"
              f"; S3: {100 * (results['S3, encrypted'] / results['S3'] - 1):+.1f} %"
              " time")  # fmt: skip
        if restic is not None:
            print(
                f"S3 / restic throughput: {restic / results['S3']:.2f}x plain, "
                f"{restic / results['S3, encrypted']:.2f}x encrypted"
            )
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
