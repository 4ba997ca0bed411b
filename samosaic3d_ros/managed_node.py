"""``samosaic3d_managed_node``: the node as a managed (lifecycle) node, for launch systems that bring a
robot's nodes up in order (nav2's lifecycle manager, launch_ros' ``LifecycleNode``).

    unconfigured --configure--> inactive --activate--> active
    configure    reads the parameters, loads the models, creates the publishers and the services
                 (``~/reset``, ``~/save_map``, ``~/load_map`` work from here on)
    activate     subscribes to the inputs, starts processing and /diagnostics
    deactivate   stops processing (the frame in hand finishes); the map stays
    cleanup      drops the map, the models, the publishers and the services
    shutdown     from any state: deactivate and clean up as needed

A configure that fails (bad parameter, missing or unfitting model file) logs one error line naming it
and returns FAILURE: the node stays unconfigured. Parameter ``autostart`` (default false) configures
and activates the node at start-up, as if a lifecycle manager had.

    ros2 run samosaic3d samosaic3d_managed_node
    ros2 lifecycle set /samosaic3d_node configure
    ros2 lifecycle set /samosaic3d_node activate
"""

from __future__ import annotations

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from samosaic3d_core.errors import ModelFileError
from samosaic3d_ros.node import NODE_NAME, MapNodeMixin, spin_node
from samosaic3d_ros.params import declare_params

AUTOSTART = "autostart"


class Samosaic3dManagedNode(MapNodeMixin, LifecycleNode):
    """``samosaic3d_node`` with lifecycle transitions. ``segmenter_factory(params)`` builds the segmenter."""

    def __init__(self, *, segmenter_factory=None, node_name: str = NODE_NAME, **node_kwargs):
        LifecycleNode.__init__(self, node_name, **node_kwargs)
        self._segmenter_factory = segmenter_factory
        self._configured = self._active = False
        self.declare_parameter(AUTOSTART, False)
        try:  # declared now, so that they can be listed and described; read (and checked) at configure
            declare_params(self)
        except ValueError:
            pass  # configure reports it

    def autostart(self) -> None:
        """Configure and activate now when parameter ``autostart`` is true."""
        if self.get_parameter(AUTOSTART).value and self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure(self._segmenter_factory)
        except (ValueError, ModelFileError) as exc:  # one line naming the parameter or the file
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._configured = True
        self.get_logger().info("configured: models loaded, map empty")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._activate()
        self._active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._active = False
        self.get_logger().info("deactivated: not processing, map kept")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._cleanup()
        self._configured = False
        self.get_logger().info("cleaned up: map and models dropped")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS  # back to unconfigured

    def _release(self) -> None:
        if self._active:
            self._deactivate()
            self._active = False
        if self._configured:
            self._cleanup()
            self._configured = False

    def destroy_node(self) -> None:
        self._release()
        super().destroy_node()
        # rclpy's LifecycleNode leaves its state machine, which holds the node handle, to the garbage
        # collector; the node's rosout registration goes with that handle, by node name, so a late
        # collection would silence the log of a later node of the same name in this process
        self._state_machine.destroy_when_not_in_use()


def main(args=None, segmenter_factory=None) -> int:
    """Entry point of ``samosaic3d_managed_node``: start unconfigured (or ``autostart``), spin, shut down."""

    def start() -> Samosaic3dManagedNode:
        node = Samosaic3dManagedNode(segmenter_factory=segmenter_factory)
        node.autostart()
        return node

    return spin_node(start, args)


if __name__ == "__main__":
    raise SystemExit(main())
