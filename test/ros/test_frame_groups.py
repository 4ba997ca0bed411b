"""``frame_groups``: what the player sends before each frame's images, grouped by header stamp, not by log time."""

import pytest

pytest.importorskip("rosbags")

from samosaic3d_ros.bag import layout  # noqa: E402
from samosaic3d_ros.bag.frame_groups import frame_groups, static_messages  # noqa: E402
from samosaic3d_ros.bag.reader import BagTopics  # noqa: E402
from samosaic3d_ros.bag.writer import DEFAULT_START_NS, write_bag  # noqa: E402
from test.ros.bag_edit import TYPESTORE, copy_bag, tiny_frames  # noqa: E402

FRAME_NS = 33_333_333  # tiny_frames are 1/30 s apart


def stamps(group) -> list[tuple[str, int]]:
    """(topic, stamp offset in frames) of a group's context, then of its images."""
    out = []
    for topic, msgtype, raw in group.context + group.images:
        msg = TYPESTORE.deserialize_cdr(raw, msgtype)
        header = msg.transforms[0].header if topic == layout.TF_TOPIC else msg.header
        ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        out.append((topic, round((ns - DEFAULT_START_NS) / FRAME_NS)))
    return out


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("groups") / "bag"
    write_bag(path, tiny_frames(3))
    return path


def test_each_frame_brings_its_transforms_and_the_next_ones(bag):
    groups = list(frame_groups(bag, BagTopics()))
    tf, info = layout.TF_TOPIC, layout.CAMERA_INFO_TOPIC
    images = [(layout.COLOR_TOPIC, 0), (layout.DEPTH_TOPIC, 0)]
    assert stamps(groups[0]) == [(tf, 0), (info, 0), (tf, 1), (info, 1)] + images
    assert stamps(groups[1]) == [(tf, 2), (info, 2)] + [(t, 1) for t, _ in images]
    assert stamps(groups[2]) == [(t, 2) for t, _ in images]
    assert [g.stamp for g in groups] == [DEFAULT_START_NS + round(i * 1e9 / 30) for i in range(3)]
    assert [t for t, _, _ in static_messages(bag)] == [layout.TF_STATIC_TOPIC]
    assert len(list(frame_groups(bag, BagTopics(), max_frames=2))) == 2


def test_late_logged_messages_join_the_frame_of_their_stamp(bag, tmp_path):
    late = copy_bag(bag, tmp_path / "late", delay={layout.TF_TOPIC: 80_000_000, layout.COLOR_TOPIC: 20_000_000})
    def contents(path):
        return [(sorted(stamps(g)[:-2]), stamps(g)[-2:]) for g in frame_groups(path, BagTopics())]

    assert contents(late) == contents(bag)  # the same messages with each frame (equal stamps in log order)
