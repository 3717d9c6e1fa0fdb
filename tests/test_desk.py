"""The run's Desk: retries of transient faults (Retry-After honoured), never retrying the rest, provider
slots, the budget till and the spend it books."""
from __future__ import annotations

import threading
import time

import pytest

from pipeline.run.desk import Desk
from stages import calls
from stages.backend import Backend
from stages.errors import AuthError, BudgetExceeded, ContentRejected, TransientError


class Local(Backend):
    name = "local"


class Cloud(Backend):
    name = "cloud"
    provider = "acme"
    concurrency = 2


def flaky(failures: list[Exception], result: str = "ok"):
    attempts = []

    def work():
        attempts.append(time.monotonic())
        if len(attempts) <= len(failures):
            raise failures[len(attempts) - 1]
        return result

    return work, attempts


def test_transient_faults_are_retried_after_the_providers_retry_after():
    desk = Desk(workers=1, attempts=3, backoff_s=5.0)
    work, attempts = flaky([TransientError("429", retry_after=0.3)])
    assert desk.attempt("images", 4, Cloud(), None, work) == "ok"
    assert len(attempts) == 2 and 0.28 <= attempts[1] - attempts[0] < 1.0


def test_backoff_grows_and_the_last_failure_is_raised():
    retries = []
    desk = Desk(workers=1, attempts=3, backoff_s=0.05, on_retry=lambda *a: retries.append(a[3]))
    work, attempts = flaky([TransientError("500")] * 3)
    with pytest.raises(TransientError):
        desk.attempt("images", 4, Cloud(), None, work)
    assert len(attempts) == 3 and len(retries) == 2 and retries[1] > retries[0]


@pytest.mark.parametrize("error", [ContentRejected("no"), AuthError("key"), BudgetExceeded("money"), ValueError("bug")])
def test_other_errors_are_never_retried(error):
    work, attempts = flaky([error])
    with pytest.raises(type(error)):
        Desk(workers=1, attempts=4, backoff_s=0).attempt("images", 1, Cloud(), None, work)
    assert len(attempts) == 1


def test_provider_slots_bound_concurrent_calls_and_the_project_overrides_them():
    for desk, limit in ((Desk(workers=8), 2), (Desk(workers=8, concurrency={"acme": 3}), 3)):
        busy, peak, lock = [0], [0], threading.Lock()

        def work():
            with lock:
                busy[0] += 1
                peak[0] = max(peak[0], busy[0])
            time.sleep(0.05)
            with lock:
                busy[0] -= 1

        threads = [threading.Thread(target=desk.attempt, args=("images", i, Cloud(), None, work)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert peak[0] == limit


def test_budget_refuses_the_call_that_would_pass_it_and_books_what_was_spent():
    desk = Desk(workers=1, budget_usd=0.10, prices={"acme/image": 0.04})

    def pay():
        with calls.current().paying("acme/image", 1, "shot image"):
            return "paid"

    for shot in (1, 2):
        assert desk.attempt("images", shot, Cloud(), None, pay) == "paid"
    with pytest.raises(BudgetExceeded, match="past the budget of \\$0.10"):
        desk.attempt("images", 3, Cloud(), None, pay)
    assert desk.spend_by("shot") == {1: 0.04, 2: 0.04}
    assert desk.till.spent_usd == pytest.approx(0.08)


def test_a_refused_request_is_not_billed_and_the_journal_survives_attempts(tmp_path):
    desk = Desk(workers=1, attempts=2, backoff_s=0, prices={"acme/image": 0.04})
    journal = tmp_path / "job.journal.json"

    def work():
        call = calls.current()
        if call.recall("job") is None:
            with call.paying("acme/image", 1, "shot image"):
                call.remember("job", "J-1")
            raise TransientError("download cut short")
        return call.recall("job")

    assert desk.attempt("images", 1, Cloud(), journal, work) == "J-1"
    assert desk.spend_by("stage") == {"images": 0.04}  # paid once, collected on the second attempt

    def refused():
        with calls.current().paying("acme/image", 1, "shot image"):
            raise ContentRejected("no")

    with pytest.raises(ContentRejected):
        desk.attempt("images", 2, Cloud(), None, refused)
    assert desk.till.spent_usd == pytest.approx(0.04)


def test_the_flows_retry_hook_tells_the_progress_display_which_job_waits(monkeypatch):
    import logging

    from pipeline.prefect import flow
    from pipeline.run import progress

    heard = []

    class Display(progress.Silent):
        def retrying(self, stage, shot, delay, reason):
            heard.append((stage, shot, delay, reason))

    monkeypatch.setattr(flow, "get_run_logger", lambda: logging.getLogger("film-test"))  # no Prefect run here
    desk = Desk(workers=1, attempts=2, on_retry=flow._log_retry)
    work, _ = flaky([TransientError("acme answered 429 to the shot 4 image", retry_after=0.05)])
    progress.listen(Display())
    try:
        assert desk.attempt("images", 4, Cloud(), None, work) == "ok"
    finally:
        progress.listen(None)
    assert heard == [("images", 4, 0.05, "acme answered 429 to the shot 4 image")]
