"""RouteGate: threads and event-loop tasks share a route's slots, and a slot is never lost or doubled."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gateway.route_gate import RouteGate


def test_a_task_waits_on_its_loop_for_a_slot_a_thread_frees():
    gate = RouteGate(1)
    held = threading.Event()
    let_go = threading.Event()

    def worker() -> None:
        with gate:
            held.set()
            let_go.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    held.wait(5)

    async def take() -> float:
        started = time.perf_counter()
        asyncio.get_running_loop().call_later(0.05, let_go.set)
        await gate.acquire_async()
        return time.perf_counter() - started

    waited = asyncio.run(take())
    thread.join(5)
    assert waited >= 0.04  # it got the slot only when the thread let go
    gate.release()
    assert asyncio.run(_take_within(gate, 1.0))  # and gave it back


def test_a_slot_freed_on_the_loop_goes_to_a_waiting_task_before_a_waiting_thread():
    async def scenario() -> list[str]:
        gate = RouteGate(1)
        order: list[str] = []
        await gate.acquire_async()
        thread_waits = threading.Thread(target=lambda: (gate.__enter__(), order.append("thread")))
        thread_waits.start()
        await asyncio.sleep(0.05)
        task = asyncio.ensure_future(gate.acquire_async())
        await asyncio.sleep(0)
        gate.release()
        await asyncio.wait_for(task, 1)
        order.append("task")
        gate.release()
        await asyncio.to_thread(thread_waits.join, 5)
        return order

    assert asyncio.run(scenario()) == ["task", "thread"]


@pytest.mark.parametrize("cancel_after_hand_over", [False, True])
def test_a_cancelled_wait_leaves_the_slot_free(cancel_after_hand_over):
    async def scenario() -> bool:
        gate = RouteGate(1)
        await gate.acquire_async()
        waiting = asyncio.ensure_future(gate.acquire_async())
        await asyncio.sleep(0)
        if cancel_after_hand_over:
            gate.release()  # the hand-over is scheduled, then the wait is cancelled before it runs
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        if not cancel_after_hand_over:
            gate.release()
        await asyncio.sleep(0)
        # exactly one slot: one take succeeds at once, a second waits
        assert await _take_within(gate, 0.5)
        return await _take_within(gate, 0.05)

    assert asyncio.run(scenario()) is False


def test_many_threads_and_tasks_never_exceed_the_slots():
    gate = RouteGate(3)
    inside, most = 0, 0
    count = threading.Lock()

    def enter() -> None:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)

    def leave() -> None:
        nonlocal inside
        with count:
            inside -= 1

    def thread_call() -> None:
        with gate:
            enter()
            time.sleep(0.002)
            leave()

    async def task_call() -> None:
        await gate.acquire_async()
        try:
            enter()
            await asyncio.sleep(0.002)
            leave()
        finally:
            gate.release()

    async def scenario() -> None:
        threads = [threading.Thread(target=thread_call) for _ in range(20)]
        for thread in threads:
            thread.start()
        await asyncio.gather(*(task_call() for _ in range(60)))
        for thread in threads:
            await asyncio.to_thread(thread.join, 5)

    asyncio.run(scenario())
    assert most == 3 and inside == 0


async def _take_within(gate: RouteGate, seconds: float) -> bool:
    try:
        await asyncio.wait_for(gate.acquire_async(), seconds)
    except TimeoutError:
        return False
    return True
