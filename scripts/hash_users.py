"""Compute the bcrypt digests of the load-test user pool once, so seeding is a bulk insert.

The pool is the course locustfile's: ``user_0`` .. ``user_{N-1}``, password = username.
Hashing 10,000 users at cost 12 takes most of an hour of CPU, so the result is committed as
``fixtures/users.tsv`` (``username<TAB>digest``).  The script resumes where a previous run stopped.

    python scripts/hash_users.py --users 10000 --cost 12 --jobs 2
"""

from __future__ import annotations

import argparse
import multiprocessing
from pathlib import Path

import bcrypt

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "fixtures" / "users.tsv"


def _hash(args: tuple[str, int]) -> tuple[str, str]:
    name, cost = args
    return name, bcrypt.hashpw(name.encode(), bcrypt.gensalt(rounds=cost)).decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--cost", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args()
    done: set[str] = set()
    if a.out.exists():
        done = {line.split("\t", 1)[0] for line in a.out.read_text().splitlines() if "\t" in line}
    todo = [(f"user_{i}", a.cost) for i in range(a.users) if f"user_{i}" not in done]
    with a.out.open("a") as out, multiprocessing.Pool(a.jobs) as pool:
        for n, (name, digest) in enumerate(pool.imap(_hash, todo, chunksize=8), 1):
            out.write(f"{name}\t{digest}\n")
            if n % 100 == 0:
                out.flush()
                print(f"{len(done) + n}/{a.users}", flush=True)


if __name__ == "__main__":
    main()
