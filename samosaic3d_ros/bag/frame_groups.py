"""What a player sends the node for each camera frame of a bag, so that the node can build every frame.

A frame is a depth image and the colour image nearest to it in stamp. Before its images go the
transforms (/tf), poses (a pose topic) and camera info stamped up to the frame, plus, on each of
those streams (each set of TF child frames), the first message stamped after it: the node
interpolates the camera pose at the image stamp and needs a sample on both sides. /tf_static is
sent once, first (``static_messages``).

Messages are grouped by their header stamps, not by when the bag logged them, so a bag recorded
from a driver and a localiser (images logged before the transforms of their instant) plays as one
written by ``make-bag`` (everything of a frame at one time). Transforms and poses are read first
(they are small); images are streamed, a frame leaving once the next depth image is read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from samosaic3d_ros.bag import layout
from samosaic3d_ros.bag.reader import BagTopics, bag_messages, open_bag
from samosaic3d_ros.stamps import header_ns, stamp_to_ns

log = logging.getLogger(__name__)

LOOKAHEAD_NS = 2_000_000_000
"""How far past a frame (ns) a stream's next sample is looked for."""

Message = tuple[str, str, bytes]
"""(topic, msgtype, raw CDR)"""


@dataclass
class FrameGroup:
    """One camera frame's messages: ``context`` (transforms, poses, camera info; stamp order), then ``images``
    (colour, depth)."""

    stamp: int
    """the depth image's header stamp (ns): the stamp of the node's result for this frame"""
    context: list[Message] = field(default_factory=list)
    images: list[Message] = field(default_factory=list)


def static_messages(path: str | Path) -> list[Message]:
    """The bag's /tf_static messages."""
    reader = open_bag(path)
    try:
        return [(c.topic, c.msgtype, raw) for c, _, raw in bag_messages(reader, [layout.TF_STATIC_TOPIC])]
    finally:
        reader.close()


def _context(path, typestore, topics: list[str]) -> list[tuple[int, tuple, Message]]:
    """(stamp, stream key, message) of ``topics`` in stamp order; a TF message's stamp is its latest transform's."""
    out = []
    reader = open_bag(path)
    try:
        for conn, _, raw in bag_messages(reader, topics):
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            if conn.topic == layout.TF_TOPIC:
                stamp = max((stamp_to_ns(t.header.stamp) for t in msg.transforms), default=0)
                key = (conn.topic, tuple(sorted(t.child_frame_id for t in msg.transforms)))
            else:
                stamp, key = header_ns(msg), (conn.topic,)
            out.append((stamp, key, (conn.topic, conn.msgtype, raw)))
    finally:
        reader.close()
    out.sort(key=lambda entry: entry[0])
    return out


class _ContextCursor:
    """Hands out each context message once: those stamped up to a frame, and each stream's next one."""

    def __init__(self, entries):
        self.entries = entries
        self.sent = [False] * len(entries)
        self.next = 0  # entries before this one are all sent

    def take(self, stamp: int) -> list[Message]:
        out = []
        while self.next < len(self.entries) and self.entries[self.next][0] <= stamp:
            if not self.sent[self.next]:
                out.append(self.entries[self.next][2])
                self.sent[self.next] = True
            self.next += 1
        seen = set()
        for j in range(self.next, len(self.entries)):
            entry_stamp, key, message = self.entries[j]
            if entry_stamp > stamp + LOOKAHEAD_NS:
                break
            if key not in seen:
                seen.add(key)
                if not self.sent[j]:
                    out.append(message)
                    self.sent[j] = True
        return out


def frame_groups(path: str | Path, topics: BagTopics, pose_topic: str = "", max_frames: int | None = None
                 ) -> Iterator[FrameGroup]:
    """The frames of the bag in log order (at most ``max_frames`` depth images), each with what it needs."""
    from rosbags.typesys import Stores, get_typestore

    typestore = get_typestore(Stores.ROS2_KILTED)
    context = _ContextCursor(_context(path, typestore, [t for t in (layout.TF_TOPIC, topics.camera_info, pose_topic)
                                                         if t]))
    colors: dict[int, Message] = {}
    pending: tuple[int, Message] | None = None
    depths = 0

    def group(stamp: int, depth: Message) -> FrameGroup | None:
        if not colors:
            log.warning("depth at %.3f s has no colour image; not sent", stamp * 1e-9)
            return None
        nearest = min(colors, key=lambda c: abs(c - stamp))
        frame = FrameGroup(stamp, context.take(stamp), [colors[nearest], depth])
        for old in [c for c in colors if c <= max(nearest, stamp)]:
            del colors[old]
        return frame

    reader = open_bag(path)
    try:
        for conn, _, raw in bag_messages(reader, (topics.color, topics.depth)):
            if conn.topic == topics.depth and max_frames is not None and depths >= max_frames:
                break
            stamp = header_ns(typestore.deserialize_cdr(raw, conn.msgtype))
            if conn.topic == topics.color:
                colors[stamp] = (conn.topic, conn.msgtype, raw)
                continue
            depths += 1
            if pending is not None and (frame := group(*pending)) is not None:
                yield frame
            pending = (stamp, (conn.topic, conn.msgtype, raw))
    finally:
        reader.close()
    if pending is not None and (frame := group(*pending)) is not None:
        yield frame
