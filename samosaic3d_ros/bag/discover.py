"""Find the inputs of a user's bag: which topics hold colour, depth, camera info, ground truth and the
camera pose, and which frame the map is built in (``samosaic3d segment-bag``).

Image topics are told apart by the encoding of their first message: colour (rgb8, bgr8, rgba8,
bgra8, mono8; 3- or 4-channel ones win over mono8, e.g. over a RealSense's infrared streams),
depth (16UC1, 32FC1) and ground-truth instance ids (16UC1/32SC1 with 'instance' in the name).
Several depth topics are narrowed to those named 'depth', then to those of the colour image's
size, then to those in its frame (aligned to it). The camera info is the one in the depth image's
namespace (``.../aligned_depth_to_color/camera_info`` for ``.../aligned_depth_to_color/image_raw``),
else the only one.

The camera pose comes from TF when the depth image's frame hangs off a moving (/tf) link, else from
the bag's only PoseStamped / Odometry topic (a static TF tree and no such topic: a fixed camera).
The map frame is ``map`` when the camera's tree has it, else that tree's root.

Whatever stays ambiguous or missing raises ``DiscoveryError``: one line naming the candidates and
the flag that chooses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from samosaic3d_ros.bag import layout
from samosaic3d_ros.bag.reader import BagTopics, bag_messages, open_bag
from samosaic3d_ros.image_conv import COLOR_ENCODINGS, DEPTH_ENCODINGS

IMAGE = "sensor_msgs/msg/Image"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
POSE_TYPES = {"geometry_msgs/msg/PoseStamped": "pose_topic", "nav_msgs/msg/Odometry": "odom_topic"}
"""Pose message types -> the node's ``pose_source``."""
INSTANCE_ENCODINGS = ("16UC1", "32SC1", "mono16")


class DiscoveryError(ValueError):
    """The bag's inputs are missing or ambiguous; the message is one line naming the flag that decides."""


@dataclass
class Choices:
    """What the user named (``segment-bag`` flags); None: find it."""

    color: str | None = None
    depth: str | None = None
    camera_info: str | None = None
    instance: str | None = None
    pose_topic: str | None = None
    pose_frame: str | None = None
    """frame a PoseStamped pose is of (default: the depth image's frame)"""
    map_frame: str | None = None


@dataclass(frozen=True)
class ImageTopic:
    """An Image topic and what its first message says."""

    topic: str
    encoding: str
    width: int
    height: int
    frame_id: str

    def __str__(self) -> str:
        return f"{self.topic} ({self.encoding} {self.width}x{self.height})"


@dataclass
class BagInputs:
    """What ``discover`` found: topics, pose source and map frame, in the node parameters' terms."""

    topics: BagTopics
    camera_frame: str
    """frame of the depth images (their first message's frame_id)"""
    pose_source: str = "tf"
    pose_topic: str = ""
    pose_child_frame: str = ""
    map_frame: str = layout.MAP_FRAME
    chain: list[str] = field(default_factory=list)
    """frames from the camera up to the map frame"""
    notes: list[str] = field(default_factory=list)
    """what was picked without being named, and the flag that picks otherwise"""

    def node_parameters(self) -> dict:
        """The node parameters that make it read these inputs (topics aside)."""
        params = {"map_frame": self.map_frame, "pose_source": self.pose_source}
        if self.pose_source != "tf":
            params["pose_topic"] = self.pose_topic
        if self.pose_source == "pose_topic":
            params["pose_child_frame"] = self.pose_child_frame
        return params

    def describe(self) -> str:
        """One line: the topics, the pose source and the map frame."""
        t = self.topics
        pose = "TF" if self.pose_source == "tf" else self.pose_topic
        return (f"colour {t.color}, depth {t.depth}, camera info {t.camera_info}, "
                f"ground truth {t.instance or 'none'}; pose from {pose}: {' -> '.join(self.chain)}; "
                f"map frame '{self.map_frame}'")


def discover(path: str | Path, choices: Choices | None = None) -> BagInputs:
    """The inputs of the bag at ``path``; ``DiscoveryError`` (one line) when they are missing or ambiguous."""
    from rosbags.typesys import Stores, get_typestore

    choices = choices or Choices()
    typestore = get_typestore(Stores.ROS2_KILTED)
    reader = open_bag(path)
    try:
        types = {}
        for conn in reader.connections:
            types.setdefault(conn.topic, conn.msgtype)
        counts = {t: sum(c.msgcount for c in reader.connections if c.topic == t) for t in types}
        images = _first_images(reader, typestore, [t for t, m in types.items() if m == IMAGE and counts[t]])
        pose_topics = [t for t, m in types.items() if m in POSE_TYPES and t != layout.TRUE_POSE_TOPIC and counts[t]]
        notes: list[str] = []
        color = _pick_color(images, choices.color, notes)
        depth = _pick_depth(images, color, choices.depth, notes)
        instance = _pick_instance(images, {color.topic, depth.topic}, choices.instance)
        infos = [t for t, m in types.items() if m == CAMERA_INFO and counts[t]]
        info = _pick_camera_info(infos, depth.topic, choices.camera_info)
        topics = BagTopics(color=color.topic, depth=depth.topic, camera_info=info, instance=instance,
                           true_pose=layout.TRUE_POSE_TOPIC if counts.get(layout.TRUE_POSE_TOPIC) else "")
        inputs = BagInputs(topics=topics, camera_frame=depth.frame_id.lstrip("/"))
        links = _tf_links(reader, typestore)
        _pick_pose(inputs, links, pose_topics, types, reader, typestore, choices, notes)
        _pick_map_frame(inputs, links, choices.map_frame, notes)
    finally:
        reader.close()
    inputs.notes = notes
    return inputs


def _first_images(reader, typestore, topics: list[str]) -> dict[str, ImageTopic]:
    """Each topic's first message, read until every topic has shown one."""
    found: dict[str, ImageTopic] = {}
    for conn, _, raw in bag_messages(reader, topics):
        if conn.topic in found:
            continue
        msg = typestore.deserialize_cdr(raw, conn.msgtype)
        found[conn.topic] = ImageTopic(conn.topic, msg.encoding, int(msg.width), int(msg.height), msg.header.frame_id)
        if len(found) == len(topics):
            break
    return found


def _listed(candidates) -> str:
    return ", ".join(str(c) for c in candidates) or "none"


def _named(images: dict[str, ImageTopic], topic: str, flag: str) -> ImageTopic:
    if topic not in images:
        raise DiscoveryError(f"{flag} {topic}: no such Image topic with messages in the bag "
                             f"(Image topics: {_listed(images.values())})")
    return images[topic]


def _pick_color(images: dict[str, ImageTopic], named: str | None, notes: list[str]) -> ImageTopic:
    if named:
        return _named(images, named, "--color-topic")
    candidates = [i for i in images.values() if i.encoding in COLOR_ENCODINGS]
    in_colour = [i for i in candidates if i.encoding != "mono8"]
    if in_colour and len(in_colour) < len(candidates):
        mono = _listed(i for i in candidates if i.encoding == "mono8")
        notes.append(f"colour images: {_listed(in_colour)}, not mono8 {mono} (choose with --color-topic)")
        candidates = in_colour
    if not candidates:
        raise DiscoveryError(f"no colour image topic ({'/'.join(COLOR_ENCODINGS)}) in the bag "
                             f"(Image topics: {_listed(images.values())}); name one with --color-topic")
    if len(candidates) > 1:
        raise DiscoveryError(f"{len(candidates)} colour image topics: {_listed(candidates)}; "
                             "choose one with --color-topic")
    return candidates[0]


def _pick_depth(images: dict[str, ImageTopic], color: ImageTopic, named: str | None, notes: list[str]) -> ImageTopic:
    if named:
        return _named(images, named, "--depth-topic")
    candidates = [i for i in images.values() if i.encoding in DEPTH_ENCODINGS and "instance" not in i.topic]
    if not candidates:
        raise DiscoveryError(f"no depth image topic ({'/'.join(DEPTH_ENCODINGS)}) in the bag "
                             f"(Image topics: {_listed(images.values())}); name one with --depth-topic")
    found = candidates
    for keep in (lambda i: "depth" in i.topic, lambda i: (i.width, i.height) == (color.width, color.height),
                 lambda i: i.frame_id == color.frame_id):
        if len(candidates) > 1 and any(keep(i) for i in candidates):
            candidates = [i for i in candidates if keep(i)]
    if len(candidates) > 1:
        raise DiscoveryError(f"{len(candidates)} depth image topics: {_listed(candidates)}; "
                             "choose one with --depth-topic")
    if len(found) > 1:
        notes.append(f"depth images: {candidates[0].topic}, picked among {_listed(i.topic for i in found)} (a name "
                     "with 'depth', the colour image's size and frame win; choose with --depth-topic)")
    return candidates[0]


def _pick_instance(images: dict[str, ImageTopic], taken: set[str], named: str | None) -> str:
    if named:
        return _named(images, named, "--instance-topic").topic
    candidates = [i for i in images.values()
                  if i.encoding in INSTANCE_ENCODINGS and "instance" in i.topic and i.topic not in taken]
    if len(candidates) > 1:
        raise DiscoveryError(f"{len(candidates)} ground-truth instance topics: {_listed(candidates)}; "
                             "choose one with --instance-topic")
    return candidates[0].topic if candidates else ""


def _pick_camera_info(infos: list[str], depth_topic: str, named: str | None) -> str:
    if named:
        if named not in infos:
            raise DiscoveryError(f"--camera-info-topic {named}: no such CameraInfo topic in the bag "
                                 f"(CameraInfo topics: {_listed(infos)})")
        return named
    beside = f"{depth_topic.rsplit('/', 1)[0]}/camera_info"
    if beside in infos:
        return beside
    if len(infos) == 1:
        return infos[0]
    if not infos:
        raise DiscoveryError("no sensor_msgs/CameraInfo topic in the bag: the depth image's intrinsics are "
                             "needed; name one with --camera-info-topic")
    raise DiscoveryError(f"{len(infos)} CameraInfo topics and none is {beside}: {_listed(infos)}; "
                         "choose the depth image's with --camera-info-topic")


@dataclass
class _Links:
    """The TF tree of the bag: child -> (parent, static)."""

    parent: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def chain(self, frame: str) -> list[str]:
        """[frame, parent, ..., root]."""
        out = [frame]
        while out[-1] in self.parent and self.parent[out[-1]][0] not in out:
            out.append(self.parent[out[-1]][0])
        return out

    def moves(self, frame: str) -> bool:
        """Whether some link between ``frame`` and its root is a moving (/tf) one."""
        chain = self.chain(frame)
        return any(not self.parent[child][1] for child in chain[:-1])


def _tf_links(reader, typestore) -> _Links:
    links = _Links()
    for conn, _, raw in bag_messages(reader, (layout.TF_TOPIC, layout.TF_STATIC_TOPIC)):
        for transform in typestore.deserialize_cdr(raw, conn.msgtype).transforms:
            child, parent = transform.child_frame_id.lstrip("/"), transform.header.frame_id.lstrip("/")
            if child and parent and child != parent:
                links.parent[child] = (parent, conn.topic == layout.TF_STATIC_TOPIC)
    return links


def _pick_pose(inputs: BagInputs, links: _Links, pose_topics: list[str], types: dict[str, str], reader, typestore,
               choices: Choices, notes: list[str]) -> None:
    """Set ``inputs``' pose source; a pose topic's first message adds its link to ``links``."""
    camera = inputs.camera_frame
    if not camera:
        raise DiscoveryError(f"the depth images on {inputs.topics.depth} have an empty frame_id; "
                             "the camera pose cannot be looked up")
    topic = choices.pose_topic
    if topic is not None and topic not in pose_topics:
        raise DiscoveryError(f"--pose-topic {topic}: no such PoseStamped/Odometry topic with messages in the bag "
                             f"(pose topics: {_listed(pose_topics)})")
    if topic is None and (links.moves(camera) or not pose_topics):
        if camera not in links.parent and not pose_topics:
            raise DiscoveryError(f"no camera pose: frame '{camera}' of the depth images is not on /tf or /tf_static "
                                 f"(frames: {_listed(sorted(links.parent))}) and the bag has no PoseStamped/Odometry "
                                 "topic; record TF or a pose topic (then --pose-topic)")
        if not links.moves(camera):
            notes.append(f"'{camera}' hangs off /tf_static only ({' -> '.join(links.chain(camera))}): the camera is "
                         "taken as fixed; record /tf or give --pose-topic if it moves")
        return
    if topic is None:
        if len(pose_topics) > 1:
            raise DiscoveryError(f"frame '{camera}' does not move on /tf and the bag has {len(pose_topics)} pose "
                                 f"topics: {_listed(pose_topics)}; choose one with --pose-topic")
        topic = pose_topics[0]
        notes.append(f"camera pose from {topic}, the only pose topic (choose with --pose-topic)")
    source = POSE_TYPES[types[topic]]
    msg = next(typestore.deserialize_cdr(raw, conn.msgtype) for conn, _, raw in bag_messages(reader, [topic]))
    child = msg.child_frame_id if source == "odom_topic" else (choices.pose_frame or camera)
    child, parent = child.lstrip("/"), msg.header.frame_id.lstrip("/")
    if not parent or not child:
        raise DiscoveryError(f"the poses on {topic} have an empty frame_id or child frame; they cannot be placed "
                             "in the TF tree")
    links.parent[child] = (parent, False)
    if child not in links.chain(camera):
        fix = ("name the frame the poses are of with --pose-frame" if source == "pose_topic"
               else "the bag needs /tf_static from it to the camera")
        raise DiscoveryError(f"the poses on {topic} are of frame '{child}', which TF does not connect to the depth "
                             f"images' frame '{camera}' (its frames: {' -> '.join(links.chain(camera))}); {fix}")
    inputs.pose_source, inputs.pose_topic = source, topic
    inputs.pose_child_frame = child if source == "pose_topic" else ""


def _pick_map_frame(inputs: BagInputs, links: _Links, named: str | None, notes: list[str]) -> None:
    chain = links.chain(inputs.camera_frame)
    if named:
        if named.lstrip("/") not in chain:
            raise DiscoveryError(f"--map-frame {named}: not above '{inputs.camera_frame}' in the TF tree "
                                 f"(its frames: {' -> '.join(chain)})")
        inputs.map_frame = named.lstrip("/")
    elif layout.MAP_FRAME in chain:
        inputs.map_frame = layout.MAP_FRAME
    else:
        inputs.map_frame = chain[-1]
        notes.append(f"map frame '{chain[-1]}': the root of the TF tree of '{inputs.camera_frame}', which has no "
                     f"'{layout.MAP_FRAME}' (choose another with --map-frame)")
    inputs.chain = chain[: chain.index(inputs.map_frame) + 1]
