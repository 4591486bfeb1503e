"""The privacy service's configuration: no salt, no service."""

import pytest
from pydantic import SecretStr, ValidationError
from zumik_privacy.settings import Settings


def test_the_subject_salt_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIVACY_SUBJECT_SALT", raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    assert "privacy_subject_salt" in str(refused.value)


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(_env_file=None, privacy_subject_salt=SecretStr("short"))


def test_the_service_exits_with_a_clear_line_instead_of_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from zumik_privacy import main, settings

    monkeypatch.delenv("PRIVACY_SUBJECT_SALT", raising=False)
    monkeypatch.setattr(
        settings.Settings, "model_config", {**Settings.model_config, "env_file": None}
    )
    settings.get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main.main()
    assert exited.value.code == 2
    # One JSON log line on stderr, naming the setting (the service logs JSON from the start).
    assert "invalid configuration: PRIVACY_SUBJECT_SALT" in capsys.readouterr().err
