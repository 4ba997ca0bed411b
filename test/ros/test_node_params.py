"""The running node's parameters over DDS, as `ros2 param describe` shows them, equal the reference."""

from test.ros.ros_env import require_ros

require_ros()

from rcl_interfaces.msg import ParameterType  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, GetParameters, ListParameters  # noqa: E402

from samosaic3d_ros.params import parameter_fields  # noqa: E402
from samosaic3d_ros.params_file import describe, parameters_reference  # noqa: E402
from test.ros.conftest import REPO  # noqa: E402
from test.ros.node_io import start_node  # noqa: E402

TYPE_NAMES = {ParameterType.PARAMETER_BOOL: "boolean", ParameterType.PARAMETER_INTEGER: "integer",
              ParameterType.PARAMETER_DOUBLE: "double", ParameterType.PARAMETER_STRING: "string",
              ParameterType.PARAMETER_DOUBLE_ARRAY: "double array", ParameterType.PARAMETER_NOT_SET: "not set"}


def test_node_describes_every_parameter_as_the_reference(ros, tmp_path):
    start_node(ros, tmp_path / "maps", **{"memory.short_term_size": 7})
    tester = ros.tester()
    names = [spec.name for spec in parameter_fields()]
    listed = ros.call(tester, ListParameters, "/samosaic3d_node/list_parameters", ListParameters.Request())
    assert set(names) <= set(listed.result.names)
    described = ros.call(tester, DescribeParameters, "/samosaic3d_node/describe_parameters",
                         DescribeParameters.Request(names=names)).descriptors
    listing = "\n".join(describe(d.name, TYPE_NAMES[d.type], d.description, d.read_only) for d in described)
    print(listing)
    reference = parameters_reference()
    assert listing == reference[reference.index("```\n") + 4: reference.rindex("\n```")]
    assert (REPO / "docs" / "parameters.md").read_text() == reference
    values = ros.call(tester, GetParameters, "/samosaic3d_node/get_parameters",
                      GetParameters.Request(names=["memory.short_term_size", "lift.voxel_size"])).values
    assert values[0].integer_value == 7 and values[1].double_value == 0.02  # -p override and the YAML's value
