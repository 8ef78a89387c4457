from accounts import journal


def test_an_unregistered_action_is_shown_by_its_key_and_a_registered_one_by_its_label():
    journal.register_actions({"test.done": "Fait"})
    assert journal.action_label("test.done") == "Fait"
    assert journal.action_label("test.unknown") == "test.unknown"
