"""bcrypt hashing and checking on a small thread pool, so a login storm never stalls the event loop.

bcrypt releases the GIL while it works.  Its threads run at a lower scheduling priority (a higher nice
value) than the event loop thread, so on a busy core a poll is served before the next slice of a hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import bcrypt

HASH_THREADS = 2  # concurrent hashes per worker process (one per core of this kind of machine)
HASH_THREAD_NICE = 10  # nice value of the hashing threads: below the event loop's priority


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


class PasswordHasher:
    """Hash and check passwords at a given bcrypt cost, off the event loop."""

    def __init__(self, cost: int) -> None:
        self.cost = cost
        self._pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="bcrypt", initializer=_lower_priority)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        salt = bcrypt.gensalt(rounds=self.cost)
        digest = await loop.run_in_executor(self._pool, bcrypt.hashpw, password.encode(), salt)
        return digest.decode()

    async def check(self, password: str, digest: str) -> bool:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, bcrypt.checkpw, password.encode(), digest.encode())
        except ValueError:  # a malformed digest in the database: the password cannot match it
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
