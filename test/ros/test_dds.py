from samosaic3d_ros.dds import large_data_profile, with_large_data_profile


def test_profile_is_shipped_and_set_only_when_the_user_has_none():
    assert large_data_profile().is_file() and "<segment_size>" in large_data_profile().read_text()
    env = with_large_data_profile({"PATH": "/bin"})
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(large_data_profile())
    assert "FASTRTPS_DEFAULT_PROFILES_FILE" not in env  # deprecated name, warned about by rmw_fastrtps
    mine = {"FASTRTPS_DEFAULT_PROFILES_FILE": "/etc/my.xml"}
    assert with_large_data_profile(mine) == mine


def test_profile_announces_participants_often_enough_to_find_a_late_node():
    """These transports learn of a participant from its periodic announcements only: at Fast DDS's
    default 3 s a node started after the player took 1.4 s longer to be found."""
    from xml.etree import ElementTree

    ns = {"dds": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    period = ElementTree.parse(large_data_profile()).find(".//dds:leaseAnnouncement", ns)
    seconds = int(period.find("dds:sec", ns).text) + int(period.find("dds:nanosec", ns).text) * 1e-9
    assert 0 < seconds <= 1.0
