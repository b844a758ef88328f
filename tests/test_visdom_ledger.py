"""The ledger of what a Visdom server confirmed, without a server: the decisions it takes
when it is compared with the server's windows, and how it is saved with the spool."""

from __future__ import annotations

import json
import os

import numpy as np

from vizlog.backends.visdom.ledger import Ledger
from vizlog.backends.visdom.payloads import record_ops, window_counts
from vizlog.backends.visdom.spool import Spool
from vizlog.records import Image, Scalar


def _ops(records):
    return [record_ops(r) for r in records]


def _scalars(tag, steps):
    return [Scalar(tag, s, 0.0, float(s)) for s in steps]


def _window(tag, n):
    """What ``win_data`` says of a scalar window holding ``n`` points."""
    return {f"scalar:{tag}": window_counts(
        {"content": {"data": [{"name": tag, "x": list(range(n)), "y": [0.0] * n}]}}
    )}


def _deliver(ledger, records):
    (op,) = record_ops(records[0])
    items = [item for r in records for item in record_ops(r)[0].items]
    ledger.sending(op, len(items))
    ledger.confirmed_append(op, items)
    return op


def test_confirmed_points_are_counted_and_journaled():
    ledger = Ledger()
    ledger.reconcile({}, [])
    op = _deliver(ledger, _scalars("loss", range(5)))
    assert ledger.counts[op.key] == 5 and ledger.inflight == {}
    assert [item[0] for item in ledger.journal[op.key]] == [0, 1, 2, 3, 4]
    assert ledger.unsaved_points == 5 and ledger.dirty
    ledger.saved()
    assert ledger.unsaved_points == 0 and ledger.counts[op.key] == 5


def test_points_lost_by_a_restart_are_sent_again_from_the_journal():
    ledger = Ledger()
    ledger.reconcile({}, [])
    op = _deliver(ledger, _scalars("loss", range(10)))
    result = ledger.reconcile(_window("loss", 4), [])  # restarted from a save of 4 points
    ((resend_op, items),) = result.resend
    assert resend_op.key == op.key and [item[0] for item in items] == [4, 5, 6, 7, 8, 9]
    assert ledger.counts[op.key] == 10 and not result.unrecoverable


def test_points_saved_before_a_lost_save_cannot_be_sent_again_and_are_counted():
    ledger = Ledger()
    ledger.reconcile({}, [])
    op = _deliver(ledger, _scalars("loss", range(6)))
    ledger.saved()  # the server said it saved 6 ...
    _deliver(ledger, _scalars("loss", range(6, 8)))
    result = ledger.reconcile(_window("loss", 0), [])  # ... but came back empty
    assert result.unrecoverable == {"scalar:loss": 6}
    assert [item[0] for item in result.resend[0][1]] == [6, 7]
    assert ledger.counts[op.key] == 2


def test_points_in_flight_that_arrived_are_claimed_from_the_spool_head():
    ledger = Ledger()
    ledger.reconcile({}, [])
    head = _scalars("loss", range(3)) + _scalars("acc", range(3))
    (op,) = record_ops(head[0])
    ledger.sending(op, 3)  # the answer never came
    result = ledger.reconcile(_window("loss", 3), _ops(head))
    assert result.claimed == 3 and not result.resend
    assert ledger.done == {0: {op.key}, 1: {op.key}, 2: {op.key}}
    assert ledger.counts[op.key] == 3 and ledger.inflight == {}


def test_points_in_flight_that_did_not_arrive_are_not_claimed():
    ledger = Ledger()
    ledger.reconcile({}, [])
    head = _scalars("loss", range(3))
    (op,) = record_ops(head[0])
    ledger.sending(op, 3)
    result = ledger.reconcile({}, _ops(head))
    assert result.claimed == 0 and ledger.done == {} and ledger.inflight == {}
    assert ledger.counts[op.key] == 0


def test_points_someone_else_wrote_are_never_taken_for_ours():
    ledger = Ledger()
    ledger.reconcile({}, [])
    op = _deliver(ledger, _scalars("loss", range(2)))
    head = _scalars("loss", range(2, 4))
    ledger.sending(record_ops(head[0])[0], 2)
    result = ledger.reconcile(_window("loss", 9), _ops(head))  # 2 ours in flight, 5 foreign
    assert result.claimed == 2 and ledger.counts[op.key] == 9


def test_state_and_journal_round_trip():
    ledger = Ledger()
    ledger.reconcile({}, [])
    op = _deliver(ledger, _scalars("loss", range(4)))
    image = Image("pic", 1, 0.0, np.zeros((2, 3, 3), dtype=np.uint8))
    (image_op,) = record_ops(image)
    ledger.confirmed_replace(image_op)
    ledger.done = {0: {op.key}, 1: {op.key}, 3: {op.key, "x"}}
    lines, token = ledger.journal_delta()
    ledger.journal_written(token)
    _deliver(ledger, _scalars("loss", range(4, 6)))
    more, token = ledger.journal_delta()  # only what the file lacks
    assert len(more) == 1 and json.loads(more[0])["i"] == [[4, [4.0]], [5, [5.0]]]
    back = Ledger.from_state(json.loads(json.dumps(ledger.to_state())), lines + more)
    assert back.counts == ledger.counts and back.done == ledger.done
    assert back.journal[op.key] == [(s, [float(s)]) for s in range(6)]
    assert back.unsaved[image_op.key].message == image_op.message
    assert back.ops[op.key].template == op.template


def test_the_spool_saves_the_ledger_and_ignores_an_unfinished_journal_write(tmp_path):
    spool = Spool(tmp_path)
    spool.append(_scalars("loss", range(3)))
    _deliver(spool.ledger, _scalars("loss", range(5)))
    spool.ledger.done = {0: {"k"}}
    assert spool.commit()
    with open(spool.journal_path, "ab") as f:  # a save that did not get to its state
        f.write(b'{"k": "scalar:loss\\u001floss", "i": [[99, [1.0]]]}\n')
    spool.close()
    again = Spool(tmp_path)
    key = next(iter(again.ledger.journal))
    assert [item[0] for item in again.ledger.journal[key]] == [0, 1, 2, 3, 4]
    assert again.ledger.counts[key] == 5 and again.done == {0: {"k"}}
    os.remove(again.journal_path)  # a journal that is not the one the state names
    assert Spool(tmp_path).ledger.journal == {} and Spool(tmp_path).pending == 3
