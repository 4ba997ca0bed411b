from samosaic3d_ros.dds import large_data_profile, with_large_data_profile


def test_profile_is_shipped_and_set_only_when_the_user_has_none():
    assert large_data_profile().is_file() and "<segment_size>" in large_data_profile().read_text()
    env = with_large_data_profile({"PATH": "/bin"})
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == str(large_data_profile())
    assert "FASTRTPS_DEFAULT_PROFILES_FILE" not in env  # deprecated name, warned about by rmw_fastrtps
    mine = {"FASTRTPS_DEFAULT_PROFILES_FILE": "/etc/my.xml"}
    assert with_large_data_profile(mine) == mine
