"""Plans sharded over several boards: ``pytest testplans/ --hartbeat-boards a,b``.

Items are dealt to the boards round-robin in collection order (deterministic: the same
collection gives the same shards); a plan written for some boards only goes to the next of
those. Each board has one worker thread that runs its shard's plans one after another, so the
boards boot at the same time; pytest still walks the items in order in its own thread and each
plan item waits for its own result. Because the shards are dealt in that same order, an item's
wait is at most its own run: the items before it on its board have already been waited for.

A board runs one boot at a time: a worker holds the board's lock for each plan, and a console
test (or a shared-state boot) holds it while its boot is on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from harness.model.board import Board
from harness.records.results import RunResult
from harness.run.runner import Stopped


class Shards:
    """The boards of a sharded session, their workers and the plan results by item id."""

    def __init__(self, boards: Sequence[Board]) -> None:
        self.boards = tuple(boards)
        self.locks = {board.name: threading.Lock() for board in self.boards}
        # Set at the session's end (or Ctrl-C): running plans stop at their next check.
        self.stop = threading.Event()
        self._workers = {
            board.name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hartbeat-{board.name}")
            for board in self.boards
        }
        self._results: dict[str, Future[RunResult]] = {}
        self._assigned: dict[str, Board] = {}

    def assign(self, item_ids: Sequence[str], runs_on: Callable[[str, Board], bool]) -> None:
        """Deal the items to the boards round-robin, in order.

        An item goes to the next board in the rotation that ``runs_on`` accepts (a plan written
        for some boards only); an item no board accepts takes its turn's board and skips there.
        """
        turn = 0
        for item_id in item_ids:
            rotation = [self.boards[(turn + step) % len(self.boards)] for step in range(len(self.boards))]
            accepted = [step for step, board in enumerate(rotation) if runs_on(item_id, board)]
            step = accepted[0] if accepted else 0
            self._assigned[item_id] = rotation[step]
            turn += step + 1

    def board_for(self, item_id: str) -> Board:
        """The board an item was dealt to (the first board for one collected later)."""
        return self._assigned.get(item_id, self.boards[0])

    def submit(self, item_id: str, run: Callable[[Board, threading.Event], RunResult]) -> None:
        """Queue ``run`` on the item's board; it runs holding that board's lock."""
        board = self.board_for(item_id)
        lock = self.locks[board.name]

        def job() -> RunResult:
            with lock:
                # Queued before the session ended and picked up before it was cancelled: no boot.
                if self.stop.is_set():
                    raise Stopped("run not started: the session is ending")
                return run(board, self.stop)

        self._results[item_id] = self._workers[board.name].submit(job)

    def queued(self, item_id: str) -> bool:
        """Whether the item's plan was given to a worker."""
        return item_id in self._results

    def result(self, item_id: str) -> RunResult:
        """Wait for the item's run; an exception raised by the run is raised here."""
        return self._results[item_id].result()

    def close(self) -> None:
        """Stop the running plans, drop the queued ones and wait for the workers."""
        for worker in self._workers.values():
            worker.shutdown(wait=False, cancel_futures=True)
        self.stop.set()
        for worker in self._workers.values():
            worker.shutdown(wait=True)
