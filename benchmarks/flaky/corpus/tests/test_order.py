"""Order-dependent tests: victims, their polluters and cleaners, and brittle tests."""

from flakelab import state


def test_mode_is_default():  # victim of test_switch_mode
    assert state.MODE == "default"


def test_switch_mode():  # polluter
    state.MODE = "fast"


def test_reset_mode():  # cleaner
    state.MODE = "default"


def test_registry_empty():  # victim of test_register_plugin
    assert state.lookup("plugin") is None


def test_register_plugin():  # polluter
    state.register("plugin", 1)


def test_cache_starts_empty():  # victim of test_fill_cache
    assert state.CACHE == []


def test_fill_cache():  # polluter
    state.CACHE.extend([1, 2, 3])


def test_clear_cache():  # cleaner
    state.CACHE.clear()


def test_beta_off_by_default():  # victim of test_enable_beta
    assert not state.FEATURES["beta"]


def test_enable_beta():  # polluter
    state.FEATURES["beta"] = True


def test_connect():  # state-setter of test_uses_connection
    state.CONNECTED = True


def test_uses_connection():  # brittle: fails alone
    assert state.CONNECTED, "not connected"


def test_register_setting():  # state-setter of test_registry_has_setting
    state.register("setting", 7)


def test_registry_has_setting():  # brittle: fails alone
    assert state.lookup("setting") == 7
