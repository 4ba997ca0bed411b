"""PublishQueue: the worker never waits for publishing; newest state wins; a reset is never overtaken."""

import threading

from samosaic3d_ros.publish_queue import PublishJob, PublishQueue


def _queue_with_gate():
    """A queue whose publisher blocks on ``gate`` for the first job, recording what it publishes."""
    gate, sent, errors = threading.Event(), [], []

    def publish(job):
        if not sent:
            gate.wait(5.0)
        sent.append(job)

    return PublishQueue(publish, errors.append), gate, sent, errors


def test_a_busy_publisher_coalesces_frames_and_keeps_the_map():
    queue, gate, sent, errors = _queue_with_gate()
    try:
        queue.submit(PublishJob("h0", frame="f0"))  # in hand, blocked
        queue.flush(0.2)
        queue.submit(PublishJob("h1", scene_map="map1", frame="f1", publish_instances=True, map_frames=2))
        queue.submit(PublishJob("h2", frame="f2", map_frames=3))  # replaces h1 but keeps its map and /instances flag
        gate.set()
        assert queue.flush(5.0)
    finally:
        queue.close()
    assert [job.header for job in sent] == ["h0", "h2"]
    assert sent[1].scene_map == "map1" and sent[1].publish_instances and sent[1].frame == "f2"
    assert sent[1].map_frames == 2  # the frames of the map it keeps, not of the newer frame
    assert queue.coalesced == 1 and not errors


def test_cleared_drops_pending_frames_and_comes_before_later_ones():
    queue, gate, sent, _ = _queue_with_gate()
    try:
        queue.submit(PublishJob("h0", frame="f0"))
        queue.flush(0.2)
        queue.submit(PublishJob("h1", scene_map="stale", frame="f1"))
        queue.submit(PublishJob("reset", cleared=True))
        queue.submit(PublishJob("h2", frame="f2"))  # after the reset: published after it, not merged into it
        gate.set()
        assert queue.flush(5.0)
    finally:
        queue.close()
    assert [job.header for job in sent] == ["h0", "reset", "h2"]
    assert sent[2].scene_map is None


def test_a_failing_publish_is_reported_and_the_thread_goes_on():
    sent, errors = [], []

    def publish(job):
        if job.header == "bad":
            raise RuntimeError("boom")
        sent.append(job.header)

    queue = PublishQueue(publish, errors.append)
    try:
        queue.submit(PublishJob("bad"))
        assert queue.flush(5.0)
        queue.submit(PublishJob("good"))
        assert queue.flush(5.0)
    finally:
        queue.close()
    assert sent == ["good"] and len(errors) == 1 and "boom" in str(errors[0])
