from tests.support.harness import text_of


def test_register_then_dial(bot) -> None:
    response = bot.command("/c2c", "register 98765 43210")
    assert response.status_code == 200
    assert "now calls from +91 98765 43210" in text_of(response.json())
    response = bot.command("/c2c", "9123456789")
    assert response.status_code == 200
    print(response.json())
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    print(sent.form)
    print(bot.fake.calls)
