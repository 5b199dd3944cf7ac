from eventbus import bus


def test_audit_trail_records_deletions():
    trail = []
    bus.subscribe("user.deleted", lambda event: trail.append(event["id"]))
    bus.publish("user.deleted", {"id": 42})
    assert trail == [42]


def test_audit_plugin_name():
    from eventbus.contrib.audit import create

    assert create().name == "audit"
